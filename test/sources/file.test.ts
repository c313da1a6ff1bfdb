import { execFileSync } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { trackResolvers } from '../helpers.js';
import {
  ConfigurationError,
  fileSource,
  fingerprint,
  InvalidCandidateError,
  type Resolver,
  type Source,
  SourceUnavailableError,
} from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { decode, expectNoValues, recordEvents, serialize, sourceConformance, waitForEvent } from './conformance.js';

/**
 * A hook run once right after the source has read the next file (when it closes it), to interleave a mount swap
 * or an in-place edit with a fetch deterministically. Off unless a test sets it: `open` passes through unchanged.
 */
const hooks = vi.hoisted(() => ({
  afterNextRead: undefined as (() => Promise<void>) | undefined,
  /** Makes the next `open` fail with this error code (EACCES as a non-root reader sees it, EIO). */
  failNextRead: undefined as string | undefined,
  /** How many files the source has read (opened). */
  reads: 0,
}));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof actual.open>): Promise<Awaited<ReturnType<typeof actual.open>>> => {
    hooks.reads++;
    const code = hooks.failNextRead;
    if (code) {
      hooks.failNextRead = undefined;
      throw Object.assign(new Error(`${code}: simulated, open '${String(args[0])}'`), { code });
    }
    const handle = await actual.open(...args);
    const close = handle.close.bind(handle);
    handle.close = async () => {
      await close();
      const hook = hooks.afterNextRead;
      if (hook) {
        hooks.afterNextRead = undefined;
        await hook();
      }
    };
    return handle;
  };
  return { ...actual, open, default: { ...actual, open } };
});

const tempRoots: string[] = [];
async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'keyflip-file-'));
  tempRoots.push(root);
  return root;
}
async function removeTempRoots(): Promise<void> {
  for (const root of tempRoots.splice(0)) await rm(root, { recursive: true, force: true });
}

/**
 * Plain layout: one regular file per secret. Writes are atomic (written in a sibling staging dir, then
 * renamed in), as a careful writer does, so a watcher never sees a half-written file.
 */
sourceConformance('fileSource (plain files)', async () => {
  const root = await tempRoot();
  const dir = join(root, 'mount');
  const staging = join(root, 'staging');
  await mkdir(dir);
  await mkdir(staging);
  let n = 0;
  return {
    source: fileSource({ dir }),
    seed: async (name, value) => {
      const file = join(staging, `${name}.${n++}`);
      await writeFile(file, value);
      await rename(file, join(dir, name));
    },
    remove: (name) => rm(join(dir, name), { force: true }),
    capabilities: {
      watch: true,
      invalid: ['sub/KEY', '.hidden', '..data', '../etc/passwd', 'file:KEY@2', 'KEY@latest'],
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

/**
 * Kubernetes Secret volume layout, changed the way the kubelet's AtomicWriter does it: a new
 * timestamped dir, `..data_tmp -> it`, rename over `..data`, user-visible symlinks, old dir removed.
 */
class KubeMount {
  readonly files = new Map<string, string>();
  current: string | undefined;
  #n = 0;
  constructor(readonly dir: string) {}

  /** Publishes `files` as a new timestamped dir and returns its name (the version the source reports). */
  async publish(name = `..2026_01_01_${String(++this.#n).padStart(4, '0')}`): Promise<string> {
    await mkdir(join(this.dir, name));
    for (const [file, value] of this.files) await writeFile(join(this.dir, name, file), value);
    await symlink(name, join(this.dir, '..data_tmp'));
    await rename(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    for (const entry of await readdir(this.dir)) {
      if (!entry.startsWith('..') && !this.files.has(entry)) await rm(join(this.dir, entry), { force: true });
    }
    for (const file of this.files.keys()) {
      await symlink(join('..data', file), join(this.dir, file)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    if (this.current) await rm(join(this.dir, this.current), { recursive: true, force: true });
    this.current = name;
    return name;
  }
}

sourceConformance('fileSource (Kubernetes ..data layout)', async () => {
  const root = await tempRoot();
  const mount = new KubeMount(root);
  return {
    source: fileSource({ dir: root }),
    seed: async (name, value) => {
      mount.files.set(name, value);
      await mount.publish();
    },
    remove: async (name) => {
      mount.files.delete(name);
      await mount.publish();
    },
    capabilities: { watch: true, versions: true, invalid: ['..data', '..2026_01_01_0001/KEY', '.hidden'] },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

/** The part of a `rotate` payload these tests read. */
type RotateLike = { current: { candidate: string } };

const live = (): AbortSignal => new AbortController().signal;

/** Settles with `'hung'` if `work` has not settled within 10 s: tells a blocked thread pool from a working one. */
async function completes(work: Promise<unknown>): Promise<'done' | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => {
    timer = setTimeout(() => resolve('hung'), 10_000);
  });
  try {
    return await Promise.race([work.then(() => 'done' as const), hung]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens and closes the FIFO's write end until no reader waits, waking every read blocked in `open` (only code before
 * the fix blocks there; each wake may let a queued read block anew, so this repeats until none is left).
 */
async function releaseFifo(fifo: string): Promise<void> {
  for (let idle = 0; idle < 3; ) {
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
      idle = 0;
    } catch {
      idle++; // ENXIO: no reader is waiting right now
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('fileSource', () => {
  const resolverFor = trackResolvers();

  afterEach(async () => {
    hooks.afterNextRead = undefined;
    hooks.failNextRead = undefined;
    hooks.reads = 0;
    await removeTempRoots();
  });

  describe('reading', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await tempRoot();
    });

    it('a missing file is not-found', async () => {
      // Prepare
      const source = fileSource({ dir });
      // Act
      const result = await source.fetch({ name: 'NOT_THERE' }, { signal: live() });
      // Assess
      expect(result).toEqual({ status: 'absent', reason: 'not-found' });
    });

    it('a missing directory is not-found, not an outage', async () => {
      // Prepare
      const source = fileSource({ dir: join(dir, 'no-such-dir') });
      // Act
      const result = await source.fetch({ name: 'KEY' }, { signal: live() });
      // Assess
      expect(result).toEqual({ status: 'absent', reason: 'not-found' });
    });

    it('a directory where the file should be is not-found', async () => {
      // Prepare
      await mkdir(join(dir, 'KEY'));
      const source = fileSource({ dir });
      // Act
      const result = await source.fetch({ name: 'KEY' }, { signal: live() });
      // Assess
      expect(result).toEqual({ status: 'absent', reason: 'not-found' });
    });

    it('returns the bytes as they are; with no ..data link there is no version', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY'), 'sk-file-value\n');
      const source = fileSource({ dir });
      // Act
      const result = await source.fetch({ name: 'KEY' }, { signal: live() });
      // Assess
      expect(result.status).toBe('found');
      if (result.status !== 'found') return;
      expect(decode(result.value)).toBe('sk-file-value\n');
      expect(result.version).toBeUndefined();
    });

    it('the trailing newline is trimmed by the resolver (trim defaults to true), kept with trim: false', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY'), 'sk-file-value\n');
      const resolver = resolverFor({ sources: [fileSource({ dir })], clock: manualClock() });
      const trimmed = resolver.secret('TRIMMED', 'KEY');
      const raw = resolver.secret('RAW', 'KEY', { trim: false });
      // Act
      await resolver.ready();
      // Assess
      expect(trimmed.value).toBe('sk-file-value');
      expect(trimmed.info?.fingerprint).toBe(fingerprint('sk-file-value'));
      expect(raw.value).toBe('sk-file-value\n');
    });

    it('a file holding only a newline is skipped as empty', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY_v2'), '\n');
      await writeFile(join(dir, 'KEY_v1'), 'sk-older\n');
      const resolver = resolverFor({ sources: [fileSource({ dir })], clock: manualClock() });
      const events = recordEvents(resolver);
      const handle = resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
      // Act
      await resolver.ready();
      // Assess
      expect(handle.value).toBe('sk-older');
      expect(events.find((e) => e.event === 'fallback')?.payload).toMatchObject({
        skipped: [{ candidate: 'KEY_v2', reason: 'empty' }],
      });
    });

    it.each(['EACCES', 'EPERM'])(
      'a file the process may not read (%s) is absent with reason permission-denied',
      async (code) => {
        // Prepare (as root, chmod cannot take read access away: the error is simulated at readFile)
        await writeFile(join(dir, 'KEY'), 'sk-unreadable');
        const source = fileSource({ dir });
        hooks.failNextRead = code;
        // Act
        const result = await source.fetch({ name: 'KEY' }, { signal: live() });
        // Assess
        expect(hooks.failNextRead).toBeUndefined();
        expect(result).toEqual({ status: 'absent', reason: 'permission-denied' });
      },
    );

    it('any other read error (EIO) makes the source unavailable: the walk stops, no fallback to v1', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY_v2'), 'sk-v2');
      await writeFile(join(dir, 'KEY_v1'), 'sk-v1');
      const source = fileSource({ dir, watch: false });
      const resolver = resolverFor({ sources: [source], clock: manualClock() });
      const handle = resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
      await resolver.ready();
      // Act
      hooks.failNextRead = 'EIO';
      const direct = source.fetch({ name: 'KEY_v2' }, { signal: live() });
      await expect(direct).rejects.toMatchObject({ code: 'EIO' });
      hooks.failNextRead = 'EIO';
      const refreshed = resolver.refresh('KEY');
      // Assess
      await expect(refreshed).rejects.toBeInstanceOf(SourceUnavailableError);
      expect(handle.value).toBe('sk-v2');
      expect(handle.info).toMatchObject({ candidate: 'KEY_v2', status: 'stale' });
    });

    it('an aborted signal aborts the read: the fetch rejects, it does not answer', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY'), 'sk-abortable');
      const source = fileSource({ dir });
      const reason = new Error('budget spent');
      // Act
      const outcome = await source.fetch({ name: 'KEY' }, { signal: AbortSignal.abort(reason) }).then(
        (result) => ({ result }),
        (error: unknown) => ({ error }),
      );
      // Assess
      expect(outcome).toHaveProperty('error');
      expect(outcome).not.toHaveProperty('result');
    });

    it('with watch: false nothing is pushed; only a refresh picks a change up', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY'), 'sk-before');
      const unwatched = fileSource({ dir, watch: false });
      let fetches = 0;
      const counted: Source = {
        ...unwatched,
        fetch: (ref, ctx) => {
          fetches++;
          return unwatched.fetch(ref, ctx);
        },
      };
      const resolver = resolverFor({ sources: [counted], clock: manualClock(), refreshMs: 3_600_000 });
      const handle = resolver.secret('KEY');
      await resolver.ready();
      const fetchesBefore = fetches;
      // A watching source on the same directory: its call proves the change's file-system event was delivered.
      const control = fileSource({ dir });
      const delivered = new Promise<void>((resolve) => control.watch?.({ name: 'KEY' }, resolve));
      // Act
      await writeFile(join(dir, 'KEY'), 'sk-after');
      await delivered;
      // Every watcher of the directory is called in the same poll phase; a setImmediate runs after it, so a
      // push to the resolver would have started its fetch (synchronously, in the watch callback) by then.
      await new Promise((resolve) => setImmediate(resolve));
      const pushed = handle.value;
      const fetchesAfterChange = fetches;
      await control.close?.();
      await resolver.refresh('KEY');
      // Assess
      expect(fetchesAfterChange).toBe(fetchesBefore);
      expect(pushed).toBe('sk-before');
      expect(handle.value).toBe('sk-after');
    });

    it('needs a dir', () => {
      expect(() => fileSource({ dir: '' })).toThrow(ConfigurationError);
      expect(() => fileSource({ dir: '' })).toThrow('fileSource() needs `dir`');
      expect(() => fileSource(undefined as unknown as { dir: string })).toThrow(ConfigurationError);
    });
  });

  describe('names', () => {
    it.each(['sub/KEY', 'a/b/c', '../KEY', '../../etc/passwd', '.hidden', '..data', '..data/KEY', '.', 'file:KEY@1'])(
      '%s is rejected at declaration with InvalidCandidateError naming the text',
      async (text) => {
        // Prepare
        const dir = await tempRoot();
        const resolver = resolverFor({ sources: [fileSource({ dir })], clock: manualClock() });
        // Act
        let error: unknown;
        try {
          resolver.secret('S', `KEY ?? ${text}`);
        } catch (thrown) {
          error = thrown;
        }
        // Assess
        expect(error).toBeInstanceOf(InvalidCandidateError);
        expect((error as InvalidCandidateError).text).toBe(text);
        expect((error as InvalidCandidateError).message).toContain(JSON.stringify(text));
      },
    );

    it('accepts names with dots, dashes and underscores inside (tls.crt, api-key, OPENAI_API_KEY)', () => {
      const source = fileSource({ dir: tmpdir() });
      for (const name of ['tls.crt', 'api-key', 'OPENAI_API_KEY', 'key..v2', '_x'])
        expect(source.validate?.({ name }), name).toBeUndefined();
    });
  });

  describe('in-place edits (truncate, then write)', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await tempRoot();
    });

    it('a file read empty right after a change is read again after settleMs: the edit is seen, not ""', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY'), 'sk-before-edit\n');
      const source = fileSource({ dir, settleMs: 20 });
      let fired!: () => void;
      const changed = new Promise<void>((resolve) => {
        fired = resolve;
      });
      source.watch?.({ name: 'KEY' }, () => fired());
      // Act: truncate, let the watch fire, then the writer's write lands right after the source's first read
      await truncate(join(dir, 'KEY'));
      await changed;
      hooks.reads = 0;
      hooks.afterNextRead = () => writeFile(join(dir, 'KEY'), 'sk-after-edit\n');
      const result = await source.fetch({ name: 'KEY' }, { signal: live() });
      await source.close?.();
      // Assess
      expect(hooks.afterNextRead).toBeUndefined(); // the write did land between two reads
      expect(hooks.reads).toBeGreaterThanOrEqual(2);
      expect(result.status === 'found' && decode(result.value)).toBe('sk-after-edit\n');
    });

    it('a file that stays empty counts as empty after the settle (the read is not repeated forever)', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY'), '');
      const source = fileSource({ dir, settleMs: 5 });
      hooks.reads = 0;
      // Act
      const result = await source.fetch({ name: 'KEY' }, { signal: live() });
      // Assess
      expect(result.status === 'found' && decode(result.value)).toBe('');
      expect(hooks.reads).toBeLessThanOrEqual(6);
    });

    it('through a watching resolver, a truncate-then-write of v2 never falls back to v1', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY_v2'), 'sk-v2-before\n');
      await writeFile(join(dir, 'KEY_v1'), 'sk-v1-older\n');
      const resolver = resolverFor({ sources: [fileSource({ dir })], refreshMs: 3_600_000, jitter: 0 });
      const handle = resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
      await resolver.ready();
      const events = recordEvents(resolver);
      const rotated = waitForEvent(resolver, 'rotate', (e) => e.current.fingerprint === fingerprint('sk-v2-after'));
      // Act: the truncate's change event starts a fetch that reads "", and the write lands right after that read
      hooks.afterNextRead = () => writeFile(join(dir, 'KEY_v2'), 'sk-v2-after\n');
      await truncate(join(dir, 'KEY_v2'));
      await rotated;
      // Assess
      expect(hooks.afterNextRead).toBeUndefined();
      expect(handle.value).toBe('sk-v2-after');
      expect(events.filter((e) => e.event === 'fallback')).toEqual([]);
      expect(
        events.filter((e) => e.event === 'rotate').map((e) => (e.payload as RotateLike).current.candidate),
      ).toEqual(['KEY_v2']);
    });

    it('40 real in-place edits (truncate, then write) with a watching resolver: no read falls back', async () => {
      // Prepare. The writer here is this process's own thread pool, which the source's reads share: on a loaded
      // machine its truncate-to-write gap reached the default 100 ms settle (a CI run saw one fallback), so the
      // test gives the settle more room; the rule under test is the same (empty, read again after settleMs).
      await writeFile(join(dir, 'KEY_v2'), 'sk-v2-edit-start\n');
      await writeFile(join(dir, 'KEY_v1'), 'sk-v1-older\n');
      const source = fileSource({ dir, settleMs: 250 });
      const resolver = resolverFor({ sources: [source], refreshMs: 3_600_000, jitter: 0 });
      const handle = resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
      await resolver.ready();
      const events = recordEvents(resolver);
      const seen: string[] = [];
      // Act
      for (let i = 0; i < 40; i++) {
        const value = `sk-v2-edit-${i}`;
        const rotated = waitForEvent(resolver, 'rotate', (e) => e.current.fingerprint === fingerprint(value));
        await writeFile(join(dir, 'KEY_v2'), `${value}\n`);
        await rotated;
        seen.push(handle.value);
      }
      // Assess
      expect(events.filter((e) => e.event === 'fallback')).toEqual([]);
      const candidates = new Set(
        events.filter((e) => e.event === 'rotate').map((e) => (e.payload as RotateLike).current.candidate),
      );
      expect([...candidates]).toEqual(['KEY_v2']);
      expect(seen).not.toContain('sk-v1-older');
      expect(handle.info?.candidate).toBe('KEY_v2');
    }, 60_000);

    it('settleMs must be a positive number of milliseconds', () => {
      for (const settleMs of [0, -1, Number.NaN, '100'])
        expect(() => fileSource({ dir, settleMs: settleMs as number }), String(settleMs)).toThrow(ConfigurationError);
      expect(() => fileSource({ dir, settleMs: 0 })).toThrow('settleMs');
    });
  });

  describe('only regular files, at most maxBytes, UTF-8', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await tempRoot();
    });

    it('a FIFO is refused without blocking the thread pool: fs and DNS work, before and after close()', async () => {
      // Prepare
      const fifo = join(dir, 'KEY');
      execFileSync('mkfifo', [fifo]);
      const source = fileSource({ dir });
      try {
        // Act: more reads than libuv has threads (4 by default)
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, () => completes(source.fetch({ name: 'KEY' }, { signal: live() }))),
        );
        const fsCall = await completes(stat(dir));
        const dnsCall = await completes(lookup('localhost'));
        await source.close?.();
        const fsAfterClose = await completes(stat(dir));
        const dnsAfterClose = await completes(lookup('localhost'));
        // Assess
        expect([fsCall, dnsCall, fsAfterClose, dnsAfterClose]).toEqual(['done', 'done', 'done', 'done']);
        for (const outcome of outcomes) {
          expect(outcome.status).toBe('rejected');
          if (outcome.status !== 'rejected') continue;
          expect(outcome.reason).toBeInstanceOf(SourceUnavailableError);
          expect((outcome.reason as Error).message).toMatch(/"KEY" is not a regular file \(a FIFO\)/);
        }
      } finally {
        await releaseFifo(fifo);
      }
    }, 60_000);

    it('a FIFO candidate makes the secret unavailable: no fallback to v1', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY_v1'), 'sk-v1-older');
      execFileSync('mkfifo', [join(dir, 'KEY_v2')]);
      const resolver = resolverFor({ sources: [fileSource({ dir, watch: false })], clock: manualClock() });
      resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
      try {
        // Act
        const refreshed = resolver.refresh('KEY');
        // Assess
        await expect(refreshed).rejects.toBeInstanceOf(SourceUnavailableError);
      } finally {
        await releaseFifo(join(dir, 'KEY_v2'));
      }
    });

    it('/dev/zero (a symlink to a device) is refused with an error naming the file', async () => {
      // Prepare
      await symlink('/dev/zero', join(dir, 'KEY'));
      const source = fileSource({ dir });
      // Act
      const fetched = source.fetch({ name: 'KEY' }, { signal: live() });
      // Assess
      await expect(fetched).rejects.toBeInstanceOf(SourceUnavailableError);
      await expect(fetched).rejects.toThrow('file: the file "KEY" is not a regular file (a character device)');
    });

    it('a Unix socket is refused with an error naming the file', async () => {
      // Prepare
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(join(dir, 'KEY'), resolve));
      const source = fileSource({ dir });
      try {
        // Act
        const fetched = source.fetch({ name: 'KEY' }, { signal: live() });
        // Assess
        await expect(fetched).rejects.toThrow(/"KEY" is not a regular file/);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it('a 300 MB file is refused by the default 64 KiB limit, without reading it', async () => {
      // Prepare (sparse: no disk used)
      await writeFile(join(dir, 'KEY'), 'sk-huge-');
      await truncate(join(dir, 'KEY'), 300 * 1024 * 1024);
      const source = fileSource({ dir });
      // Act
      const fetched = source.fetch({ name: 'KEY' }, { signal: live() });
      // Assess
      await expect(fetched).rejects.toBeInstanceOf(SourceUnavailableError);
      await expect(fetched).rejects.toThrow('file: the file "KEY" is larger than maxBytes (65536 bytes)');
    });

    it('maxBytes is configurable: a file of exactly maxBytes is read, one byte more is refused', async () => {
      // Prepare
      await writeFile(join(dir, 'FITS'), 'sk-12345');
      await writeFile(join(dir, 'OVER'), 'sk-123456');
      const source = fileSource({ dir, maxBytes: 8 });
      // Act
      const fits = await source.fetch({ name: 'FITS' }, { signal: live() });
      const over = await source.fetch({ name: 'OVER' }, { signal: live() }).catch((error: unknown) => error);
      // Assess
      expect(fits.status === 'found' && decode(fits.value)).toBe('sk-12345');
      expect(over).toBeInstanceOf(SourceUnavailableError);
      expect((over as Error).message).toBe('file: the file "OVER" is larger than maxBytes (8 bytes); it is not read');
      expect(serialize(over)).not.toContain('sk-123456');
      for (const maxBytes of [0, 1.5, -1, '64'])
        expect(() => fileSource({ dir, maxBytes: maxBytes as number }), String(maxBytes)).toThrow(ConfigurationError);
    });

    it('invalid UTF-8 is an error naming the file, not replacement characters', async () => {
      // Prepare
      await writeFile(join(dir, 'KEY'), Buffer.from([0x73, 0x6b, 0x2d, 0xff, 0xfe, 0x41]));
      await writeFile(join(dir, 'KEY_v1'), 'sk-v1-older');
      const source = fileSource({ dir, watch: false });
      const resolver = resolverFor({ sources: [source], clock: manualClock() });
      resolver.secret('S', 'KEY ?? KEY_v1');
      // Act
      const fetched = await source.fetch({ name: 'KEY' }, { signal: live() }).catch((error: unknown) => error);
      const refreshed = resolver.refresh('S');
      // Assess
      expect(fetched).toBeInstanceOf(SourceUnavailableError);
      expect((fetched as Error).message).toBe('file: the file "KEY" is not valid UTF-8');
      await expect(refreshed).rejects.toBeInstanceOf(SourceUnavailableError);
    });
  });

  describe('Kubernetes ..data symlink swap', () => {
    const NAME = 'OPENAI_API_KEY';
    const V1 = 'sk-kube-v1-5f0c3a';
    const V2 = 'sk-kube-v2-9d41be';
    const V3 = 'sk-kube-v3-27aa10';
    let dir: string;

    /** Swaps the mount exactly as the kubelet does. */
    async function swap(from: string, to: string, value: string): Promise<void> {
      await mkdir(join(dir, to));
      await writeFile(join(dir, to, NAME), `${value}\n`);
      await symlink(to, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data')); // atomic
      await rm(join(dir, from), { recursive: true, force: true });
    }

    beforeEach(async () => {
      dir = await tempRoot();
      await mkdir(join(dir, '..2026_01_01_a'));
      await writeFile(join(dir, '..2026_01_01_a', NAME), `${V1}\n`);
      await symlink('..2026_01_01_a', join(dir, '..data'));
      await symlink(join('..data', NAME), join(dir, NAME));
    });

    /** A resolver that only a watch can update: refresh once an hour, real clock. */
    async function watchedResolver(): Promise<{ resolver: Resolver; handle: ReturnType<Resolver['secret']> }> {
      const resolver = resolverFor({ sources: [fileSource({ dir })], refreshMs: 3_600_000, jitter: 0 });
      const handle = resolver.secret(NAME);
      await resolver.ready();
      return { resolver, handle };
    }

    it('the layout reads through the symlinks; the ..data target is the version', async () => {
      // Prepare
      const source = fileSource({ dir });
      // Act
      const result = await source.fetch({ name: NAME }, { signal: live() });
      // Assess
      expect(result.status === 'found' && decode(result.value)).toBe(`${V1}\n`);
      expect(result.status === 'found' && result.version).toBe('..2026_01_01_a');
      expect(await readFile(join(dir, NAME), 'utf8')).toBe(`${V1}\n`);
    });

    it('an atomic swap is picked up by the watch (not by polling): rotate, new value, new version', async () => {
      // Prepare
      const { resolver, handle } = await watchedResolver();
      const events = recordEvents(resolver);
      expect(handle.value).toBe(V1);
      expect(handle.info?.version).toBe('..2026_01_01_a');
      const rotated = waitForEvent(resolver, 'rotate', (e) => e.current.fingerprint === fingerprint(V2), 5_000);
      // Act
      await swap('..2026_01_01_a', '..2026_01_01_b', V2);
      const rotate = await rotated;
      // Assess
      expect(handle.value).toBe(V2);
      expect(handle.info?.version).toBe('..2026_01_01_b');
      expect(rotate.current).toMatchObject({
        candidate: NAME,
        source: 'file',
        version: '..2026_01_01_b',
        status: 'ok',
      });
      expect(rotate.previous.fingerprint).toBe(fingerprint(V1));
      expectNoValues(
        events.map((e) => serialize(e.payload)),
        [V1, V2],
      );
    });

    it('the watch survives the swap: a second swap is picked up too', async () => {
      // Prepare
      const { resolver, handle } = await watchedResolver();
      const toV2 = waitForEvent(resolver, 'rotate', (e) => e.current.fingerprint === fingerprint(V2), 5_000);
      await swap('..2026_01_01_a', '..2026_01_01_b', V2);
      await toV2;
      const toV3 = waitForEvent(resolver, 'rotate', (e) => e.current.fingerprint === fingerprint(V3), 5_000);
      // Act
      await swap('..2026_01_01_b', '..2026_01_01_c', V3);
      const rotate = await toV3;
      // Assess
      expect(handle.value).toBe(V3);
      expect(handle.info?.version).toBe('..2026_01_01_c');
      expect(rotate.previous.fingerprint).toBe(fingerprint(V2));
    });

    it('a key removed from the Secret revokes the secret (fails closed) through the watch', async () => {
      // Prepare
      const { resolver, handle } = await watchedResolver();
      const revoked = waitForEvent(resolver, 'revoke', () => true, 5_000);
      // Act: the new payload no longer has the key; the kubelet removes its user-visible symlink
      await mkdir(join(dir, '..2026_01_01_b'));
      await symlink('..2026_01_01_b', join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      await rm(join(dir, NAME));
      await rm(join(dir, '..2026_01_01_a'), { recursive: true });
      const revoke = await revoked;
      // Assess
      expect(revoke.skipped).toEqual([{ candidate: NAME, reason: 'not-found' }]);
      expect(() => handle.value).toThrow(/revoked/);
    });

    it('a fetch racing a swap reports the version of the value it read, not of the next one', async () => {
      // Prepare: the kubelet swaps right after the source has read the file
      const source = fileSource({ dir });
      const versionOf: Record<string, string> = { [`${V1}\n`]: '..2026_01_01_a', [`${V2}\n`]: '..2026_01_01_b' };
      hooks.afterNextRead = () => swap('..2026_01_01_a', '..2026_01_01_b', V2);
      // Act
      const result = await source.fetch({ name: NAME }, { signal: live() });
      // Assess
      expect(hooks.afterNextRead).toBeUndefined(); // the swap did run mid-fetch
      expect(result.status).toBe('found');
      if (result.status !== 'found') return;
      const value = decode(result.value);
      expect(Object.keys(versionOf)).toContain(value);
      expect(result.version, `version reported with ${JSON.stringify(value.trim())}`).toBe(versionOf[value]);
    });
  });
});
