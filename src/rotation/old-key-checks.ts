/**
 * The check behind `verify` and `revoke`: for each old key (enabled, not live), did any process use it in
 * the window, by the beacons; and has the live key been live for the whole window.
 */
import { verifyRetired, type VerifyOffender, type VerifyReason } from '../collector/index.js';
import { formatAge, formatDuration } from '../duration.js';
import { ConfigurationError } from '../errors.js';
import { iso, nowOf } from './context.js';
import { keyFingerprint } from './fingerprints.js';
import type { KeyRing } from './key-ring.js';
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

/** Checks every old key against the beacons (`ctx.usage`, which the caller made sure of). */
export async function checkOldKeys(ctx: RotationContext, ring: KeyRing, windowMs: number): Promise<KeyVerification[]> {
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
    out.push({
      key: key.label,
      fingerprint: fp,
      liveSince: since,
      windowElapsed: now - since >= windowMs,
      result: verdict,
    });
  }
  return out;
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
  if (checks.some((c) => c.result.reason === 'in-use')) return 'in-use';
  return checks.some((c) => c.result.reason === 'cannot-prove') ? 'cannot-prove' : 'clear';
}

/**
 * Why the checks do not allow a revoke, as a refusal code: `not-verified` (an old key in use),
 * `evidence-incomplete` (none in use, and the evidence cannot prove it for one), `window-not-elapsed` (every old
 * key clear, the live key not live for the whole window yet); `undefined` when they allow it.
 */
export function verificationRefusal(checks: readonly KeyVerification[]): RefusalCode | undefined {
  const verdict = checksVerdict(checks);
  if (verdict === 'in-use') return 'not-verified';
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
    const { result } = c;
    if (result.reason === 'in-use') {
      const parts: string[] = [];
      if (result.holding.length > 0) parts.push(who(result.holding, result.at, false));
      if (result.heldEarlier.length > 0)
        parts.push(`held earlier and rotated since: ${who(result.heldEarlier, result.at, true)}`);
      problems.push(`${c.key} (${c.fingerprint}) is still used: ${parts.join('; ')}`);
    } else if (result.reason === 'cannot-prove') {
      const todo = result.missing.map((m) => m.action);
      problems.push(`${c.key} (${c.fingerprint}): ${result.message}${todo[0] === undefined ? '' : `; ${todo[0]}`}`);
    } else if (!c.windowElapsed) {
      problems.push(
        `${ring.live?.label} went live ${formatAge(now - c.liveSince)} ago, less than the ${window} window: ` +
          `verify again after ${iso(c.liveSince + windowMs)}`,
      );
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
