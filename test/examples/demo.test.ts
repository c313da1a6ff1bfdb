import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_VALUES } from '../../examples/demo-values.js';
import { fingerprint } from '../../src/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Far beyond the demo's few seconds: reaching it means the demo hung, and the test fails. */
const KILL_AFTER_MS = 30_000;
const FP = { v1: fingerprint(DEMO_VALUES.OPENAI_API_KEY_v1), v2: fingerprint(DEMO_VALUES.OPENAI_API_KEY_v2) };

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
    expect(text).toMatch(/✔ 5 steps in [\d.]+ s .* values printed: 0/);
  });

  it('runs two apps with the usage beacon on the Secret Manager emulator, through the real client over gRPC', () => {
    expect(text).toMatch(/Secret Manager the embedded emulator at 127\.0\.0\.1:\d+, through the real client over gRPC/);
    expect(text).toMatch(/collector http:\/\/127\.0\.0\.1:\d+, in this process; each app's usage beacon reports/);
    expect(text).toMatch(/collector web-1 holds v1 · worker-1 holds v1/);
    expect(text).toContain(`web serves ${FP.v1} (v1) from gcp:OPENAI_API_KEY_v1 version 1, ok`);
    expect(text).toContain(`worker serves ${FP.v1} (v1) from gcp:OPENAI_API_KEY_v1 version 1, ok`);
  });

  it('explains the first call instead of failing it: no error event, no SOURCE_UNAVAILABLE', () => {
    expect(text).toMatch(/both ready in [\d.]+ s: the first call loads the Google SDK and opens a gRPC connection/);
    expect(run.stdout).not.toContain('SOURCE_UNAVAILABLE');
    expect(run.stdout).not.toMatch(/^\s+\+[\d.]+s\s+\w+\s+(error|revoke)\s/m);
  });

  it('prints no stale line', () => {
    expect(run.stdout).not.toMatch(/planned|not in this release/i);
  });

  it('shows the loop: flip, verify refused naming the worker, the worker refreshes, verify passes, revoke', () => {
    const rotation = at(text, /✔ rotate provision done: staged OPENAI_API_KEY_v2/);
    const probed = at(text, /✔ rotate probe done: openai accepts OPENAI_API_KEY_v2/);
    const flipped = at(text, /✔ rotate flip done: OPENAI_API_KEY_v2 is live/);
    // (web may read v2 between provision's two writes, before the flip: provision says so when it happens)
    at(text, new RegExp(`web rotate OPENAI_API_KEY_v1 ${FP.v1} \\(v1\\) → OPENAI_API_KEY_v2 ${FP.v2}`));
    const split = at(text, /collector web-1 holds v2 · worker-1 holds v1/);
    // verify refuses, naming the instance still holding v1 and its fingerprint; revoke refuses and writes nothing
    const refused = at(text, /✘ rotate verify failed \(not-verified\): \d instances? reported OPENAI_API_KEY/);
    const named = at(text, new RegExp(`still holding worker-1 \\(service worker, pid \\d+\\) on ${FP.v1} \\(v1\\)`));
    const revokeRefused = at(text, /✘ rotate revoke refused \(not-verified\): no write; OPENAI_API_KEY_v1 .*ENABLED/);
    const workerOnV2 = at(
      text,
      new RegExp(`worker rotate OPENAI_API_KEY_v1 ${FP.v1} \\(v1\\) → OPENAI_API_KEY_v2 ${FP.v2}`),
    );
    const passed = at(text, /✔ rotate verify done: no process used OPENAI_API_KEY_v1 in the last 2s/);
    const revoked = at(text, /✔ rotate revoke done: disabled OPENAI_API_KEY_v1/);
    const disabled = at(text, /OPENAI_API_KEY_v1 version 1 DISABLED \(revoked\)/);
    const order = [rotation, probed, flipped, split, refused, named, revokeRefused, workerOnV2, passed];
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(revoked).toBeGreaterThan(passed);
    expect(disabled).toBeGreaterThan(revoked);
    // no one holds v1 when verify passes, and nobody is disturbed by the revoke
    expect(text.slice(passed)).not.toMatch(/still holding|held earlier/);
    expect(text).toMatch(/: 0 rotate, fallback, revoke or error events/);
    expect(text.slice(revoked)).toContain(`web serves ${FP.v2} (v2) from gcp:OPENAI_API_KEY_v2 version 1, ok`);
    expect(text.slice(revoked)).toContain(`worker serves ${FP.v2} (v2) from gcp:OPENAI_API_KEY_v2 version 1, ok`);
  });

  it('never prints a value, nor any slice of one', () => {
    const output = run.stdout + run.stderr;
    for (const value of Object.values(DEMO_VALUES)) {
      expect(output).not.toContain(value);
      for (let i = 0; i + 6 <= value.length; i++) expect(output).not.toContain(value.slice(i, i + 6));
    }
  });
});
