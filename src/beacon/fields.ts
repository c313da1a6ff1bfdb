/**
 * The checks a report's strings must pass, the same the collector applies (src/collector/report.ts): at most
 * the characters {@link BEACON_LIMITS} gives the field, and no control character. The beacon applies them to
 * its options when it is created and to what the resolver adds (secret names, candidates, …) when it builds a
 * report, so that no report it sends is refused whole. Problems say where and how, never the content.
 */
import { BEACON_LIMITS } from './types.js';

/** C0 controls and DEL: the collector refuses them in every string (they would reach terminals and logs). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this pattern is for
export const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** The per-field character limits of a report. */
export type CharLimit = keyof typeof BEACON_LIMITS.chars;

/**
 * Why `value` cannot travel in a field limited by `BEACON_LIMITS.chars[limit]`, or `undefined` when it fits:
 * `is 306 characters; the collector accepts at most 256`. Never quotes the value.
 */
export function misfit(value: string, limit: CharLimit): string | undefined {
  const max = BEACON_LIMITS.chars[limit];
  if (value.length > max) return `is ${value.length} characters; the collector accepts at most ${max}`;
  const at = value.search(CONTROL_CHARACTER);
  if (at >= 0) {
    const code = (value.codePointAt(at) ?? 0).toString(16).toUpperCase().padStart(4, '0');
    return `holds a control character (U+${code} at index ${at}); the collector refuses those`;
  }
  return undefined;
}

/** A name for a message: as written when short and plain, else JSON-quoted and cut to 48 characters. */
export function shownName(name: string): string {
  if (name.length <= 48 && /^[\w.:@/-]+$/.test(name)) return name;
  return JSON.stringify(name.length > 48 ? `${name.slice(0, 48)}…` : name);
}

/** `labels.region`, or `labels["odd key"]` for a key that is not a plain identifier (cut to 48 characters). */
export function labelPath(key: string): string {
  return /^[A-Za-z_][\w-]{0,47}$/.test(key) ? `labels.${key}` : `labels[${shownName(key)}]`;
}

/** `host` made to fit its field: control characters become `?`, then it is cut to the limit. */
export function fitted(value: string, limit: CharLimit): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is what this is for
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.slice(0, BEACON_LIMITS.chars[limit]);
}
