/**
 * Fingerprints of keys, the only form in which a rotation command names a key: of a value given to the
 * command, of an enabled key (read from Secret Manager), or as recorded when keyflip staged it.
 */
import { fingerprint } from '../fingerprint.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import type { RotationContext } from './types.js';

/** The fingerprint of `value` with the apps' `fingerprintKey` (the library key when they set none). */
export function fingerprintOf(ctx: RotationContext, value: string): string {
  return ctx.fingerprintKey === undefined ? fingerprint(value) : fingerprint(value, ctx.fingerprintKey);
}

/**
 * The fingerprint of a key: read from Secret Manager when the version is enabled (so keys made outside
 * keyflip have one too), else the one recorded when keyflip staged it.
 */
export async function keyFingerprint(ctx: RotationContext, key: RotationKey): Promise<string | undefined> {
  if (key.state === 'ENABLED') return fingerprintOf(ctx, await ctx.admin.access(key.secretId, key.version));
  return key.fingerprint;
}

/** Fingerprints of every key that has one, read or recorded. */
export async function ringFingerprints(ctx: RotationContext, ring: KeyRing): Promise<Map<RotationKey, string>> {
  const out = new Map<RotationKey, string>();
  for (const key of ring.keys) {
    const fp = await keyFingerprint(ctx, key);
    if (fp) out.set(key, fp);
  }
  return out;
}
