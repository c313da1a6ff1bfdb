import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_VALUES } from '../../examples/demo-values.js';
import { fingerprint } from '../../src/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Far beyond the demo's few seconds: reaching it means the demo hung, and the test fails. */
const KILL_AFTER_MS = 30_000;
/** The demo's keys A, B and C (the seed, the first rotation's, the second's), by fingerprint. */
const FP = {
  A: fingerprint(DEMO_VALUES.OPENAI_API_KEY_v1),
  B: fingerprint(DEMO_VALUES.OPENAI_API_KEY_v2),
  C: fingerprint(DEMO_VALUES.OPENAI_API_KEY_v3),
};
/** A regular expression matching `text` literally. */
const literally = (text: string): RegExp => new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  killed: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `examples/demo.ts` as `npm run demo` does (tsx), as a real child process. */
function runDemo(): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts'], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let killed = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, KILL_AFTER_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, killed, stdout, stderr });
    });
  });
}

/** Where `pattern` first matches in `text` (fails the test when it does not). */
function at(text: string, pattern: RegExp): number {
  const index = text.search(pattern);
  expect(index, `${pattern} in\n${text}`).toBeGreaterThanOrEqual(0);
  return index;
}

describe('npm run demo', () => {
  let run: Run;
  /** The output with every run of white space made one space: the demo wraps long lines. */
  let text: string;
  beforeAll(async () => {
    run = await runDemo();
    text = run.stdout.replace(/\s+/g, ' ');
  }, KILL_AFTER_MS + 10_000);

  it('runs to the end by itself and exits 0', () => {
    expect(run.killed, `the demo was still running after ${KILL_AFTER_MS} ms and was killed\n${run.stdout}`).toBe(
      false,
    );
    expect(run.stderr).toBe('');
    expect(run.code, run.stdout).toBe(0);
    expect(text).toMatch(/✔ 6 steps in [\d.]+ s .* values printed: 0/);
  });

  it('runs two apps declaring OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1, seeded with key A in OPENAI_API_KEY_v1', () => {
    expect(text).toMatch(/secret apps declare OPENAI_API_KEY_v2 \?\? OPENAI_API_KEY_v1, forever: _v2 current key/);
    expect(text).toContain('OPENAI_API_KEY_v1 version 1 holds key A (the seed); OPENAI_API_KEY_v2 does not exist yet');
  });

  it('runs two apps with the usage beacon on the Secret Manager emulator, through the real client over gRPC', () => {
    expect(text).toMatch(/Secret Manager the embedded emulator at 127\.0\.0\.1:\d+, through the real client over gRPC/);
    expect(text).toMatch(/collector http:\/\/127\.0\.0\.1:\d+, in this process; each app's usage beacon reports/);
    expect(text).toMatch(/collector web-1 holds key A · worker-1 holds key A/);
    expect(text).toContain(`web serves ${FP.A} (key A) from gcp:OPENAI_API_KEY_v1 version 1, ok`);
    expect(text).toContain(`worker serves ${FP.A} (key A) from gcp:OPENAI_API_KEY_v1 version 1, ok`);
  });

  it('explains the first call instead of failing it: no error event, no SOURCE_UNAVAILABLE', () => {
    expect(text).toMatch(/both ready in [\d.]+ s: the first call loads the Google SDK and opens a gRPC connection/);
    expect(run.stdout).not.toContain('SOURCE_UNAVAILABLE');
    expect(run.stdout).not.toMatch(/^\s+\+[\d.]+s\s+\w+\s+(error|revoke)\s/m);
  });

  it('prints no stale line', () => {
    expect(run.stdout).not.toMatch(/planned|not in this release/i);
    // The suffix layout's wording and its provision-exposure note are gone.
    expect(text).not.toMatch(/staged OPENAI_API_KEY_v2|read v2 early|between the two writes of provision/);
  });

  it('shows the loop: flip, verify refused naming the worker, the worker refreshes, verify passes, revoke', () => {
    // provision stages key B where no app reads it; flip makes OPENAI_API_KEY_v2 current, OPENAI_API_KEY_v1 previous
    const stagedNote = at(text, /provision stages key B in OPENAI_API_KEY_next, which no app declares: no app can/);
    const rotation = at(
      text,
      literally(`✔ rotate provision done: staged OPENAI_API_KEY_next@1 (${FP.B}), in a secret no app declares`),
    );
    const probed = at(text, literally(`✔ rotate probe done: openai accepts OPENAI_API_KEY_next@1 (${FP.B}): alive`));
    const flipped = at(text, literally(`✔ rotate flip done: OPENAI_API_KEY_v2@1 (${FP.B}) is live`));
    const slots = at(
      text,
      /Secret Manager OPENAI_API_KEY_v2@1 key B, ENABLED \(live\) · OPENAI_API_KEY_v1@1 key A, ENABLED \(old\)/,
    );
    // no app reads key B before the flip: the first rotate event comes after it
    const webOnB = at(text, literally(`web rotate OPENAI_API_KEY_v1 ${FP.A} (key A) → OPENAI_API_KEY_v2 ${FP.B}`));
    expect(text.slice(0, flipped)).not.toMatch(/\b(web|worker) rotate OPENAI_API_KEY/);
    const split = at(text, /collector web-1 holds key B · worker-1 holds key A/);
    // verify refuses, naming the instance still holding key A and its fingerprint; revoke refuses and writes nothing
    const refused = at(text, /✘ rotate verify failed \(not-verified\): \d instances? reported OPENAI_API_KEY/);
    const named = at(text, new RegExp(`still holding worker-1 \\(service worker, pid \\d+\\) on ${FP.A} \\(key A\\)`));
    const revokeRefused = at(
      text,
      /✘ rotate revoke refused \(not-verified\): no write; OPENAI_API_KEY_v1@1 key A, ENABLED \(old\)/,
    );
    const workerOnB = at(
      text,
      literally(`worker rotate OPENAI_API_KEY_v1 ${FP.A} (key A) → OPENAI_API_KEY_v2 ${FP.B} (key B)`),
    );
    const passed = at(text, /✔ rotate verify done: no process used OPENAI_API_KEY_v1@1 in the last 2s/);
    const revoked = at(text, /✔ rotate revoke done: disabled OPENAI_API_KEY_v1@1/);
    const disabled = at(
      text,
      /Secret Manager OPENAI_API_KEY_v2@1 key B, ENABLED \(live\) · OPENAI_API_KEY_v1@1 key A, DISABLED \(revoked\)/,
    );
    const order = [stagedNote, rotation, probed, flipped, slots, webOnB, split, refused, named, revokeRefused];
    order.push(workerOnB, passed, revoked, disabled);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    // no one holds key A when verify passes, and nobody is disturbed by the revoke
    expect(text.slice(passed)).not.toMatch(/still holding|held earlier/);
    expect(text).toMatch(/since key A was disabled, .*: 0 rotate, fallback, revoke or error events/);
    expect(text.slice(revoked)).toContain(`web serves ${FP.B} (key B) from gcp:OPENAI_API_KEY_v2 version 1, ok`);
    expect(text.slice(revoked)).toContain(`worker serves ${FP.B} (key B) from gcp:OPENAI_API_KEY_v2 version 1, ok`);
  });

  it('rotates again with the same chain: key B moves to OPENAI_API_KEY_v1, key C into OPENAI_API_KEY_v2', () => {
    const step = at(text, /── 6\. Rotate again, to key C: the same chain follows/);
    expect(step).toBeGreaterThan(at(text, /✔ rotate revoke done/));
    const done = at(
      text,
      literally('✔ rotate provision, probe, flip done: the apps still declare OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1'),
    );
    const slots = at(
      text,
      /Secret Manager OPENAI_API_KEY_v2@2 key C, ENABLED \(live\) · OPENAI_API_KEY_v1@2 key B, ENABLED \(old\)/,
    );
    const webOnC = at(
      text,
      literally(`web rotate OPENAI_API_KEY_v2 ${FP.B} (key B) → OPENAI_API_KEY_v2 ${FP.C} (key C)`),
    );
    expect([step, done, slots, webOnC]).toEqual([step, done, slots, webOnC].sort((a, b) => a - b));
  });

  it('never prints a value, nor any slice of one', () => {
    const output = run.stdout + run.stderr;
    for (const value of Object.values(DEMO_VALUES)) {
      expect(output).not.toContain(value);
      for (let i = 0; i + 6 <= value.length; i++) expect(output).not.toContain(value.slice(i, i + 6));
    }
  });
});
