/**
 * The collector's evidence (issue 12): what it can vouch for in every `usage()` answer (coverage), what it records
 * when it cannot record a report (dropped evidence, merged into bounded spans), the bounds that refuse new
 * instances instead of evicting old ones, sums that saturate, and what each instance says about itself.
 */
import { describe, expect, it } from 'vitest';
import { createCollector, validateReport } from '../../src/collector/index.js';
import {
  DropLog,
  EvidenceDrops,
  MAX_SECRET_LOGS,
  MAX_SPANS,
  MERGE_GAP_MS,
} from '../../src/collector/dropped-evidence.js';
import { manualClock } from '../../src/testing/index.js';
import { FP, report } from './reports.js';

const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

function setup(options: Parameters<typeof createCollector>[0] = {}) {
  const clock = manualClock();
  const collector = createCollector({ clock, ...options });
  return { clock, collector, t0: clock.now() };
}

describe('coverage: what every usage() answer vouches for', () => {
  it('is observed since the collector started, with nothing dropped and no gaps', async () => {
    const { clock, collector, t0 } = setup();
    expect(collector.startedAt).toBe(t0);
    expect(collector.observedSince).toBe(t0);
    await clock.advance(5 * MIN);
    // Asked before any report: coverage is known, the interval is not (no instance reported the secret).
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage).toEqual({
      observedSince: t0,
      dropped: [],
      maxIntervalMs: undefined,
      gaps: [],
    });
    collector.ingest(report({ id: 'a', intervalMs: 30 * SEC }, [{ fingerprint: FP.new }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage).toEqual({
      observedSince: t0,
      dropped: [],
      maxIntervalMs: 30 * SEC,
      gaps: [],
    });
  });

  it('maxIntervalMs: the largest among the instances that reported the secret within the window', async () => {
    const { clock, collector } = setup();
    collector.ingest(report({ id: 'slow', intervalMs: 10 * MIN }, [{ fingerprint: FP.old }]));
    await clock.advance(12 * MIN);
    collector.ingest(report({ id: 'fast', intervalMs: 15 * SEC }, [{ fingerprint: FP.new }]));
    // Another secret's instance does not count.
    collector.ingest(report({ id: 'other', intervalMs: HOUR }, [{ name: 'OTHER', fingerprint: FP.other }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage?.maxIntervalMs).toBe(10 * MIN);
    expect(collector.usage('OTHER', { windowMs: 5 * MIN }).coverage?.maxIntervalMs).toBe(HOUR);
  });

  it('…and those that reported it before the window, until silent for two of their intervals', async () => {
    const { clock, collector } = setup();
    collector.ingest(report({ id: 'slow', intervalMs: 8 * SEC }, [{ fingerprint: FP.old }]));
    await clock.advance(3 * SEC);
    collector.ingest(report({ id: 'fast', intervalMs: SEC }, [{ fingerprint: FP.new }]));
    // slow is outside a 2 s window, between two of its reports: a 2 s window proves nothing about it.
    const short = collector.usage('OPENAI_API_KEY', { windowMs: 2 * SEC });
    expect(short.fingerprints.map((f) => f.fingerprint)).toEqual([FP.new]);
    expect(short.coverage?.maxIntervalMs).toBe(8 * SEC);
    // Silent for two of its intervals (16 s): it has stopped, its interval no longer bounds the window.
    await clock.advance(13 * SEC);
    collector.ingest(report({ id: 'fast', intervalMs: SEC }, [{ fingerprint: FP.new }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: 2 * SEC }).coverage?.maxIntervalMs).toBe(8 * SEC);
    await clock.advance(SEC);
    collector.ingest(report({ id: 'fast', intervalMs: SEC }, [{ fingerprint: FP.new }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: 2 * SEC }).coverage?.maxIntervalMs).toBe(SEC);
    // Over a window it reported in, it counts whatever its silence since.
    expect(collector.usage('OPENAI_API_KEY', { windowMs: MIN }).coverage?.maxIntervalMs).toBe(8 * SEC);
  });

  it('an older sender (no intervalMs): the observed median once it sent two reports, unknown before', async () => {
    const { clock, collector } = setup();
    collector.ingest(report({ id: 'legacy' }, [{ fingerprint: FP.old }]));
    const once = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    // Nobody's interval is known: undefined (verify answers "cannot prove"), and the instance says none.
    expect(once.coverage?.maxIntervalMs).toBeUndefined();
    expect(once.fingerprints[0]?.instances[0]?.intervalMs).toBeUndefined();
    for (const gap of [40 * SEC, 45 * SEC, 42 * SEC]) {
      await clock.advance(gap);
      collector.ingest(report({ id: 'legacy' }, [{ fingerprint: FP.old }]));
    }
    const observed = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(observed.coverage?.maxIntervalMs).toBe(42 * SEC);
    expect(observed.fingerprints[0]?.instances[0]?.intervalMs).toBe(42 * SEC);
    // A sender that declares its interval: the declared one wins over the gaps observed.
    await clock.advance(10 * SEC);
    collector.ingest(report({ id: 'legacy', intervalMs: 2 * MIN }, [{ fingerprint: FP.old }]));
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage?.maxIntervalMs).toBe(2 * MIN);
    expect(collector.instances()[0]).toMatchObject({ declaredIntervalMs: 2 * MIN });
  });

  it('an instance of unknown interval does not lower the maximum of those known', () => {
    const { collector } = setup();
    collector.ingest(report({ id: 'new', intervalMs: 20 * SEC }, [{ fingerprint: FP.new }]));
    collector.ingest(report({ id: 'legacy' }, [{ fingerprint: FP.new }]));
    const usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage.coverage?.maxIntervalMs).toBe(20 * SEC);
    const byId = Object.fromEntries(usage.fingerprints[0]?.instances.map((i) => [i.id, i.intervalMs]) ?? []);
    expect(byId).toEqual({ new: 20 * SEC, legacy: undefined });
  });

  it('dropped: only the spans within the window plus the largest interval', async () => {
    const { clock, collector } = setup({ maxInstances: 1 });
    collector.ingest(report({ id: 'a', intervalMs: 5 * MIN }, [{ fingerprint: FP.new }]));
    const refusedAt = clock.now();
    expect(collector.ingest(report({ id: 'b' }, [{ fingerprint: FP.new }]))).toMatchObject({ accepted: false });
    await clock.advance(30 * MIN);
    collector.ingest(report({ id: 'a', intervalMs: 5 * MIN }, [{ fingerprint: FP.new }]));
    const span = { reason: 'instance-cap', from: refusedAt, to: refusedAt, count: 1 };
    // 30 min ago: inside a 25-minute window plus the 5-minute interval, outside a 24-minute one.
    expect(collector.usage('OPENAI_API_KEY', { windowMs: 25 * MIN }).coverage?.dropped).toEqual([span]);
    expect(collector.usage('OPENAI_API_KEY', { windowMs: 24 * MIN }).coverage?.dropped).toEqual([]);
    // A refusal counts for every secret, even one nobody reported.
    expect(collector.usage('NEVER_REPORTED', { windowMs: HOUR }).coverage?.dropped).toEqual([span]);
  });
});

describe('each instance: current, firstSeen, intervalMs', () => {
  it('current: whether its latest report still lists the fingerprint', async () => {
    const { clock, collector, t0 } = setup();
    collector.ingest(report({ id: 'a', intervalMs: MIN }, [{ fingerprint: FP.old, version: '1' }]));
    collector.ingest(report({ id: 'b', intervalMs: MIN }, [{ fingerprint: FP.old, version: '1' }]));
    await clock.advance(MIN);
    collector.ingest(report({ id: 'a', intervalMs: MIN }, [{ fingerprint: FP.new, version: '2' }])); // rotated
    collector.ingest(report({ id: 'b', intervalMs: MIN }, [{ fingerprint: FP.old, version: '1' }])); // still old
    await clock.advance(MIN);
    // b's latest report no longer lists the secret at all: it does not hold FP.old now either.
    collector.ingest(report({ id: 'b', intervalMs: MIN }, [{ name: 'OTHER', fingerprint: FP.other }]));
    const usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    const of = (fp: string) => usage.fingerprints.find((f) => f.fingerprint === fp)?.instances ?? [];
    expect(of(FP.old).map((i) => [i.id, i.current, i.lastSeen, i.firstSeen, i.intervalMs])).toEqual([
      ['b', false, t0 + MIN, t0, MIN],
      ['a', false, t0, t0, MIN],
    ]);
    expect(of(FP.new).map((i) => [i.id, i.current, i.lastSeen, i.firstSeen])).toEqual([['a', true, t0 + MIN, t0]]);
  });

  it('firstSeen: the first report the collector remembers, kept while the instance reports', async () => {
    const { clock, collector, t0 } = setup({ retentionMs: HOUR });
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new }]));
    for (let i = 0; i < 3; i++) {
      await clock.advance(40 * MIN);
      collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new }]));
    }
    const [instance] = collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).fingerprints[0]?.instances ?? [];
    expect(instance?.firstSeen).toBe(t0);
    // Silent beyond the retention: forgotten, and new again when it comes back.
    await clock.advance(2 * HOUR);
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new }]));
    const [again] = collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).fingerprints[0]?.instances ?? [];
    expect(again?.firstSeen).toBe(clock.now());
  });

  it('the schema check takes intervalMs within BEACON_LIMITS.intervalMs and nothing else', () => {
    const base = report({ id: 'a' }, [{ fingerprint: FP.new }]);
    expect(validateReport({ ...base, intervalMs: 1_000 }).intervalMs).toBe(1_000);
    expect(validateReport({ ...base, intervalMs: 86_400_000 }).intervalMs).toBe(86_400_000);
    expect(validateReport(base).intervalMs).toBeUndefined();
    for (const wrong of [999, 86_400_001, -1, Number.NaN, '60000', null]) {
      expect(() => validateReport({ ...base, intervalMs: wrong })).toThrow(
        /^intervalMs: expected a number of ms from 1000 to 86400000, got /,
      );
    }
  });
});

describe('dropped evidence: recorded, merged, bounded', () => {
  it('a flood of refusals is one span with a count, not one entry each', async () => {
    const { clock, collector, t0 } = setup({ maxInstances: 1 });
    collector.ingest(report({ id: 'kept' }, [{ fingerprint: FP.old }]));
    for (let i = 0; i < 10_000; i++) {
      collector.ingest(report({ id: `flood-${i}` }, [{ fingerprint: FP.new }]));
      if (i % 100 === 99) await clock.advance(SEC);
    }
    const dropped = collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage?.dropped;
    expect(dropped).toEqual([{ reason: 'instance-cap', from: t0, to: t0 + 99 * SEC, count: 10_000 }]);
    expect(collector.stats).toMatchObject({ instances: 1, refused: 10_000, dropped: 10_000 });
    expect(collector.stats.droppedBy['instance-cap']).toBe(10_000);
    // The instance already tracked was never evicted, and still shows the key it holds.
    expect(collector.usage('OPENAI_API_KEY', { windowMs: HOUR }).fingerprints.map((f) => f.fingerprint)).toEqual([
      FP.old,
    ]);
  });

  it('spans apart are kept apart, at most MAX_SPANS of them: the oldest are merged, counts kept', () => {
    const log = new DropLog();
    const step = MERGE_GAP_MS + 1;
    for (let i = 0; i < 100; i++) log.add(i % 2 === 0 ? 'instance-cap' : 'memory-budget', i * step, i * step, 1);
    const spans = log.spans();
    expect(spans).toHaveLength(MAX_SPANS);
    expect(spans.reduce((n, s) => n + s.count, 0)).toBe(100);
    // The most recent spans are exact; the merged ones cover the oldest drops, never leaving one out.
    expect(spans.at(-1)).toEqual({ reason: 'memory-budget', from: 99 * step, to: 99 * step, count: 1 });
    expect(Math.min(...spans.map((s) => s.from))).toBe(0);
    // Drops close together extend the last span of their reason.
    log.add('memory-budget', 99 * step + 10, 99 * step + 10, 3);
    expect(log.spans().at(-1)).toEqual({ reason: 'memory-budget', from: 99 * step, to: 99 * step + 10, count: 4 });
  });

  it('per-secret drops are bounded too: beyond MAX_SECRET_LOGS secrets they count for every secret', () => {
    const drops = new EvidenceDrops();
    for (let i = 0; i < MAX_SECRET_LOGS; i++) drops.forSecret(`S${i}`, 'fingerprint-cap', 1_000);
    expect(drops.affecting('S0', 0, 2_000)).toEqual([{ reason: 'fingerprint-cap', from: 1_000, to: 1_000, count: 1 }]);
    expect(drops.affecting('UNRELATED', 0, 2_000)).toEqual([]);
    drops.forSecret('ONE_MORE', 'fingerprint-cap', 1_500);
    // Recorded for every secret: conservative, never lost.
    expect(drops.affecting('UNRELATED', 0, 2_000)).toEqual([
      { reason: 'fingerprint-cap', from: 1_500, to: 1_500, count: 1 },
    ]);
    expect(drops.total).toBe(MAX_SECRET_LOGS + 1);
    drops.forgetBefore(1_200);
    expect(drops.affecting('S0', 0, 2_000)).toEqual([{ reason: 'fingerprint-cap', from: 1_500, to: 1_500, count: 1 }]);
  });
});

describe('bounds: new instances refused, old ones never evicted', () => {
  it('at the byte budget: a new instance is refused, known ones report on, the estimate stays within', async () => {
    const maxBytes = 65_536;
    const { clock, collector } = setup({ maxBytes });
    let accepted = 0;
    let refusal: ReturnType<typeof collector.ingest> | undefined;
    for (let i = 0; i < 100 && refusal === undefined; i++) {
      const result = collector.ingest(report({ id: `i${i}`, intervalMs: MIN }, [{ fingerprint: FP.old, uses: 1 }]));
      if (result.accepted) accepted++;
      else refusal = result;
      expect(collector.stats.estimatedBytes).toBeLessThanOrEqual(maxBytes);
    }
    expect(accepted).toBeGreaterThan(5);
    expect(refusal).toMatchObject({ accepted: false, reason: 'memory-budget', retryAfterMs: 60_000 });
    expect(refusal?.accepted === false && refusal.message).toMatch(/budget of 0\.1 MiB of state \(maxBytes\)/);
    // Every instance accepted is still there, and can report again (nothing new to hold: it always fits).
    await clock.advance(MIN);
    for (let i = 0; i < accepted; i++) {
      expect(collector.ingest(report({ id: `i${i}`, intervalMs: MIN }, [{ fingerprint: FP.old, uses: 1 }]))).toEqual({
        accepted: true,
      });
    }
    const usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage.instancesSeen).toBe(accepted);
    expect(usage.coverage?.dropped).toMatchObject([{ reason: 'memory-budget', count: 1 }]);
    // A known instance that would grow beyond the budget is refused too (recorded), not half-recorded.
    const grow = collector.ingest(
      report({ id: 'i0', intervalMs: MIN }, [
        { fingerprint: FP.old },
        ...Array.from({ length: 50 }, (_, k) => ({ name: `EXTRA_${k}`, fingerprint: FP.new })),
      ]),
    );
    expect(grow).toMatchObject({ accepted: false, reason: 'memory-budget' });
    expect(collector.secrets()).toEqual(['OPENAI_API_KEY']);
    expect(collector.stats.estimatedBytes).toBeLessThanOrEqual(maxBytes);
  });

  it('maxSecretsPerInstance: new names beyond it are shed and recorded for those secrets', () => {
    const { clock, collector } = setup({ maxSecretsPerInstance: 2 });
    const result = collector.ingest(
      report({ id: 'a' }, [
        { name: 'A', fingerprint: FP.old },
        { name: 'B', fingerprint: FP.old },
        { name: 'C', fingerprint: FP.old },
      ]),
    );
    expect(result).toEqual({ accepted: true });
    expect(collector.secrets()).toEqual(['A', 'B']);
    const at = clock.now();
    expect(collector.usage('C', { windowMs: HOUR }).coverage?.dropped).toEqual([
      { reason: 'memory-budget', from: at, to: at, count: 1 },
    ]);
    expect(collector.usage('A', { windowMs: HOUR }).coverage?.dropped).toEqual([]);
  });

  it('the estimate goes back to 0 once everything outlived the retention', async () => {
    const { clock, collector } = setup({ retentionMs: HOUR, maxFingerprintsPerSecret: 2 });
    for (let i = 0; i < 20; i++) {
      const fp = [FP.old, FP.new, FP.other][i % 3] as string;
      collector.ingest(
        report({ id: `i${i % 4}`, labels: { n: `${i}` } }, [
          { fingerprint: fp, uses: i, version: `${i}` },
          { name: `S${i % 5}`, fingerprint: fp },
        ]),
      );
      await clock.advance(MIN);
    }
    expect(collector.stats.estimatedBytes).toBeGreaterThan(0);
    await clock.advance(2 * HOUR);
    collector.prune();
    expect(collector.stats).toMatchObject({ instances: 0, entries: 0, estimatedBytes: 0 });
  });
});

describe('uses saturate at Number.MAX_SAFE_INTEGER', () => {
  it('across instances, within one instance, and through merged samples', async () => {
    const { clock, collector } = setup();
    const max = Number.MAX_SAFE_INTEGER;
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old, uses: max }]));
    collector.ingest(report({ id: 'b' }, [{ fingerprint: FP.old, uses: max }]));
    // The same fingerprint twice in one report, at the same time: one sample, saturated.
    collector.ingest(
      report({ id: 'c' }, [
        { fingerprint: FP.old, uses: max },
        { fingerprint: FP.old, uses: 1 },
      ]),
    );
    let usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage.fingerprints[0]?.uses).toBe(max);
    expect(usage.fingerprints[0]?.instances.map((i) => i.uses)).toEqual([max, max, max]);
    // Many samples (beyond the 64 kept, so merged) each near the limit.
    for (let i = 0; i < 100; i++) {
      await clock.advance(SEC);
      collector.ingest(report({ id: 'd' }, [{ fingerprint: FP.new, uses: max - 1 }]));
    }
    usage = collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage.fingerprints.find((f) => f.fingerprint === FP.new)?.uses).toBe(max);
    expect(collector.instances().find((i) => i.id === 'd')?.secrets[0]?.uses).toBe(max);
    for (const f of usage.fingerprints) expect(Number.isSafeInteger(f.uses)).toBe(true);
  });
});
