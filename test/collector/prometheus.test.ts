/** `prometheusUsageSource` against a tiny fake of Prometheus's HTTP API (`/api/v1/query`). */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { UsageSourceError } from '../../src/collector/usage-source-error.js';
import { prometheusUsageSource, promString } from '../../src/collector/prometheus.js';
import { retentionOf } from '../../src/collector/prometheus-api.js';
import { scrapeGaps } from '../../src/collector/prometheus-coverage.js';

interface Received {
  method: string;
  path: string;
  query: string;
  time: number;
  params: URLSearchParams;
  headers: IncomingMessage['headers'];
}

type Answer = { status?: number; body: unknown; raw?: boolean; hang?: boolean };

/** What the fake answers to the coverage queries (the scrape interval, the presence range query, the retention). */
interface CoverageAnswers {
  interval?: (query: string) => Answer;
  presence?: (query: string, params: URLSearchParams) => Answer;
  /** `storageRetention` of `/api/v1/status/runtimeinfo`; undefined: 404 (a server that does not have it). */
  retention?: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/**
 * A fake Prometheus: `answer` gets each PromQL query of the usage and says what to reply; the coverage queries
 * are answered by `coverage` (by default: no interval, no series, no runtimeinfo).
 */
async function fakePrometheus(
  answer: (query: string) => Answer,
  coverage: CoverageAnswers = {},
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const params = new URLSearchParams(req.method === 'POST' ? body : url.search);
      const query = params.get('query') ?? '';
      received.push({
        method: req.method ?? '',
        path: url.pathname,
        query,
        time: Number(params.get('time')),
        params,
        headers: req.headers,
      });
      let a: Answer;
      if (url.pathname.endsWith('/api/v1/status/runtimeinfo')) {
        a =
          coverage.retention === undefined
            ? { status: 404, raw: true, body: 'not found' }
            : { body: { status: 'success', data: { storageRetention: coverage.retention } } };
      } else if (url.pathname.endsWith('/api/v1/query_range')) {
        a = coverage.presence?.(query, params) ?? matrix([]);
      } else if (kind(query) === 'interval') {
        a = coverage.interval?.(query) ?? empty();
      } else {
        a = answer(query);
      }
      if (a.hang) return; // never answers
      res.writeHead(a.status ?? 200, { 'content-type': a.raw ? 'text/html' : 'application/json' });
      res.end(a.raw ? String(a.body) : JSON.stringify(a.body));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, received };
}

const vector = (result: { metric: Record<string, string>; value: number | string }[], at = 1_700_000_000): Answer => ({
  body: {
    status: 'success',
    data: { resultType: 'vector', result: result.map((r) => ({ metric: r.metric, value: [at, String(r.value)] })) },
  },
});
const empty = (): Answer => vector([]);
const matrix = (result: { metric: Record<string, string>; values: [number, string][] }[]): Answer => ({
  body: { status: 'success', data: { resultType: 'matrix', result } },
});

/** Which of the three queries (or the follow-up, or the coverage's) this is. */
function kind(query: string): 'held' | 'seen' | 'uses' | 'raw' | 'interval' | 'presence' {
  if (query.includes('timestamp(') && query.includes(' offset ')) return 'interval';
  if (query.startsWith('count by')) return 'presence';
  if (query.includes('timestamp(')) return 'seen';
  if (query.includes('keyflip_secret_uses_total')) return 'uses';
  if (query.startsWith('max by')) return 'held';
  return 'raw';
}

const held = (
  id: string,
  fp: string,
  extra: Record<string, string> = {},
): { metric: Record<string, string>; value: number } => ({
  metric: {
    service_instance_id: id,
    secret_fingerprint: fp,
    service_name: 'checkout-api',
    secret_version: '1',
    host_name: 'host-a',
    process_pid: '101',
    ...extra,
  },
  value: 1,
});
const keyed = (
  id: string,
  fp: string,
  value: number | string,
): { metric: Record<string, string>; value: number | string } => ({
  metric: { service_instance_id: id, secret_fingerprint: fp },
  value,
});

describe('prometheusUsageSource: the queries', () => {
  it('POSTs three instant queries to {url}/api/v1/query at one time, for the secret and the window', async () => {
    const fake = await fakePrometheus(() => empty());
    const before = Date.now();
    const usage = await prometheusUsageSource({ url: fake.url }).usage('OPENAI_API_KEY', { windowMs: 3_600_000 });
    expect(usage).toEqual({
      secret: 'OPENAI_API_KEY',
      windowMs: 3_600_000,
      at: usage.at,
      instancesSeen: 0,
      fingerprints: [],
      // Nothing to measure a scrape interval from: no coverage, said in gaps.
      coverage: {
        observedSince: undefined,
        dropped: [],
        maxIntervalMs: undefined,
        gaps: [expect.stringMatching(/no two recent samples of any series of OPENAI_API_KEY/)],
      },
    });
    expect(usage.at).toBeGreaterThanOrEqual(before);
    // The three usage queries and the scrape interval's (instant), and the retention (GET runtimeinfo).
    const queries = fake.received.filter((r) => r.path === '/api/v1/query');
    expect(queries.map((r) => kind(r.query)).sort()).toEqual(['held', 'interval', 'seen', 'uses']);
    expect(fake.received.filter((r) => r.path !== '/api/v1/query')).toMatchObject([
      { method: 'GET', path: '/api/v1/status/runtimeinfo' },
    ]);
    for (const r of queries) {
      expect(r).toMatchObject({ method: 'POST', path: '/api/v1/query' });
      expect(r.headers['content-type']).toBe('application/x-www-form-urlencoded');
      expect(r.time).toBeCloseTo(usage.at / 1000, 3);
    }
    const byKind = Object.fromEntries(fake.received.map((r) => [kind(r.query), r.query]));
    const selector = 'keyflip_secret_in_use{secret_name="OPENAI_API_KEY"}';
    expect(byKind.held).toBe(
      'max by (service_instance_id, service_name, deployment_environment, host_name, process_pid, ' +
        `secret_fingerprint, secret_version) (max_over_time(${selector}[3600000ms])) > 0`,
    );
    // A step of window/3600 (here 1 s), bounded to 1 s..60 s.
    expect(byKind.seen).toBe(
      `max by (service_instance_id, secret_fingerprint) (max_over_time(timestamp(${selector} > 0)[3600000ms:1000ms]))`,
    );
    const uses = 'keyflip_secret_uses_total{secret_name="OPENAI_API_KEY"}';
    expect(byKind.uses).toBe(
      `max by (service_instance_id, secret_fingerprint) ((last_over_time(${uses}[3600000ms]) - ` +
        `last_over_time(${uses}[3600000ms] offset 3600000ms)) or last_over_time(${uses}[3600000ms]))`,
    );
  });

  it('scales the subquery step with the window (1 s to 60 s)', async () => {
    const fake = await fakePrometheus(() => empty());
    const source = prometheusUsageSource({ url: fake.url });
    await source.usage('K', { windowMs: 3_000 });
    await source.usage('K', { windowMs: 86_400_000 });
    await source.usage('K', { windowMs: 90 * 86_400_000 });
    const steps = fake.received.filter((r) => kind(r.query) === 'seen').map((r) => /:(\d+ms)\]/.exec(r.query)?.[1]);
    expect(steps).toEqual(['1000ms', '24000ms', '60000ms']);
  });

  it('keeps a path prefix, sends URL credentials as basic auth, extra headers; other metric names', async () => {
    const fake = await fakePrometheus(() => empty());
    await prometheusUsageSource({
      url: `${fake.url.replace('http://', 'http://user:p%40ss@')}/prometheus`,
      headers: { 'x-scope-orgid': 'tenant-1' },
      metrics: { inUse: 'app_keyflip_secret_in_use', uses: 'app_keyflip_secret_uses_total' },
    }).usage('K', { windowMs: 60_000 });
    expect(fake.received.map((r) => r.path).sort()).toEqual([
      ...Array<string>(4).fill('/prometheus/api/v1/query'),
      '/prometheus/api/v1/status/runtimeinfo',
    ]);
    for (const r of fake.received) {
      expect(r.headers.authorization).toBe(`Basic ${Buffer.from('user:p@ss').toString('base64')}`);
      expect(r.headers['x-scope-orgid']).toBe('tenant-1');
    }
    expect(fake.received.map((r) => r.query).join('\n')).toMatch(/app_keyflip_secret_in_use\{secret_name="K"\}/);
    expect(fake.received.map((r) => r.query).join('\n')).toMatch(/app_keyflip_secret_uses_total\{secret_name="K"\}/);
    expect(() => prometheusUsageSource({ url: fake.url, metrics: { inUse: 'bad name"' } })).toThrow(ConfigurationError);
  });
});

describe('prometheusUsageSource: the answer', () => {
  it('groups instances per fingerprint with service, environment, host, pid, lastSeen and uses', async () => {
    const fake = await fakePrometheus((query) => {
      switch (kind(query)) {
        case 'held':
          return vector([
            held('api-1', 'kf_111111111111', { deployment_environment: 'prod' }),
            held('api-2', 'kf_222222222222', { secret_version: '2', deployment_environment: 'prod' }),
            held('api-3', 'kf_222222222222', {
              secret_version: '2',
              deployment_environment: 'prod',
              process_pid: '303',
            }),
            // No host/pid/version/environment labels (another pipeline): '' / 0 / absent.
            { metric: { service_instance_id: 'bare', secret_fingerprint: 'kf_333333333333' }, value: 1 },
          ]);
        case 'seen':
          return vector([
            keyed('api-1', 'kf_111111111111', 1_700_000_100.5),
            keyed('api-2', 'kf_222222222222', 1_700_000_200),
            keyed('api-3', 'kf_222222222222', 1_700_000_300),
            keyed('bare', 'kf_333333333333', 1_700_000_050),
          ]);
        case 'uses':
          return vector([
            keyed('api-1', 'kf_111111111111', '7.4'),
            keyed('api-2', 'kf_222222222222', 3),
            keyed('api-3', 'kf_222222222222', '2'),
          ]);
        default:
          throw new Error(`unexpected ${query}`);
      }
    });
    const usage = await prometheusUsageSource({ url: fake.url }).usage('OPENAI_API_KEY', { windowMs: 600_000 });
    expect(usage.instancesSeen).toBe(4);
    expect(usage.fingerprints).toEqual([
      {
        fingerprint: 'kf_222222222222',
        version: '2',
        instances: [
          {
            id: 'api-3',
            service: 'checkout-api',
            environment: 'prod',
            host: 'host-a',
            pid: 303,
            lastSeen: 1_700_000_300_000,
            uses: 2,
          },
          {
            id: 'api-2',
            service: 'checkout-api',
            environment: 'prod',
            host: 'host-a',
            pid: 101,
            lastSeen: 1_700_000_200_000,
            uses: 3,
          },
        ],
        uses: 5,
        lastSeen: 1_700_000_300_000,
      },
      {
        fingerprint: 'kf_111111111111',
        version: '1',
        instances: [
          {
            id: 'api-1',
            service: 'checkout-api',
            environment: 'prod',
            host: 'host-a',
            pid: 101,
            lastSeen: 1_700_000_100_500,
            uses: 7,
          },
        ],
        uses: 7,
        lastSeen: 1_700_000_100_500,
      },
      {
        fingerprint: 'kf_333333333333',
        instances: [{ id: 'bare', service: '', host: '', pid: 0, lastSeen: 1_700_000_050_000, uses: 0 }],
        uses: 0,
        lastSeen: 1_700_000_050_000,
      },
    ]);
    expect(usage.fingerprints[2]).not.toHaveProperty('version');
    expect(usage.fingerprints[2]?.instances[0]).not.toHaveProperty('environment');
  });

  it('looks up the raw samples of a series the subquery missed (it ended between two steps)', async () => {
    const fake = await fakePrometheus((query) => {
      switch (kind(query)) {
        case 'held':
          return vector([held('gone"\\odd', 'kf_111111111111'), held('here', 'kf_111111111111')]);
        case 'seen':
          return vector([keyed('here', 'kf_111111111111', 1_700_000_500)]);
        case 'uses':
          return empty();
        case 'raw':
          return {
            body: {
              status: 'success',
              data: {
                resultType: 'matrix',
                result: [
                  {
                    metric: {},
                    values: [
                      [1_700_000_001, '1'],
                      [1_700_000_002.25, '1'],
                      [1_700_000_003, '0'],
                    ],
                  },
                ],
              },
            },
          };
        default:
          throw new Error(`unexpected ${query}`);
      }
    });
    const usage = await prometheusUsageSource({ url: fake.url }).usage('K', { windowMs: 7 * 86_400_000 });
    const raw = fake.received.filter((r) => r.path === '/api/v1/query' && kind(r.query) === 'raw');
    expect(raw.map((r) => r.query)).toEqual([
      'keyflip_secret_in_use{secret_name="K", service_instance_id="gone\\"\\\\odd", ' +
        'secret_fingerprint="kf_111111111111"}[604800000ms]',
    ]);
    expect(usage.fingerprints[0]?.instances.map((i) => [i.id, i.lastSeen])).toEqual([
      ['here', 1_700_000_500_000],
      ['gone"\\odd', 1_700_000_002_250], // the last sample above 0
    ]);
  });
});

/** A presence answer: a point at every step of the range query for each group, but where `missing(k)` says. */
function presence(
  params: URLSearchParams,
  groups: { metric: Record<string, string>; missing?: (k: number, steps: number) => boolean }[],
): Answer {
  const [start, end, step] = ['start', 'end', 'step'].map((name) => Number(params.get(name))) as [
    number,
    number,
    number,
  ];
  const steps = Math.round((end - start) / step);
  return matrix(
    groups.map((g) => ({
      metric: g.metric,
      values: Array.from({ length: steps + 1 }, (_, k) => k)
        .filter((k) => !g.missing?.(k, steps))
        .map((k): [number, string] => [start + k * step, '2']),
    })),
  );
}

describe('prometheusUsageSource: coverage', () => {
  const api1 = { job: 'keyflip', instance: '10.0.0.1:9464', service_instance_id: 'api-1' };
  const api2 = { job: 'keyflip', instance: '10.0.0.2:9464', service_instance_id: 'api-2' };
  /** The interval query's answer: one row per group, the interval measured in seconds. */
  const intervals =
    (...seconds: number[]) =>
    (): Answer =>
      vector(seconds.map((value, i) => ({ metric: { ...api1, service_instance_id: `api-${i}` }, value })));
  const rangeQuery = (received: Received[]): Received | undefined =>
    received.find((r) => r.path === '/api/v1/query_range');
  const selector = 'keyflip_secret_in_use{secret_name="K"}';

  it('full coverage: the largest scrape interval, observedSince at the start of the range, no gaps', async () => {
    const fake = await fakePrometheus(() => empty(), {
      interval: intervals(1, 0.5),
      presence: (_, params) => presence(params, [{ metric: api1 }, { metric: api2 }]),
      retention: '15d',
    });
    const usage = await prometheusUsageSource({ url: fake.url }).usage('K', { windowMs: 60_000 });
    // 61 steps of 1 s back from `at`: the window plus one interval.
    expect(usage.coverage).toEqual({ observedSince: usage.at - 61_000, dropped: [], maxIntervalMs: 1_000, gaps: [] });
    const interval = fake.received.find((r) => kind(r.query) === 'interval');
    const measured = (ms: number): string =>
      `(timestamp(${selector}) - timestamp(${selector} offset ${ms}ms)) / count_over_time(${selector}[${ms}ms])`;
    expect(interval?.query).toBe(
      `max by (job, instance, service_instance_id) (${measured(2_000)} or ${measured(10_000)} or ` +
        `${measured(60_000)} or ${measured(300_000)})`,
    );
    const range = rangeQuery(fake.received);
    expect(range?.query).toBe(`count by (job, instance, service_instance_id) (count_over_time(${selector}[2000ms]))`);
    expect(range?.method).toBe('POST');
    expect(range?.params.get('step')).toBe('1.000');
    expect(Number(range?.params.get('end'))).toBeCloseTo(usage.at / 1000, 3);
    expect(Number(range?.params.get('start'))).toBeCloseTo((usage.at - 61_000) / 1000, 3);
  });

  it('a scrape gap of one instance, and one of every series: both listed, observedSince after the last', async () => {
    const fake = await fakePrometheus(() => empty(), {
      interval: intervals(1),
      presence: (_, params) =>
        presence(params, [
          { metric: api1, missing: (k) => (k >= 20 && k <= 25) || (k >= 40 && k <= 42) },
          { metric: api2, missing: (k) => k >= 40 && k <= 42 },
        ]),
    });
    const usage = await prometheusUsageSource({ url: fake.url }).usage('K', { windowMs: 60_000 });
    const start = usage.at - 61_000;
    const at = (k: number): string => new Date(start + k * 1_000).toISOString();
    expect(usage.coverage).toEqual({
      observedSince: start + 43_000,
      dropped: [],
      maxIntervalMs: 1_000,
      gaps: [
        `Prometheus has no sample of K from instance "api-1" between ${at(19)} and ${at(26)} ` +
          '(a scrape gap: more than 2 × the 1s step)',
        `Prometheus has no sample of any series of K between ${at(39)} and ${at(43)} ` +
          '(a scrape gap: more than 2 × the 1s step)',
      ],
    });
  });

  it('series that begin within the range: observedSince at the first; a short retention is a gap', async () => {
    const fake = await fakePrometheus(() => empty(), {
      interval: intervals(1),
      presence: (_, params) => presence(params, [{ metric: api1, missing: (k) => k < 30 }]),
      retention: '30s',
    });
    const usage = await prometheusUsageSource({ url: fake.url }).usage('K', { windowMs: 60_000 });
    expect(usage.coverage).toEqual({
      observedSince: usage.at - 61_000 + 30_000,
      dropped: [],
      maxIntervalMs: 1_000,
      gaps: [
        'Prometheus keeps 30s of samples (its retention), less than the window plus one scrape interval: it cannot ' +
          'vouch for the whole window; use a shorter window or keep samples longer',
      ],
    });
    // A retention that covers the window is no gap (and a compound or size-bound one is read too).
    for (const retention of ['1h', '1m1s', '2h or 10GiB']) {
      const covered = await fakePrometheus(() => empty(), {
        interval: intervals(1),
        presence: (_, params) => presence(params, [{ metric: api1 }]),
        retention,
      });
      const answer = await prometheusUsageSource({ url: covered.url }).usage('K', { windowMs: 60_000 });
      expect(answer.coverage?.gaps, retention).toEqual([]);
    }
  });

  it('nothing scraped at the end of the range: no observedSince, and gaps says so', async () => {
    const fake = await fakePrometheus(() => empty(), {
      interval: intervals(1),
      presence: (_, params) => presence(params, [{ metric: api1, missing: (k, steps) => k > steps - 5 }]),
    });
    const usage = await prometheusUsageSource({ url: fake.url }).usage('K', { windowMs: 60_000 });
    expect(usage.coverage).toMatchObject({ observedSince: undefined, maxIntervalMs: 1_000 });
    expect(usage.coverage?.gaps).toEqual([expect.stringMatching(/^Prometheus has no sample of K since .*now$/)]);
  });

  it('a long window or a large fleet: a coarser step, at most 10 000 points per series', async () => {
    let groups = 1;
    const fake = await fakePrometheus(() => empty(), {
      interval: () => intervals(...Array<number>(groups).fill(1))(),
      presence: (_, params) => presence(params, [{ metric: api1 }]),
    });
    const source = prometheusUsageSource({ url: fake.url });
    const month = await source.usage('K', { windowMs: 30 * 86_400_000 });
    expect(rangeQuery(fake.received)?.params.get('step')).toBe('259.201'); // (30 d + 1 s) / 10 000, rounded up
    expect(month.coverage).toMatchObject({ maxIntervalMs: 1_000, gaps: [] });
    expect(month.coverage?.observedSince).toBeLessThanOrEqual(month.at - 30 * 86_400_000 - 1_000);
    fake.received.length = 0;
    groups = 500;
    await source.usage('K', { windowMs: 3_600_000 });
    // 500 series of (1 h + 1 s) at 1 s would be 1.8 M points: 1 M at most.
    expect(rangeQuery(fake.received)?.params.get('step')).toBe('1.801');
  });

  it('retentionOf reads the time part of storageRetention', () => {
    expect(retentionOf('15d')).toBe(15 * 86_400_000);
    expect(retentionOf('1h30m')).toBe(5_400_000);
    expect(retentionOf('2w')).toBe(14 * 86_400_000);
    expect(retentionOf('500ms')).toBe(500);
    expect(retentionOf('10GiB or 1y')).toBe(365 * 86_400_000);
    expect(retentionOf('10GiB')).toBeUndefined();
    expect(retentionOf('')).toBeUndefined();
  });

  it('scrapeGaps: a gap of one group inside a gap of every series is listed once', () => {
    const values = (ks: number[]): [number, string][] => ks.map((k) => [k, '1']);
    const found = scrapeGaps(
      [
        { metric: { service_instance_id: 'a' }, values: values([0, 1, 2, 6, 7, 8]) },
        { metric: { service_instance_id: 'b' }, values: values([0, 1, 2, 6, 7, 8]) },
      ],
      0,
      1_000,
      8,
    );
    expect(found).toEqual({
      gaps: [{ from: 2_000, to: 6_000, who: undefined }],
      observedSince: 6_000,
      lastSample: 8_000,
    });
  });
});

describe('prometheusUsageSource: names and escaping', () => {
  it('accepts secret names of letters, digits and _ . - / [ ], quoted as PromQL strings', async () => {
    const fake = await fakePrometheus(() => empty());
    const source = prometheusUsageSource({ url: fake.url });
    for (const name of ['OPENAI_API_KEY', 'team/openai.key-2', 'byok[tenant_7]']) {
      await source.usage(name, { windowMs: 1_000 });
      const queries = fake.received.filter((r) => r.path === '/api/v1/query').slice(-4);
      for (const r of queries) expect(r.query).toContain(`{secret_name="${name}"}`);
    }
  });

  it('rejects any other secret name with a clear error, before any request', async () => {
    const fake = await fakePrometheus(() => empty());
    const source = prometheusUsageSource({ url: fake.url });
    for (const name of ['', 'a"} or vector(1) #', 'a b', 'K\n', 'key@2', 'gcp:key', 'ключ', 'x'.repeat(513), 'K\\']) {
      const error = await source.usage(name, { windowMs: 1_000 }).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain('A-Z a-z 0-9 _ . - / [ ]');
    }
    expect(fake.received).toEqual([]);
  });

  it('rejects a bad window and a bad url or timeout', async () => {
    const fake = await fakePrometheus(() => empty());
    const source = prometheusUsageSource({ url: fake.url });
    for (const windowMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(source.usage('K', { windowMs })).rejects.toThrow(ConfigurationError);
    }
    expect(() => prometheusUsageSource({ url: 'not a url' })).toThrow(/url must be an http\(s\) URL/);
    expect(() => prometheusUsageSource({ url: 'ftp://host' })).toThrow(/url must be an http\(s\) URL/);
    expect(() => prometheusUsageSource({ url: fake.url, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(fake.received).toEqual([]);
  });

  it('promString escapes any label value as a Go string literal', () => {
    expect(promString('plain')).toBe('"plain"');
    expect(promString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(promString('l1\nl2\r\t')).toBe('"l1\\nl2\\r\\t"');
    expect(promString('\u0000\u001f\u007f')).toBe('"\\u0000\\u001f\\u007f"');
    expect(promString('é€😀')).toBe('"é€😀"');
    expect(promString('\ud800')).toBe('"\\ud800"'); // a lone surrogate is not sent raw
    // What goes in is what Prometheus (Go's strconv.Unquote, close to JSON for these) reads back.
    for (const value of ['a"b\\c', 'l1\nl2', '\u0001x', 'é€😀']) expect(JSON.parse(promString(value))).toBe(value);
  });
});

describe('prometheusUsageSource: failures say what happened', () => {
  it('an HTTP error with a Prometheus error body: the status, errorType and error, and the query', async () => {
    const fake = await fakePrometheus(() => ({
      status: 400,
      body: { status: 'error', errorType: 'bad_data', error: 'parse error at char 7' },
    }));
    const error = await prometheusUsageSource({ url: fake.url })
      .usage('K', { windowMs: 1_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageSourceError);
    expect(error).toMatchObject({ code: 'HTTP_STATUS', status: 400 });
    expect((error as Error).message).toMatch(
      new RegExp(`Prometheus at ${fake.url} answered HTTP 400 to .*keyflip_secret_.*: bad_data: parse error at char 7`),
    );
  });

  it('401/403: UNAUTHORIZED', async () => {
    const fake = await fakePrometheus(() => ({ status: 401, raw: true, body: 'Unauthorized' }));
    await expect(prometheusUsageSource({ url: fake.url }).usage('K', { windowMs: 1_000 })).rejects.toMatchObject({
      name: 'UsageSourceError',
      code: 'UNAUTHORIZED',
      status: 401,
    });
  });

  it('an HTTP error that is not the API (a proxy page): the status and the start of the body', async () => {
    const fake = await fakePrometheus(() => ({ status: 502, raw: true, body: '<html>Bad Gateway</html>' }));
    await expect(prometheusUsageSource({ url: fake.url }).usage('K', { windowMs: 1_000 })).rejects.toThrow(
      /answered HTTP 502 .*not a Prometheus API answer: "<html>Bad Gateway<\/html>"/,
    );
  });

  it('200 with a body that is not JSON, or not a success, or not a vector', async () => {
    let reply: Answer = { raw: true, body: '{"status": "succ' };
    const fake = await fakePrometheus(() => reply);
    const source = prometheusUsageSource({ url: fake.url });
    await expect(source.usage('K', { windowMs: 1_000 })).rejects.toThrow(
      /answered HTTP 200 .*not a Prometheus API answer: "\{\\"status\\": \\"succ"/,
    );
    reply = { body: { status: 'error', errorType: 'timeout', error: 'query timed out' } };
    await expect(source.usage('K', { windowMs: 1_000 })).rejects.toThrow(/timeout: query timed out/);
    reply = { body: { status: 'success', data: { resultType: 'matrix', result: [] } } };
    await expect(source.usage('K', { windowMs: 1_000 })).rejects.toThrow(/answered a matrix, not a vector/);
    reply = { body: { status: 'success' } };
    await expect(source.usage('K', { windowMs: 1_000 })).rejects.toThrow(/without data\.resultType/);
    reply = { body: [1, 2] };
    await expect(source.usage('K', { windowMs: 1_000 })).rejects.toThrow(/not a Prometheus API answer/);
    await expect(source.usage('K', { windowMs: 1_000 })).rejects.toMatchObject({ code: 'BAD_RESPONSE', status: 200 });
  });

  it('unreachable: names the URL and the cause (connection refused)', async () => {
    const fake = await fakePrometheus(() => empty());
    const url = fake.url;
    for (const s of servers.splice(0)) await new Promise((r) => s.close(r)); // nothing listens there now
    const error = await prometheusUsageSource({ url })
      .usage('K', { windowMs: 1_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageSourceError);
    expect(error).toMatchObject({ code: 'UNREACHABLE' });
    expect((error as Error).message).toMatch(new RegExp(`Prometheus at ${url} is unreachable: .*ECONNREFUSED`));
  });

  it('a server that never answers: a timeout after timeoutMs', async () => {
    const fake = await fakePrometheus(() => ({ hang: true, body: null }));
    const error = await prometheusUsageSource({ url: fake.url, timeoutMs: 200 })
      .usage('K', { windowMs: 1_000 })
      .catch((e: unknown) => e);
    // The message comes only from the timeout's abort (TimeoutError), never from a failed connection.
    expect(error).toMatchObject({
      code: 'UNREACHABLE',
      message: `Prometheus at ${fake.url} did not answer within 200 ms`,
    });
  });

  it('a custom fetch is used, and its failures are reported the same way', async () => {
    const calls: string[] = [];
    const fetchImpl = (async (input: string | URL | Request) => {
      calls.push(String(input));
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('getaddrinfo ENOTFOUND prom.invalid'), { code: 'ENOTFOUND' }),
      });
    }) as typeof fetch;
    await expect(
      prometheusUsageSource({ url: 'http://prom.invalid:9090/', fetch: fetchImpl }).usage('K', { windowMs: 1_000 }),
    ).rejects.toThrow(
      'Prometheus at http://prom.invalid:9090 is unreachable: fetch failed: getaddrinfo ENOTFOUND prom.invalid',
    );
    expect(calls[0]).toBe('http://prom.invalid:9090/api/v1/query');
  });
});
