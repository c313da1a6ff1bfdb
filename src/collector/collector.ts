/**
 * The embedded collector: receives `keyflip.beacon/v1` reports and answers "which processes held which
 * fingerprint of SECRET in the last window, and how often did they use it?" — with what it can vouch for
 * (`coverage`: since when it has observed, what evidence it dropped, the largest beacon interval). One process,
 * no database: everything is in memory and bounded (retention, caps on instances, secrets per instance and
 * fingerprints per secret, and a budget of estimated bytes), optionally saved to a state file (`openCollector`).
 *
 * Absence of evidence is not evidence of absence: whenever a bound keeps the collector from recording what it was
 * told, it says so. A new instance beyond a bound is refused (`ingest` answers why, the server 429) rather than an
 * instance evicted; every refusal, every entry a cap sheds and the time the collector was down are recorded as
 * dropped evidence, which `usage()` returns in `coverage.dropped` and `verifyRetired` turns into "cannot prove".
 *
 * Times are the collector's own clock when a report arrived, not the sender's `sentAt`: a sender whose
 * clock lags by an hour must not fall out of a one-hour window (that would make `verify` pass wrongly).
 *
 * Its parts, each in its own module (this one wires them together and counts reports):
 * - limits.ts             every bound, read once from the options;
 * - records.ts            what is kept: instance → secret → fingerprint;
 * - instance-registry.ts  the instances in the order of their last report; expiry;
 * - secret-index.ts       per secret, what each instance holds of it; the secret and fingerprint caps;
 * - use-samples.ts        one fingerprint's uses over time, in bounded memory; sums that saturate;
 * - memory-budget.ts      the estimated bytes of the state;  admission.ts: whether a report may be recorded;
 * - dropped-evidence.ts   what could not be recorded, as bounded spans;  coverage.ts: `SecretUsage.coverage`;
 * - retention.ts          forgetting what outlived `retentionMs`;
 * - usage-query.ts        the `usage()` answer;   instance-view.ts: the `instances()` answer;
 * - open-collector.ts     `openCollector`: the state file (state-file.ts), loaded on open, saved atomically.
 */
import type { BeaconReport } from '../beacon/types.js';
import type { TimerHandle } from '../types.js';
import { type IngestRefusal, refusalOf } from './admission.js';
import { EvidenceDrops } from './dropped-evidence.js';
import { instanceViews } from './instance-view.js';
import { InstanceRegistry } from './instance-registry.js';
import { type CollectorLimitOptions, type CollectorLimits, collectorLimits } from './limits.js';
import { MemoryBudget } from './memory-budget.js';
import { validateReport } from './report.js';
import { Retention } from './retention.js';
import { SecretIndex } from './secret-index.js';
import type { CollectorInstance, DropReason, SecretUsage } from './types.js';
import { checkUsageQuery, usageOf } from './usage-query.js';

export type { CollectorInstance, CollectorInstanceSecret } from './types.js';
export type { IngestRefusal, RefusalReason } from './admission.js';

/** The clock a collector reads; `setTimeout`/`clearTimeout` schedule the saves of `openCollector` when given. */
export interface CollectorClock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout?(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer `setTimeout` returned. */
  clearTimeout?(handle: TimerHandle): void;
}

/** Options of {@link createCollector}: the bounds (see {@link CollectorLimitOptions}) and the clock. */
export interface CollectorOptions extends CollectorLimitOptions {
  /**
   * Injectable for tests (`manualClock()` from `keyflip/testing`): the time of every report and answer, and with
   * `setTimeout`/`clearTimeout` the timer of `openCollector`'s periodic saves.
   * @default Date.now and the global timers
   */
  clock?: CollectorClock | undefined;
}

/**
 * What `ingest` answers for a valid report: recorded, or refused (a new instance beyond `maxInstances`, or a report
 * beyond `maxBytes`) — the refusal recorded as dropped evidence for every secret. An invalid report throws.
 */
export type IngestResult =
  | {
      /** The report was recorded. */
      readonly accepted: true;
    }
  | IngestRefusal;

/** How saving to the state file goes (`openCollector` only). */
export interface StateFileStats {
  /** The state file. */
  readonly path: string;
  /** Saves that completed since the collector was opened (the one on open included), and saves that failed. */
  readonly saves: number;
  /** Saves that failed since the collector was opened. */
  readonly failures: number;
  /** When the last completed save began (collector time, ms): what a restart counts the downtime from. */
  readonly lastSavedAt?: number | undefined;
  /** Why the last save failed, when the last one did (an error code and the path, never state). */
  readonly lastError?: string | undefined;
}

/** What a collector holds and has done (`collector.stats`, `GET /v1/stats`). */
export interface CollectorStats {
  /** Instances tracked now. */
  readonly instances: number;
  /** Distinct secret names tracked now. */
  readonly secrets: number;
  /** (instance, secret, fingerprint) entries tracked now. */
  readonly entries: number;
  /** Reports recorded, and refused by the schema check (thrown at the caller, a 400). */
  readonly reports: number;
  /** Reports refused by the schema check (thrown at the caller, a 400). */
  readonly rejected: number;
  /**
   * Instances evicted to make room: always 0 since keyflip 0.2 (a new instance is refused instead, see `refused`).
   * Kept for readers of the older stats.
   */
  readonly evicted: number;
  /** Instances forgotten because they outlived the retention. */
  readonly expired: number;
  /** Valid reports refused (`maxInstances` or `maxBytes`; the server's 429), each recorded as dropped evidence. */
  readonly refused: number;
  /**
   * Drops of evidence recorded since the collector was created (a refused report, an entry shed by a cap, the
   * collector's downtime found on open), in total and by reason.
   */
  readonly dropped: number;
  /** The drops of `dropped`, by reason. */
  readonly droppedBy: Readonly<Record<DropReason, number>>;
  /** The estimated bytes of the state now, and the budget (`maxBytes`). */
  readonly estimatedBytes: number;
  /** The memory budget, bytes (`CollectorLimitOptions.maxBytes`). */
  readonly maxBytes: number;
  /** With a state file (`openCollector`): how saving goes. */
  readonly state?: StateFileStats | undefined;
}

/** The collector in process. `usage` answers synchronously; it is also a `UsageSource` through `verifyRetired`. */
export interface Collector {
  /** How long it remembers an instance's reports, ms (`CollectorLimitOptions.retentionMs`). */
  readonly retentionMs: number;
  /** When this collector was created or opened (ms since the epoch, its clock). */
  readonly startedAt: number;
  /**
   * Since when the collector has observed the fleet (ms since the epoch): `startedAt`, or with a state file the
   * start carried across restarts (each downtime recorded as `collector-down` dropped evidence). It is
   * `coverage.observedSince` of every `usage()` answer.
   */
  readonly observedSince: number;
  /**
   * Checks and records one report. Throws a `CollectorInputError` (nothing recorded) when it is not a valid
   * report; answers `{ accepted: false, … }` (nothing recorded, the refusal recorded as dropped evidence) when a
   * bound keeps it from recording it.
   */
  ingest(report: unknown): IngestResult;
  /** Who held which fingerprint of `secret` within the last `windowMs` (at most `retentionMs`), with `coverage`. */
  usage(secret: string, options: { windowMs: number }): SecretUsage;
  /** Every instance tracked, the most recently reporting first. */
  instances(): CollectorInstance[];
  /** The secret names reported within the retention, sorted. */
  secrets(): string[];
  /** Drops what is older than the retention now (it also happens on its own as reports arrive). */
  prune(): void;
  /** The collector's clock (ms since the epoch): the time every answer is given at. */
  now(): number;
  /** What it holds and has done so far. */
  readonly stats: CollectorStats;
  /**
   * Stops saving after a last save to the state file (`openCollector`); rejects when that save fails. A no-op
   * without a state file. The collector still answers after it, in memory. Calling it again returns the same.
   */
  close(): Promise<void>;
}

/** The parts of a collector's state (internal: `openCollector` loads them from and saves them to its file). */
export interface CollectorParts {
  readonly limits: CollectorLimits;
  readonly budget: MemoryBudget;
  readonly drops: EvidenceDrops;
  readonly index: SecretIndex;
  readonly registry: InstanceRegistry;
  readonly retention: Retention;
}

/** The empty state of a collector with `limits`, created at `now`. */
export function collectorParts(limits: CollectorLimits, now: number): CollectorParts {
  const budget = new MemoryBudget(limits.maxBytes);
  const drops = new EvidenceDrops();
  const index = new SecretIndex(limits, budget, (secret, reason, at) => drops.forSecret(secret, reason, at));
  const registry = new InstanceRegistry(budget, (instance) => index.dropInstance(instance));
  const retention = new Retention(limits, { registry, index, drops }, now);
  return { limits, budget, drops, index, registry, retention };
}

/** What a state file adds to a collector: its saves and their stats (internal). */
export interface CollectorPersistence {
  stats(): StateFileStats;
  close(): Promise<void>;
}

/**
 * Creates an in-memory collector. Throws a `ConfigurationError` for an option that makes no sense.
 *
 * @example
 * const collector = createCollector({ retentionMs: 86_400_000 });
 * collector.ingest(report);                     // throws CollectorInputError when it is not a beacon report
 * collector.usage('OPENAI_API_KEY', { windowMs: 3_600_000 });
 */
export function createCollector(options: CollectorOptions = {}): Collector {
  const limits = collectorLimits(options);
  const clock = options.clock ?? Date;
  const now = clock.now();
  return collectorOver(collectorParts(limits, now), clock, { startedAt: now, observedSince: now });
}

const ACCEPTED: IngestResult = Object.freeze({ accepted: true });

/** The collector over `parts` (internal: `createCollector` and `openCollector` build one). */
export function collectorOver(
  parts: CollectorParts,
  clock: CollectorClock,
  times: { startedAt: number; observedSince: number },
  persistence?: CollectorPersistence,
): Collector {
  const { limits, registry, index, retention, drops, budget } = parts;
  const { retentionMs } = limits;
  const observation = { observedSince: times.observedSince, drops };
  let reports = 0;
  let rejected = 0;
  let refused = 0;
  let closing: Promise<void> | undefined;

  /** The time of an answer, after forgetting what outlived the retention (when a sweep is due). */
  const tick = (): number => {
    const now = clock.now();
    retention.maybeSweep(now);
    return now;
  };

  return {
    retentionMs,
    startedAt: times.startedAt,
    observedSince: times.observedSince,

    ingest(input: unknown): IngestResult {
      let report: BeaconReport;
      try {
        report = validateReport(input);
      } catch (error) {
        rejected++;
        throw error;
      }
      const now = tick();
      const refusal = refusalOf(report, now, parts);
      if (refusal !== undefined) {
        refused++;
        drops.forEverySecret(refusal.reason, now, now);
        return refusal;
      }
      const instance = registry.touch(report, now);
      index.record(instance, report.secrets, now);
      reports++;
      return ACCEPTED;
    },

    usage(secret: string, { windowMs }: { windowMs: number }): SecretUsage {
      checkUsageQuery(secret, windowMs, retentionMs);
      const now = tick();
      return usageOf(index, secret, windowMs, now, observation);
    },

    instances(): CollectorInstance[] {
      const now = tick();
      return instanceViews(registry, now - retentionMs, now, limits);
    },

    secrets(): string[] {
      const now = tick();
      return index.namesSince(now - retentionMs);
    },

    prune(): void {
      retention.sweep(clock.now());
    },

    now(): number {
      return clock.now();
    },

    get stats(): CollectorStats {
      const stats: CollectorStats = {
        instances: registry.size,
        secrets: index.size,
        entries: index.entries,
        reports,
        rejected,
        evicted: 0,
        expired: registry.expired,
        refused,
        dropped: drops.total,
        droppedBy: drops.counts(),
        estimatedBytes: budget.estimatedBytes,
        maxBytes: budget.maxBytes,
      };
      return persistence === undefined ? stats : { ...stats, state: persistence.stats() };
    },

    close(): Promise<void> {
      closing ??= persistence === undefined ? Promise.resolve() : persistence.close();
      return closing;
    },
  };
}
