/**
 * What `resolver.redact(text)` does: every value a resolver holds or held before becomes
 * `[keyflip NAME kf_…]`, then anything in a provider's key format (key-formats.ts) becomes
 * `[redacted openai key]` and the like.
 */
import { redactProviderKeys } from './key-formats.js';
import { escapeRegExp } from './regexp.js';

/** Values shorter than this are not redacted: they would match ordinary text. */
export const MIN_REDACTED_LENGTH = 4;

/** A value held (now or before) by the secret named `secret`. */
export interface HeldValue {
  readonly secret: string;
  readonly value: string;
}

/**
 * A redactor for the values in `held` (the first secret to name a value labels it; values shorter than
 * {@link MIN_REDACTED_LENGTH} are left) and every provider-format key. Longer values are replaced first, so
 * a value that contains another is replaced whole. Anything but a string is returned as is.
 */
export function createRedactor(
  held: Iterable<HeldValue>,
  fingerprint: (value: string) => string,
): (text: string) => string {
  const labels = new Map<string, string>();
  for (const { secret, value } of held) {
    if (value.length < MIN_REDACTED_LENGTH || labels.has(value)) continue;
    labels.set(value, `[keyflip ${secret} ${fingerprint(value)}]`);
  }
  if (labels.size === 0) return (text) => redactProviderKeys(text);
  const pattern = new RegExp(
    [...labels.keys()]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'g',
  );
  return (text) =>
    typeof text === 'string'
      ? redactProviderKeys(text.replace(pattern, (match) => labels.get(match) ?? '[keyflip redacted]'))
      : text;
}
