import { type FSWatcher, watch as watchDir } from 'node:fs';
import { readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describeValue, isRecord, positiveMs, wholeNumber } from '../check.js';
import { ConfigurationError } from '../errors.js';
import type { FetchContext, Source, SourceRef, SourceResult } from '../types.js';
import { assertUtf8, readSecretFile, type SecretFileRead } from './file-read.js';

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** The directory that holds one file per secret (a Kubernetes Secret or CSI volume mount). */
  dir: string;
  /**
   * The source's name, the prefix of its candidates.
   * @default 'file'
   */
  name?: string | undefined;
  /**
   * Watch the directory for changes, so an update is picked up at once instead of on the next refresh.
   * @default true
   */
  watch?: boolean | undefined;
  /**
   * How long, in milliseconds, a file that reads empty (or changed while it was read) is given to settle before it
   * is read again. An in-place edit (`echo "$NEW" > KEY_v2`: truncate, then write) is briefly empty; without a second
   * read the resolver would skip the candidate as `empty` and fall back to an older key. A file still empty after
   * the settle, with no change event in between, counts as empty (so reading an empty file takes this much longer).
   * A writer that pauses longer than this between truncating and writing looks like one that emptied the file:
   * write atomically (write a sibling, then rename) where you can.
   * @default 100
   */
  settleMs?: number | undefined;
  /**
   * The largest file read, in bytes; a larger one makes the source unavailable for that candidate (an error naming
   * the file, never its content) instead of filling memory. Only regular files are read: a FIFO, a device or a
   * socket in the directory is refused the same way, without blocking.
   * @default 65_536 (64 KiB, Secret Manager's own payload limit)
   */
  maxBytes?: number | undefined;
}

/** How many times a suspect read (empty, or changed while read) is retried after a settle delay. */
const MAX_SETTLES = 5;

const FILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/**
 * Reads each candidate from the file of that name in `dir`. Made for Kubernetes Secret volumes and the
 * Secrets Store CSI driver, which update a mount by atomically swapping its `..data` symlink: the source
 * watches the directory (not the file's inode, which a swap replaces) and reports the `..data` target as
 * the version. A `subPath` mount is never updated by Kubernetes; mount the directory instead.
 */
export function fileSource(options: FileSourceOptions): Source {
  if (!isRecord(options) || typeof options.dir !== 'string' || options.dir === '') {
    const dir = isRecord(options) ? `, not ${describeValue(options.dir)}` : '';
    throw new ConfigurationError(`fileSource() needs \`dir\`: the directory that holds one file per secret${dir}`);
  }
  const { dir } = options;
  const name = options.name ?? 'file';
  const settleMs = positiveMs('fileSource: settleMs', options.settleMs, 100);
  const maxBytes = wholeNumber('fileSource: maxBytes', options.maxBytes, 65_536);
  const listeners = new Set<() => void>();
  let watcher: FSWatcher | undefined;
  /** How many change events the directory's watcher has seen. */
  let changes = 0;

  /**
   * Reads a file. One that reads empty, or changed while it was read, is read again after `settleMs`: an in-place
   * edit (truncate, then write) is briefly empty, and its change event may arrive only after the read. Empty counts
   * as empty once two reads `settleMs` apart both find it empty with no change event in between.
   */
  const readSettled = async (file: string, signal: AbortSignal): Promise<SecretFileRead> => {
    /** The `changes` count when the previous read, which found the file empty, started. */
    let emptySince: number | undefined;
    for (let settles = 0; ; settles++) {
      const seen = changes;
      const read = await readSecretFile(join(dir, file), file, { maxBytes, signal, source: name });
      if (read.kind !== 'file') return read;
      const blank = !read.changed && isBlank(read.bytes);
      if (!(read.changed || blank) || (blank && emptySince === changes) || settles === MAX_SETTLES) return read;
      emptySince = blank ? seen : undefined;
      await delay(settleMs, undefined, { signal, ref: false });
    }
  };

  const startWatching = (): void => {
    if (watcher || options.watch === false) return;
    try {
      watcher = watchDir(dir, { persistent: false }, () => {
        changes++;
        for (const listener of [...listeners]) listener();
      });
      watcher.on('error', () => {
        // The directory went away: stop watching; polling still picks up what comes back.
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // no such directory (yet): polling covers it
    }
  };

  return {
    name,
    async fetch(ref: SourceRef, ctx: FetchContext): Promise<SourceResult> {
      // A watcher that could not start (no directory yet) or died is tried again on each poll.
      if (listeners.size > 0 && !watcher) startWatching();
      // The version is read before and after the value: a swap in between would label the old value
      // with the new version, so the read is repeated until both agree.
      for (let attempt = 1; ; attempt++) {
        const before = await mountVersion(dir);
        const read = await readSettled(ref.name, ctx.signal);
        if (read.kind === 'absent') return { status: 'absent', reason: read.reason };
        const after = await mountVersion(dir);
        if (before === after || attempt === 3) {
          assertUtf8(read.bytes, ref.name, name);
          return { status: 'found', value: read.bytes, ...(after === undefined ? {} : { version: after }) };
        }
      }
    },
    validate(ref: SourceRef): string | undefined {
      if (ref.version !== undefined)
        return "files have no versions (the mount's ..data target is reported as the version)";
      if (!FILE_NAME.test(ref.name) || ref.name.startsWith('..')) {
        return 'a file name is letters, digits, "_", "-" and ".", with no "/" and not starting with "."';
      }
      return undefined;
    },
    watch(_ref: SourceRef, onChange: () => void): () => void {
      listeners.add(onChange);
      startWatching();
      return () => {
        listeners.delete(onChange);
        if (listeners.size === 0) {
          watcher?.close();
          watcher = undefined;
        }
      };
    },
    async close(): Promise<void> {
      listeners.clear();
      watcher?.close();
      watcher = undefined;
    },
  };
}

const lenient = new TextDecoder();

/** Nothing but white space: what the resolver would skip as `empty`. */
function isBlank(bytes: Uint8Array): boolean {
  return lenient.decode(bytes).trim() === '';
}

/** The target of a Kubernetes mount's `..data` symlink (`..2026_11_26_12_00_00.123456789`), if there is one. */
async function mountVersion(dir: string): Promise<string | undefined> {
  try {
    return (await readlink(join(dir, '..data'))).replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}
