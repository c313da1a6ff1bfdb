import { describe, expect, it } from 'vitest';
import { CollectorInputError, createCollector, validateReport } from '../../src/collector/index.js';
import { ConfigurationError, KeyflipError } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { FP, report } from './reports.js';

const MIN = 60_000;
// biome-ignore lint/suspicious/noExplicitAny: the schema cases write values of the wrong type into fields, on purpose
type Loose = Record<string, any>;
const HOUR = 60 * MIN;

function setup(options: Parameters<typeof createCollector>[0] = {}) {
  const clock = manualClock();
  const collector = createCollector({ clock, ...options });
  return { clock, collector };
}

describe('createCollector: usage over a window', () => {
  it('groups instances by fingerprint, sums uses of the reports within the window, gives lastSeen', async () => {
    const { clock, collector } = setup();
    const t0 = clock.now();
    collector.ingest(
      report({ id: 'a', service: 'api', host: 'web-1', pid: 11, environment: 'prod' }, [
        { fingerprint: FP.old, version: '1', uses: 5 },
      ]),
    );
    await clock.advance(MIN);
    collector.ingest(
      report({ id: 'a', service: 'api', host: 'web-1', pid: 11, environment: 'prod' }, [
        { fingerprint: FP.old, version: '1', uses: 7 },
      ]),
    );
    collector.ingest(
      report({ id: 'b', service: 'worker', host: 'web-2', pid: 22 }, [{ fingerprint: FP.new, version: '2', uses: 3 }]),
    );
    await clock.advance(MIN);

    const usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage).toEqual({
      secret: 'OPENAI_API_KEY',
      windowMs: HOUR,
      at: t0 + 2 * MIN,
      instancesSeen: 2,
      // Observed since its start, nothing dropped; a's interval is observed (two reports), b's unknown (one).
      coverage: { observedSince: t0, dropped: [], maxIntervalMs: MIN, gaps: [] },
      fingerprints: [
        // Both last reported at t0+1m: the tie is broken by fingerprint.
        ...[
          {
            fingerprint: FP.old,
            version: '1',
            uses: 12,
            lastSeen: t0 + MIN,
            instances: [
              {
                id: 'a',
                service: 'api',
                environment: 'prod',
                host: 'web-1',
                pid: 11,
                lastSeen: t0 + MIN,
                uses: 12,
                current: true,
                firstSeen: t0,
                intervalMs: MIN,
                candidate: 'OPENAI_API_KEY_v1',
              },
            ],
          },
          {
            fingerprint: FP.new,
            version: '2',
            uses: 3,
            lastSeen: t0 + MIN,
            instances: [
              {
                id: 'b',
                service: 'worker',
                host: 'web-2',
                pid: 22,
                lastSeen: t0 + MIN,
                uses: 3,
                current: true,
                firstSeen: t0 + MIN,
                candidate: 'OPENAI_API_KEY_v2',
              },
            ],
          },
        ].sort((x, y) => (x.fingerprint < y.fingerprint ? -1 : 1)),
      ],
    });
    // A window that starts after the first report: only the second one's uses count.
    const recent = collector.usage('OPENAI_API_KEY', { windowMs: 90_000 });
    expect(recent.fingerprints.find((f) => f.fingerprint === FP.old)?.uses).toBe(7);
    // The window is inclusive of its start.
    expect(
      collector.usage('OPENAI_API_KEY', { windowMs: 2 * MIN }).fingerprints.find((f) => f.fingerprint === FP.old)?.uses,
    ).toBe(12);
  });

  it('a fingerprint held with 0 uses still lists its instance; a rotated-away one leaves the window', async () => {
    const { clock, collector } = setup();
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old, uses: 0 }]));
    await clock.advance(10 * MIN);
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new, uses: 4 }])); // rotated
    let usage = collector.usage('OPENAI_API_KEY', { windowMs: 15 * MIN });
    expect(usage.fingerprints.map((f) => [f.fingerprint, f.instances.length, f.uses])).toEqual([
      [FP.new, 1, 4],
      [FP.old, 1, 0],
    ]);
    usage = collector.usage('OPENAI_API_KEY', { windowMs: 5 * MIN });
    expect(usage.fingerprints.map((f) => f.fingerprint)).toEqual([FP.new]);
    expect(usage.instancesSeen).toBe(1);
  });

  it('instancesSeen counts instances that reported the secret at all within the window, whatever the key', async () => {
    const { clock, collector } = setup();
    collector.ingest(report({ id: 'gone' }, [{ fingerprint: FP.old }]));
    await clock.advance(2 * HOUR);
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new }]));
    collector.ingest(report({ id: 'b' }, [{ fingerprint: FP.new }, { name: 'OTHER', fingerprint: FP.other }]));
    collector.ingest(report({ id: 'c' }, [{ name: 'OTHER', fingerprint: FP.other }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).instancesSeen).toBe(2);
    expect(collector.usage('OPENAI_API_KEY', { windowMs: 3 * HOUR }).instancesSeen).toBe(3);
    expect(collector.usage('OTHER', { windowMs: HOUR }).instancesSeen).toBe(2);
    const none = collector.usage('NEVER_REPORTED', { windowMs: HOUR });
    expect(none.instancesSeen).toBe(0);
    expect(none.fingerprints).toEqual([]);
    expect(collector.secrets()).toEqual(['OPENAI_API_KEY', 'OTHER']);
  });

  it('the version of a fingerprint is the most recently reported one', async () => {
    const { clock, collector } = setup();
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old, version: '1' }]));
    await clock.advance(1000);
    collector.ingest(report({ id: 'b' }, [{ fingerprint: FP.old }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).fingerprints[0]?.version).toBe('1');
    collector.ingest(report({ id: 'c' }, [{ fingerprint: FP.old, version: '3' }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).fingerprints[0]?.version).toBe('3');
  });

  it("the same fingerprint twice in one report adds up; times are the collector's, not the sender's", () => {
    const { clock, collector } = setup();
    // The sender's clock lags by two hours: the report still counts as now.
    collector.ingest(
      report(
        { id: 'a' },
        [
          { fingerprint: FP.old, uses: 2 },
          { fingerprint: FP.old, uses: 3 },
        ],
        clock.now() - 2 * HOUR,
      ),
    );
    const usage = collector.usage('OPENAI_API_KEY', { windowMs: MIN });
    expect(usage.fingerprints[0]?.uses).toBe(5);
    expect(usage.fingerprints[0]?.lastSeen).toBe(clock.now());
    expect(collector.instances()[0]?.sentAt).toBe(clock.now() - 2 * HOUR);
  });

  it('refuses a window longer than the retention, and a bad query', () => {
    const { collector } = setup({ retentionMs: HOUR });
    expect(() => collector.usage('K', { windowMs: 2 * HOUR })).toThrow(/longer than the collector's retention/);
    expect(() => collector.usage('', { windowMs: MIN })).toThrow(CollectorInputError);
    expect(() => collector.usage('K', { windowMs: 0 })).toThrow(/window: expected a positive duration/);
    expect(() => collector.usage('K', { windowMs: Number.NaN })).toThrow(/window/);
  });

  it('bounds the reports kept per entry: exact for recent windows, erring toward "in use" for old ones', async () => {
    const { clock, collector } = setup();
    for (let i = 0; i < 500; i++) {
      collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old, uses: 1 }]));
      await clock.advance(MIN);
    }
    // Over the whole retention every use is there.
    expect(collector.usage('OPENAI_API_KEY', { windowMs: 24 * HOUR }).fingerprints[0]?.uses).toBe(500);
    // The most recent reports are exact.
    expect(collector.usage('OPENAI_API_KEY', { windowMs: 15 * MIN }).fingerprints[0]?.uses).toBe(15);
    // Longer windows may count a little more (old samples are merged), never less.
    for (const hours of [1, 3, 6]) {
      const uses = collector.usage('OPENAI_API_KEY', { windowMs: hours * HOUR }).fingerprints[0]?.uses ?? 0;
      expect(uses).toBeGreaterThanOrEqual(hours * 60);
      expect(uses).toBeLessThanOrEqual(hours * 60 * 1.1);
    }
  });
});

describe('createCollector: retention, pruning and caps', () => {
  it('forgets what is older than the retention, instances and fingerprints alike', async () => {
    const { clock, collector } = setup({ retentionMs: HOUR });
    collector.ingest(report({ id: 'old' }, [{ fingerprint: FP.old, uses: 1 }]));
    collector.ingest(report({ id: 'live' }, [{ fingerprint: FP.old, uses: 1 }]));
    await clock.advance(40 * MIN);
    collector.ingest(report({ id: 'live' }, [{ fingerprint: FP.new, uses: 1 }]));
    expect(collector.stats).toMatchObject({ instances: 2, entries: 3, secrets: 1 });
    await clock.advance(30 * MIN); // 70 min after the first reports
    collector.ingest(report({ id: 'live' }, [{ fingerprint: FP.new, uses: 1 }])); // a sweep runs on ingest
    expect(collector.stats).toMatchObject({ instances: 1, entries: 1, secrets: 1, expired: 1 });
    expect(collector.instances().map((i) => [i.id, i.secrets.map((s) => s.fingerprint)])).toEqual([['live', [FP.new]]]);
    expect(collector.instances()[0]?.secrets[0]?.uses).toBe(2);
    await clock.advance(2 * HOUR);
    expect(collector.instances()).toEqual([]);
    collector.prune();
    expect(collector.stats).toMatchObject({ instances: 0, entries: 0, secrets: 0 });
  });

  it('caps tracked instances: a new one is refused (never one evicted), recorded; room once one expires', async () => {
    const { clock, collector } = setup({ maxInstances: 3, retentionMs: HOUR });
    for (const id of ['a', 'b', 'c']) {
      expect(collector.ingest(report({ id }, [{ fingerprint: FP.old }]))).toEqual({ accepted: true });
      await clock.advance(1000);
    }
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old }])); // a reports again: b is now the silent longest
    await clock.advance(1000);
    const refusedAt = clock.now();
    const refusal = collector.ingest(report({ id: 'd' }, [{ fingerprint: FP.new }]));
    expect(refusal).toMatchObject({ accepted: false, reason: 'instance-cap' });
    expect(refusal.accepted === false && refusal.message).toMatch(/maximum of 3 instances \(maxInstances\)/);
    // Room comes back when b (last reported 3 s ago) has been silent for the retention, at the next sweep (≤ 60 s).
    expect(refusal.accepted === false && refusal.retryAfterMs).toBe(HOUR - 3_000 + 60_000);
    // Nobody was evicted: b, silent longest, still holds its key in every window.
    expect(collector.instances().map((i) => i.id)).toEqual(['a', 'c', 'b']);
    expect(collector.stats).toMatchObject({ instances: 3, evicted: 0, entries: 3, refused: 1, reports: 4 });
    const usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage.instancesSeen).toBe(3);
    expect(usage.coverage?.dropped).toEqual([{ reason: 'instance-cap', from: refusedAt, to: refusedAt, count: 1 }]);
    // An instance already tracked is not refused.
    expect(collector.ingest(report({ id: 'b' }, [{ fingerprint: FP.old }]))).toEqual({ accepted: true });
    expect(collector.instances().map((i) => i.id)).toEqual(['b', 'a', 'c']);
    // Once c outlives the retention, d gets its place (a, silent for longer than the retention too, expired and came
    // back as a new instance).
    await clock.advance(HOUR);
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old }]));
    expect(collector.ingest(report({ id: 'd' }, [{ fingerprint: FP.new }]))).toEqual({ accepted: true });
    expect(collector.instances().map((i) => i.id)).toEqual(['d', 'a', 'b']);
    expect(collector.stats).toMatchObject({ instances: 3, expired: 2, evicted: 0 });
  });

  it('caps fingerprints per (instance, secret): the one listed longest ago goes', async () => {
    const { clock, collector } = setup({ maxFingerprintsPerSecret: 2 });
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old }]));
    await clock.advance(1000);
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new }]));
    await clock.advance(1000);
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.other }]));
    const usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage.fingerprints.map((f) => f.fingerprint)).toEqual([FP.other, FP.new]);
    expect(collector.stats.entries).toBe(2);
    // What the cap shed is recorded as dropped evidence for that secret only.
    const at = clock.now();
    expect(usage.coverage?.dropped).toEqual([{ reason: 'fingerprint-cap', from: at, to: at, count: 1 }]);
    expect(collector.usage('OTHER', { windowMs: HOUR }).coverage?.dropped).toEqual([]);
    expect(collector.stats).toMatchObject({ dropped: 1, droppedBy: { 'fingerprint-cap': 1 } });
  });

  it('rejects options that make no sense, with a ConfigurationError', () => {
    expect(() => createCollector({ retentionMs: 0 })).toThrow(/retentionMs/);
    expect(() => createCollector({ maxInstances: -1 })).toThrow(/maxInstances/);
    expect(() => createCollector({ retentionMs: Number.POSITIVE_INFINITY })).toThrow(/retentionMs/);
    expect(() => createCollector({ maxFingerprintsPerSecret: 0 })).toThrow(/maxFingerprintsPerSecret/);
    expect(() => createCollector({ staleFactor: Number.NaN })).toThrow(/staleFactor/);
    expect(() => createCollector({ defaultIntervalMs: -5 })).toThrow(/defaultIntervalMs/);
    expect(() => createCollector({ maxBytes: 1_000 })).toThrow(/maxBytes.*at least 65536/);
    expect(() => createCollector({ maxSecretsPerInstance: 0 })).toThrow(/maxSecretsPerInstance/);
    expect(() => createCollector({ retentionMs: 0 })).toThrow(ConfigurationError);
  });
});

describe('createCollector: instances and staleness', () => {
  it("estimates each instance's interval from its reports and marks it stale after 2× that", async () => {
    const { clock, collector } = setup();
    for (let i = 0; i < 4; i++) {
      collector.ingest(report({ id: 'fast', labels: { region: 'eu' } }, [{ fingerprint: FP.new }]));
      if (i < 3) collector.ingest(report({ id: 'slow' }, [{ fingerprint: FP.old }]));
      await clock.advance(10_000);
    }
    let [fast, slow] = ['fast', 'slow'].map((id) => collector.instances().find((i) => i.id === id));
    expect(fast).toMatchObject({ intervalMs: 10_000, stale: false, reports: 4, labels: { region: 'eu' } });
    expect(slow).toMatchObject({ intervalMs: 10_000, stale: false, reports: 3 });
    await clock.advance(5_000); // slow has been silent 25 s > 2 × 10 s
    [fast, slow] = ['fast', 'slow'].map((id) => collector.instances().find((i) => i.id === id));
    expect(fast?.stale).toBe(false);
    expect(slow?.stale).toBe(true);
    // One report only: the default interval (60 s) applies.
    collector.ingest(report({ id: 'once' }, [{ fingerprint: FP.new }]));
    await clock.advance(100_000);
    expect(collector.instances().find((i) => i.id === 'once')).toMatchObject({ stale: false });
    expect(collector.instances().find((i) => i.id === 'once')?.intervalMs).toBeUndefined();
    await clock.advance(21_000);
    expect(collector.instances().find((i) => i.id === 'once')?.stale).toBe(true);
  });

  it('a restarted process with the same instance id takes its new identity', () => {
    const { collector } = setup();
    collector.ingest(report({ id: 'a', pid: 1, host: 'h1' }, [{ fingerprint: FP.old }]));
    collector.ingest(report({ id: 'a', pid: 2, host: 'h2', service: 'renamed' }, [{ fingerprint: FP.new }]));
    expect(collector.instances()).toHaveLength(1);
    expect(collector.instances()[0]).toMatchObject({ pid: 2, host: 'h2', service: 'renamed' });
  });
});

describe('ingest: the schema check', () => {
  const valid = report({ id: 'a' }, [{ fingerprint: FP.old, uses: 1, version: '1' }]);
  const mutate = (change: (r: Loose) => void): unknown => {
    const copy = JSON.parse(JSON.stringify(valid)) as Loose;
    change(copy);
    return copy;
  };
  const problem = (input: unknown): string => {
    try {
      validateReport(input);
    } catch (error) {
      expect(error).toBeInstanceOf(CollectorInputError);
      expect((error as CollectorInputError).code).toBe('INVALID_REPORT');
      return (error as Error).message;
    }
    throw new Error('accepted');
  };

  it('says which field is wrong and how, never what it held', () => {
    const cases: [unknown, string][] = [
      [null, 'a report must be a JSON object, got null'],
      [[valid], 'a report must be a JSON object, got an array of 1'],
      ['keyflip', 'a report must be a JSON object, got a string of 7 characters'],
      [mutate((r) => delete r.schema), 'schema: expected "keyflip.beacon/v1", got nothing'],
      [mutate((r) => (r.schema = 'keyflip.beacon/v2')), 'schema: expected "keyflip.beacon/v1", got another string'],
      [
        mutate((r) => (r.sentAt = '1700000000000')),
        'sentAt: expected ms since the epoch (a finite number ≥ 0), got a string of 13 characters',
      ],
      [
        mutate((r) => (r.sentAt = -5)),
        'sentAt: expected ms since the epoch (a finite number ≥ 0), got a number out of range',
      ],
      [mutate((r) => delete r.service), 'service: is required (a string)'],
      [mutate((r) => (r.service = 'x'.repeat(5000))), 'service: expected at most 256 characters, got 5000'],
      [mutate((r) => (r.service = 'api\u001b[31m')), 'service: contains a control character'],
      [mutate((r) => (r.instance = [])), 'instance: expected an object, got an array of 0'],
      [
        mutate((r) => (r.instance.pid = 1.5)),
        'instance.pid: expected an integer from 0 to 4294967295, got a number out of range or not whole',
      ],
      [mutate((r) => (r.instance.id = '')), 'instance.id: must not be empty'],
      [mutate((r) => (r.secrets = {})), 'secrets: expected an array, got an object'],
      [mutate((r) => (r.secrets = new Array(1001).fill(0))), 'secrets: expected at most 1000 secrets, got 1001'],
      [
        mutate((r) => (r.secrets[0].uses = -1)),
        'secrets[0].uses: expected an integer from 0 to 9007199254740991, got a number out of range or not whole',
      ],
      [
        mutate((r) => (r.secrets[0].uses = '12')),
        'secrets[0].uses: expected an integer from 0 to 9007199254740991, got a string of 2 characters',
      ],
      [
        mutate((r) => (r.secrets[0].fingerprint = 'sk-live-0123456789')),
        'secrets[0].fingerprint: expected kf_ + 12 lowercase hex digits, got a string of 18 characters',
      ],
      [
        mutate((r) => (r.secrets[0].status = 'dead')),
        'secrets[0].status: expected ok, stale or revoked, got another string',
      ],
      [mutate((r) => (r.secrets[0].version = 7)), 'secrets[0].version: expected a string, got a number'],
      [mutate((r) => (r.labels = { region: 5 })), 'labels["region"]: expected a string, got a number'],
      [
        mutate((r) => (r.labels = { ['k'.repeat(200)]: 'v' })),
        `labels["${'k'.repeat(32)}…"]: a label name must have 1 to 100 characters and no control character`,
      ],
    ];
    for (const [input, message] of cases) expect(problem(input), message).toBe(message);
  });

  it('reports several wrong fields at once (at most 10)', () => {
    const message = problem(
      mutate((r) => {
        r.service = 1;
        r.secrets = Array.from({ length: 20 }, () => ({}));
      }),
    );
    expect(
      message.startsWith('service: expected a string, got a number; secrets[0].name: is required (a string)'),
    ).toBe(true);
    expect(message.split('; ')).toHaveLength(10);
  });

  it('keeps only the known fields; __proto__ and constructor keys are plain data', () => {
    const hostile = JSON.parse(
      JSON.stringify(valid)
        .replace('{', '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}},"extra":"x",')
        .replace('"labels"', '"labels"'),
    ) as unknown;
    const withLabels = mutate((r) => (r.labels = JSON.parse('{"__proto__":"x","region":"eu"}')));
    const clean = validateReport(hostile) as unknown as Record<string, unknown>;
    expect(Object.keys(clean).sort()).toEqual(['instance', 'schema', 'secrets', 'sentAt', 'service']);
    const labelled = validateReport(withLabels);
    expect(Object.keys(labelled.labels ?? {}).sort()).toEqual(['__proto__', 'region']);
    expect(Object.getPrototypeOf(labelled.labels)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('counts what it refuses, and records nothing of it', () => {
    const { collector } = setup();
    expect(() => collector.ingest({ schema: 'keyflip.beacon/v1' })).toThrow(CollectorInputError);
    // One error family: a KeyflipError with its stable code.
    expect(() => collector.ingest(null)).toThrow(KeyflipError);
    expect(() => collector.ingest([])).toThrow(expect.objectContaining({ code: 'INVALID_REPORT' }));
    expect(collector.stats).toMatchObject({ reports: 0, rejected: 3, instances: 0 });
    collector.ingest(valid);
    expect(collector.stats).toMatchObject({ reports: 1, rejected: 3, instances: 1 });
  });
});
