import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/index.js';
import { SAMPLES } from '../clients/samples.js';
import { leaks } from '../helpers.js';
import { runCli, runInProcess } from '../support/cli.js';

const ALL = Object.values(SAMPLES);

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

const run = (args: string[]) => runInProcess(args);

/** A small repository with keys in places that count and in places that do not. */
function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyflip-scan-'));
  dirs.push(dir);
  const write = (path: string, content: string | Buffer): void => {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  };
  write('src/config.ts', `// config\nexport const settings = {\n  openai: '${SAMPLES.openai}',\n};\n`);
  write('docs/setup.md', `# Setup\n\nGROQ_API_KEY=${SAMPLES.groq}\nMISTRAL_API_KEY=${SAMPLES.mistral}\n`);
  write('clean.txt', 'nothing to see\n');
  write('node_modules/pkg/index.js', `module.exports = '${SAMPLES.anthropic}';\n`);
  write('.git/config', `[remote]\n token = ${SAMPLES.openrouter}\n`);
  write('assets/blob.bin', Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(SAMPLES.together)]));
  return dir;
}

describe('keyflip scan', () => {
  it('reports file:line:column, format and fingerprint of each key, never the key; exit 1', async () => {
    const dir = repo();
    const { code, stdout, stderr } = await run(['scan', dir]);
    expect(code).toBe(1);
    expect(stdout.split('\n').filter(Boolean)).toEqual([
      `${join(dir, 'docs/setup.md')}:3:14: groq key ${fingerprint(SAMPLES.groq)}`,
      `${join(dir, 'docs/setup.md')}:4:17: mistral key ${fingerprint(SAMPLES.mistral)}`,
      `${join(dir, 'src/config.ts')}:3:12: openai key ${fingerprint(SAMPLES.openai)}`,
    ]);
    expect(stderr).toContain('3 provider keys found in 2 files (3 files scanned, 1 skipped)');
    expect(leaks(stdout + stderr, ALL)).toEqual([]);
  });

  it('--json: findings, counts and what was skipped (binary); node_modules and .git are not walked', async () => {
    const dir = repo();
    const { code, stdout, stderr } = await run(['scan', '--json', dir]);
    expect(code).toBe(1);
    expect(stderr).toBe('');
    const out = JSON.parse(stdout) as {
      findings: { file: string; format: string; provider: string; line: number }[];
      files: number;
      allowed: number;
      skipped: { file: string; reason: string }[];
    };
    expect(out.findings.map((f) => [f.format, f.provider, f.line])).toEqual([
      ['groq', 'groq', 3],
      ['mistral', 'mistral', 4],
      ['openai', 'openai', 3],
    ]);
    expect(out.files).toBe(3);
    expect(out.skipped).toEqual([{ file: join(dir, 'assets/blob.bin'), reason: 'binary' }]);
    expect(leaks(stdout, ALL)).toEqual([]);
  });

  it('honours an allow-list (--allow FILE) and .keyflipignore; exit 0 when every finding is allowed', async () => {
    const dir = repo();
    const allow = join(dir, 'allow.txt');
    writeFileSync(
      allow,
      `# test fixtures\n${fingerprint(SAMPLES.groq)}  groq fixture\n\n${fingerprint(SAMPLES.mistral)}\n`,
    );
    const partly = await run(['scan', '--allow', allow, dir]);
    expect(partly.code).toBe(1);
    expect(partly.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(partly.stdout).toContain('openai key');
    expect(partly.stderr).toContain('2 allowed by fingerprint');
    writeFileSync(join(dir, '.keyflipignore'), `${fingerprint(SAMPLES.openai)} # the docs example\n`);
    const clean = await run(['scan', '--allow', allow, dir]);
    expect(clean.code).toBe(0);
    expect(clean.stdout).toBe('');
    expect(clean.stderr).toContain('no provider key found');
  });

  it('an allow-list line that is not a fingerprint: usage error, the line not echoed (it may be a key)', async () => {
    const dir = repo();
    const allow = join(dir, 'allow.txt');
    writeFileSync(allow, `${fingerprint(SAMPLES.groq)}\n${SAMPLES.openai}\n`);
    const { code, stdout, stderr } = await run(['scan', '--allow', allow, dir]);
    expect(code).toBe(2);
    expect(stderr).toContain('allow.txt:2: not a fingerprint');
    expect(leaks(stdout + stderr, ALL)).toEqual([]);
  });

  it('--key-file: fingerprints with your fingerprintKey', async () => {
    const dir = repo();
    const keyFile = join(dir, 'fp.key');
    writeFileSync(keyFile, 'team-fingerprint-key\n');
    const { stdout } = await run(['scan', '--key-file', keyFile, join(dir, 'src/config.ts')]);
    expect(stdout.trim()).toBe(
      `${join(dir, 'src/config.ts')}:3:12: openai key ${fingerprint(SAMPLES.openai, 'team-fingerprint-key')}`,
    );
  });

  const NAMED =
    'scans files named directly (as a pre-commit hook passes them); a clean one exits 0; ' +
    'symbolic links in a walk are skipped';
  it(NAMED, async () => {
    const dir = repo();
    expect((await run(['scan', join(dir, 'clean.txt')])).code).toBe(0);
    expect((await run(['scan', join(dir, 'clean.txt'), join(dir, 'docs/setup.md')])).code).toBe(1);
    const linked = mkdtempSync(join(tmpdir(), 'keyflip-scan-link-'));
    dirs.push(linked);
    symlinkSync(join(dir, 'src'), join(linked, 'src-link'));
    const { code, stdout } = await run(['scan', '--json', linked]);
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as { skipped: { reason: string }[] }).skipped).toEqual([
      { file: join(linked, 'src-link'), reason: 'symbolic link' },
    ]);
  });

  it('usage errors exit 2: unknown option, missing path, --allow without a file, unreadable allow-list', async () => {
    const dir = repo();
    for (const args of [
      ['--nope', dir],
      [join(dir, 'missing')],
      ['--allow'],
      ['--allow', join(dir, 'missing.txt'), dir],
      ['--key-file', join(dir, 'missing.key'), dir],
    ]) {
      const { code, stderr } = await run(['scan', ...args]);
      expect(code, args.join(' ')).toBe(2);
      expect(stderr).toMatch(/^keyflip scan: /);
    }
    // Neither an unknown option nor a key given where a path goes is printed back (it may be a key).
    const unknown = await run(['scan', `--${SAMPLES.groq}`, dir]);
    expect([unknown.code, unknown.stderr]).toEqual([
      2,
      'keyflip scan: unknown option #1 (not shown); see keyflip scan --help\n',
    ]);
    const pasted = await run(['scan', dir, SAMPLES.openai]);
    expect([pasted.code, pasted.stderr]).toEqual([2, expect.stringContaining('path #2 looks like a key (not shown)')]);
    expect(leaks(unknown.stderr + pasted.stderr, ALL)).toEqual([]);
    const help = await run(['scan', '--help']);
    expect([help.code, help.stdout.includes('keyflip scan [paths…]')]).toEqual([0, true]);
  });

  it('the CLI as a process: exit code 1 on a finding, 0 when clean, nothing of the key printed', async () => {
    const dir = repo();
    const cli = (args: string[]) => runCli(['scan', ...args], { cwd: dir });
    const found = await cli(['src', 'docs']);
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`src/config.ts:3:12: openai key ${fingerprint(SAMPLES.openai)}`);
    expect(leaks(found.stdout + found.stderr, ALL)).toEqual([]);
    expect((await cli(['clean.txt'])).code).toBe(0);
  });
});
