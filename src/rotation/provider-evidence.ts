/**
 * The provider evidence rule of `verify` and `revoke`: what the provider's per-key usage says about an old key since
 * the flip. Any use of the key's id reported after the flip is `in-use` (whoever used it: a client that sends no
 * beacon shows here and nowhere else); no use, while the provider's data does not yet reach the window end counted
 * from the flip (its reporting lag), is `cannot-prove`; a key whose id at the provider is unknown (or recorded at
 * another provider, project or workspace) is `cannot-prove`; else `clear`. The old key's verdict is the worse of
 * the beacons' and this (`old-key-checks.ts`).
 */
import type { VerifyReason } from '../collector/index.js';
import { formatDuration } from '../duration.js';
import type { ProviderAdmin } from '../providers/index.js';
import { bucketFor } from '../providers/usage-range.js';
import { iso } from './context.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import { identifyKey } from './provider-keys.js';
import type { ProviderRecord } from './records.js';
import type { ProviderEvidence, RefusalCode, RotationContext } from './types.js';

/** What the rule needs to know about one old key. */
export interface ProviderEvidenceInput {
  /** The key's id at the provider; `undefined` when it could not be found (the answer is then `cannot-prove`). */
  readonly keyId: string | undefined;
  /** Why the id is unknown, for people (`no key at openai has a hint that matches it`). */
  readonly unknownWhy?: string | undefined;
  /** The refusal an unknown id gives (`provider-key-ambiguous`), when it is not `evidence-incomplete`. */
  readonly unknownRefusal?: RefusalCode | undefined;
  /** The verification window, ms. */
  readonly windowMs: number;
  /** Now, ms since the epoch. */
  readonly now: number;
  /** When the live key went live, ms since the epoch: the window is counted from here at the earliest. */
  readonly liveSince: number;
  /** How many beaconing instances held the key in the window (by the beacons). */
  readonly beaconHolders: number;
}

/** The refusal of evidence whose key id was found ambiguous (kept beside the evidence, which has no field for it). */
const refusals = new WeakMap<ProviderEvidence, RefusalCode>();

/** The refusal `evidence` asks for instead of `evidence-incomplete` (an ambiguous hint), if any. */
export const providerRefusal = (evidence: ProviderEvidence | undefined): RefusalCode | undefined =>
  evidence === undefined ? undefined : refusals.get(evidence);

const plural = (n: number, one: string): string => `${n.toLocaleString('en-US')} ${one}${n === 1 ? '' : 's'}`;

/** `hour`, `minute`, `day`, else `10m`: "in the last hour", "in the last 10m". */
export function spanOf(ms: number): string {
  if (ms === 3_600_000) return 'hour';
  if (ms === 60_000) return 'minute';
  if (ms === 86_400_000) return 'day';
  return formatDuration(ms);
}

/** The range of the provider's usage an old key is checked over, and how to say it. */
export interface AskedRange {
  /** Start, ms since the epoch: never before the end of the provider's bucket that holds the flip. */
  readonly startMs: number;
  /** The end of the provider's bucket that holds the flip (the flip itself when it falls on a boundary), ms. */
  readonly afterFlipMs: number;
  /** The bucket width the provider reads the range in, ms (a minute up to 24 h, else an hour). */
  readonly bucketMs: number;
  /** `in the last 25m`, or `since T, the first whole minute after the flip`. */
  readonly said: string;
}

/**
 * The range of the provider's usage an old key is checked over: `[startMs, now)` with
 * `startMs = max(now − windowMs − lagMs, liveSince rounded up to the provider's bucket boundary)`. From
 * `now − windowMs − lagMs`: a whole window of complete data, and whatever the provider reports after it. Never before
 * the flip: the old key was the live key then, and its use then is expected. The provider reports use per bucket
 * (a minute for a range up to 24 h, else an hour: `bucketFor` of providers/usage-range.ts), and the bucket that
 * holds the flip holds requests made before it too, so it is left out: use in it after the flip is not seen here
 * (the beacons still see the processes that send them). `startMs ≥ now` means there is nothing to ask yet.
 */
export function askedRange(now: number, windowMs: number, lagMs: number, liveSince: number): AskedRange {
  const earliest = now - windowMs - lagMs;
  const { width, widthMs: bucketMs } = bucketFor({ startMs: Math.max(earliest, liveSince), endMs: now });
  const afterFlipMs = Math.ceil(liveSince / bucketMs) * bucketMs;
  const startMs = Math.max(earliest, afterFlipMs);
  const said =
    startMs > afterFlipMs
      ? `in the last ${spanOf(now - startMs)}`
      : `since ${iso(startMs)}, the first whole ${width === '1m' ? 'minute' : 'hour'} after the flip`;
  return { startMs, afterFlipMs, bucketMs, said };
}

/**
 * Applies the provider evidence rule to one old key: asks the provider for the key's usage over
 * {@link askedRange} (`[max(now − windowMs − lagMs, the first bucket boundary after liveSince), now)`: never a
 * bucket that holds the flip, whose requests made before the flip are expected) and answers `in-use` (any use
 * reported), `cannot-prove` (no use, but the complete data ends before `liveSince + windowMs`; nothing to ask yet,
 * the range being empty; the complete data not reaching past the range's start; or the key id is unknown) or `clear`,
 * with a sentence for people naming the range asked. A clear answer needs `now ≥ liveSince + windowMs + lagMs`, and
 * complete data inside the range. Throws what the provider throws when it cannot answer
 * (a `ProviderError`).
 */
export async function providerEvidence(
  provider: ProviderAdmin,
  input: ProviderEvidenceInput,
): Promise<ProviderEvidence> {
  const { keyId, windowMs, now, liveSince } = input;
  const { startMs, said } = askedRange(now, windowMs, provider.lagMs, liveSince);
  const windowEnd = liveSince + windowMs;
  const unread = (reason: VerifyReason, message: string): ProviderEvidence => ({
    provider: provider.id,
    keyId,
    reason,
    message,
    requests: undefined,
    tokens: 0,
    startMs,
    endMs: now,
    coveredUntilMs: Math.min(startMs, now - provider.lagMs),
    buckets: [],
  });
  if (keyId === undefined) {
    const evidence = unread(
      'cannot-prove',
      `its id at ${provider.id} is unknown, so its usage there cannot be read: ${input.unknownWhy ?? 'none recorded'}`,
    );
    if (input.unknownRefusal) refusals.set(evidence, input.unknownRefusal);
    return evidence;
  }
  if (startMs >= now)
    return unread(
      'cannot-prove',
      `nothing to ask the provider yet: its usage is read ${said} (the one holding the flip holds use from ` +
        `before it too): verify again after ${iso(Math.max(windowEnd + provider.lagMs, startMs))}`,
    );
  const report = await provider.usage([keyId], { startMs, endMs: now });
  const usage = report.keys.find((k) => k.keyId === keyId);
  const requests = usage?.requests;
  const tokens = usage?.tokens ?? 0;
  const used = usage !== undefined && (usage.used || (requests ?? 0) > 0 || tokens > 0);
  const coveredUntilMs = report.coveredUntilMs;
  let reason: VerifyReason;
  let message: string;
  if (used) {
    reason = 'in-use';
    const counted = requests !== undefined && requests > 0;
    const count = counted ? plural(requests, 'request') : plural(tokens, 'token');
    const holders = input.beaconHolders;
    // The provider cannot say whose the use is: a beaconing holder may have made all of it, or none.
    const whose = `(the ${counted ? 'requests' : 'tokens'} may be ${holders === 1 ? 'its' : 'their'} own)`;
    message =
      holders > 0
        ? `${count} at the provider ${said}; ${plural(holders, 'beaconing instance')} also held the key ${whose}`
        : `${count} at the provider ${said}, from clients that send no beacon`;
  } else if (coveredUntilMs < windowEnd || coveredUntilMs <= startMs) {
    // Short of the window end counted from the flip, or (a window shorter than a bucket) short of the range's own
    // start: then the complete data holds nothing of the range at all, and no use in it proves nothing.
    reason = 'cannot-prove';
    const readyAt = Math.max(windowEnd, startMs + 60_000) + provider.lagMs;
    message =
      `no use at the provider so far, but the provider's data is complete until ${iso(coveredUntilMs)} ` +
      `(lag ${formatDuration(provider.lagMs)}): verify again after ${iso(readyAt)}`;
  } else {
    reason = 'clear';
    message = `the provider reports no use ${said} (its data is complete until ${iso(coveredUntilMs)})`;
  }
  return {
    provider: provider.id,
    keyId,
    reason,
    message,
    requests,
    tokens,
    startMs,
    endMs: now,
    coveredUntilMs,
    buckets: usage?.buckets ?? [],
  };
}

/** An old key's id at the provider: recorded, found now by its hint, or unknown (and why). */
export interface OldKeyIdentity {
  /** The key's id at the provider; `undefined` when unknown. */
  readonly keyId: string | undefined;
  /** Found now by its hint (not recorded yet): `revoke` records it on the key before disabling it. */
  readonly found?: ProviderRecord | undefined;
  /** Why the id is unknown, for people. */
  readonly unknownWhy?: string | undefined;
  /** The refusal an unknown id gives instead of `evidence-incomplete`, if any. */
  readonly unknownRefusal?: RefusalCode | undefined;
}

/**
 * The id at the provider of an old key (`identifyKey` of provider-keys.ts: its record anywhere in the ring, else
 * found by its hint while its value is readable). An id found by its hint is returned in `found`, not recorded.
 */
export async function identifyOldKey(ctx: RotationContext, ring: KeyRing, key: RotationKey): Promise<OldKeyIdentity> {
  const identity = await identifyKey(ctx, ring, key);
  if (identity.status === 'recorded') return { keyId: identity.record.keyId };
  if (identity.status === 'found') return { keyId: identity.record.keyId, found: identity.record };
  return {
    keyId: undefined,
    unknownWhy: identity.message,
    unknownRefusal: identity.status === 'ambiguous' ? 'provider-key-ambiguous' : undefined,
  };
}
