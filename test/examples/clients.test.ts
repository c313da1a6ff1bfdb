/** The client examples run as child processes (as a reader would run them), and print no key. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { fingerprint } from '../../src/index.js';
import { SAMPLES } from '../clients/samples.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;

function runExample(name: string): { status: number | null; stdout: string; stderr: string } {
  const run = spawnSync(process.execPath, ['--import', tsx, join(root, 'examples', name)], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** Every key the examples use (as written in them), and anything that looks like one. */
const EXAMPLE_KEY = /example-only[-a-z0-9]*|sk-ant-example|gsk_[A-Za-z0-9]{20,}/;

describe('examples', () => {
  it('openai.ts: authFetch heals an emergency revocation with one retry; liveClient builds once', () => {
    const { status, stdout, stderr } = runExample('openai.ts');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain(
      `request 2 healed: sent with ${fingerprint('sk-example-only-openai-v2')}; requests on v1: 2, on v2: 1`,
    );
    expect(stdout).toContain('liveClient: 3 calls, 1 client built');
    expect(stdout).not.toMatch(EXAMPLE_KEY);
  });

  it('anthropic.ts: probe, flip, no traffic left on v1, revoke', () => {
    const { status, stdout, stderr } = runExample('anthropic.ts');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain('probe of the new key: alive (200)');
    expect(stdout).toContain('requests on v1: 1, on v2: 5');
    expect(stdout).not.toMatch(EXAMPLE_KEY);
  });

  it('plain-fetch.ts: a plain fetch follows the rotation', () => {
    const { status, stdout, stderr } = runExample('plain-fetch.ts');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain('probe of a key the provider does not know: invalid');
    expect(stdout).toContain('calls on v2: 2');
    expect(stdout).not.toMatch(EXAMPLE_KEY);
  });

  it('pino-redact.ts: held values and provider-format keys are redacted in every line', () => {
    const { status, stdout, stderr } = runExample('pino-redact.ts');
    expect(stderr).toBe('');
    expect(status).toBe(0);
    // Real pino lines, redacted at the destination.
    expect(
      stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as unknown),
    ).toEqual([
      {
        level: 30,
        authorization: `Bearer [keyflip OPENAI_API_KEY ${fingerprint('sk-example-only-held-v1')}]`,
        msg: 'calling the API',
      },
      {
        level: 50,
        err: { type: 'Object', message: 'bad key [redacted groq key] in config', stack: '' },
        msg: 'request failed',
      },
      { level: 30, msg: 'nothing secret here' },
    ]);
    expect(stdout).not.toContain('sk-example-only-held-v1');
  });
});

describe('examples/pre-commit', () => {
  let dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    dirs = [];
  });

  it('refuses a commit that stages a key (staged content, not the working tree), allows one that does not', () => {
    const repo = mkdtempSync(join(tmpdir(), 'keyflip-hook-'));
    dirs.push(repo);
    const git = (...args: string[]) =>
      spawnSync('git', ['-c', 'user.email=t@example.invalid', '-c', 'user.name=t', ...args], {
        cwd: repo,
        encoding: 'utf8',
      });
    const hook = () =>
      spawnSync('bash', [join(root, 'examples/pre-commit')], {
        cwd: repo,
        encoding: 'utf8',
        env: { ...process.env, KEYFLIP: `${process.execPath} --import ${tsx} ${join(root, 'src/cli/index.ts')}` },
      });
    expect(git('init', '-q').status).toBe(0);
    writeFileSync(join(repo, 'README.md'), 'hello\n');
    git('add', 'README.md');
    expect(hook().status).toBe(0);

    writeFileSync(join(repo, 'config.env'), `OPENAI_API_KEY=${SAMPLES.openai}\n`);
    git('add', 'config.env');
    writeFileSync(join(repo, 'config.env'), 'OPENAI_API_KEY=\n'); // fixed in the working tree, not staged
    const refused = hook();
    expect(refused.status).toBe(1);
    expect(refused.stdout).toContain(`config.env:1:16: openai key ${fingerprint(SAMPLES.openai)}`);
    expect(refused.stdout + refused.stderr).not.toContain(SAMPLES.openai);

    writeFileSync(join(repo, '.keyflipignore'), `${fingerprint(SAMPLES.openai)}  # a fixture\n`);
    expect(hook().status).toBe(0);
  });
});
