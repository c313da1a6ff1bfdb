/**
 * What both providers' usage reports share: the bucket width for a range, the range checks, and adding up the
 * per-key buckets into a {@link ProviderUsageReport}.
 */
import { ConfigurationError } from '../errors.js';
import type { ManagedProviderId, ProviderKeyUsage, ProviderUsageBucket, ProviderUsageReport } from './types.js';

/** The widest range read in one-minute buckets; a longer one is read in hours. */
export const MINUTE_BUCKETS_UP_TO_MS = 24 * 3_600_000;

/** A usage bucket width both providers take. */
export type BucketWidth = '1m' | '1h';

/** @internal The bucket width for a range and the most buckets a page may hold with it. */
export function bucketFor(range: { startMs: number; endMs: number }): {
  width: BucketWidth;
  widthMs: number;
  limit: number;
} {
  return range.endMs - range.startMs <= MINUTE_BUCKETS_UP_TO_MS
    ? { width: '1m', widthMs: 60_000, limit: 1440 }
    : { width: '1h', widthMs: 3_600_000, limit: 168 };
}

/** @internal Checks `usage()`'s arguments; throws a `ConfigurationError`. */
export function checkUsageArgs(keyIds: readonly string[], range: { startMs: number; endMs: number }): void {
  if (!Array.isArray(keyIds) || keyIds.some((id) => typeof id !== 'string' || id === '')) {
    throw new ConfigurationError('usage: keyIds must be an array of key ids (non-empty strings)');
  }
  const { startMs, endMs } = range ?? {};
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || (startMs as number) >= (endMs as number)) {
    throw new ConfigurationError('usage: range must be { startMs, endMs } with startMs < endMs (ms since the epoch)');
  }
}

/** @internal Adds up one key's use, bucket by bucket. */
export class UsageTally {
  readonly #buckets = new Map<
    string,
    Map<number, { endMs: number; requests: number; tokens: number; units: number }>
  >();
  readonly #countsRequests: boolean;

  constructor(keyIds: readonly string[], countsRequests: boolean) {
    for (const id of keyIds) this.#buckets.set(id, new Map());
    this.#countsRequests = countsRequests;
  }

  /**
   * Adds use of `keyId` in the bucket `[startMs, endMs)`; a key not asked about is ignored. `units` counts use that
   * is neither a request nor a token (images, audio characters or seconds, sessions): it only makes the key used.
   */
  add(keyId: unknown, startMs: number, endMs: number, requests: number, tokens: number, units = 0): void {
    if (typeof keyId !== 'string') return;
    const buckets = this.#buckets.get(keyId);
    if (!buckets) return;
    const bucket = buckets.get(startMs) ?? { endMs, requests: 0, tokens: 0, units: 0 };
    bucket.requests += requests;
    bucket.tokens += tokens;
    bucket.units += units;
    buckets.set(startMs, bucket);
  }

  report(
    provider: ManagedProviderId,
    range: { startMs: number; endMs: number },
    coveredUntilMs: number,
  ): ProviderUsageReport {
    const keys: ProviderKeyUsage[] = [...this.#buckets].map(([keyId, map]) => {
      const buckets: ProviderUsageBucket[] = [...map]
        .filter(([, b]) => b.requests > 0 || b.tokens > 0 || b.units > 0)
        .sort(([a], [b]) => a - b)
        .map(([startMs, b]) => ({
          startMs,
          endMs: b.endMs,
          requests: this.#countsRequests ? b.requests : undefined,
          tokens: b.tokens,
        }));
      const requests = buckets.reduce((sum, b) => sum + (b.requests ?? 0), 0);
      const tokens = buckets.reduce((sum, b) => sum + b.tokens, 0);
      return {
        keyId,
        requests: this.#countsRequests ? requests : undefined,
        tokens,
        used: buckets.length > 0,
        buckets,
      };
    });
    return { provider, startMs: range.startMs, endMs: range.endMs, coveredUntilMs, keys };
  }
}

/** A non-negative number from a report field, else 0. */
export function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0;
}

/** @internal The most pages a list or report is followed for before keyflip calls the answer broken. */
export const MAX_PAGES = 1000;
