import { createHmac } from 'node:crypto';

/**
 * The default HMAC key. Fixed, so that every process of a fleet (and `keyflip fingerprint`) agrees on
 * the fingerprint of a value out of the box. Set `fingerprintKey` to make fingerprints unlinkable
 * across organisations.
 */
export const DEFAULT_FINGERPRINT_KEY = 'keyflip.fingerprint/v1';

/**
 * The only form in which a value ever leaves the process: `kf_` + the first 12 lowercase hex chars of
 * HMAC-SHA256(key, value). One-way. With your own secret `key`, a low-entropy value cannot be looked up; with the
 * default key (public), a value that can be guessed (a PIN, a short password) can be recovered from its
 * fingerprint by trying candidates — use your own key for such values. Real API keys are safe either way.
 *
 * @example fingerprint('sk-live-123') // 'kf_…'
 */
export function fingerprint(value: string | Uint8Array, key: string | Uint8Array = DEFAULT_FINGERPRINT_KEY): string {
  return `kf_${createHmac('sha256', key).update(value).digest('hex').slice(0, 12)}`;
}

/** True when `text` has the shape of a fingerprint. */
export function isFingerprint(text: string): boolean {
  return /^kf_[0-9a-f]{12}$/.test(text);
}
