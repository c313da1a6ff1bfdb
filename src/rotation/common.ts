/**
 * Pieces the commands share: checking a key given on stdin, fingerprints, re-reading a secret before
 * updating it, and reading the fingerprint of an enabled key.
 */
import { fingerprint } from '../fingerprint.js';
import type { SecretAdmin, SecretMeta } from './admin.js';
import { RotationError } from './errors.js';
import { LABEL_VALUE } from './records.js';
import type { Layout, KeyRing, RotationKey } from './ring.js';
import type { RotationContext } from './types.js';

/** Secret Manager's payload limit. */
const MAX_VALUE_BYTES = 65_536;

/** A key read from stdin or a file: trimmed (as the resolver does); one line; within Secret Manager's limit. */
export function checkValue(raw: string): string {
  if (typeof raw !== 'string') throw new RotationError('INVALID_INPUT', 'the key must be a string');
  const value = raw.trim();
  if (value === '')
    throw new RotationError('INVALID_INPUT', 'no key was given: pipe it on stdin or pass --value-file FILE');
  if (/[\r\n\0]/.test(value))
    throw new RotationError(
      'INVALID_INPUT',
      'the key spans several lines (or holds a NUL byte): give one key, on one line',
    );
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES)
    throw new RotationError('INVALID_INPUT', `the key is longer than Secret Manager's ${MAX_VALUE_BYTES} bytes`);
  return value;
}

export function checkEnvironment(environment: string | undefined): string | undefined {
  if (environment === undefined) return undefined;
  if (!LABEL_VALUE.test(environment)) {
    throw new RotationError(
      'INVALID_INPUT',
      'the environment must be 1 to 63 lowercase letters, digits, "_" or "-" (it becomes a label)',
    );
  }
  return environment;
}

export const layoutOf = (ctx: RotationContext): Layout => ctx.layout ?? 'suffix';
export const nowOf = (ctx: RotationContext): number => (ctx.now ?? Date.now)();
export const iso = (ms: number): string => new Date(ms).toISOString();

export function fingerprintOf(ctx: RotationContext, value: string): string {
  return ctx.fingerprintKey === undefined ? fingerprint(value) : fingerprint(value, ctx.fingerprintKey);
}

/** Reads the secret again and updates it with its current etag, so a concurrent change fails the write instead of being lost. */
export async function updateFresh(
  admin: SecretAdmin,
  id: string,
  change: (meta: SecretMeta) => {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    aliases?: Record<string, number>;
  },
): Promise<SecretMeta> {
  const meta = await admin.getSecret(id);
  if (!meta) throw new RotationError('BACKEND', `secret ${id} disappeared during the command`);
  return admin.updateSecret(id, change(meta), meta.etag);
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

/** The newest version number of a secret of the ring (0 when it has none or is not there yet). */
export function newestVersion(ring: KeyRing, secretId: string): number {
  return Math.max(0, ...ring.keys.filter((k) => k.secretId === secretId).map((k) => k.version));
}
