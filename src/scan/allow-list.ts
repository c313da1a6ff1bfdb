/**
 * Allow-lists of `keyflip scan`: fingerprints of keys that are not to be reported (test fixtures, revoked keys
 * in old docs), one per line, `#` starts a comment. A line that is not a fingerprint is an error reported by its
 * line number only: it may be a key pasted by mistake.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigurationError } from '../errors.js';
import { isFingerprint } from '../fingerprint.js';

/** The allow-list read from the current directory and from each directory scanned. */
export const IGNORE_FILE = '.keyflipignore';

/** The fingerprints of an allow-list's text; `file` names it in the error for a line that is not one. */
export function parseAllowList(text: string, file: string): string[] {
  const fingerprints: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = (raw.split('#')[0] ?? '').trim();
    if (line === '') return;
    const token = line.split(/\s+/)[0] ?? '';
    if (!isFingerprint(token))
      throw new ConfigurationError(`${file}:${i + 1}: not a fingerprint (kf_ + 12 hex digits); the line is not shown`);
    fingerprints.push(token);
  });
  return fingerprints;
}

/** Options of {@link readAllowList}. */
export interface ReadAllowListOptions {
  /** A file that does not exist (or is a directory) is an empty list instead of an error. @default false */
  readonly optional?: boolean | undefined;
}

/** The fingerprints of an allow-list file. Throws a `ConfigurationError` when it cannot be read or parsed. */
export async function readAllowList(file: string, options: ReadAllowListOptions = {}): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (options.optional === true && (code === 'ENOENT' || code === 'EISDIR')) return [];
    throw new ConfigurationError(
      `cannot read the allow-list ${file}${typeof code === 'string' ? ` (${code})` : ''}`,
      'INVALID_OPTIONS',
      { cause: error },
    );
  }
  return parseAllowList(text, file);
}

/**
 * The allow-list of a scan of `paths`: every file of `files` (each must exist), then {@link IGNORE_FILE} in the
 * current directory and in each directory among `paths`, where there is one.
 */
export async function loadAllowLists(files: readonly string[], paths: readonly string[]): Promise<Set<string>> {
  const allowed = new Set<string>();
  const add = (fingerprints: readonly string[]): void => {
    for (const fp of fingerprints) allowed.add(fp);
  };
  for (const file of files) add(await readAllowList(file));
  add(await readAllowList(IGNORE_FILE, { optional: true }));
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) add(await readAllowList(join(path, IGNORE_FILE), { optional: true }));
  }
  return allowed;
}
