/** Starts {@link ./app-process.ts} as a child process, and pauses, resumes, stops or kills it. */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { httpSink, usageBeacon } from '../../../src/beacon/index.js';
import { createResolver, memorySource, type Resolver } from '../../../src/index.js';
import { TOKEN } from './collector-process.js';

const SCRIPT = fileURLToPath(new URL('./app-process.ts', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

export interface AppOptions {
  /** The collector's URL. */
  url: string;
  /** The key the app holds (in its environment only: never in argv). */
  value: string;
  /** The secret's name. @default 'OPENAI_API_KEY' */
  secret?: string;
  /** Its beacon's instance id. */
  id: string;
  /** @default 'legacy-worker' */
  service?: string;
  /** Its beacon interval, ms. @default 1_000 */
  intervalMs?: number;
}

export interface App {
  readonly id: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything it printed (stdout and stderr). */
  output(): string;
  /** SIGSTOP: the process runs no code (no report) until {@link App.resume}. */
  pause(): void;
  resume(): void;
  /** SIGTERM (resumed first): closes its resolver (the final report) and exits; SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** Starts the app and resolves once its key resolved (it printed `ready`). */
export async function startApp(options: AppOptions): Promise<App> {
  const child = spawn(process.execPath, ['--import', TSX, SCRIPT], {
    env: {
      PATH: process.env.PATH,
      [options.secret ?? 'OPENAI_API_KEY']: options.value,
      EVIDENCE_SECRET: options.secret ?? 'OPENAI_API_KEY',
      EVIDENCE_COLLECTOR_URL: options.url,
      EVIDENCE_TOKEN: TOKEN,
      EVIDENCE_INSTANCE_ID: options.id,
      EVIDENCE_SERVICE: options.service ?? 'legacy-worker',
      EVIDENCE_INTERVAL_MS: String(options.intervalMs ?? 1_000),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`app ${options.id}: not ready within 20 s; stderr: ${stderr}`));
    }, 20_000);
    const check = (): void => {
      if (!stdout.includes('ready\n')) return;
      clearTimeout(timer);
      resolve();
    };
    child.stdout?.on('data', check);
    child.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`app ${options.id} exited (${code}) before it was ready; stderr: ${stderr}`));
    });
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    id: options.id,
    pid: child.pid as number,
    child,
    output: () => stdout + stderr,
    pause: () => void (running() && child.kill('SIGSTOP')),
    resume: () => void (running() && child.kill('SIGCONT')),
    async stop() {
      if (!running()) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * An app in this process: a resolver holding `value` as its secret (a memory source), beaconing to `url`
 * every `intervalMs` through `httpSink`. Close it with `resolver.close()`.
 */
export async function startInProcessApp(options: AppOptions): Promise<Resolver> {
  const memory = memorySource();
  const name = options.secret ?? 'OPENAI_API_KEY';
  memory.set(name, options.value);
  const resolver = createResolver({
    sources: [memory],
    refreshMs: 3_600_000,
    beacon: usageBeacon({
      service: options.service ?? 'live-app',
      instanceId: options.id,
      intervalMs: options.intervalMs ?? 1_000,
      sink: httpSink({ url: options.url, token: TOKEN, backoffMs: 100 }),
    }),
  });
  resolver.secret(name, name);
  await resolver.ready();
  return resolver;
}
