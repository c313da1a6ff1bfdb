/**
 * Reads one secret file without ever blocking libuv's thread pool: the file is opened with `O_NONBLOCK` (a FIFO
 * opens at once instead of waiting for a writer), its type is checked on the open descriptor (`fstat`, so a swap
 * between check and read cannot slip a FIFO or a device in), and at most `maxBytes` are read.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { SourceUnavailableError } from '../errors.js';

/** What {@link readSecretFile} found. */
export type SecretFileRead =
  | {
      readonly kind: 'file';
      readonly bytes: Uint8Array;
      /** The file changed while it was read (its size or mtime differ before and after, or from what was read). */
      readonly changed: boolean;
    }
  | { readonly kind: 'absent'; readonly reason: 'not-found' | 'permission-denied' };

/** How {@link readSecretFile} reads. */
export interface SecretFileReadOptions {
  /** The largest file accepted, in bytes. */
  readonly maxBytes: number;
  /** Aborts the read between system calls. */
  readonly signal: AbortSignal;
  /** The source's name, for messages. */
  readonly source: string;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads the regular file at `path` (symbolic links followed). A missing path or a directory is `not-found`, one the
 * process may not read `permission-denied`; anything that is not a regular file (FIFO, device, socket) or a file
 * over `maxBytes` rejects with a {@link SourceUnavailableError} naming `name` (never the content). Other errors
 * (EIO) are rethrown as they are.
 */
export async function readSecretFile(
  path: string,
  name: string,
  options: SecretFileReadOptions,
): Promise<SecretFileRead> {
  const { maxBytes, signal, source } = options;
  signal.throwIfAborted();
  const refuse = (why: string): never => {
    throw new SourceUnavailableError(`${source}: the file ${JSON.stringify(name)} ${why}`, { source });
  };
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return { kind: 'absent', reason: 'not-found' };
    if (code === 'EACCES' || code === 'EPERM') return { kind: 'absent', reason: 'permission-denied' };
    // A Unix socket cannot be opened (ENXIO); a device may refuse (ENODEV, ENXIO).
    if (code === 'ENXIO' || code === 'ENODEV') refuse('is not a regular file (a socket or a device); it is not read');
    throw error;
  }
  try {
    const before = await handle.stat();
    if (before.isDirectory()) return { kind: 'absent', reason: 'not-found' };
    if (!before.isFile()) refuse(`is not a regular file (${fileType(before)}); it is not read`);
    if (before.size > maxBytes) refuse(`is larger than maxBytes (${maxBytes} bytes); it is not read`);
    // One byte more than the limit tells a file that grew since the stat from one that fits exactly.
    const buffer = new Uint8Array(Math.min(before.size, maxBytes) + 1);
    let length = 0;
    for (;;) {
      signal.throwIfAborted();
      const { bytesRead } = await handle.read(buffer, length, buffer.byteLength - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.byteLength) {
        if (length > maxBytes) refuse(`is larger than maxBytes (${maxBytes} bytes); it is not read`);
        break; // grew since the stat: `changed` below says so and the caller reads again
      }
    }
    const after = await handle.stat();
    const bytes = buffer.subarray(0, length);
    const changed = after.size !== before.size || after.mtimeMs !== before.mtimeMs || after.size !== length;
    return { kind: 'file', bytes, changed };
  } finally {
    await handle.close();
  }
}

/** Rejects with a {@link SourceUnavailableError} naming the file (never its content) unless `bytes` are UTF-8. */
export function assertUtf8(bytes: Uint8Array, name: string, source: string): void {
  try {
    fatalUtf8.decode(bytes);
  } catch {
    throw new SourceUnavailableError(`${source}: the file ${JSON.stringify(name)} is not valid UTF-8`, { source });
  }
}

function fileType(stats: { isFIFO(): boolean; isSocket(): boolean; isCharacterDevice(): boolean }): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice()) return 'a character device';
  return 'a block device or other special file';
}
