/**
 * The one way tests run the CLI as a child process: `node --import tsx src/cli/index.ts …`, asynchronously (the
 * collector or emulator a test talks to often lives in the test's own process, so the wait must not block), with
 * an environment free of the caller's KEYFLIP_* settings, and a timeout that kills a process that hangs.
 * `runInProcess` calls the same entry (`main`) in the test's process, with strings for stdin, stdout, stderr.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { main } from '../../src/cli/main.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));
/** tsx by URL, so that a child whose cwd is outside the repository still finds it. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** A finished run of the CLI. */
export interface CliRun {
  /** The exit code; `null` when a signal ended the process. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** How to run it. */
export interface CliOptions {
  /** Variables set (or, with `undefined`, removed) over the test's environment. @default {} */
  env?: Record<string, string | undefined>;
  /** @default the repository root */
  cwd?: string;
  /** Written to stdin, which is then closed. @default '' */
  stdin?: string;
  /** The process is killed (SIGKILL) and the run rejects after this long (vitest's testTimeout). @default 20_000 */
  timeoutMs?: number;
}

/** A CLI process still running (`keyflip collector`). */
export interface CliProcess {
  readonly child: ChildProcessWithoutNullStreams;
  /** All stdout so far. */
  stdout(): string;
  /** All stderr so far. */
  stderr(): string;
  /** The first line of stdout, once it is complete; rejects if the process exits first. */
  firstLine(): Promise<string>;
  /** Settles when the process exits: its code and all its output; rejects after the timeout. */
  readonly exited: Promise<CliRun>;
}

/** Settings the CLI reads from the environment: removed unless the test sets them. */
const OWN_SETTINGS = /^(?:KEYFLIP_.*|SECRET_MANAGER_EMULATOR_HOST|GOOGLE_CLOUD_PROJECT)$/;

function environment(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!OWN_SETTINGS.test(name)) env[name] = value;
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** Starts `keyflip ARGS…` as a child process. */
export function startCli(args: readonly string[], options: CliOptions = {}): CliProcess {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const child = spawn(process.execPath, ['--import', TSX, ENTRY, ...args], {
    cwd: options.cwd ?? ROOT,
    env: environment(options.env ?? {}),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.end(options.stdin ?? '');
  const what = `keyflip ${args.slice(0, 2).join(' ')}`;
  const exited = new Promise<CliRun>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${what}: no exit within ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  exited.catch(() => undefined); // a caller waiting on firstLine() only still sees the failure there
  const firstLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const end = stdout.indexOf('\n');
        if (end === -1) return false;
        child.stdout.off('data', check);
        resolve(stdout.slice(0, end));
        return true;
      };
      if (check()) return;
      child.stdout.on('data', check);
      exited.then(() => reject(new Error(`${what} exited before printing a line; stderr: ${stderr}`)), reject);
    });
  return { child, stdout: () => stdout, stderr: () => stderr, firstLine, exited };
}

/** Runs `keyflip ARGS…` to its end. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  return startCli(args, options).exited;
}

/** `keyflip ARGS…` in this process (`main`), with `stdin` as its input and `env` as its whole environment. */
export async function runInProcess(
  args: readonly string[],
  options: { stdin?: string | undefined; env?: Record<string, string | undefined> } = {},
): Promise<CliRun & { code: number }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: options.env ?? {},
  });
  return { code, stdout, stderr };
}
