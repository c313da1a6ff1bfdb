/**
 * `keyflip scan [paths…]`: finds LLM provider keys in files, for a pre-commit hook and CI. Prints where each
 * key is, its format and its fingerprint; never the key, and never a line of an allow-list file.
 */
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { findProviderKeys } from '../key-formats.js';
import { fingerprint, isFingerprint } from '../fingerprint.js';
import { UsageError } from './args.js';
import type { CliIo } from './main.js';

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

/** Directories never walked into. */
const SKIP_DIRS = new Set(['node_modules', '.git']);
const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** A NUL byte in the first this many bytes makes a file binary (as git decides). */
const BINARY_SNIFF_BYTES = 8_000;
const IGNORE_FILE = '.keyflipignore';

interface Finding {
  file: string;
  line: number;
  column: number;
  format: string;
  provider: string;
  fingerprint: string;
}

/** Runs `keyflip scan`; returns the exit code. */
export async function scanCommand(args: readonly string[], io: CliIo): Promise<number> {
  const paths: string[] = [];
  const allowFiles: string[] = [];
  let keyFile: string | undefined;
  let json = false;
  let options = true;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (options && arg === '--') options = false;
    else if (options && (arg === '--help' || arg === '-h')) {
      io.stdout.write(HELP);
      return 0;
    } else if (options && arg === '--json') json = true;
    else if (options && (arg === '--allow' || arg === '--key-file')) {
      const value = args[++i];
      if (value === undefined) return usage(io, `${arg} needs a file`);
      if (arg === '--allow') allowFiles.push(value);
      else keyFile = value;
    } else if (options && arg.startsWith('-') && arg !== '-') return usage(io, `unknown option ${JSON.stringify(arg)}`);
    else paths.push(arg);
  }
  if (paths.length === 0) paths.push('.');

  let key: string | undefined;
  const allowed = new Set<string>();
  try {
    if (keyFile !== undefined) key = (await readText(keyFile, '--key-file')).trim();
    for (const file of allowFiles) await readAllowList(file, allowed, true);
    await readAllowList(IGNORE_FILE, allowed, false);
    for (const path of paths) {
      const info = await stat(path).catch(() => undefined);
      if (info?.isDirectory()) await readAllowList(join(path, IGNORE_FILE), allowed, false);
    }
  } catch (error) {
    if (error instanceof UsageError) return usage(io, error.message);
    throw error;
  }

  const findings: Finding[] = [];
  const skipped: { file: string; reason: string }[] = [];
  let files = 0;
  let allowedCount = 0;
  const scanFile = async (file: string, size: number): Promise<void> => {
    if (size > MAX_FILE_BYTES) {
      skipped.push({ file, reason: 'larger than 10 MiB' });
      return;
    }
    const bytes = await readFile(file);
    if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
      skipped.push({ file, reason: 'binary' });
      return;
    }
    files++;
    const text = bytes.toString('utf8');
    let line = 1;
    let lineStart = 0;
    let scanned = 0;
    for (const match of findProviderKeys(text)) {
      for (let i = text.indexOf('\n', scanned); i !== -1 && i < match.index; i = text.indexOf('\n', i + 1)) {
        line++;
        lineStart = i + 1;
      }
      scanned = match.index;
      const fp = key === undefined ? fingerprint(match.value) : fingerprint(match.value, key);
      if (allowed.has(fp)) {
        allowedCount++;
        continue;
      }
      findings.push({
        file,
        line,
        column: match.index - lineStart + 1,
        format: match.format.id,
        provider: match.format.provider,
        fingerprint: fp,
      });
    }
  };
  const walk = async (path: string, top: boolean): Promise<void> => {
    const info = top ? await stat(path) : await lstat(path);
    if (info.isSymbolicLink()) {
      skipped.push({ file: path, reason: 'symbolic link' });
      return;
    }
    if (info.isDirectory()) {
      if (!top && SKIP_DIRS.has(basename(path))) return;
      const entries = (await readdir(path)).sort();
      for (const entry of entries) await walk(join(path, entry), false);
      return;
    }
    if (info.isFile()) await scanFile(path, info.size);
  };
  for (const path of paths) {
    try {
      await walk(path, true);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return usage(io, `cannot read ${path}${typeof code === 'string' ? ` (${code})` : ''}`);
    }
  }

  if (json) {
    io.stdout.write(`${JSON.stringify({ findings, allowed: allowedCount, files, skipped })}\n`);
  } else {
    for (const f of findings) io.stdout.write(`${f.file}:${f.line}:${f.column}: ${f.format} key ${f.fingerprint}\n`);
    const where = new Set(findings.map((f) => f.file)).size;
    const extra = [`${files} file${files === 1 ? '' : 's'} scanned`];
    if (skipped.length > 0) extra.push(`${skipped.length} skipped`);
    if (allowedCount > 0) extra.push(`${allowedCount} allowed by fingerprint`);
    io.stderr.write(
      findings.length === 0
        ? `keyflip scan: no provider key found (${extra.join(', ')})\n`
        : `keyflip scan: ${findings.length} provider key${findings.length === 1 ? '' : 's'} found in ${where} file${where === 1 ? '' : 's'} (${extra.join(', ')}).\n` +
            `  Remove each key (and revoke it: it may already have leaked); if one is not a real key (a test fixture),\n` +
            `  add its fingerprint to ${IGNORE_FILE}.\n`,
    );
  }
  return findings.length === 0 ? 0 : 1;
}

function usage(io: CliIo, message: string): number {
  io.stderr.write(`keyflip scan: ${message}; see keyflip scan --help\n`);
  return 2;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`cannot read ${what} ${file}${typeof code === 'string' ? ` (${code})` : ''}`);
  }
}

/**
 * Adds the fingerprints of an allow-list file. A line that is not a fingerprint is an error, reported by
 * line number only: it may be a key pasted by mistake.
 */
async function readAllowList(file: string, into: Set<string>, required: boolean): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (!required && (error as { code?: unknown }).code === 'ENOENT') return;
    if (!required && (error as { code?: unknown }).code === 'EISDIR') return;
    const code = (error as { code?: unknown }).code;
    throw new UsageError(`cannot read the allow-list ${file}${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = (raw.split('#')[0] ?? '').trim();
    if (line === '') return;
    const token = line.split(/\s+/)[0] ?? '';
    if (!isFingerprint(token))
      throw new UsageError(`${file}:${i + 1}: not a fingerprint (kf_ + 12 hex digits); the line is not shown`);
    into.add(token);
  });
}
