import { randomBytes } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** `length` random characters of `alphabet` (rejection sampling: no bias). */
export function randomToken(length: number, alphabet = ALPHANUMERIC): string {
  let out = '';
  const limit = 256 - (256 % alphabet.length);
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit && out.length < length) out += alphabet[byte % alphabet.length];
    }
  }
  return out;
}

/** A random id in the provider's style (`key_…`, `svc_acct_…`, `apikey_01…`). */
export function newId(prefix: string, length: number, base58 = false): string {
  return prefix + randomToken(length, base58 ? BASE58 : ALPHANUMERIC);
}

/**
 * The provider's redacted form of a key: its first `head` and last `tail` characters around `...`, cut down for a
 * short key so that the hint never shows more than half of it.
 */
export function redact(value: string, head: number, tail: number): string {
  const half = Math.floor(value.length / 2);
  const t = Math.min(tail, Math.max(1, Math.floor(half / 3)));
  const h = Math.min(head, Math.max(1, half - t));
  return `${value.slice(0, h)}...${value.slice(-t)}`;
}
