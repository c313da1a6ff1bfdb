/**
 * Issue 12, false clear 3: rejected reports. A resolver whose beacon the collector refuses is invisible to
 * `verify`. Now (1) `usageBeacon()` refuses, when it is created, any field the collector would refuse (a
 * `ConfigurationError` naming the field and the limit), with the same bounds as the real collector process;
 * (2) a sink that fails (401 wrong token, 404 wrong URL, 400 refused report) makes the resolver emit one `error`
 * event with a `BEACON_*` code, and `resolver.beaconStats().failed` agrees with the sink's own count.
 *
 * Before issue 12 `usageBeacon()` accepted a 306-character label that the collector answers 400 for; the
 * resolver emitted nothing, and `beaconStats()` said `failed: 0` (httpSink's `send` returned at once, counted as
 * sent) while the sink's stats said every send failed: verify never heard of the process and could exit 0.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BEACON_LIMITS, type BeaconOptions, httpSink, usageBeacon } from '../../src/beacon/index.js';
import { ConfigurationError, createResolver, memorySource } from '../../src/index.js';
import { report } from '../collector/reports.js';
import { leaks, only, record } from '../helpers.js';
import { type CollectorProcess, instanceIds, startCollector, TOKEN } from './support/collector-process.js';
import { FP, NEEDLES, VALUES } from './support/keys.js';
import { until } from './support/poll.js';

const WRONG_TOKEN = 'evidence-wrong-token-0b7d';
const LIMITS = BEACON_LIMITS.chars;
const sink = { send: () => undefined };

let collector: CollectorProcess;
beforeAll(async () => {
  collector = await startCollector();
});
afterAll(async () => {
  await collector.kill();
  expect(leaks(collector.cli.stdout() + collector.cli.stderr(), [...NEEDLES, WRONG_TOKEN])).toEqual([]);
});

/** Posts `body` to the collector process as a report; its status and its `issues` paths. */
async function post(body: unknown): Promise<{ status: number; paths: string[] }> {
  const response = await fetch(`${collector.url}/v1/beacons`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  const issues = text === '' ? [] : ((JSON.parse(text) as { issues?: { path: string }[] }).issues ?? []);
  return { status: response.status, paths: issues.map((i) => i.path) };
}

describe('issue 12 (3): no invisible process — the beacon refuses what the collector would refuse', () => {
  const long = (n: number): string => 'x'.repeat(n);
  const cases: [string, Partial<BeaconOptions>, RegExp][] = [
    ['a 306-character label (the issue)', { labels: { note: long(306) } }, /labels\.note.*306.*256/],
    ['a label name too long', { labels: { [long(LIMITS.labelKey + 1)]: 'v' } }, /labels.*101.*100/],
    [
      'too many labels',
      { labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])) },
      /labels.*33.*32/,
    ],
    ['a service too long', { service: long(LIMITS.service + 1) }, /service.*257.*256/],
    ['an environment too long', { environment: long(LIMITS.environment + 1) }, /environment.*129.*128/],
    ['an instance id too long', { instanceId: long(LIMITS.id + 1) }, /instanceId.*257.*256/],
    ['an interval under 1 s', { intervalMs: 999 }, /intervalMs.*999.*1000/],
    ['an interval over a day', { intervalMs: 86_400_001 }, /intervalMs.*86400001/],
  ];
  it.each(cases)(
    '%s: usageBeacon() throws a ConfigurationError naming the field and the limit',
    (_, options, shape) => {
      const make = () =>
        createResolver({
          sources: [memorySource()],
          beacon: usageBeacon({ service: 'checkout-api', sink, ...options }),
        });
      expect(make).toThrow(ConfigurationError);
      expect(make).toThrow(shape);
    },
  );

  it('the bounds are the collector process’s: a 256-character label fits both ends, 257 neither', async () => {
    const fits = { id: 'label-fits', labels: { note: long(LIMITS.labelValue) } };
    const over = { id: 'label-over', labels: { note: long(LIMITS.labelValue + 1) } };
    expect(await post(report(fits, [{ fingerprint: FP.new }]))).toEqual({ status: 204, paths: [] });
    expect(await post(report(over, [{ fingerprint: FP.new }]))).toEqual({ status: 400, paths: ['labels["note"]'] });
    expect(() => usageBeacon({ service: 'checkout-api', sink, labels: fits.labels })).not.toThrow();
    expect(() => usageBeacon({ service: 'checkout-api', sink, labels: over.labels })).toThrow(ConfigurationError);
  });
});

/** A stand-in for a collector that refuses every report whole (400), as one with other limits would. */
let refusing: Server;
let refusingUrl: string;
beforeAll(async () => {
  refusing = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'labels: expected at most 64 characters', code: 'INVALID_REPORT' }));
    });
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
  refusingUrl = `http://127.0.0.1:${(refusing.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => refusing.close(() => resolve())));

describe('issue 12 (3): a sink that fails is told once, and counted the same by the resolver and the sink', () => {
  const failing: [string, string, () => { url: string; token: string }][] = [
    [
      '401: a wrong token (the collector process)',
      'BEACON_UNAUTHORIZED',
      () => ({ url: collector.url, token: WRONG_TOKEN }),
    ],
    [
      '404: a wrong URL (the collector process)',
      'BEACON_REJECTED',
      () => ({ url: `${collector.url}/wrong`, token: TOKEN }),
    ],
    ['400: a collector that refuses the report', 'BEACON_REJECTED', () => ({ url: refusingUrl, token: TOKEN })],
  ];
  it.each(failing)(
    '%s: one error event %s; beaconStats().failed = the sink’s',
    async (_, code, where) => {
      const { url, token } = where();
      const id = `invisible-${code}-${url.length}`;
      const memory = memorySource();
      memory.set('OPENAI_API_KEY', VALUES.old);
      const sinkOf = httpSink({ url, token, maxAttempts: 1 });
      const resolver = createResolver({
        sources: [memory],
        beacon: usageBeacon({ service: 'invisible-app', instanceId: id, intervalMs: 1_000, sink: sinkOf }),
      });
      const events = record(resolver);
      resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY');
      await resolver.ready();
      // Several reports, every one refused.
      await until('three refused reports', () => (sinkOf.stats().failed >= 3 ? true : undefined));
      await resolver.close();

      const told = only(events, 'error').filter((e) => e.secret === undefined);
      expect(told.map((e) => e.error.code)).toEqual([code]);
      expect(told[0]?.error.message).toContain('httpSink');
      expect(leaks(told[0]?.error.message ?? '', [...NEEDLES, WRONG_TOKEN])).toEqual([]);
      const stats = resolver.beaconStats();
      expect(stats?.sent).toBe(0);
      expect(stats?.failed).toBe(sinkOf.stats().failed);
      expect(stats?.failed).toBeGreaterThanOrEqual(3);
      expect(await instanceIds(collector.url)).not.toContain(id);
    },
    60_000,
  );
});
