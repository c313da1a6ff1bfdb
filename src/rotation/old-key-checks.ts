/**
 * The check behind `verify` and `revoke`: for each old key (enabled, not live), did any process use it in
 * the window, by the beacons and (with `ctx.provider`) by the provider's per-key usage; and has the live key been
 * live for the whole window. An old key's verdict is the worse of the two (in-use > cannot-prove > clear).
 */
import { verifyRetired, type VerifyOffender, type VerifyReason } from '../collector/index.js';
import { formatAge, formatDuration } from '../duration.js';
import { ConfigurationError } from '../errors.js';
import { iso, nowOf } from './context.js';
import { keyFingerprint } from './fingerprints.js';
import type { KeyRing } from './key-ring.js';
import { identifyOldKey, providerEvidence, providerRefusal, type OldKeyIdentity } from './provider-evidence.js';
import type { KeyVerification, RefusalCode, RotationContext } from './types.js';

/**
 * When the live key went live: its flip record, or (a key made live outside keyflip) its creation. The
 * verification window of an old key counts from here at the earliest.
 */
export function liveSince(ring: KeyRing): number | undefined {
  const live = ring.live;
  if (!live) return undefined;
  const flipped = live.records.flipped?.at;
  const at = flipped ? Date.parse(flipped) : Number.NaN;
  return Number.isFinite(at) ? at : live.createdAt;
}

/**
 * Checks every old key against the beacons (`ctx.usage`, which the caller made sure of) and, with `ctx.provider`,
 * against the provider's usage of its key id (`identities`, when given, receives each key's id by fingerprint).
 */
export async function checkOldKeys(
  ctx: RotationContext,
  ring: KeyRing,
  windowMs: number,
  identities?: Map<string, OldKeyIdentity>,
): Promise<KeyVerification[]> {
  const usage = ctx.usage;
  if (!usage) throw new ConfigurationError('checking the old keys needs a usage source (ctx.usage)');
  const now = nowOf(ctx);
  const since = liveSince(ring) ?? now;
  const out: KeyVerification[] = [];
  for (const key of ring.old) {
    const fp = await keyFingerprint(ctx, key);
    // The pair layout keeps a key in several versions (`NAME_v1`'s latest, an older `NAME_v2`): one check each.
    if (!fp || out.some((c) => c.fingerprint === fp)) continue;
    const verdict = await verifyRetired({ source: usage, secret: ctx.beaconName ?? ctx.name, retired: fp, windowMs });
    const check: KeyVerification = {
      key: key.label,
      fingerprint: fp,
      liveSince: since,
      windowElapsed: now - since >= windowMs,
      result: verdict,
    };
    if (!ctx.provider) {
      out.push(check);
      continue;
    }
    const identity = await identifyOldKey(ctx, ring, key);
    identities?.set(fp, identity);
    const beaconHolders = verdict.reason === 'in-use' ? verdict.holding.length + verdict.heldEarlier.length : 0;
    const provider = await providerEvidence(ctx.provider, {
      ...identity,
      windowMs,
      now,
      liveSince: since,
      beaconHolders,
    });
    out.push({ ...check, provider });
  }
  return out;
}

/** The provider's data waits for the window (no use so far, the window not elapsed): the window gate says it. */
const waitsForWindow = (c: KeyVerification): boolean =>
  c.provider?.reason === 'cannot-prove' && c.provider.keyId !== undefined && !c.windowElapsed;

const RANK: Readonly<Record<VerifyReason, number>> = { clear: 0, 'cannot-prove': 1, 'in-use': 2 };

/**
 * One old key's verdict: the worse of the beacons' and the provider's (in-use > cannot-prove > clear). A provider
 * whose data cannot reach a window that has not elapsed yet counts as clear here: the window gate reports it.
 */
export function keyVerdict(c: KeyVerification): VerifyReason {
  const provider = c.provider === undefined || waitsForWindow(c) ? 'clear' : c.provider.reason;
  return RANK[provider] > RANK[c.result.reason] ? provider : c.result.reason;
}

/** `service/env on host pid N (instance ID)`, for at most five offenders, then how many more. */
function who(offenders: readonly VerifyOffender[], at: number, lastHeld: boolean): string {
  const named = offenders.slice(0, 5).map((o) => {
    const held = lastHeld ? `, last held ${formatAge(at - o.lastSeen)} ago` : '';
    const service = `${o.service}${o.environment ? `/${o.environment}` : ''}`;
    return `${service} on ${o.host} pid ${o.pid} (instance ${o.id}${held})`;
  });
  return `${named.join(', ')}${offenders.length > 5 ? ` and ${offenders.length - 5} more` : ''}`;
}

/**
 * What the checks of the old keys answer together: `in-use` when any key is in use (positive evidence wins),
 * else `cannot-prove` when any cannot be proved, else `clear`.
 */
export function checksVerdict(checks: readonly KeyVerification[]): VerifyReason {
  if (checks.some((c) => keyVerdict(c) === 'in-use')) return 'in-use';
  return checks.some((c) => keyVerdict(c) === 'cannot-prove') ? 'cannot-prove' : 'clear';
}

/**
 * Why the checks do not allow a revoke, as a refusal code: `not-verified` (an old key in use, by the beacons or
 * the provider), `provider-key-ambiguous` (none in use, and a key's hint matches several keys at the provider),
 * `evidence-incomplete` (none in use, and the evidence cannot prove it for one), `window-not-elapsed` (every old
 * key clear, the live key not live for the whole window yet); `undefined` when they allow it.
 */
export function verificationRefusal(checks: readonly KeyVerification[]): RefusalCode | undefined {
  const verdict = checksVerdict(checks);
  if (verdict === 'in-use') return 'not-verified';
  const special = checks.map((c) => providerRefusal(c.provider)).find((r) => r !== undefined);
  if (special) return special;
  if (verdict === 'cannot-prove') return 'evidence-incomplete';
  return checks.every((c) => c.windowElapsed) ? undefined : 'window-not-elapsed';
}

/** Why the verifications do not allow a revoke, for people; `undefined` when they do. */
export function verificationProblem(
  ring: KeyRing,
  checks: readonly KeyVerification[],
  windowMs: number,
  now: number,
): string | undefined {
  const window = formatDuration(windowMs);
  const problems: string[] = [];
  for (const c of checks) {
    const { result, provider } = c;
    const verdict = keyVerdict(c);
    const atProvider = provider && `at ${provider.provider}: ${provider.message}`;
    if (verdict === 'in-use') {
      const parts: string[] = [];
      if (result.holding.length > 0) parts.push(who(result.holding, result.at, false));
      if (result.heldEarlier.length > 0)
        parts.push(`held earlier and rotated since: ${who(result.heldEarlier, result.at, true)}`);
      if (provider?.reason === 'in-use') parts.push(provider.message);
      problems.push(`${c.key} (${c.fingerprint}) is still used: ${parts.join('; ')}`);
    } else if (verdict === 'cannot-prove') {
      const parts: string[] = [];
      if (result.reason === 'cannot-prove') {
        const todo = result.missing.map((m) => m.action);
        parts.push(`${result.message}${todo[0] === undefined ? '' : `; ${todo[0]}`}`);
      }
      if (provider?.reason === 'cannot-prove') parts.push(atProvider ?? '');
      problems.push(`${c.key} (${c.fingerprint}): ${parts.join('; ')}`);
    } else if (!c.windowElapsed) {
      problems.push(
        `${ring.live?.label} went live ${formatAge(now - c.liveSince)} ago, less than the ${window} window: ` +
          `verify again after ${iso(c.liveSince + windowMs)}` +
          `${provider && waitsForWindow(c) ? `; ${atProvider}` : ''}`,
      );
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
