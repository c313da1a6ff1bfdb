/**
 * The server examples (examples/server.ts — the README's quick start —, express-server.ts, fastify-server.ts) run
 * as a reader runs them: a child process, `node --import tsx`, against the embedded Secret Manager emulator (real
 * gRPC, through SECRET_MANAGER_EMULATOR_HOST) and a local fake OpenAI (through OPENAI_BASE_URL). Each one serves
 * /healthz from snapshot() with fingerprints and no value, sends the v1 key to OpenAI, moves to v2 on its next
 * refresh after v2 is added to Secret Manager (no restart), exits 0 on SIGTERM, and never prints a key.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { providers } from '../../src/clients/index.js';
import { fingerprint, type SecretInfo } from '../../src/index.js';
import { type MockProvider, startMockProvider } from '../../src/testing/mock-provider.js';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Settings of the caller's that would change what the example does: none is passed on. */
const INHERITED = new RegExp(
  '^(?:OPENAI_.*|KEYFLIP_.*|GOOGLE_.*|GCLOUD_.*|CLOUDSDK_.*|SECRET_MANAGER_EMULATOR_HOST|PORT|REFRESH_MS|' +
    'NODE_OPTIONS|.*_proxy)$',
  'i',
);

/** The line each example prints once it listens (Fastify's logger says "Server listening at"). */
const LISTENING = /listening (?:on|at) http:\/\/\S+:(\d+)/;

interface Example {
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything it printed so far. */
  output(): { stdout: string; stderr: string };
  /** Its exit: the code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Example>();
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const example of running) example.child.kill('SIGKILL');
  await Promise.all([...running].map((example) => example.exited));
  running.clear();
  await Promise.all(closers.splice(0).map((close) => close()));
});

function start(file: string, settings: Record<string, string>): Example {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!INHERITED.test(name)) env[name] = value;
  Object.assign(env, settings);
  const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'examples', file)], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const example: Example = { child, output: () => ({ stdout, stderr }), exited };
  running.add(example);
  return example;
}

/** Polls `probe` until it returns something: a wait for a condition, bounded by the test's timeout. */
async function until<T>(probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    await delay(25);
  }
}

async function health(
  base: string,
): Promise<{ status: number; body: string; json: { ok: boolean; secrets: SecretInfo[] } }> {
  const response = await fetch(`${base}/healthz`);
  const body = await response.text();
  return { status: response.status, body, json: JSON.parse(body) as { ok: boolean; secrets: SecretInfo[] } };
}

async function ask(base: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`${base}/ask`, { method: 'POST' });
  return { status: response.status, body: await response.text() };
}

/** What each example prints besides the line that says where it listens, given the fingerprints of v1 and v2. */
const EXAMPLES: { file: string; printed(out: { stdout: string; stderr: string }, fp1: string, fp2: string): void }[] = [
  {
    file: 'server.ts',
    printed({ stdout, stderr }, fp1, fp2) {
      // logEvents(resolver, console), one line per record: v2 skipped at start (not created yet: info, stdout, before
      // the server listens), then the rotation, by fingerprint; nothing at warn or error level.
      const lines = stdout.trimEnd().split('\n');
      expect(lines[0]).toContain('skipped OPENAI_API_KEY_v2 (not-found); serving OPENAI_API_KEY_v1');
      expect(lines[1]).toMatch(LISTENING);
      expect(stderr).toBe('');
      expect(stdout).toContain(
        `rotated from OPENAI_API_KEY_v1 (gcp, version 1, ${fp1}) to OPENAI_API_KEY_v2 (gcp, version 1, ${fp2})`,
      );
    },
  },
  {
    file: 'express-server.ts',
    printed({ stdout, stderr }) {
      expect(stdout).toMatch(new RegExp(`^${LISTENING.source}\n$`));
      expect(stderr).toBe('');
    },
  },
  {
    file: 'fastify-server.ts',
    printed({ stdout, stderr }) {
      // Fastify's pino logger: JSON lines, logEvents' records among them (fields first, as pino takes them).
      const records = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(records).toContainEqual(expect.objectContaining({ msg: expect.stringMatching(LISTENING) }));
      expect(records).toContainEqual(
        expect.objectContaining({ level: 30, event: 'fallback', candidate: 'OPENAI_API_KEY_v1' }),
      );
      expect(records).toContainEqual(
        expect.objectContaining({ level: 30, event: 'rotate', candidate: 'OPENAI_API_KEY_v2' }),
      );
      expect(stderr).toBe('');
    },
  },
];

describe.each(EXAMPLES)('examples/$file', ({ file, printed }) => {
  // About 2 s each on an idle machine; the timeout only bounds a hang (or a machine shared with many builds).
  it('serves v1, moves to v2 on its next refresh without a restart, exits 0 on SIGTERM, prints no key', {
    timeout: 60_000,
  }, async () => {
    // Fresh random keys: nothing else holds them, so finding one in the output can only be a leak.
    const v1 = `example-only-${randomBytes(12).toString('hex')}-v1`;
    const v2 = `example-only-${randomBytes(12).toString('hex')}-v2`;
    const emulator: SecretManagerEmulator = await startSecretManagerEmulator();
    closers.push(() => emulator.close());
    const api: MockProvider = await startMockProvider({ preset: providers.openai, keys: [v1] });
    closers.push(() => api.close());
    emulator.addVersion('OPENAI_API_KEY_v1', v1);

    const example = start(file, {
      SECRET_MANAGER_EMULATOR_HOST: emulator.host,
      GOOGLE_CLOUD_PROJECT: emulator.projectId,
      OPENAI_BASE_URL: api.url,
      PORT: '0',
      REFRESH_MS: '200',
      NO_PROXY: '127.0.0.1,localhost',
    });
    const port = await until(async () => {
      const { stdout, stderr } = example.output();
      if (example.child.exitCode !== null) throw new Error(`${file} exited early: ${stderr}`);
      return LISTENING.exec(stdout)?.[1];
    });
    const base = `http://127.0.0.1:${port}`;

    // The health check: provenance and the v1 fingerprint, never the value.
    const first = await health(base);
    expect(first.status).toBe(200);
    expect(first.json.ok).toBe(true);
    expect(first.json.secrets).toEqual([
      expect.objectContaining({
        name: 'OPENAI_API_KEY',
        candidate: 'OPENAI_API_KEY_v1',
        version: '1',
        fingerprint: fingerprint(v1),
        status: 'ok',
      }),
    ]);
    expect(first.body).not.toContain(v1);

    // A request reaches OpenAI with the v1 key.
    expect(await ask(base)).toEqual({ status: 200, body: expect.any(String) });
    expect(api.requestsFor(v1)).toBe(1);

    // Provision v2 in Secret Manager (the provider accepts it too): the next refresh picks it up.
    api.accept(v2);
    emulator.addVersion('OPENAI_API_KEY_v2', v2);
    const rotated = await until(async () => {
      const { json } = await health(base);
      return json.secrets[0]?.candidate === 'OPENAI_API_KEY_v2' ? json.secrets[0] : undefined;
    });
    expect(rotated).toMatchObject({ fingerprint: fingerprint(v2), version: '1', status: 'ok' });
    expect((await ask(base)).status).toBe(200);
    expect(api.requestsFor(v2)).toBe(1);
    expect(api.requestsFor(v1)).toBe(1);

    // SIGTERM: the server closes, then the resolver; nothing keeps the process alive.
    example.child.kill('SIGTERM');
    expect(await example.exited).toEqual({ code: 0, signal: null });
    running.delete(example);

    const output = example.output();
    printed(output, fingerprint(v1), fingerprint(v2));
    for (const key of [v1, v2]) expect(output.stdout + output.stderr).not.toContain(key);
  });
});
