/**
 * Every example runs in CI. Each examples/*.ts is either a helper another example imports, or run by a test as a
 * reader would run it (a child process, `node --import tsx`): the client examples by
 * test/examples/clients.test.ts, the demo by test/examples/demo.test.ts, the servers by
 * test/examples/servers.test.ts, and all the others here — exit 0, nothing on stderr, no key value in the output.
 * A new example is run here unless another test claims it.
 * And `keyflip scan` passes on this repository (its fixtures' fake keys are in .keyflipignore).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** The examples another test runs, with the test that does. */
const RUN_ELSEWHERE: Record<string, string> = {
  'openai.ts': 'test/examples/clients.test.ts',
  'anthropic.ts': 'test/examples/clients.test.ts',
  'plain-fetch.ts': 'test/examples/clients.test.ts',
  'pino-redact.ts': 'test/examples/clients.test.ts',
  'demo.ts': 'test/examples/demo.test.ts',
  'server.ts': 'test/examples/servers.test.ts',
  'express-server.ts': 'test/examples/servers.test.ts',
  'fastify-server.ts': 'test/examples/servers.test.ts',
};

/** Settings of the caller's that would change what an example does (SECRETS_DIR: kubernetes-file.ts). */
const INHERITED =
  /^(?:OPENAI_.*|ANTHROPIC_.*|KEYFLIP_.*|GOOGLE_.*|SECRET_MANAGER_EMULATOR_HOST|SECRETS_DIR|NODE_OPTIONS)$/i;

/** How the examples write their fake keys: `sk-…-example-only…`, `test-key-…`. */
const KEY_LITERAL = /['"`]((?:sk-[\w-]*example-only[\w-]*|test-key-[\w-]+))(?:\\n)?['"`]/g;

const examples = readdirSync(join(ROOT, 'examples')).filter((file) => file.endsWith('.ts'));
const sources = new Map(examples.map((file) => [file, readFileSync(join(ROOT, 'examples', file), 'utf8')]));
/** Modules of other examples (`import … from './demo-values.js'`): not programs of their own. */
const helpers = examples.filter((file) =>
  [...sources.values()].some((text) => text.includes(`from './${file.replace(/\.ts$/, '.js')}'`)),
);
const runHere = examples.filter((file) => !helpers.includes(file) && RUN_ELSEWHERE[file] === undefined);

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!INHERITED.test(name)) env[name] = value;
  return env;
}

describe('examples/', () => {
  it('each example is a helper, run by another test, or run here', () => {
    for (const [file, test] of Object.entries(RUN_ELSEWHERE)) {
      expect([file, examples.includes(file)]).toEqual([file, true]);
      const text = readFileSync(join(ROOT, test), 'utf8');
      const named = text.includes(`'${file}'`) || text.includes(`'examples/${file}'`);
      expect([file, test, named]).toEqual([file, test, true]);
    }
    expect(helpers.length).toBeGreaterThan(0);
    expect(runHere).toEqual(
      expect.arrayContaining(['family.ts', 'kubernetes-file.ts', 'quick-start.ts', 'testing.ts']),
    );
  });

  it.each(runHere)('%s runs to exit 0 and prints no key', (file) => {
    const keys = [...new Set([...(sources.get(file) ?? '').matchAll(KEY_LITERAL)].map((m) => m[1] ?? ''))];
    const run = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'examples', file)], {
      cwd: ROOT,
      encoding: 'utf8',
      env: childEnv(),
      timeout: 60_000,
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.length).toBeGreaterThan(0);
    const output = run.stdout + run.stderr;
    expect(keys.filter((key) => output.includes(key))).toEqual([]);
    expect(output).not.toMatch(/example-only|test-key-/);
  });

  it('the examples run here hold fake keys to look for in their output', () => {
    for (const file of runHere) {
      const keys = [...(sources.get(file) ?? '').matchAll(KEY_LITERAL)];
      expect([file, keys.length > 0]).toEqual([file, true]);
    }
  });
});

describe('keyflip scan on this repository', () => {
  it('finds no provider key: the fake keys of its own fixtures are allowed by fingerprint in .keyflipignore', () => {
    const run = spawnSync(process.execPath, ['--import', TSX, join(ROOT, 'src/cli/index.ts'), 'scan', '.'], {
      cwd: ROOT,
      encoding: 'utf8',
      env: childEnv(),
      timeout: 60_000,
    });
    expect(run.stdout).toBe(''); // one line per finding
    expect(run.stderr).toMatch(
      /^keyflip scan: no provider key found \(\d+ files scanned, \d+ allowed by fingerprint\)/,
    );
    expect(run.status).toBe(0);
  });
});
