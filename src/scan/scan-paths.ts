/**
 * The file walker of `keyflip scan`: finds provider-format keys in files and directories and reports where
 * each is, its format and its fingerprint — never the key.
 */
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ConfigurationError } from '../errors.js';
import { fingerprint } from '../fingerprint.js';
import { locateProviderKeys } from './key-locations.js';

/** Directories never walked into (unless named as a path themselves). */
export const SKIPPED_DIRECTORIES: readonly string[] = Object.freeze(['node_modules', '.git']);
/** A file larger than this is skipped, in bytes: 10 MiB. */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** A NUL byte in the first this many bytes makes a file binary, and skipped (as git decides). */
export const BINARY_SNIFF_BYTES = 8_000;

/** Why a file was not scanned. */
export type ScanSkipReason = 'symbolic link' | 'binary' | 'larger than 10 MiB';

/** One key found. */
export interface ScanFinding {
  /** The path, as the walk reached it: a path given, or joined from one. */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
  /** The key format's id (`openai`, `anthropic-admin`, …). */
  format: string;
  /** The provider the key is for. */
  provider: string;
  /** The key's fingerprint (kf_…), with `fingerprintKey`. */
  fingerprint: string;
}

/** What a scan found. */
export interface ScanResult {
  /** Every key not allowed, by file (in walk order), then by position. */
  findings: ScanFinding[];
  /** How many keys were found whose fingerprint is in `allow`. */
  allowed: number;
  /** How many files were scanned (skipped ones not counted). */
  files: number;
  /** Each file or link not scanned, with why. */
  skipped: { file: string; reason: ScanSkipReason }[];
}

/** Options of {@link scanPaths}. */
export interface ScanOptions {
  /** The HMAC key of the fingerprints (the resolver's `fingerprintKey`). @default the library key */
  fingerprintKey?: string | Uint8Array | undefined;
  /** Fingerprints of keys not to report (only counted in `allowed`). @default none */
  allow?: ReadonlySet<string> | undefined;
}

/**
 * Scans files and directories for provider-format keys. A path given is followed even when it is a symbolic
 * link; inside a directory, entries are walked in sorted order, symbolic links are skipped (and reported in
 * `skipped`), {@link SKIPPED_DIRECTORIES} are not entered, binary files (a NUL in the first
 * {@link BINARY_SNIFF_BYTES}) and files over {@link MAX_FILE_BYTES} are skipped, and anything that is neither a
 * file nor a directory (a socket, a FIFO) is passed over. Throws a `ConfigurationError` naming the path given
 * when it, or anything under it, cannot be read.
 */
export async function scanPaths(paths: readonly string[], options: ScanOptions = {}): Promise<ScanResult> {
  const result: ScanResult = { findings: [], allowed: 0, files: 0, skipped: [] };
  const scanFile = async (file: string, size: number): Promise<void> => {
    if (size > MAX_FILE_BYTES) {
      result.skipped.push({ file, reason: 'larger than 10 MiB' });
      return;
    }
    const bytes = await readFile(file);
    if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) {
      result.skipped.push({ file, reason: 'binary' });
      return;
    }
    result.files++;
    for (const key of locateProviderKeys(bytes.toString('utf8'))) {
      const fp = fingerprint(key.value, options.fingerprintKey);
      if (options.allow?.has(fp)) result.allowed++;
      else {
        const { line, column, format } = key;
        result.findings.push({ file, line, column, format: format.id, provider: format.provider, fingerprint: fp });
      }
    }
  };
  const walk = async (path: string, top: boolean): Promise<void> => {
    const info = top ? await stat(path) : await lstat(path);
    if (info.isSymbolicLink()) {
      result.skipped.push({ file: path, reason: 'symbolic link' });
      return;
    }
    if (info.isDirectory()) {
      if (!top && SKIPPED_DIRECTORIES.includes(basename(path))) return;
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
      throw new ConfigurationError(
        `cannot read ${path}${typeof code === 'string' ? ` (${code})` : ''}`,
        'INVALID_OPTIONS',
        { cause: error },
      );
    }
  }
  return result;
}
