/**
 * The collector's bounds, read once from its options: how long it keeps what it was told, how much it keeps,
 * and when it calls an instance stale. Every bound of the collector's memory is here (a later memory budget
 * goes here too).
 */
import { describeValue, positiveMs, wholeNumber } from '../check.js';
import { ConfigurationError } from '../errors.js';

/** The options {@link collectorLimits} reads (documented on `CollectorOptions`). */
export interface CollectorLimitOptions {
  retentionMs?: number | undefined;
  maxInstances?: number | undefined;
  maxFingerprintsPerSecret?: number | undefined;
  staleFactor?: number | undefined;
  defaultIntervalMs?: number | undefined;
}

/** The collector's bounds, every one set. */
export interface CollectorLimits {
  /** How long what an instance reported is kept, ms. */
  readonly retentionMs: number;
  /** The most instances tracked at once. */
  readonly maxInstances: number;
  /** Fingerprints kept per (instance, secret). */
  readonly maxFingerprints: number;
  /** An instance is stale after `staleFactor` × its interval without a report. */
  readonly staleFactor: number;
  /** The interval assumed for an instance that has sent one report, ms. */
  readonly defaultIntervalMs: number;
  /** How often at most a full pass drops what outlived the retention, ms (1/8 of it, from 1 s to 60 s). */
  readonly sweepEveryMs: number;
}

const DAY = 86_400_000;

/**
 * Reads and checks the bounds; throws a {@link ConfigurationError} naming the option that makes no sense.
 * Defaults: retention 24 h, 50 000 instances, 16 fingerprints per (instance, secret), stale after 2 × the
 * interval, 60 s assumed interval.
 */
export function collectorLimits(options: CollectorLimitOptions): CollectorLimits {
  const retentionMs = positiveMs('createCollector: retentionMs', options.retentionMs, DAY);
  return {
    retentionMs,
    maxInstances: wholeNumber('createCollector: maxInstances', options.maxInstances, 50_000),
    maxFingerprints: wholeNumber('createCollector: maxFingerprintsPerSecret', options.maxFingerprintsPerSecret, 16),
    staleFactor: positiveFactor('createCollector: staleFactor', options.staleFactor, 2),
    defaultIntervalMs: positiveMs('createCollector: defaultIntervalMs', options.defaultIntervalMs, 60_000),
    sweepEveryMs: Math.min(Math.max(retentionMs / 8, 1_000), 60_000),
  };
}

/** A finite number above 0 that is not a duration (a multiplier), or `fallback` when `value` is undefined. */
function positiveFactor(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new ConfigurationError(`\`${option}\` must be a positive number, not ${describeValue(value)}`);
  }
  return value;
}
