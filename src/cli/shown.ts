/**
 * What the CLI may print back of its argv. An argument is shown only once it is checked to be a name, a path or a
 * URL without credentials; anything else is "argument #N (not shown)". Every line the CLI writes also goes through
 * {@link fenced} (the provider-format redaction), the last fence should a check miss a key.
 */
import { findProviderKeys, redactProviderKeys } from '../key-formats.js';
import type { CliIo } from './io.js';
import { UsageError } from './usage-error.js';

/** Prefixes of API keys and tokens, provider formats or not (`sk-proj-` without its `T3BlbkFJ` marker included). */
const KEY_PREFIX = /^(?:(?:sk|rk|gsk|xai|ghp|gho|ghs|github_pat|glpat|xox[abposr])[-_]|AIza|ya29\.|AKIA[0-9A-Z]{16})/;

/**
 * True when `text` is or holds something that may be a key: a provider-format key, a string of 20 characters or
 * more starting with a key prefix (`sk-…`, `AIza…`), or a 32-character run of letters and digits that mixes upper
 * case, lower case and digits (what a generated token looks like, and a name never does).
 */
export function looksLikeKey(text: string): boolean {
  if (findProviderKeys(text).length > 0) return true;
  if (text.length >= 20 && KEY_PREFIX.test(text)) return true;
  for (const run of text.match(/[A-Za-z0-9_-]{32,}/g) ?? []) {
    if (/[a-z]/.test(run) && /[A-Z]/.test(run) && /\d/.test(run)) return true;
  }
  return false;
}

/**
 * Refuses an argument that may be a key, without printing it: `what` names where it was given (`SECRET`,
 * `--host`).
 */
export function refuseKey(text: string, what: string): void {
  if (looksLikeKey(text)) {
    throw new UsageError(`${what} looks like a key (not shown). Never pass a key in argv: pipe it on stdin or a file`);
  }
}

/**
 * An http(s) URL an option names, checked before any library sees it (their messages quote a URL they refuse).
 * A malformed one is refused without being shown: it may hold a password (`https://user:pass@…`) or be a key.
 */
export function httpUrlArg(option: string, text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))
    throw new UsageError(`${option} needs an http(s) URL (not shown)`);
  return text;
}

/** A writer whose every line goes through the provider-format redaction. */
function fence(stream: CliIo['stdout']): CliIo['stdout'] {
  return { write: (text: string) => stream.write(redactProviderKeys(String(text))) };
}

/** `io` with stdout and stderr behind the provider-format redaction: the one place the CLI's output passes. */
export function fenced(io: CliIo): CliIo {
  return { ...io, stdout: fence(io.stdout), stderr: fence(io.stderr) };
}
