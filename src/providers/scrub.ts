/**
 * Keeping keys out of what the provider says: a provider (or a proxy in front of it) may echo the admin key in an
 * error body, whole, cut short or in another case, and may quote other keys. Everything it says passes here before
 * it reaches a message.
 */
import { findProviderKeys, redactProviderKeys } from '../key-formats.js';

/** The shortest run of the admin key's characters that is removed wherever it appears. */
export const ADMIN_KEY_RUN = 8;

/** What replaces a run of the admin key. */
const ADMIN_MARK = '[admin key]';
/** What replaces an `sk-` token that no known format matches. */
const KEY_MARK = '[redacted key]';
/** Any `sk-…` token long enough to be a key (hints such as `sk-abc...def` are shorter). */
const SK_TOKEN = /\bsk-[A-Za-z0-9_-]{16,}/gi;

/**
 * `text` with every run of {@link ADMIN_KEY_RUN} or more characters of the admin key removed (compared without
 * regard to case), every provider-format key redacted (`redactProviderKeys`) and any other long `sk-` token too.
 */
export function scrubSecrets(text: string, adminKey: string): string {
  return redactProviderKeys(removeRuns(text, adminKey)).replace(SK_TOKEN, KEY_MARK);
}

/** Whether `value` shares a run of {@link ADMIN_KEY_RUN} characters with the admin key (case ignored). */
export function sharesRun(value: string, adminKey: string): boolean {
  return covered(value, adminKey).some(Boolean);
}

/**
 * Whether `value` (an option such as a project id) looks like a key: it starts with `sk-` (any case), holds a
 * provider-format key, or holds a run of the admin key.
 */
export function looksLikeKey(value: string, adminKey: string): boolean {
  return /^sk[-_]/i.test(value) || findProviderKeys(value).length > 0 || sharesRun(value, adminKey);
}

function removeRuns(text: string, adminKey: string): string {
  const marks = covered(text, adminKey);
  if (!marks.some(Boolean)) return text;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    if (!marks[i]) out += text[i];
    else if (i === 0 || !marks[i - 1]) out += ADMIN_MARK;
  }
  return out;
}

/** For each character of `text`: whether it is inside a run of the admin key's characters. */
function covered(text: string, adminKey: string): boolean[] {
  const marks = new Array<boolean>(text.length).fill(false);
  if (adminKey.length < ADMIN_KEY_RUN || text.length < ADMIN_KEY_RUN) return marks;
  const key = asciiLower(adminKey);
  const grams = new Set<string>();
  for (let i = 0; i + ADMIN_KEY_RUN <= key.length; i++) grams.add(key.slice(i, i + ADMIN_KEY_RUN));
  const lower = asciiLower(text);
  for (let i = 0; i + ADMIN_KEY_RUN <= lower.length; i++) {
    if (grams.has(lower.slice(i, i + ADMIN_KEY_RUN))) marks.fill(true, i, i + ADMIN_KEY_RUN);
  }
  return marks;
}

/** Lower case, ASCII letters only: the length (and so every index) stays the same. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
