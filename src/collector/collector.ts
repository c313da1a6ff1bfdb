/**
 * The embedded collector: receives `keyflip.beacon/v1` reports and answers "which processes held which
 * fingerprint of SECRET in the last window, and how often did they use it?". One process, no database:
 * everything is in memory and bounded (retention, a cap on instances, on fingerprints per secret and on
 * the use samples kept per fingerprint).
 *
 * Times are the collector's own clock when a report arrived, not the sender's `sentAt`: a sender whose
 * clock lags by an hour must not fall out of a one-hour window (that would make `verify` pass wrongly).
 *
 * Its parts, each in its own module (this one wires them together and counts reports):
 * - limits.ts             every bound, read once from the options;
 * - records.ts            what is kept: instance → secret → fingerprint;
 * - instance-registry.ts  the instances in the order of their last report; eviction beyond `maxInstances`;
 * - secret-index.ts       per secret, what each instance holds of it; the fingerprint cap;
 * - use-samples.ts        one fingerprint's uses over time, in bounded memory;
 * - retention.ts          forgetting what outlived `retentionMs`;
 * - usage-query.ts        the `usage()` answer;   instance-view.ts: the `instances()` answer.
 */
import type { BeaconReport } from '../beacon/types.js';
import { validateReport } from './report.js';
import { instanceViews } from './instance-view.js';
import { InstanceRegistry } from './instance-registry.js';
import { collectorLimits } from './limits.js';
import { Retention } from './retention.js';
import { SecretIndex } from './secret-index.js';
import type { CollectorInstance, SecretUsage } from './types.js';
import { checkUsageQuery, usageOf } from './usage-query.js';

export type { CollectorInstance, CollectorInstanceSecret } from './types.js';

/** Options of {@link createCollector}. */
export interface CollectorOptions {
  /**
   * How long what an instance reported is kept. Usage can be asked over any window up to this long.
   * @default 86_400_000 (24 h)
   */
  retentionMs?: number | undefined;
  /**
   * The most instances tracked at once (a whole number). When a new instance would exceed it, the instance
   * that has gone longest without reporting is dropped (and counted in `stats.evicted`): a live process
   * reports again within its interval and comes back; a dead one does not.
   * @default 50_000
   */
  maxInstances?: number | undefined;
  /**
   * Fingerprints kept per (instance, secret), a whole number: a process that rotated more often than this
   * within the retention loses the one it held longest ago.
   * @default 16
   */
  maxFingerprintsPerSecret?: number | undefined;
  /**
   * An instance is stale when it has not reported for `staleFactor` × its interval (estimated from the
   * gaps between its reports; `defaultIntervalMs` until it has sent two).
   * @default 2
   */
  staleFactor?: number | undefined;
  /** The interval assumed for an instance that has sent one report, ms. @default 60_000 (the beacon's default) */
  defaultIntervalMs?: number | undefined;
  /** Injectable for tests. @default Date.now */
  clock?: { now(): number } | undefined;
}

export interface CollectorStats {
  /** Instances tracked now. */
  readonly instances: number;
  /** Distinct secret names tracked now. */
  readonly secrets: number;
  /** (instance, secret, fingerprint) entries tracked now. */
  readonly entries: number;
  /** Reports ingested, and refused by the schema check. */
  readonly reports: number;
  readonly rejected: number;
  /** Instances dropped because of `maxInstances`, and because they outlived the retention. */
  readonly evicted: number;
  readonly expired: number;
}

/** The collector in process. `usage` answers synchronously; it is also a `UsageSource` through `verifyRetired`. */
export interface Collector {
  readonly retentionMs: number;
  /** Checks and records one report; throws a `CollectorInputError` (nothing recorded) when it is not one. */
  ingest(report: unknown): void;
  /** Who held which fingerprint of `secret` within the last `windowMs` (at most `retentionMs`). */
  usage(secret: string, options: { windowMs: number }): SecretUsage;
  /** Every instance tracked, the most recently reporting first. */
  instances(): CollectorInstance[];
  /** The secret names reported within the retention, sorted. */
  secrets(): string[];
  /** Drops what is older than the retention now (it also happens on its own as reports arrive). */
  prune(): void;
  /** The collector's clock (ms since the epoch): the time every answer is given at. */
  now(): number;
  readonly stats: CollectorStats;
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
  const { retentionMs } = limits;
  const clock = options.clock ?? Date;
  const index = new SecretIndex(limits.maxFingerprints);
  const registry = new InstanceRegistry(limits.maxInstances, (instance) => index.dropInstance(instance));
  const retention = new Retention(limits, registry, index, clock.now());
  let reports = 0;
  let rejected = 0;

  /** The time of an answer, after forgetting what outlived the retention (when a sweep is due). */
  const tick = (): number => {
    const now = clock.now();
    retention.maybeSweep(now);
    return now;
  };

  return {
    retentionMs,

    ingest(input: unknown): void {
      let report: BeaconReport;
      try {
        report = validateReport(input);
      } catch (error) {
        rejected++;
        throw error;
      }
      const now = tick();
      const instance = registry.touch(report, now);
      index.record(instance, report.secrets, now);
      registry.evictOverflow();
      reports++;
    },

    usage(secret: string, { windowMs }: { windowMs: number }): SecretUsage {
      checkUsageQuery(secret, windowMs, retentionMs);
      const now = tick();
      return usageOf(index, secret, windowMs, now);
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
      return {
        instances: registry.size,
        secrets: index.size,
        entries: index.entries,
        reports,
        rejected,
        evicted: registry.evicted,
        expired: registry.expired,
      };
    },
  };
}
