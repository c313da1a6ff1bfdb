/**
 * The check behind `verify` and `revoke`: for each old key (enabled, not live), did any process use it in
 * the window, by the beacons; and has the live key been live for the whole window.
 */
import { verifyRetired } from '../collector/index.js';
import { formatAge, formatDuration } from '../duration.js';
import { ConfigurationError } from '../errors.js';
import { iso, nowOf } from './context.js';
import { keyFingerprint } from './fingerprints.js';
import type { KeyRing } from './key-ring.js';
import type { KeyVerification, RotationContext } from './types.js';

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
    if (!fp) continue;
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
    if (!c.result.ok) {
      const who = c.result.offenders
        .slice(0, 5)
        .map(
          (o) => `${o.service}${o.environment ? `/${o.environment}` : ''} on ${o.host} pid ${o.pid} (instance ${o.id})`,
        )
        .join(', ');
      const more = c.result.offenders.length > 5 ? ` and ${c.result.offenders.length - 5} more` : '';
      problems.push(
        c.result.reason === 'in-use'
          ? `${c.key} (${c.fingerprint}) is still used: ${who}${more}`
          : `${c.key} (${c.fingerprint}): ${c.result.message}`,
      );
    } else if (!c.windowElapsed) {
      problems.push(
        `${ring.live?.label} went live ${formatAge(now - c.liveSince)} ago, less than the ${window} window: ` +
          `verify again after ${iso(c.liveSince + windowMs)}`,
      );
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}
