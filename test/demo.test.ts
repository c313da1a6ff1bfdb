import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEMO_VALUES } from '../examples/demo-values.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Far beyond the demo's few seconds: reaching it means the demo hung, and the test fails. */
const KILL_AFTER_MS = 30_000;

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

describe('npm run demo', () => {
  let run: Run;
  beforeAll(async () => {
    run = await runDemo();
  }, KILL_AFTER_MS + 10_000);

  it('runs to the end by itself and exits 0', () => {
    expect(run.killed, `the demo was still running after ${KILL_AFTER_MS} ms and was killed\n${run.stdout}`).toBe(
      false,
    );
    expect(run.stderr).toBe('');
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/✔ \d+ steps in [\d.]+ s/);
  });

  it('narrates the playbook: fallback, rotate, outage, revoke, recovery', () => {
    const out = run.stdout;
    expect(out).toMatch(/fallback\s+skipped OPENAI_API_KEY_v2 \(not-found\) → OPENAI_API_KEY_v1/);
    expect(out).toMatch(/rotate\s+OPENAI_API_KEY_v1 kf_[0-9a-f]{12} → OPENAI_API_KEY_v2 kf_[0-9a-f]{12}/);
    expect(out).toMatch(/fallback\s+skipped OPENAI_API_KEY_v2 \(disabled\) → OPENAI_API_KEY_v1/);
    expect(out).toMatch(/error\s+SOURCE_UNAVAILABLE .*still serving the last good value \(stale\)/);
    expect(out).toMatch(/status stale/);
    expect(out).toMatch(/revoke\s+.*fail closed/);
    expect(out).toMatch(/throws SecretRevokedError \(SECRET_REVOKED\)/);
    expect(out).toMatch(/recovered, serving OPENAI_API_KEY_v2/);
    // both processes rotate, each on its own refresh
    expect(out).toMatch(/^\s+\+\d+ms\s+app\s+rotate/m);
    expect(out).toMatch(/^\s+\+\d+ms\s+worker\s+rotate/m);
  });

  it('runs on the Secret Manager emulator through the real client, polling with AccessSecretVersion only', () => {
    expect(run.stdout).toMatch(/source\s+Google Cloud Secret Manager: the embedded emulator at 127\.0\.0\.1:\d+/);
    expect(run.stdout).toMatch(/from gcp:OPENAI_API_KEY_v2 version 1/);
    const calls = /Secret Manager saw (\d+) AccessSecretVersion calls and (\d+) other calls/.exec(run.stdout);
    expect(Number(calls?.[1])).toBeGreaterThan(10);
    expect(Number(calls?.[2])).toBe(0);
  });

  it('never prints a value, nor any slice of one', () => {
    const output = run.stdout + run.stderr;
    for (const value of Object.values(DEMO_VALUES)) {
      expect(output).not.toContain(value);
      for (let i = 0; i + 6 <= value.length; i++) expect(output).not.toContain(value.slice(i, i + 6));
    }
  });
});
