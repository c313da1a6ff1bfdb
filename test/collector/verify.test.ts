/**
 * verifyRetired under the evidence model (docs/evidence.md): every rule on hand-made usage answers (each "cannot
 * prove" code alone, "in use" winning, holding vs held earlier, versions qualified by their secret), the five
 * false-clear paths of issue 12 at this level, then against a real collector, and collectorUsageSource reading the
 * collector's answer back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  collectorUsageSource,
  createCollector,
  MISSING_CODES,
  parseRetired,
  startCollectorServer,
  UsageSourceError,
  verifyRetired,
  type CollectorServer,
  type FingerprintUsage,
  type SecretUsage,
  type UsageCoverage,
  type UsageInstance,
} from '../../src/collector/index.js';
import { ConfigurationError, KeyflipError } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { FP, report } from './reports.js';

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
/** When every hand-made answer is given. */
const AT = Date.UTC(2026, 2, 1, 12);
const SECRET = 'OPENAI_API_KEY';
const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Coverage that backs a one-hour window: observed for 3h, nothing dropped, a 1-minute interval, no gap. */
const FULL: UsageCoverage = { observedSince: AT - 3 * HOUR, dropped: [], maxIntervalMs: MINUTE, gaps: [] };

/** An instance seen for hours, beaconing every minute, last seen a minute ago, still holding its key. */
function instance(id: string, extra: Partial<UsageInstance> = {}): UsageInstance {
  return {
    id,
    service: `svc-${id}`,
    host: `host-${id}`,
    pid: 100,
    lastSeen: AT - MINUTE,
    uses: 1,
    current: true,
    firstSeen: AT - 2 * HOUR,
    intervalMs: MINUTE,
    candidate: `${SECRET}_v2`,
    ...extra,
  };
}

/** `version: null`: a key reported without a version (`env:`, `file:`). */
function held(fingerprint: string, instances: UsageInstance[], version: string | null = '1'): FingerprintUsage {
  return {
    fingerprint,
    ...(version === null ? {} : { version }),
    instances,
    uses: instances.reduce((sum, i) => sum + i.uses, 0),
    lastSeen: Math.max(...instances.map((i) => i.lastSeen)),
  };
}

/** A usage answer at {@link AT}; `coverage: null` for a source that gives none. */
function answer(fingerprints: FingerprintUsage[], coverage: UsageCoverage | null = FULL): SecretUsage {
  const ids = new Set(fingerprints.flatMap((f) => f.instances.map((i) => i.id)));
  return {
    secret: SECRET,
    windowMs: HOUR,
    at: AT,
    instancesSeen: ids.size,
    fingerprints,
    ...(coverage === null ? {} : { coverage }),
  };
}

/** One instance on the new key: with {@link FULL} coverage, retiring FP.old is clear. */
const onNew = (extra: Partial<UsageInstance> = {}): FingerprintUsage => held(FP.new, [instance('a', extra)]);

const verify = (usage: SecretUsage, retired: string = FP.old, windowMs = HOUR) =>
  verifyRetired({ source: { usage: async () => usage }, secret: SECRET, retired, windowMs });

const codes = (result: { missing: readonly { code: string }[] }): string[] => result.missing.map((m) => m.code);

describe('verifyRetired: clear only when the evidence proves it', () => {
  it('clear: full coverage, instances reported the secret, none the retired key', async () => {
    const result = await verify(answer([onNew()]));
    expect(result).toMatchObject({
      ok: true,
      reason: 'clear',
      matchedBy: 'fingerprint',
      missing: [],
      offenders: [],
      holding: [],
      heldEarlier: [],
      coverage: FULL,
      instancesSeen: 1,
      at: AT,
    });
    expect(result.message).toBe(
      `no instance reported ${SECRET} ${FP.old} in the last 1h (1 instance reported the secret)`,
    );
    expect(result.inUse).toEqual([{ fingerprint: FP.new, version: '1', instances: 1, uses: 1 }]);
  });

  it('the boundary: coverage of exactly the window plus one interval is enough; one ms less is not', async () => {
    const exactly = { ...FULL, observedSince: AT - HOUR - MINUTE };
    expect((await verify(answer([onNew()], exactly))).reason).toBe('clear');
    expect(codes(await verify(answer([onNew()], { ...exactly, observedSince: exactly.observedSince + 1 })))).toEqual([
      'coverage',
    ]);
    expect((await verify(answer([onNew()]), FP.old, 2 * MINUTE)).reason).toBe('clear'); // W = 2 × I
    expect(codes(await verify(answer([onNew()]), FP.old, 2 * MINUTE - 1))).toEqual(['window-too-short']);
  });
});

describe('verifyRetired: cannot prove, each rule alone (what is missing, with figures, and what to do)', () => {
  it('no-coverage: the source says nothing of its coverage, or not since when', async () => {
    const none = await verify(answer([onNew()], null));
    expect(none).toMatchObject({ ok: false, reason: 'cannot-prove', offenders: [] });
    expect(none.coverage).toBeUndefined();
    expect(none.missing).toEqual([
      {
        code: 'no-coverage',
        message: `the usage source does not say since when it has observed ${SECRET} (its answer has no coverage)`,
        action: expect.stringMatching(/keyflip collector from the same keyflip version/),
      },
    ]);
    expect(none.message).toBe(
      `no instance shows ${SECRET} ${FP.old} in the last 1h, but that is not proof: ${none.missing[0]?.message}`,
    );
    const unknown = await verify(answer([onNew()], { ...FULL, observedSince: undefined }));
    expect(codes(unknown)).toEqual(['no-coverage']);
    expect(unknown.missing[0]?.message).toMatch(/cannot tell since when it has observed OPENAI_API_KEY without a gap/);
  });

  it('no-reports: no instance reported the secret in the window', async () => {
    const result = await verify(answer([], { ...FULL, maxIntervalMs: undefined }));
    expect(result).toMatchObject({ reason: 'cannot-prove', instancesSeen: 0 });
    expect(result.missing).toEqual([
      {
        code: 'no-reports',
        message: `no instance reported ${SECRET} in the last 1h: no beacons is not proof of zero traffic`,
        action: expect.stringMatching(/beacon \(usageBeacon\) whose sink reaches the usage source/),
      },
    ]);
  });

  it('interval-unknown: instances reported, and nothing says their beacon interval', async () => {
    const result = await verify(answer([onNew({ intervalMs: undefined })], { ...FULL, maxIntervalMs: undefined }));
    expect(codes(result)).toEqual(['interval-unknown']);
    expect(result.missing[0]?.action).toMatch(/upgrade keyflip in those services/);
  });

  it('window-too-short: the window is shorter than twice the longest interval (--window 2s, 8s beacons)', async () => {
    const usage = answer([onNew({ intervalMs: 8 * SECOND, lastSeen: AT - SECOND })], {
      ...FULL,
      maxIntervalMs: 8 * SECOND,
    });
    const result = await verify(usage, FP.old, 2 * SECOND);
    expect(result.missing).toEqual([
      {
        code: 'window-too-short',
        message:
          'the window (2s) is shorter than twice the longest beacon interval of the instances that reported ' +
          `${SECRET} (2 × 8s): a process that holds the key may not have reported in it`,
        action: 'use a window of at least 16s (--window 16s)',
      },
    ]);
  });

  it('coverage: the source observed the secret for less than the window plus one interval', async () => {
    const result = await verify(answer([onNew()], { ...FULL, observedSince: AT - 3 * MINUTE }));
    expect(result.missing).toEqual([
      {
        code: 'coverage',
        message: `the usage source has observed ${SECRET} for 3m; the window needs 61m (1h + one 1m interval)`,
        action:
          `wait until ${iso(AT - 3 * MINUTE + HOUR + MINUTE)}, then verify again, ` +
          'or use a shorter window of 2m (--window 2m)',
      },
    ]);
    const longer = await verify(answer([onNew()], { ...FULL, observedSince: AT - 41 * MINUTE - 30 * SECOND }));
    expect(longer.missing[0]?.action).toMatch(/or use a shorter window from 2m to 40m \(--window 40m\)$/);
    const brandNew = await verify(answer([onNew()], { ...FULL, observedSince: AT - 30 * SECOND }));
    expect(brandNew.missing[0]?.action).toBe(`wait until ${iso(AT - 30 * SECOND + HOUR + MINUTE)}, then verify again`);
  });

  it('dropped: evidence dropped in [at − W − I, at], one entry per reason with its total and span', async () => {
    const dropped = [
      { reason: 'instance-cap' as const, from: AT - 10 * MINUTE, to: AT - 9 * MINUTE, count: 1_000 },
      { reason: 'instance-cap' as const, from: AT - 6 * MINUTE, to: AT - 5 * MINUTE, count: 200 },
      { reason: 'memory-budget' as const, from: AT - 2 * HOUR, to: AT - HOUR - 2 * MINUTE, count: 9 }, // out of it
    ];
    const result = await verify(answer([onNew()], { ...FULL, dropped }));
    expect(result.missing).toEqual([
      {
        code: 'dropped',
        message:
          `the usage source dropped evidence of ${SECRET} in the window: 1200 reports from new instances refused ` +
          `(it tracks its maximum of instances), from ${iso(AT - 10 * MINUTE)} to ${iso(AT - 5 * MINUTE)}`,
        action: expect.stringContaining(
          `wait until ${iso(AT - 5 * MINUTE + HOUR + MINUTE)}, when it is out of the window, then verify again, ` +
            'or use a shorter window from 2m to 3m (--window 3m); to avoid it, raise its maximum of instances',
        ),
      },
    ]);
    const other = await verify(
      answer([onNew()], { ...FULL, dropped: [{ reason: 'something-new' as never, from: AT, to: AT, count: 1 }] }),
    );
    expect(other.missing[0]?.message).toMatch(/: 1 evidence dropped \(something-new\), from/);
  });

  it('source-gap: the source says it cannot vouch for part of the window', async () => {
    const result = await verify(answer([onNew()], { ...FULL, gaps: ['no scrape of the keyflip metrics for 4m'] }));
    expect(result.missing).toEqual([
      {
        code: 'source-gap',
        message: 'the usage source cannot vouch for the window: no scrape of the keyflip metrics for 4m',
        action: expect.stringMatching(/^wait until the gap is out of the window/),
      },
    ]);
  });

  it('version-unknown: by version, an instance whose key has no version may hold it', async () => {
    const envFallback = instance('env', { candidate: `env:${SECRET}` });
    const result = await verify(answer([onNew(), held(FP.other, [envFallback], null)]), `${SECRET}_v1@1`);
    expect(result).toMatchObject({
      reason: 'cannot-prove',
      matchedBy: 'version',
      holding: [],
      offenders: [expect.objectContaining({ id: 'env', fingerprint: FP.other })],
    });
    expect(result.offenders[0]).not.toHaveProperty('why');
    expect(result.missing).toEqual([
      {
        code: 'version-unknown',
        message:
          `1 instance reported ${SECRET} from a source that gives no version (env:, file:): they may hold ` +
          `${SECRET}_v1@1 (svc-env on host-env pid 100)`,
        action: expect.stringMatching(/^verify by fingerprint: keyflip fingerprint < old-key\.txt/),
      },
    ]);
  });

  it('version-unknown: the version matches and the source does not say from which secret (no candidate)', async () => {
    const result = await verify(answer([onNew({ candidate: undefined })]), `${SECRET}_v1@1`);
    expect(codes(result)).toEqual(['version-unknown']);
    expect(result.missing[0]?.message).toMatch(/at the version of OPENAI_API_KEY_v1@1 without saying from which/);
    // Another version is not the retired one, whatever secret it came from.
    expect((await verify(answer([onNew({ candidate: undefined })]), `${SECRET}_v1@2`)).reason).toBe('clear');
  });

  it('version-unknown: a version written for the other layout (NAME@1 while the instances load NAME_vN)', async () => {
    const aliasForm = await verify(answer([onNew()]), `${SECRET}@1`);
    expect(codes(aliasForm)).toEqual(['version-unknown']);
    expect(aliasForm.missing[0]?.message).toBe(
      `${SECRET}@1 names a secret no instance loads ${SECRET} from; they load ${SECRET}_v2: the version is ` +
        'written for the other layout',
    );
    const suffixForm = await verify(answer([onNew({ candidate: `gcp:${SECRET}@current` })]), `${SECRET}_v1@1`);
    expect(codes(suffixForm)).toEqual(['version-unknown']);
  });

  it('young-instance: an instance seen for less than one of its intervals is not yet proven', async () => {
    const young = instance('young', { firstSeen: AT - 20 * SECOND, lastSeen: AT - 20 * SECOND });
    const result = await verify(answer([held(FP.new, [instance('a'), young])]));
    expect(result.missing).toEqual([
      {
        code: 'young-instance',
        message:
          `1 instance reporting ${SECRET} was first seen less than one beacon interval ago (svc-young on ` +
          'host-young pid 100, first seen 20s ago): not yet proven, and processes started with them may not ' +
          'have reported yet',
        action: `wait until ${iso(AT + 40 * SECOND)}, then verify again`,
      },
    ]);
    // Its own interval counts: a 10s beacon seen for 20s is proven.
    const fast = { ...young, intervalMs: 10 * SECOND };
    expect((await verify(answer([held(FP.new, [instance('a'), fast])]))).reason).toBe('clear');
  });

  it('every code has a rule, and several missing pieces are all listed, in order', async () => {
    expect(MISSING_CODES).toEqual([
      'no-coverage',
      'no-reports',
      'interval-unknown',
      'window-too-short',
      'coverage',
      'dropped',
      'source-gap',
      'version-unknown',
      'young-instance',
    ]);
    const coverage = {
      observedSince: AT - 5 * MINUTE,
      dropped: [{ reason: 'evicted' as const, from: AT - MINUTE, to: AT - MINUTE, count: 3 }],
      maxIntervalMs: 40 * MINUTE,
      gaps: ['a gap'],
    };
    const result = await verify(answer([onNew({ firstSeen: AT - SECOND, intervalMs: 40 * MINUTE })], coverage));
    expect(codes(result)).toEqual(['window-too-short', 'coverage', 'dropped', 'source-gap', 'young-instance']);
    expect(result.message).toMatch(/ \(and 4 more missing\)$/);
  });
});

describe('verifyRetired: in use (positive evidence wins), holding vs held earlier', () => {
  it('in use wins over every missing piece of evidence, which is still listed', async () => {
    const onOld = held(FP.old, [instance('old', { candidate: `${SECRET}_v1` })]);
    const broken = {
      observedSince: undefined,
      dropped: [{ reason: 'memory-budget' as const, from: AT, to: AT, count: 1 }],
      maxIntervalMs: undefined,
      gaps: ['a gap'],
    };
    for (const coverage of [null, broken]) {
      const result = await verify(answer([onOld], coverage));
      expect(result).toMatchObject({ ok: false, reason: 'in-use', holding: [{ id: 'old' }], heldEarlier: [] });
      expect(result.missing.length).toBeGreaterThan(0);
    }
    // A young instance already showing the retired key is in use, not "not yet proven".
    const young = held(FP.old, [instance('young', { firstSeen: AT - SECOND })]);
    const result = await verify(answer([young]));
    expect(result).toMatchObject({ reason: 'in-use', missing: [], offenders: [{ id: 'young' }] });
    // A short window does not hide a holder either.
    expect((await verify(answer([young]), FP.old, SECOND)).reason).toBe('in-use');
  });

  it('holding (current true, or unknown) vs held earlier and rotated since (current false, with when)', async () => {
    const rotatedAt = AT - 20 * MINUTE;
    const usage = answer([
      held(FP.new, [instance('b', { lastSeen: AT - MINUTE })]),
      held(FP.old, [
        instance('a', { lastSeen: AT - 2 * MINUTE }),
        instance('b', { current: false, lastSeen: rotatedAt }),
        instance('prom', { current: undefined, lastSeen: AT - 3 * MINUTE }),
      ]),
    ]);
    const result = await verify(usage);
    expect(result.reason).toBe('in-use');
    expect(result.holding.map((o) => o.id)).toEqual(['a', 'prom']);
    expect(result.heldEarlier).toEqual([expect.objectContaining({ id: 'b', lastSeen: rotatedAt, current: false })]);
    expect(result.offenders.map((o) => o.id)).toEqual(['a', 'prom', 'b']);
    expect(result.message).toBe(
      `3 instances reported ${SECRET} ${FP.old} in the last 1h: 2 still hold it, 1 held it earlier and rotated since`,
    );
    const earlierOnly = await verify(answer([held(FP.old, [instance('b', { current: false })])]));
    expect(earlierOnly).toMatchObject({ reason: 'in-use', holding: [], heldEarlier: [{ id: 'b' }] });
  });

  it('a held fingerprint counts even with 0 uses', async () => {
    const result = await verify(answer([held(FP.old, [instance('idle', { uses: 0 })]), onNew()]));
    expect(result).toMatchObject({ reason: 'in-use', offenders: [{ id: 'idle', uses: 0 }] });
  });
});

describe('verifyRetired: a version qualified by its secret', () => {
  // Suffix layout: every NAME_vN secret has a version 1; only the candidate tells them apart.
  const suffix = (): SecretUsage =>
    answer([
      held(FP.new, [instance('new', { candidate: `gcp:${SECRET}_v2` })]),
      held(FP.old, [
        instance('old', { candidate: `${SECRET}_v1` }),
        instance('env', { candidate: `env:${SECRET}` }), // the same key through another candidate
      ]),
    ]);

  it('suffix layout: NAME_v1@1 and NAME_v2@1 name different keys; every holder of the matched key counts', async () => {
    const v1 = await verify(suffix(), `${SECRET}_v1@1`);
    expect(v1).toMatchObject({ reason: 'in-use', matchedBy: 'version', retired: `${SECRET}_v1@1` });
    expect(v1.offenders.map((o) => [o.id, o.fingerprint])).toEqual([
      ['env', FP.old],
      ['old', FP.old],
    ]);
    const v2 = await verify(suffix(), `${SECRET}_v2@1`);
    expect(v2.offenders.map((o) => o.id)).toEqual(['new']);
    // Once nothing loads NAME_v1, it is clear (the instances load NAME_v2: the same layout).
    expect((await verify(answer([onNew()]), `${SECRET}_v1@1`)).reason).toBe('clear');
  });

  it('alias layout: NAME@3 is version 3 of NAME, whatever alias the instance read', async () => {
    const usage = answer([
      held(FP.new, [instance('a', { candidate: `gcp:${SECRET}@current` })], '4'),
      held(FP.old, [instance('b', { candidate: `projects/p/secrets/${SECRET}@previous` })], '3'),
    ]);
    expect((await verify(usage, `${SECRET}@3`)).offenders.map((o) => o.id)).toEqual(['b']);
    expect((await verify(usage, `${SECRET}@2`)).reason).toBe('clear');
  });

  it('refuses a bare version, an alias and anything else, saying what to write and never quoting it', async () => {
    const refused = async (retired: string): Promise<string> => {
      const error = await verify(answer([onNew()]), retired).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      return (error as Error).message;
    };
    const bare = await refused('1');
    expect(bare).toBe(
      'verifyRetired: retired is a bare version number, which names no key unambiguously (in the suffix layout ' +
        `every ${SECRET}_vN secret has a version 1): give the fingerprint (kf_…, from keyflip fingerprint < ` +
        `old-key.txt) or the version qualified by its secret: ${SECRET}_v1@1 (suffix layout) or ${SECRET}@1 ` +
        '(alias layout)',
    );
    expect(await refused(`${SECRET}@previous`)).toMatch(/names an alias \(not shown\).*give the number it names now/);
    expect(await refused('kf_nothex')).toMatch(/starts with kf_ but is not a fingerprint/);
    expect(await refused('current')).toMatch(/must be a fingerprint .* or a version qualified by its secret/);
    expect(await refused('@1')).toMatch(/must be a fingerprint/);
    expect(parseRetired(`${SECRET}_v1@1`, SECRET)).toEqual({ by: 'version', secret: `${SECRET}_v1`, version: '1' });
    expect(parseRetired(FP.old, SECRET)).toEqual({ by: 'fingerprint', fingerprint: FP.old });
  });

  it('refuses other arguments that make no sense, never quoting them', async () => {
    const source = createCollector();
    await expect(verifyRetired({ source, secret: 'K', retired: '', windowMs: HOUR })).rejects.toThrow(/retired/);
    await expect(verifyRetired({ source, secret: 'K', retired: FP.old, windowMs: 0 })).rejects.toThrow(/windowMs/);
    await expect(verifyRetired({ source, secret: '', retired: FP.old, windowMs: HOUR })).rejects.toThrow(/secret/);
    await expect(verifyRetired({ source, secret: 'K', retired: '', windowMs: HOUR })).rejects.toThrow(
      ConfigurationError,
    );
  });
});

describe('verifyRetired: the five false-clear paths of issue 12, at the decision', () => {
  // 1. Collector restart: the restarted collector has not heard from the legacy worker yet.
  it('1. a collector restarted 30s ago (no state file): cannot prove, coverage', async () => {
    const restarted = { ...FULL, observedSince: AT - 30 * SECOND };
    const result = await verify(
      answer([onNew({ firstSeen: AT - 25 * SECOND, lastSeen: AT - 25 * SECOND })], restarted),
    );
    expect(result.reason).toBe('cannot-prove');
    expect(codes(result)).toContain('coverage');
  });

  it('1. restarted from its state file: its down time is dropped evidence until out of the window', async () => {
    const down = { reason: 'collector-down' as never, from: AT - 5 * MINUTE, to: AT - 4 * MINUTE, count: 1 };
    const result = await verify(answer([onNew()], { ...FULL, dropped: [down] }));
    expect(codes(result)).toEqual(['dropped']);
    expect(result.missing[0]?.message).toMatch(/spans while it was down/);
    const later = { ...FULL, dropped: [down] };
    const after = answer([onNew()], later);
    expect((await verify({ ...after, at: AT - 4 * MINUTE + HOUR + MINUTE + 1 })).reason).toBe('clear');
  });

  // 2. Eviction flood: the offender's evidence was shed to make room.
  it('2. a flood of fresh instance ids: the refused (or evicted) evidence makes it cannot prove', async () => {
    for (const reason of ['instance-cap', 'memory-budget', 'evicted'] as const) {
      const flood = { reason, from: AT - 30 * MINUTE, to: AT - MINUTE, count: 50_000 };
      const result = await verify(answer([onNew()], { ...FULL, dropped: [flood] }));
      expect(result.reason, reason).toBe('cannot-prove');
      expect(codes(result)).toEqual(['dropped']);
    }
  });

  // 3. Rejected reports: the only process holding the secret is invisible; no report is not proof.
  it('3. every report of the process rejected (nothing reached the collector): cannot prove, no-reports', async () => {
    const result = await verify(answer([], { ...FULL, maxIntervalMs: undefined }));
    expect(codes(result)).toEqual(['no-reports']);
  });

  // 4. Window shorter than a beacon interval.
  it('4. --window 2s against an app that reports every 8s: cannot prove, window-too-short', async () => {
    const usage = answer([onNew({ intervalMs: 8 * SECOND, lastSeen: AT - SECOND })], { ...FULL, maxIntervalMs: 8_000 });
    expect(codes(await verify(usage, FP.old, 2 * SECOND))).toEqual(['window-too-short']);
  });

  // 5. New process: younger than one beacon interval.
  it('5. a process younger than one beacon interval: cannot prove, young-instance', async () => {
    const result = await verify(answer([onNew({ firstSeen: AT - 5 * SECOND, lastSeen: AT - 5 * SECOND })]));
    expect(codes(result)).toEqual(['young-instance']);
  });
});

describe('verifyRetired against a real collector (manual clock)', () => {
  /** A collector started at `clock`'s time, and reports that declare a one-minute interval. */
  const started = () => {
    const clock = manualClock(AT);
    const collector = createCollector({ clock });
    const ingest = (...args: Parameters<typeof report>) => collector.ingest({ ...report(...args), intervalMs: MINUTE });
    const check = (retired: string = FP.old, windowMs = HOUR) =>
      verifyRetired({ source: collector, secret: SECRET, retired, windowMs });
    return { clock, collector, ingest, check };
  };

  it('a just-started collector cannot prove anything; once it covers the window, clear', async () => {
    const { clock, ingest, check } = started();
    ingest({ id: 'a' }, [{ fingerprint: FP.new, version: '2' }]);
    await clock.advance(2 * MINUTE);
    ingest({ id: 'a' }, [{ fingerprint: FP.new, version: '2' }]);
    const fresh = await check();
    expect(fresh.reason).toBe('cannot-prove');
    expect(codes(fresh)).toContain('coverage');
    expect(fresh.coverage).toMatchObject({ observedSince: AT, maxIntervalMs: MINUTE, dropped: [] });
    for (let t = 0; t < 60; t++) {
      await clock.advance(MINUTE);
      ingest({ id: 'a' }, [{ fingerprint: FP.new, version: '2' }]);
    }
    expect(await check()).toMatchObject({ ok: true, reason: 'clear', missing: [] });
  });

  it('in use, then held earlier once the instance rotates, then clear once that is out of the window', async () => {
    const { clock, ingest, check } = started();
    await clock.advance(2 * HOUR);
    ingest({ id: 'a', service: 'api', host: 'web-1', pid: 7 }, [{ fingerprint: FP.old, version: '1', uses: 3 }]);
    ingest({ id: 'b' }, [{ fingerprint: FP.new, version: '2', uses: 5 }]);
    const inUse = await check();
    expect(inUse).toMatchObject({
      reason: 'in-use',
      holding: [{ id: 'a', service: 'api', host: 'web-1', pid: 7, uses: 3, fingerprint: FP.old, version: '1' }],
      heldEarlier: [],
    });
    await clock.advance(10 * MINUTE);
    ingest({ id: 'a' }, [{ fingerprint: FP.new, version: '2', uses: 1 }]);
    const earlier = await check();
    expect(earlier).toMatchObject({ reason: 'in-use', holding: [], heldEarlier: [{ id: 'a', current: false }] });
    for (let t = 0; t < 60; t++) {
      await clock.advance(MINUTE);
      ingest({ id: 'a' }, [{ fingerprint: FP.new, version: '2' }]);
      ingest({ id: 'b' }, [{ fingerprint: FP.new, version: '2' }]);
    }
    expect(await check()).toMatchObject({ ok: true, reason: 'clear', instancesSeen: 2 });
    expect((await check(FP.old, 2 * HOUR)).reason).toBe('in-use'); // a window reaching back further still sees it
  });

  it('by version: the collector says which candidate each instance loaded the key from', async () => {
    const { clock, ingest, check } = started();
    await clock.advance(2 * HOUR);
    ingest({ id: 'a' }, [{ fingerprint: FP.old, version: '1' }]); // candidate OPENAI_API_KEY_v1
    ingest({ id: 'b' }, [{ fingerprint: FP.new, version: '2' }]); // candidate OPENAI_API_KEY_v2
    await clock.advance(2 * MINUTE);
    expect((await check(`${SECRET}_v1@1`)).offenders.map((o) => o.id)).toEqual(['a']);
    expect((await check(`${SECRET}_v2@2`)).offenders.map((o) => o.id)).toEqual(['b']);
    expect((await check(`${SECRET}_v2@1`)).reason).toBe('clear');
  });
});

describe('collectorUsageSource', () => {
  let server: CollectorServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("asks GET /v1/usage with the token; the answer is the collector's, coverage included", async () => {
    server = await startCollectorServer({ token: 'tok' });
    server.collector.ingest({ ...report({ id: 'a' }, [{ fingerprint: FP.old, uses: 2 }]), intervalMs: MINUTE });
    const source = collectorUsageSource({ url: `${server.url}/`, token: 'tok' });
    expect(source.description).toBe(`the collector at ${server.url}`);
    const usage = await source.usage('OPENAI_API_KEY', { windowMs: HOUR });
    const local = server.collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect({ ...usage, at: 0 }).toEqual({ ...local, at: 0 });
    expect(usage).toMatchObject({
      secret: 'OPENAI_API_KEY',
      windowMs: HOUR,
      instancesSeen: 1,
      fingerprints: [{ fingerprint: FP.old, uses: 2 }],
    });
    expect(usage.coverage).toMatchObject({ dropped: [], gaps: [] });
    // Its messages name it.
    const result = await verifyRetired({ source, secret: SECRET, retired: FP.new, windowMs: HOUR });
    expect(result.reason).toBe('cannot-prove');
    expect(result.missing[0]?.message).toMatch(new RegExp(`^the collector at ${server.url} has observed`));
  });

  it('reads coverage and the new instance fields back, absent ones absent, checking their shapes', async () => {
    const url = 'http://127.0.0.1:9';
    const usage = answer([onNew()], { ...FULL, dropped: [{ reason: 'evicted', from: 1, to: 2, count: 3 }] });
    const fake = (body: unknown) =>
      collectorUsageSource({ url, fetch: async () => new Response(JSON.stringify(body)) }).usage(SECRET, {
        windowMs: HOUR,
      });
    expect(await fake(usage)).toEqual(usage);
    expect(await fake({ ...usage, extra: 1 })).toEqual(usage); // nothing beyond SecretUsage is passed on
    const bare = answer([held(FP.new, [{ id: 'x', service: 's', host: 'h', pid: 1, lastSeen: 4, uses: 0 }])]);
    const { coverage: _, ...noCoverage } = bare;
    const read = await fake(noCoverage);
    expect(read).toEqual(noCoverage);
    expect(read).not.toHaveProperty('coverage');
    expect(read.fingerprints[0]?.instances[0]).not.toHaveProperty('current');
    const { observedSince: __, maxIntervalMs: ___, ...unknown } = FULL;
    expect((await fake({ ...usage, coverage: unknown })).coverage).toEqual({ ...unknown });

    const problem = async (body: unknown): Promise<string> => {
      const error = await fake(body).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UsageSourceError);
      expect((error as UsageSourceError).code).toBe('BAD_RESPONSE');
      return (error as Error).message;
    };
    const withInstance = (extra: Record<string, unknown>) =>
      answer([held(FP.new, [{ ...instance('a'), ...extra } as UsageInstance])]);
    expect(await problem(withInstance({ current: 'yes' }))).toMatch(/instances\[0\]\.current is not a boolean/);
    expect(await problem(withInstance({ firstSeen: '1' }))).toMatch(/\.firstSeen is not a number/);
    expect(await problem(withInstance({ intervalMs: 0 }))).toMatch(/\.intervalMs is not a positive number/);
    expect(await problem(withInstance({ candidate: 7 }))).toMatch(/\.candidate is not a string/);
    expect(await problem({ ...usage, coverage: [] })).toMatch(/coverage is not an object/);
    expect(await problem({ ...usage, coverage: { ...FULL, observedSince: 'x' } })).toMatch(/observedSince/);
    expect(await problem({ ...usage, coverage: { ...FULL, maxIntervalMs: -1 } })).toMatch(/maxIntervalMs/);
    expect(await problem({ ...usage, coverage: { ...FULL, dropped: undefined } })).toMatch(/dropped is not an array/);
    expect(await problem({ ...usage, coverage: { ...FULL, dropped: [{ reason: 'x' }] } })).toMatch(
      /coverage\.dropped\[0\] is not dropped evidence/,
    );
    expect(await problem({ ...usage, coverage: { ...FULL, gaps: [1] } })).toMatch(/gaps is not an array of strings/);
  });

  it("says why it cannot answer: 401, another status with the collector's error, unreachable, bad answer", async () => {
    server = await startCollectorServer({ token: 'tok', collector: createCollector({ retentionMs: HOUR }) });
    const url = server.url;
    const code = async (p: Promise<unknown>): Promise<[string, string]> => {
      try {
        await p;
      } catch (error) {
        expect(error).toBeInstanceOf(UsageSourceError);
        expect(error).toBeInstanceOf(KeyflipError);
        return [(error as UsageSourceError).code, (error as Error).message];
      }
      throw new Error('answered');
    };
    expect(await code(collectorUsageSource({ url }).usage('K', { windowMs: HOUR }))).toEqual([
      'UNAUTHORIZED',
      `the collector at ${url} refused the request (401): set KEYFLIP_COLLECTOR_TOKEN to its token`,
    ]);
    const [status, message] = await code(
      collectorUsageSource({ url, token: 'tok' }).usage('K', { windowMs: 2 * HOUR }),
    );
    expect(status).toBe('HTTP_STATUS');
    expect(message).toMatch(/answered 400: window: longer than the collector's retention/);
    await server.close();
    expect((await code(collectorUsageSource({ url, token: 'tok' }).usage('K', { windowMs: HOUR })))[0]).toBe(
      'UNREACHABLE',
    );
    const fake = (body: string, status = 200) =>
      collectorUsageSource({ url, fetch: async () => new Response(body, { status }) });
    expect(await code(fake('<html>').usage('K', { windowMs: HOUR }))).toEqual([
      'BAD_RESPONSE',
      `the collector at ${url} gave an answer that is not a usage report (not JSON)`,
    ]);
    expect((await code(fake('{"secret":"K"}').usage('K', { windowMs: HOUR })))[1]).toMatch(
      /windowMs, at or instancesSeen is not a number/,
    );
    expect(await code(fake('oops', 502).usage('K', { windowMs: HOUR }))).toEqual([
      'HTTP_STATUS',
      `the collector at ${url} answered 502`,
    ]);
    const slow = collectorUsageSource({
      url,
      timeoutMs: 50,
      fetch: (_input, init) =>
        new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))),
    });
    expect(await code(slow.usage('K', { windowMs: HOUR }))).toEqual([
      'UNREACHABLE',
      `the collector at ${url} is unreachable (no answer within 50 ms)`,
    ]);
  });

  it('refuses a URL it cannot use', () => {
    expect(() => collectorUsageSource({ url: 'not a url' })).toThrow(/not a valid URL/);
    expect(() => collectorUsageSource({ url: 'ftp://x' })).toThrow(/http/);
    expect(() => collectorUsageSource({ url: 'http://user:pass@x' })).toThrow(/credentials/);
    expect(() => collectorUsageSource({ url: 'ftp://x' })).toThrow(ConfigurationError);
    expect(() => collectorUsageSource({ url: 'http://x', timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
