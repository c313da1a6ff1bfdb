/**
 * The fleet: N live worker processes (keyflip from the emulator, the openai SDK through authFetch) and one
 * stale worker (its key read from `process.env` at start-up), each forked from drill/worker.ts and
 * reporting every request it made over the IPC channel. The drill starts them a few at a time, waits for
 * each to be ready, then tells them all to start their traffic at once. Later, for the automated rotation, it
 * starts the straggler (drill/straggler.ts: a process without keyflip and without a beacon, its key read from its
 * environment once), which it pauses, pings and stops on its own.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { LIVE_SERVICE, PROJECT, ROOT, SECRET, STALE_SERVICE, STRAGGLER, WORKER, WORKER_NICE } from './constants.js';
import type { DrillContext, KeyName } from './context.js';
import type { DrillMessage, RequestRecord, WalkRecord, WorkerConfig, WorkerMessage } from './protocol.js';
import type { DrillServices } from './services.js';

/** What the drill knows of one worker process, as its messages come in. */
export interface WorkerState {
  readonly index: number;
  readonly mode: 'live' | 'stale' | 'straggler';
  readonly child: ChildProcess;
  readonly instanceId: string;
  readonly spawnedAt: number;
  pid: number | undefined;
  readyAt: number | undefined;
  startupMs: number | undefined;
  readonly requests: RequestRecord[];
  readonly walks: WalkRecord[];
  /** The latest attempt (by start): the fingerprint it carried, and when. */
  latest: [fp: string, t0: number] | undefined;
  skipped: number;
  readonly errors: Record<string, number>;
  readonly failureKinds: Record<string, number>;
  fatal: string | undefined;
  loopDelayMs: { p99: number; max: number } | undefined;
  cpuMs: number | undefined;
  sentCount: number | undefined;
  doneAt: number | undefined;
  exitCode: number | null | undefined;
  signal: NodeJS.Signals | null | undefined;
  /** The straggler: called at its next `idle` message. */
  onIdle: (() => void) | undefined;
  readonly exited: Promise<void>;
  readonly ready: Promise<void>;
}

/** How long a worker may take from spawn to ready. */
const READY_TIMEOUT_MS = 60_000;

export class Fleet {
  /** Every worker started, in order: the live ones, the stale one, then the straggler. */
  readonly workers: WorkerState[] = [];
  /** The stale worker, once started. */
  stale: WorkerState | undefined;
  /** The straggler, once started. */
  straggler: WorkerState | undefined;
  readonly #drill: DrillContext;
  readonly #services: DrillServices;

  constructor(drill: DrillContext, services: DrillServices) {
    this.#drill = drill;
    this.#services = services;
  }

  /** The live workers. */
  live(): WorkerState[] {
    return this.workers.filter((w) => w.mode === 'live');
  }

  /**
   * Starts the live workers and the stale one, `startConcurrency` at a time, each waited for until ready
   * (at most 60 s); rejects when one fails or the drill is aborted.
   */
  async start(): Promise<void> {
    const { settings, signal } = this.#drill;
    const queue: (() => WorkerState)[] = [];
    for (let i = 0; i < settings.workers; i++) queue.push(() => this.#startWorker(i, 'live'));
    queue.push(() => {
      this.stale = this.#startWorker(0, 'stale');
      return this.stale;
    });
    await Promise.all(
      Array.from({ length: Math.min(settings.startConcurrency, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          signal?.throwIfAborted();
          await this.#ready(next());
        }
      }),
    );
  }

  /** Tells every worker to start its traffic (the whole fleet is up). */
  startTraffic(): void {
    for (const w of this.workers) if (w.child.connected) w.child.send({ type: 'start' } satisfies DrillMessage);
  }

  /**
   * Asks a worker to stop (it finishes the requests in flight, sends its last report and beacon, and exits),
   * and kills it after `timeoutMs`.
   */
  async stop(w: WorkerState, timeoutMs = 15_000): Promise<void> {
    if (w.exitCode !== undefined) return;
    try {
      if (w.child.connected) w.child.send({ type: 'stop' } satisfies DrillMessage);
    } catch {
      // the channel is gone: the worker is leaving anyway
    }
    const timer = setTimeout(() => w.child.kill('SIGKILL'), timeoutMs);
    await w.exited;
    clearTimeout(timer);
  }

  /** Stops every worker; kills any still running. */
  async stopAll(): Promise<void> {
    await Promise.all(this.workers.map((w) => this.stop(w)));
  }

  /** Kills whatever worker has not exited yet, and waits for every one to be gone. */
  async killRest(): Promise<void> {
    for (const w of this.workers) if (w.exitCode === undefined) w.child.kill('SIGKILL');
    await Promise.all(this.workers.map((w) => w.exited));
  }

  /**
   * Starts the straggler with `key` in its environment (read once, at start-up) and waits until it is ready; it
   * sends a request every `everyMs` from {@link resume} on.
   */
  async startStraggler(key: string, everyMs: number): Promise<WorkerState> {
    const w = this.#startWorker(0, 'straggler', { key, everyMs });
    this.straggler = w;
    await this.#ready(w);
    return w;
  }

  /** Tells the straggler to send its requests (again). */
  resume(w: WorkerState): void {
    if (w.child.connected) w.child.send({ type: 'start' } satisfies DrillMessage);
  }

  /**
   * Tells the straggler to stop sending (`pause`) or to send one request (`ping`), and resolves once its last
   * request ended and was reported (at most 30 s; false when it did not say so).
   */
  idle(w: WorkerState, how: 'pause' | 'ping'): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), 30_000);
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        w.onIdle = undefined;
        resolve(ok);
      };
      w.onIdle = () => done(true);
      void w.exited.then(() => done(false));
      try {
        if (w.child.connected) w.child.send({ type: how } satisfies DrillMessage);
        else done(false);
      } catch {
        done(false);
      }
    });
  }

  /** Whether every live worker's latest request, sent after `since`, carried `key`. */
  allOn(key: KeyName, since: number): boolean {
    const fp = this.#drill.fp[key];
    return this.live().every((w) => w.latest !== undefined && w.latest[0] === fp && w.latest[1] >= since);
  }

  /** When the last live worker first sent `key` at or after `since` (now for one that has not). */
  lastFirstUse(key: KeyName, since: number): number {
    return Math.max(...this.live().map((w) => firstUse(w, this.#drill.fp[key], since) ?? Date.now()));
  }

  /** Waits until `w` is ready, at most READY_TIMEOUT_MS; rejects at once on abort. */
  #ready(w: WorkerState): Promise<void> {
    const { signal } = this.#drill;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => settle(new Error(`worker ${w.instanceId} not ready after ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      );
      const onAbort = (): void => settle(signal?.reason);
      const settle = (error?: unknown): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      w.ready.then(
        () => settle(),
        (error: unknown) => settle(error ?? new Error('not ready')),
      );
    });
  }

  #startWorker(
    index: number,
    mode: 'live' | 'stale' | 'straggler',
    straggler?: { key: string; everyMs: number },
  ): WorkerState {
    const drill = this.#drill;
    const { settings } = drill;
    const config: WorkerConfig = {
      mode,
      index,
      secret: SECRET,
      chain: mode === 'live' ? drill.chain : `env:${SECRET}`,
      projectId: PROJECT,
      baseUrl: this.#services.mock.url,
      collectorUrl: this.#services.collector.url,
      service: mode === 'live' ? LIVE_SERVICE : mode === 'stale' ? STALE_SERVICE : 'none (no beacon)',
      rate: settings.rate,
      refreshMs: settings.refreshMs,
      jitter: settings.jitter,
      beaconMs: settings.beaconMs,
      maxInFlight: 4,
      flushMs: 250,
      ...(straggler ? { everyMs: straggler.everyMs } : {}),
    };
    const env: NodeJS.ProcessEnv = {
      ...drill.baseEnv,
      SECRET_MANAGER_EMULATOR_HOST: this.#services.emulator.host,
      KEYFLIP_COLLECTOR_TOKEN: drill.token,
      DRILL_WORKER_CONFIG: JSON.stringify(config),
      ...(mode === 'stale' ? { OPENAI_API_KEY: drill.keys.v1 } : {}),
      ...(straggler ? { OPENAI_API_KEY: straggler.key } : {}),
    };
    const child = fork(mode === 'straggler' ? STRAGGLER : WORKER, [], {
      cwd: ROOT,
      env,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let onReady!: () => void;
    let onFail!: (e: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onFail = reject;
    });
    ready.catch(() => undefined);
    const exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        w.exitCode = code;
        w.signal = signal;
        onFail(new Error(`worker ${w.instanceId} exited (${code ?? signal}) before it was ready`));
        resolve();
      });
    });
    const w: WorkerState = {
      index,
      mode,
      child,
      instanceId: `drill-${mode}-${index}`,
      spawnedAt: Date.now(),
      pid: child.pid,
      readyAt: undefined,
      startupMs: undefined,
      requests: [],
      walks: [],
      latest: undefined,
      skipped: 0,
      errors: {},
      failureKinds: {},
      fatal: undefined,
      loopDelayMs: undefined,
      cpuMs: undefined,
      sentCount: undefined,
      doneAt: undefined,
      exitCode: undefined,
      signal: undefined,
      onIdle: undefined,
      exited,
      ready,
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => drill.print(d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => drill.print(d));
    child.on('error', (error) => onFail(error));
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        w.pid = m.pid;
        w.readyAt = m.at;
        w.startupMs = m.startupMs;
        onReady();
      } else if (m.type === 'idle') {
        w.onIdle?.();
      } else if (m.type === 'fatal') {
        w.fatal = m.message;
        onFail(new Error(`worker ${w.instanceId} failed: ${m.message}`));
      } else receive(w, m);
    });
    if (child.pid !== undefined) {
      drill.pids.push(child.pid);
      // The services stand in for Google's and OpenAI's infrastructure, which do not share the fleet's two
      // cores; the workers run at a lower priority so that an overloaded machine slows the fleet, not them.
      try {
        setPriority(child.pid, WORKER_NICE);
      } catch {
        // not allowed here: the workers run at the drill's priority
      }
    }
    this.workers.push(w);
    return w;
  }
}

/** Records a worker's batch of requests and walks, or its closing figures. */
function receive(w: WorkerState, m: Extract<WorkerMessage, { type: 'batch' | 'done' }>): void {
  if (m.type === 'batch') {
    for (const r of m.requests) {
      w.requests.push(r);
      for (const a of r[4]) if (!w.latest || w.latest[1] <= a[2]) w.latest = [a[0], a[2]];
    }
    w.walks.push(...m.walks);
    w.skipped += m.skipped;
    for (const [code, n] of Object.entries(m.errors)) w.errors[code] = (w.errors[code] ?? 0) + n;
    for (const [kind, n] of Object.entries(m.failures)) w.failureKinds[kind] = (w.failureKinds[kind] ?? 0) + n;
  } else {
    w.doneAt = m.at;
    w.loopDelayMs = m.loopDelayMs;
    w.cpuMs = m.cpuMs;
    w.sentCount = m.requests;
  }
}

/** When `w` first sent the key with fingerprint `fp` at or after `since`. */
export function firstUse(w: WorkerState, fp: string, since: number): number | undefined {
  let first: number | undefined;
  for (const r of w.requests)
    for (const a of r[4]) if (a[0] === fp && a[2] >= since && (first === undefined || a[2] < first)) first = a[2];
  return first;
}
