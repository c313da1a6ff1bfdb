/**
 * `keyflip scan [paths…]`: finds LLM provider keys in files, for a pre-commit hook and CI. Parsing and output
 * only; the walker is `scanPaths` (src/scan). Prints where each key is, its format and its fingerprint; never the
 * key, and never a line of an allow-list file.
 */
import { ConfigurationError } from '../errors.js';
import { IGNORE_FILE, loadAllowLists, scanPaths, type ScanResult } from '../scan/index.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';
import { parseCommandLine } from './parse-command-line.js';
import { readOptionFile } from './read-input.js';
import { looksLikeKey } from './shown.js';
import { UsageError, usageFailure } from './usage-error.js';

const HELP = `keyflip scan [paths…] [--allow FILE]… [--key-file FILE] [--json]
  Finds LLM provider keys (OpenAI, Anthropic, Groq, Gemini, Mistral, OpenRouter, Together) in files, for a
  pre-commit hook or CI. Prints file:line:column, the key's format and its fingerprint; never the key.
  paths            files or directories (default: the current directory). Directories are walked, skipping
                   node_modules and .git, symbolic links, binary files and files over 10 MiB
  --allow FILE     an allow-list: one fingerprint (kf_…) per line, # starts a comment. Keys with these
                   fingerprints (test fixtures, revoked keys in old docs) are not reported. A .keyflipignore
                   in the current directory and in each directory named in paths is read as well
  --key-file FILE  the HMAC key of fingerprints (your resolver's fingerprintKey); default the library key
  --json           print one JSON object: { findings, allowed, files, skipped }
  Exit codes: 0 no key found, 1 keys found, 2 bad usage or an unreadable path or allow-list.
`;

const OPTIONS = { allow: 'strings', 'key-file': 'string', json: 'boolean' } as const;

/** Runs `keyflip scan`; returns the exit code. */
export async function scanCommand(args: readonly string[], io: CliIo): Promise<number> {
  let result: ScanResult;
  let json: boolean;
  try {
    const line = parseCommandLine(args, OPTIONS, { max: Number.POSITIVE_INFINITY });
    if (line.help) {
      io.stdout.write(HELP);
      return 0;
    }
    json = line.values.json === true;
    const paths = line.positionals.length === 0 ? ['.'] : line.positionals;
    // `keyflip scan <a key>` (to check a string) would print it back in "cannot read …": refused unshown.
    const pasted = paths.findIndex(looksLikeKey);
    if (pasted !== -1)
      throw new UsageError(`path #${pasted + 1} looks like a key (not shown); scan takes files and directories`);
    const keyFile = line.values['key-file'];
    const fingerprintKey = keyFile === undefined ? undefined : (await readOptionFile('--key-file', keyFile)).trim();
    const allow = await loadAllowLists(line.values.allow ?? [], paths);
    result = await scanPaths(paths, { fingerprintKey, allow });
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof ConfigurationError)) throw error;
    return usageFailure(io, 'scan', error.message);
  }
  const { findings, allowed, files, skipped } = result;
  if (json) {
    io.stdout.write(`${JSON.stringify({ findings, allowed, files, skipped })}\n`);
  } else {
    for (const f of findings)
      io.stdout.write(`${clean(f.file)}:${f.line}:${f.column}: ${f.format} key ${f.fingerprint}\n`);
    io.stderr.write(summary(result));
  }
  return findings.length === 0 ? 0 : 1;
}

function summary({ findings, allowed, files, skipped }: ScanResult): string {
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  const extra = [`${plural(files, 'file')} scanned`];
  if (skipped.length > 0) extra.push(`${skipped.length} skipped`);
  if (allowed > 0) extra.push(`${allowed} allowed by fingerprint`);
  if (findings.length === 0) return `keyflip scan: no provider key found (${extra.join(', ')})\n`;
  const where = new Set(findings.map((f) => f.file)).size;
  return (
    `keyflip scan: ${plural(findings.length, 'provider key')} found in ${plural(where, 'file')} ` +
    `(${extra.join(', ')}).\n` +
    '  Remove each key (and revoke it: it may already have leaked); if one is not a real key (a test fixture),\n' +
    `  add its fingerprint to ${IGNORE_FILE}.\n`
  );
}
