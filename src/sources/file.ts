import { type FSWatcher, watch as watchDir } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describeValue, isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';
import type { FetchContext, Source, SourceRef, SourceResult } from '../types.js';

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
}

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
  const listeners = new Set<() => void>();
  let watcher: FSWatcher | undefined;

  const startWatching = (): void => {
    if (watcher || options.watch === false) return;
    try {
      watcher = watchDir(dir, { persistent: false }, () => {
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
    name: options.name ?? 'file',
    async fetch(ref: SourceRef, ctx: FetchContext): Promise<SourceResult> {
      // A watcher that could not start (no directory yet) or died is tried again on each poll.
      if (listeners.size > 0 && !watcher) startWatching();
      // The version is read before and after the value: a swap in between would label the old value
      // with the new version, so the read is repeated until both agree.
      for (let attempt = 1; ; attempt++) {
        const before = await mountVersion(dir);
        let value: Buffer;
        try {
          value = await readFile(join(dir, ref.name), { signal: ctx.signal });
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR')
            return { status: 'absent', reason: 'not-found' };
          if (code === 'EACCES' || code === 'EPERM') return { status: 'absent', reason: 'permission-denied' };
          throw error;
        }
        const after = await mountVersion(dir);
        if (before === after || attempt === 3) {
          return {
            status: 'found',
            value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
            ...(after === undefined ? {} : { version: after }),
          };
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

/** The target of a Kubernetes mount's `..data` symlink (`..2026_11_26_12_00_00.123456789`), if there is one. */
async function mountVersion(dir: string): Promise<string | undefined> {
  try {
    return (await readlink(join(dir, '..data'))).replace(/\/+$/, '');
  } catch {
    return undefined;
  }
}
