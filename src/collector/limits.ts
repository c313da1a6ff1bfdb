/**
 * The collector's bounds, read once from its options: how long it keeps what it was told, how much it keeps
 * (instances, secrets per instance, fingerprints per secret, and the estimated bytes of all of it), and when it
 * calls an instance stale. Every bound of the collector's memory is here.
 *
 * None of the bounds is enforced by forgetting evidence silently: a new instance beyond `maxInstances` or
 * `maxBytes` is refused (and the refusal is recorded as dropped evidence for every secret); what is shed
 * beyond `maxSecretsPerInstance` or `maxFingerprintsPerSecret` is recorded as dropped for that secret.
 */
import { describeValue, positiveMs, positiveSpanMs, wholeNumber } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { BEACON_LIMITS } from '../beacon/types.js';

/** The bounds of a collector, all optional (documented one by one: each is an option of `createCollector`). */
export interface CollectorLimitOptions {
  /**
   * How long what an instance reported is kept, ms. Usage can be asked over any window up to this long.
   * @default 86_400_000 (24 h)
   */
  retentionMs?: number | undefined;
  /**
   * The number of instances tracked at once, at most (a whole number). A report from a new instance beyond it is
   * refused (`ingest` answers `{ accepted: false, reason: 'instance-cap' }`, the server 429), and the refusal is
   * recorded as dropped evidence for every secret, so `verify` cannot answer "clear" while it lies in its window.
   * An instance is never evicted to make room: it is forgotten only when it outlives the retention.
   * @default 50_000
   */
  maxInstances?: number | undefined;
  /**
   * The number of secret names kept per instance (a whole number). A report naming more (over the instance's
   * lifetime) has the new names beyond it shed, each recorded as dropped evidence (`memory-budget`) for that secret.
   * @default 1_000 (`BEACON_LIMITS.secrets`: one report may list that many)
   */
  maxSecretsPerInstance?: number | undefined;
  /**
   * The number of fingerprints kept per (instance, secret), a whole number: a process that rotated more often than
   * this within the retention loses the one it listed longest ago, recorded as dropped evidence (`fingerprint-cap`)
   * for that secret.
   * @default 16
   */
  maxFingerprintsPerSecret?: number | undefined;
  /**
   * The estimated size of everything the collector keeps, bytes (a whole number, at least 64 KiB). Every instance,
   * secret entry, fingerprint and its use samples is counted at a conservative estimate of its size in the V8
   * heap, strings by their length (see memory-budget.ts): about 4 KiB per (instance, secret) with short names, so
   * the default holds some 20 000 instances of one secret, or 6 000 of five. A report that would go beyond it is
   * refused (`memory-budget`, the server 429) and recorded as dropped evidence for every secret. The default keeps
   * the process under 512 MiB of RSS whatever valid reports arrive: measured at about 400 MiB at most, with floods
   * of 1 000-secret reports of ~0.9 MiB, and of reports with 32 long labels, from fresh instance ids (V8 lets
   * garbage grow to about four times the live heap before it collects, and the live heap is 50 % to 65 % of the
   * estimate). Raise it for a larger fleet, with the memory to match.
   * @default 100_663_296 (96 MiB)
   */
  maxBytes?: number | undefined;
  /**
   * An instance is stale when it has not reported for `staleFactor` × its interval (the one its reports declare,
   * else the one estimated from the gaps between its reports; `defaultIntervalMs` until it has sent two).
   * @default 2
   */
  staleFactor?: number | undefined;
  /**
   * The interval assumed for staleness of an instance that declared none and has sent one report, ms.
   * @default 60_000 (the beacon's default)
   */
  defaultIntervalMs?: number | undefined;
}

/** The collector's bounds, every one set. */
export interface CollectorLimits {
  /** How long what an instance reported is kept, ms. */
  readonly retentionMs: number;
  /** The most instances tracked at once. */
  readonly maxInstances: number;
  /** Secret names kept per instance. */
  readonly maxSecretsPerInstance: number;
  /** Fingerprints kept per (instance, secret). */
  readonly maxFingerprints: number;
  /** The estimated bytes of state the collector keeps at most. */
  readonly maxBytes: number;
  /** An instance is stale after `staleFactor` × its interval without a report. */
  readonly staleFactor: number;
  /** The interval assumed for an instance that has sent one report, ms. */
  readonly defaultIntervalMs: number;
  /** How often at most a full pass drops what outlived the retention, ms (1/8 of it, from 1 s to 60 s). */
  readonly sweepEveryMs: number;
}

const DAY = 86_400_000;
const MIB = 1_048_576;

/** The default of `maxBytes`: 96 MiB of estimated state (see its TSDoc for why). */
export const DEFAULT_MAX_BYTES = 96 * MIB;

/**
 * Reads and checks the bounds; throws a {@link ConfigurationError} naming the option that makes no sense.
 * Defaults: retention 24 h, 50 000 instances, 1 000 secrets per instance, 16 fingerprints per (instance, secret),
 * 96 MiB of estimated state, stale after 2 × the interval, 60 s assumed interval.
 */
export function collectorLimits(options: CollectorLimitOptions): CollectorLimits {
  const retentionMs = positiveSpanMs('createCollector: retentionMs', options.retentionMs, DAY);
  return {
    retentionMs,
    maxInstances: wholeNumber('createCollector: maxInstances', options.maxInstances, 50_000),
    maxSecretsPerInstance: wholeNumber(
      'createCollector: maxSecretsPerInstance',
      options.maxSecretsPerInstance,
      BEACON_LIMITS.secrets,
    ),
    maxFingerprints: wholeNumber('createCollector: maxFingerprintsPerSecret', options.maxFingerprintsPerSecret, 16),
    maxBytes: wholeNumber('createCollector: maxBytes', options.maxBytes, DEFAULT_MAX_BYTES, 65_536),
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
