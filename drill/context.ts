/**
 * What every phase of the drill shares: its settings and keys, the clock it reports in (ms since it
 * started), the timeline and the named moments (marks) the figures are cut by, the transcript of everything
 * any process printed (searched for the key values at the end), the child processes it started, and the
 * waits that an abort (Ctrl-C) cuts short.
 */
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fingerprint } from '../src/index.js';
import { SECRET } from './constants.js';
import type { DrillOptions, DrillSettings, Layout } from './settings.js';
import { seconds } from './stats.js';

/**
 * Which key a fingerprint is: v1 live at first, v2 by the first normal rotation, v3 by the second (the automated
 * one: `rotate auto` mints it through the provider's management API), v4 by the emergency.
 */
export type KeyName = 'v1' | 'v2' | 'v3' | 'v4';
/** The four keys, in the order they go live. */
export const KEY_NAMES = ['v1', 'v2', 'v3', 'v4'] as const;

/**
 * A normal rotation of the playbook (provision → probe → flip → verify → revoke): its number, old and new keys, and
 * whether `rotate auto` drives it (the key minted at the provider, the old one revoked there).
 */
export interface NormalRotation {
  readonly n: 1 | 2;
  readonly from: KeyName;
  readonly to: KeyName;
  readonly automated: boolean;
}

/**
 * The two normal rotations, in order: the first by the operator's commands, the second automated (`rotate auto`
 * with the provider's management API); the emergency follows them ({@link EMERGENCY}).
 */
export const NORMAL_ROTATIONS: readonly [NormalRotation, NormalRotation] = [
  { n: 1, from: 'v1', to: 'v2', automated: false },
  { n: 2, from: 'v2', to: 'v3', automated: true },
];
/** The key `rotate auto` mints at the provider: the drill learns it from Secret Manager once it is stored. */
export const MINTED: KeyName = 'v3';
/** The third rotation: an emergency from the key the second made live. */
export const EMERGENCY = { from: 'v3', to: 'v4' } as const satisfies { from: KeyName; to: KeyName };

/** The moments the drill marks as it goes; the request phases are cut by them. */
export type Mark =
  | 'ready'
  | `provision-${KeyName}`
  | `flip-${KeyName}`
  | `all-${KeyName}`
  | 'stale-stopped'
  | 'straggler-started'
  | 'straggler-stopped'
  | 'collector-restart'
  | `revoke-${KeyName}`
  | `revoked-${KeyName}`
  | 'emergency'
  | `provider-revoke-${KeyName}`
  | 'stop';

export interface DrillContext {
  readonly settings: DrillSettings;
  /** The four keys; the minted one ({@link MINTED}) is `''` until {@link learnMinted}. */
  readonly keys: Readonly<Record<KeyName, string>>;
  /** The keys' fingerprints: the only form in which the drill shows a key (`''` for the minted one until known). */
  readonly fp: Readonly<Record<KeyName, string>>;
  /** The collector's token (random, for this run). */
  readonly token: string;
  /** The admin key of the provider's management API (random, for this run; in a file the commands are given). */
  readonly adminKey: string;
  /** The chain the live workers declare, the same from start to end (three rotations, no deploy). */
  readonly chain: string;
  /** When the drill started (ms since the epoch). */
  readonly start: number;
  readonly signal: AbortSignal | undefined;
  /** Every child process started (workers and commands), to check at the end that none is left. */
  readonly pids: number[];
  readonly timeline: { t: number; event: string }[];
  /** Everything the drill and its children printed, searched for the key values at the end. */
  readonly transcript: string[];
  /** The environment every child starts from: no key of the caller's, no credentials, no test runner's loader. */
  readonly baseEnv: NodeJS.ProcessEnv;
  /** Which key a fingerprint is (`other` for none of the four). */
  keyOf(fp: string): KeyName | 'other';
  /** The minted key, read back from Secret Manager: from now on the drill counts it and searches outputs for it. */
  learnMinted(value: string): void;
  /** ms since the drill started. */
  rel(at: number): number;
  /** Adds a line to the timeline (at `at`, now by default), the transcript and the log. */
  note(event: string, at?: number): void;
  /** Records output of the drill's children. */
  print(...texts: string[]): void;
  /** Records a moment (now by default) and returns it. */
  mark(name: Mark, at?: number): number;
  /** When `name` was marked; +∞ when it was not (the drill stopped before). */
  marked(name: Mark): number;
  /** Waits `ms`; rejects at once on abort. */
  sleep(ms: number): Promise<void>;
  /** Polls `predicate` every `pollMs` until it holds (true) or `timeoutMs` passed (false); rejects on abort. */
  waitFor(predicate: () => boolean, timeoutMs: number, pollMs?: number): Promise<boolean>;
  /** Stops measuring the drill's own event-loop delay, and says what it was (ms). */
  stopLoopDelay(): { p50: number; p99: number; max: number };
}

/** Starts the drill's clock and its records. Throws when the four keys are not distinct. */
export function createDrillContext(settings: DrillSettings, options: DrillOptions): DrillContext {
  const given = options.keys ?? { v1: newKey(), v2: newKey(), v4: newKey() };
  const keys: Record<KeyName, string> = { v1: given.v1, v2: given.v2, v3: '', v4: given.v4 };
  if (new Set([given.v1, given.v2, given.v4]).size !== 3 || ![given.v1, given.v2, given.v4].every(Boolean))
    throw new RangeError('the three keys given must differ');
  const signal = options.signal;
  const say = options.log ?? ((): void => undefined);
  const start = Date.now();
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const fp: Record<KeyName, string> = {
    v1: fingerprint(keys.v1),
    v2: fingerprint(keys.v2),
    v3: '',
    v4: fingerprint(keys.v4),
  };
  const transcript: string[] = [];
  const timeline: { t: number; event: string }[] = [];
  const marks = new Map<Mark, number>();
  const rel = (at: number): number => at - start;
  const print = (...texts: string[]): void => {
    for (const text of texts) {
      transcript.push(text);
      options.output?.(text);
    }
  };
  const sleep = (ms: number): Promise<void> => abortableSleep(ms, signal);

  return {
    settings,
    keys,
    fp,
    token: randomBytes(24).toString('hex'),
    adminKey: options.adminKey ?? `sk-admin-${randomBytes(30).toString('base64url')}`,
    chain: chainOf(settings.layout),
    start,
    signal,
    pids: [],
    timeline,
    transcript,
    baseEnv: childEnv(process.env),
    keyOf: (f) => (f === '' ? 'other' : (KEY_NAMES.find((k) => fp[k] === f) ?? 'other')),
    learnMinted(value) {
      if (keys[MINTED] !== '' && keys[MINTED] !== value) throw new Error('a second minted key');
      if ([keys.v1, keys.v2, keys.v4].includes(value)) throw new Error('the minted key is one of the others');
      keys[MINTED] = value;
      fp[MINTED] = fingerprint(value);
    },
    rel,
    note(event, at = Date.now()) {
      timeline.push({ t: rel(at), event });
      const line = `${seconds(rel(at), 1).padStart(8)}  ${event}`;
      print(line);
      say(line);
    },
    print,
    mark(name, at = Date.now()) {
      marks.set(name, at);
      return at;
    },
    marked: (name) => marks.get(name) ?? Number.POSITIVE_INFINITY,
    sleep,
    async waitFor(predicate, timeoutMs, pollMs = 25) {
      signal?.throwIfAborted();
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) return false;
        await sleep(pollMs);
      }
      return true;
    },
    stopLoopDelay() {
      loopDelay.disable();
      return {
        p50: Math.round(loopDelay.percentile(50) / 1e6),
        p99: Math.round(loopDelay.percentile(99) / 1e6),
        max: Math.round(loopDelay.max / 1e6),
      };
    },
  };
}

/**
 * The chain the live workers declare, by layout: `pair` (the default) `NAME_v2 ?? NAME_v1`, which follows every
 * rotation; `suffix` (legacy) a name per key, declared ahead for the four keys of the drill (set-up and three
 * rotations: `NAME_v4 ?? … ?? NAME_v1`); `alias` `NAME@current ?? NAME@previous`.
 */
function chainOf(layout: Layout): string {
  if (layout === 'pair') return `${SECRET}_v2 ?? ${SECRET}_v1`;
  if (layout === 'suffix') return `${SECRET}_v4 ?? ${SECRET}_v3 ?? ${SECRET}_v2 ?? ${SECRET}_v1`;
  return `${SECRET}@current ?? ${SECRET}@previous`;
}

/** An OpenAI-format key (`sk-proj-…T3BlbkFJ…`), random, for this run only. */
function newKey(): string {
  const part = (n: number): string => randomBytes(n).toString('base64url').replace(/[-_]/g, 'x');
  return `sk-proj-${part(36)}T3BlbkFJ${part(36)}`;
}

/** `env` without a key of the caller's, credentials, or the loader options of a test runner. */
function childEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (
      v === undefined ||
      k === 'OPENAI_API_KEY' ||
      k === 'NODE_OPTIONS' ||
      /^(GOOGLE_|KEYFLIP_|SECRET_MANAGER_|VITEST)/.test(k)
    )
      continue;
    out[k] = v;
  }
  return out;
}

/** Waits `ms`, or rejects at once when `signal` aborts. */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
