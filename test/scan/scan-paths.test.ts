import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { fingerprint } from '../../src/index.js';
import {
  BINARY_SNIFF_BYTES,
  MAX_FILE_BYTES,
  SKIPPED_DIRECTORIES,
  scanPaths,
  type ScanResult,
} from '../../src/scan/index.js';
import { SAMPLES } from '../clients/samples.js';
import { leaks } from '../helpers.js';

const ALL = Object.values(SAMPLES);

let dirs: string[] = [];
let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

/** A temporary directory holding `files` (path → content). */
function tree(files: Record<string, string | Buffer> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyflip-walk-'));
  dirs.push(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

/** Each finding as `relative-path:line:column format`, and each skip as `relative-path reason`. */
function summary(result: ScanResult, dir: string) {
  const rel = (file: string): string => (file.startsWith(`${dir}/`) ? file.slice(dir.length + 1) : file);
  return {
    findings: result.findings.map((f) => `${rel(f.file)}:${f.line}:${f.column} ${f.format}`),
    skipped: result.skipped.map((s) => `${rel(s.file)} ${s.reason}`),
    files: result.files,
    allowed: result.allowed,
  };
}

describe('scanPaths', () => {
  it('reports file, line, column, format, provider and fingerprint of each key; never the key', async () => {
    const dir = tree({ 'config.ts': `export const key = '${SAMPLES.openai}';\n// ${SAMPLES.anthropic}\n` });
    const result = await scanPaths([dir]);
    expect(result.findings).toEqual([
      {
        file: join(dir, 'config.ts'),
        line: 1,
        column: 21,
        format: 'openai',
        provider: 'openai',
        fingerprint: fingerprint(SAMPLES.openai),
      },
      {
        file: join(dir, 'config.ts'),
        line: 2,
        column: 4,
        format: 'anthropic',
        provider: 'anthropic',
        fingerprint: fingerprint(SAMPLES.anthropic),
      },
    ]);
    expect([result.files, result.allowed, result.skipped]).toEqual([1, 0, []]);
    expect(leaks(JSON.stringify(result), ALL)).toEqual([]);
  });

  it('walks directories depth first in sorted order; a file named directly is scanned as named', async () => {
    const dir = tree({
      'b/z.txt': SAMPLES.groq,
      'b/a.txt': SAMPLES.groq,
      'a.txt': SAMPLES.groq,
      'c/d/e.txt': SAMPLES.groq,
      'clean.md': 'no key here\n',
    });
    expect(summary(await scanPaths([dir]), dir)).toMatchObject({
      findings: ['a.txt:1:1 groq', 'b/a.txt:1:1 groq', 'b/z.txt:1:1 groq', 'c/d/e.txt:1:1 groq'],
      files: 5,
    });
    const named = await scanPaths([join(dir, 'b/z.txt'), join(dir, 'clean.md')]);
    expect(named.findings.map((f) => f.file)).toEqual([join(dir, 'b/z.txt')]);
    expect(named.files).toBe(2);
  });

  it(`does not enter ${SKIPPED_DIRECTORIES.join(' or ')} in a walk, but scans one named directly`, async () => {
    const dir = tree({
      'node_modules/pkg/index.js': SAMPLES.groq,
      '.git/config': SAMPLES.groq,
      'src/node_modules/x.js': SAMPLES.groq,
      'src/.git': 'gitdir: elsewhere\n', // a file named .git (a worktree) is scanned like any file
      'node_modules.txt': SAMPLES.groq,
    });
    expect(summary(await scanPaths([dir]), dir)).toEqual({
      findings: ['node_modules.txt:1:1 groq'],
      skipped: [],
      files: 2,
      allowed: 0,
    });
    const named = await scanPaths([join(dir, 'node_modules')]);
    expect(summary(named, dir).findings).toEqual(['node_modules/pkg/index.js:1:1 groq']);
  });

  it(`skips a file with a NUL in its first ${BINARY_SNIFF_BYTES} bytes (binary), not one with it after`, async () => {
    const nulAt = (offset: number): Buffer =>
      Buffer.concat([Buffer.alloc(offset, 'x'), Buffer.from([0]), Buffer.from(` ${SAMPLES.groq}\n`)]);
    const dir = tree({
      'first.bin': nulAt(0),
      'last-sniffed.bin': nulAt(BINARY_SNIFF_BYTES - 1),
      'after.bin': nulAt(BINARY_SNIFF_BYTES),
    });
    expect(summary(await scanPaths([dir]), dir)).toEqual({
      findings: [`after.bin:1:${BINARY_SNIFF_BYTES + 3} groq`],
      skipped: ['first.bin binary', 'last-sniffed.bin binary'],
      files: 1,
      allowed: 0,
    });
  });

  it('skips a file over 10 MiB (by its size, unread); one of exactly 10 MiB is scanned', async () => {
    const sized = (bytes: number): Buffer => {
      const key = Buffer.from(`${SAMPLES.groq}\n`);
      return Buffer.concat([key, Buffer.alloc(bytes - key.length, '\n')]);
    };
    const dir = tree({ 'limit.txt': sized(MAX_FILE_BYTES), 'over.txt': sized(MAX_FILE_BYTES + 1) });
    expect(summary(await scanPaths([dir]), dir)).toEqual({
      findings: ['limit.txt:1:1 groq'],
      skipped: ['over.txt larger than 10 MiB'],
      files: 1,
      allowed: 0,
    });
    // Named directly, the limit holds too.
    expect(summary(await scanPaths([join(dir, 'over.txt')]), dir).skipped).toEqual(['over.txt larger than 10 MiB']);
  });

  it('skips symbolic links inside a walk (to files and directories); follows a link named directly', async () => {
    const target = tree({ 'key.txt': SAMPLES.groq, 'sub/key.txt': SAMPLES.groq });
    const dir = tree({ 'plain.txt': 'nothing\n' });
    symlinkSync(join(target, 'key.txt'), join(dir, 'file-link'));
    symlinkSync(join(target, 'sub'), join(dir, 'dir-link'));
    symlinkSync(join(dir, 'missing'), join(dir, 'dangling-link'));
    expect(summary(await scanPaths([dir]), dir)).toEqual({
      findings: [],
      skipped: ['dangling-link symbolic link', 'dir-link symbolic link', 'file-link symbolic link'],
      files: 1,
      allowed: 0,
    });
    const followed = await scanPaths([join(dir, 'file-link'), join(dir, 'dir-link')]);
    expect(followed.findings.map((f) => f.file)).toEqual([join(dir, 'file-link'), join(dir, 'dir-link/key.txt')]);
  });

  it('passes over what is neither a file nor a directory (a socket): not scanned, not skipped', async () => {
    const dir = tree({ 'a.txt': SAMPLES.groq });
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(join(dir, 'b.sock'), resolve));
    expect(summary(await scanPaths([dir]), dir)).toEqual({
      findings: ['a.txt:1:1 groq'],
      skipped: [],
      files: 1,
      allowed: 0,
    });
    expect(await scanPaths([join(dir, 'b.sock')])).toEqual({ findings: [], allowed: 0, files: 0, skipped: [] });
  });

  it('allow: keys with a listed fingerprint are counted, not reported; fingerprintKey keys the HMAC', async () => {
    const dir = tree({ 'a.txt': `${SAMPLES.groq}\n${SAMPLES.gemini}\n` });
    const allowed = await scanPaths([dir], { allow: new Set([fingerprint(SAMPLES.groq)]) });
    expect(summary(allowed, dir)).toMatchObject({ findings: ['a.txt:2:1 gemini'], allowed: 1 });
    const keyed = await scanPaths([dir], {
      fingerprintKey: 'team-key',
      allow: new Set([fingerprint(SAMPLES.groq)]),
    });
    expect(keyed.findings.map((f) => f.fingerprint)).toEqual([
      fingerprint(SAMPLES.groq, 'team-key'),
      fingerprint(SAMPLES.gemini, 'team-key'),
    ]);
    expect(keyed.allowed).toBe(0);
  });

  it('nothing to scan: no paths, or an empty directory', async () => {
    expect(await scanPaths([])).toEqual({ findings: [], allowed: 0, files: 0, skipped: [] });
    expect(await scanPaths([tree()])).toEqual({ findings: [], allowed: 0, files: 0, skipped: [] });
  });

  it('a path that cannot be read is a ConfigurationError naming the path given and the code', async () => {
    const dir = tree({ 'a.txt': SAMPLES.groq });
    const missing = join(dir, 'missing');
    await expect(scanPaths([dir, missing])).rejects.toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: `cannot read ${missing} (ENOENT)` }),
    );
    await expect(scanPaths([missing])).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('a directory under a path that cannot be read fails the scan, naming the path given', () => {
    // Root reads any directory, so the scan runs in a child process as an unprivileged user when this one is root.
    const dir = tree({ 'locked/a.txt': SAMPLES.groq });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'locked'), 0o000);
    const script = [
      `import { scanPaths } from ${JSON.stringify(pathToFileURL(resolve('src/scan/index.ts')).href)};`,
      `scanPaths([${JSON.stringify(dir)}]).then(() => console.log('resolved'), (e) => console.log(e.name, e.message));`,
    ].join('\n');
    const asRoot = process.getuid?.() === 0;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
      ...(asRoot ? { uid: 65_534, gid: 65_534 } : {}),
    });
    chmodSync(join(dir, 'locked'), 0o755);
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe(`ConfigurationError cannot read ${dir} (EACCES)`);
  });
});
