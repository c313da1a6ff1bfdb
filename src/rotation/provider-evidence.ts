/**
 * The provider evidence rule of `verify` and `revoke`: what the provider's per-key usage says about an old key over
 * the verification window. Any use of the key's id in the window is `in-use` (whoever used it: a client that sends
 * no beacon shows here and nowhere else); no use, while the provider's data does not yet reach the window end
 * counted from the flip (its reporting lag), is `cannot-prove`; a key whose id at the provider is unknown is
 * `cannot-prove`; else `clear`. The old key's verdict is the worse of the beacons' and this (`old-key-checks.ts`).
 */
import type { VerifyReason } from '../collector/index.js';
import { formatDuration } from '../duration.js';
import type { ProviderAdmin } from '../providers/index.js';
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

/**
 * Applies the provider evidence rule to one old key: asks the provider for the key's usage over
 * `[now − windowMs − lagMs, now)` (a whole window of complete data) and answers `in-use` (any use reported),
 * `cannot-prove` (no use, but the complete data ends before `liveSince + windowMs`, or the key id is unknown) or
 * `clear`, with a sentence for people. A clear answer needs `now ≥ liveSince + windowMs + lagMs`. Throws what the
 * provider throws when it cannot answer (a `ProviderError`).
 */
export async function providerEvidence(
  provider: ProviderAdmin,
  input: ProviderEvidenceInput,
): Promise<ProviderEvidence> {
  const { keyId, windowMs, now, liveSince } = input;
  // A whole window of the provider's data: `[now − window − lag, now − lag)` is complete, and whatever it reports
  // after that counts too. (Asking from `now − window` only would leave `lag` of the window unseen.)
  const startMs = now - windowMs - provider.lagMs;
  // What the provider was asked about: the window and its lag (`in the last 1h15m`), not the window alone.
  const span = spanOf(now - startMs);
  if (keyId === undefined) {
    const evidence: ProviderEvidence = {
      provider: provider.id,
      keyId: undefined,
      reason: 'cannot-prove',
      message:
        `its id at ${provider.id} is unknown, so its usage there cannot be read: ` +
        `${input.unknownWhy ?? 'none recorded'}`,
      requests: undefined,
      tokens: 0,
      startMs,
      endMs: now,
      coveredUntilMs: startMs,
      buckets: [],
    };
    if (input.unknownRefusal) refusals.set(evidence, input.unknownRefusal);
    return evidence;
  }
  const report = await provider.usage([keyId], { startMs, endMs: now });
  const usage = report.keys.find((k) => k.keyId === keyId);
  const requests = usage?.requests;
  const tokens = usage?.tokens ?? 0;
  const used = usage !== undefined && (usage.used || (requests ?? 0) > 0 || tokens > 0);
  const coveredUntilMs = report.coveredUntilMs;
  const windowEnd = liveSince + windowMs;
  let reason: VerifyReason;
  let message: string;
  if (used) {
    reason = 'in-use';
    const count = requests !== undefined && requests > 0 ? plural(requests, 'request') : plural(tokens, 'token');
    const holders = input.beaconHolders;
    message =
      holders > 0
        ? `${count} in the last ${span} at the provider; ${plural(holders, 'beaconing instance')} held it`
        : `${count} in the last ${span} at the provider from clients that send no beacon`;
  } else if (coveredUntilMs < windowEnd) {
    reason = 'cannot-prove';
    message =
      `no use at the provider so far, but the provider's data is complete until ${iso(coveredUntilMs)} ` +
      `(lag ${formatDuration(provider.lagMs)}): verify again after ${iso(windowEnd + provider.lagMs)}`;
  } else {
    reason = 'clear';
    message = `the provider reports no use in the last ${span} (its data is complete until ${iso(coveredUntilMs)})`;
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
