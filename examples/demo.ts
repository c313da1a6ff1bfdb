/**
 * keyflip demo: the blue/green key-rotation playbook, live, on the in-memory source.
 *
 *   npm run demo
 *
 * Two processes resolve OPENAI_API_KEY as `OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1`: `app` watches the
 * source (a change is picked up at once), `worker` only polls (a change is picked up on its next refresh).
 * An operator then provisions v2, disables it, breaks the source, revokes everything and recovers. The
 * demo prints what keyflip reports through its events: candidates, fingerprints and statuses — never a
 * value. keyflip itself prints nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createResolver,
  fingerprint,
  isKeyflipError,
  memorySource,
  SourceUnavailableError,
  type Resolver,
  type ResolverEvents,
  type SecretHandle,
  type SecretInfo,
  type Source,
} from 'keyflip';
import { DEMO_SECRET, DEMO_VALUES } from './demo-values.js';

const V1 = 'OPENAI_API_KEY_v1';
const V2 = 'OPENAI_API_KEY_v2';
const CHAIN = `${V2} ?? ${V1}`;
const REFRESH_MS = 400;
const JITTER = 0.2;
/** How long the demo waits for an expected event before it gives up (and exits 1). */
const EVENT_TIMEOUT_MS = 3_000;

// ── output ──────────────────────────────────────────────────────────────────────────────────────────
const useColor = process.stdout.isTTY === true && process.env['NO_COLOR'] === undefined;
const paint =
  (code: number) =>
  (text: string): string =>
    useColor ? `\x1b[${code}m${text}\x1b[0m` : text;
const dim = paint(2);
const bold = paint(1);
const colors: Record<keyof ResolverEvents, (text: string) => string> = {
  resolve: paint(36),
  rotate: paint(32),
  fallback: paint(33),
  error: paint(31),
  revoke: paint(35),
};

/** Everything printed, kept to check at the end that no value ever appeared. */
const printed: string[] = [];
function say(text = ''): void {
  printed.push(text);
  process.stdout.write(`${text}\n`);
}

/** Which key a fingerprint belongs to, for the reader's convenience (the demo knows its own keys). */
const KEY_OF = new Map<string, string>([
  [fingerprint(DEMO_VALUES[V1]), 'v1'],
  [fingerprint(DEMO_VALUES[V2]), 'v2'],
]);

const started = performance.now();
let stepStarted = started;
let steps = 0;
const counts: Record<keyof ResolverEvents, number> = { resolve: 0, rotate: 0, fallback: 0, error: 0, revoke: 0 };

function step(title: string, ...notes: string[]): void {
  steps++;
  say();
  say(bold(`── ${steps}. ${title} `.padEnd(78, '─')));
  for (const note of notes) say(dim(`   ${note}`));
  stepStarted = performance.now();
}

function operator(action: string): void {
  say(`   ${bold('operator')}  ${action}`);
  stepStarted = performance.now();
}

function elapsed(): number {
  return Math.round(performance.now() - stepStarted);
}

// ── the two processes ───────────────────────────────────────────────────────────────────────────────
interface Proc {
  readonly label: string;
  readonly resolver: Resolver;
  readonly key: SecretHandle<string>;
  /** The status this process last reported, to print `resolve` only when it means something. */
  status: 'ok' | 'stale' | 'revoked' | undefined;
  /** The fingerprint it last served, to tell a refresh that changed something from one that did not. */
  serving: string | undefined;
  /** Whether the latest walk changed what is served or how it stands. */
  changed: boolean;
}

const memory = memorySource({ [V1]: DEMO_VALUES[V1] });
/** The same store seen without `watch`: a process on it learns of changes only by polling. */
const pollOnly: Source = { name: memory.name, fetch: (ref, ctx) => memory.fetch(ref, ctx) };

function startProcess(label: string, source: Source): Proc {
  const resolver = createResolver({ sources: [source], refreshMs: REFRESH_MS, jitter: JITTER });
  const proc: Proc = { label, resolver, key: resolver.secret(DEMO_SECRET, CHAIN), status: undefined, serving: undefined, changed: false };
  narrate(proc);
  return proc;
}

const provenance = (info: SecretInfo): string => `${info.candidate} ${info.fingerprint}`;

function line(proc: Proc, event: keyof ResolverEvents, detail: string): void {
  counts[event]++;
  const at = dim(`+${elapsed()}ms`.padStart(8));
  say(`${at}  ${proc.label.padEnd(6)}  ${colors[event](event.padEnd(8))}  ${detail}`);
}

/** Subscribes to the resolver's events and prints them: the only output of the demo. */
function narrate(proc: Proc): void {
  const { resolver } = proc;
  // Every periodic refresh emits `resolve`, and `fallback` too while a higher candidate is skipped: the
  // demo prints them only when something changed (a first load, a recovery, another key).
  resolver.on('resolve', ({ info }) => {
    proc.changed = proc.status !== 'ok' || proc.serving !== info.fingerprint;
    if (proc.status !== 'ok') line(proc, 'resolve', `${proc.status === undefined ? 'serving' : 'recovered, serving'} ${provenance(info)}`);
    proc.status = 'ok';
    proc.serving = info.fingerprint;
  });
  resolver.on('fallback', ({ skipped, current }) => {
    if (!proc.changed) return;
    const skips = skipped.map((s) => `${s.candidate} (${s.reason})`).join(', ');
    line(proc, 'fallback', `skipped ${skips} → ${current.candidate}`);
  });
  resolver.on('rotate', ({ previous, current }) => {
    line(proc, 'rotate', `${provenance(previous)} → ${provenance(current)}`);
  });
  resolver.on('error', ({ error, servingStale }) => {
    const where = error instanceof SourceUnavailableError && error.candidate ? ` at ${error.candidate}` : '';
    line(proc, 'error', `${error.code}${where} → ${servingStale ? 'still serving the last good value (stale)' : 'nothing to serve'}`);
    proc.status = 'stale';
  });
  resolver.on('revoke', ({ skipped }) => {
    const skips = skipped.map((s) => `${s.candidate} ${s.reason}`).join(', ');
    line(proc, 'revoke', `${skips} → fail closed`);
    proc.status = 'revoked';
  });
}

/** Resolves with the time since the step's action when `proc` next emits `event`; rejects after a while. */
function next(proc: Proc, event: keyof ResolverEvents): Promise<number> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      resolve(elapsed());
    };
    const timer = setTimeout(() => {
      proc.resolver.off(event, done);
      reject(new Error(`${proc.label} did not emit ${event} within ${EVENT_TIMEOUT_MS} ms`));
    }, EVENT_TIMEOUT_MS);
    proc.resolver.once(event, done);
  });
}

/** What the app's hot path sees: a synchronous `.value` read, shown as the fingerprint of what it got. */
function reads(proc: Proc): void {
  const who = `${proc.label} reads`.padEnd(12);
  try {
    const got = fingerprint(proc.key.value);
    const info = proc.key.info;
    const from = info ? `from ${info.source}:${info.candidate} version ${info.version ?? '-'}, status ${info.status}` : '';
    say(`   ${bold(who)}  ${DEMO_SECRET} → ${got} (${KEY_OF.get(got) ?? 'unknown'}) ${dim(from)}`);
  } catch (error) {
    if (!isKeyflipError(error)) throw error;
    say(`   ${bold(who)}  ${DEMO_SECRET} → throws ${error.name} (${error.code}): no key is served`);
  }
}

// ── the story ───────────────────────────────────────────────────────────────────────────────────────
async function main(): Promise<void> {
  say(bold('keyflip demo — rotating an API key in running processes'));
  say(`   secret   ${DEMO_SECRET} = ${CHAIN}`);
  say(`   source   memorySource(): in memory, behaves like a secret manager (versions, disable, outage)`);
  say(`   refresh  every ${REFRESH_MS} ms ± ${JITTER * 100}%`);
  say(`   app      watches the source: a change is picked up at once`);
  say(`   worker   polls only: a change is picked up on its next refresh`);
  say(`   keys     v1 = ${fingerprint(DEMO_VALUES[V1])}, v2 = ${fingerprint(DEMO_VALUES[V2])} (fingerprints: values are never printed)`);

  step('Start with only v1', 'Playbook step 2: the code reads v2 ?? v1 before v2 even exists.');
  const app = startProcess('app', memory);
  const worker = startProcess('worker', pollOnly);
  await Promise.all([app.resolver.ready(), worker.resolver.ready()]);
  reads(app);
  reads(worker);

  step('Provision v2: the live rotation', 'Playbook steps 1 and 3: v2 is added beside v1, never over it; no restart, no redeploy.');
  {
    const rotated = Promise.all([next(app, 'rotate'), next(worker, 'rotate')]);
    operator(`memory.set('${V2}', <new key>)`);
    memory.set(V2, DEMO_VALUES[V2]);
    const [appMs, workerMs] = await rotated;
    say(dim(`   app switched after ${appMs} ms (watch), worker after ${workerMs} ms (its next refresh)`));
  }
  reads(app);
  reads(worker);

  step('Fall back: disable v2', 'v2 misbehaves; disabling it in the secret manager sends every process back to v1.');
  {
    const fellBack = Promise.all([next(app, 'fallback'), next(worker, 'fallback')]);
    operator(`memory.disable('${V2}')`);
    memory.disable(V2);
    await fellBack;
  }
  reads(app);

  step(
    'Outage: the source stops answering',
    'An outage sends no notification: each process notices it on its next refresh. The walk stops at the',
    'unreachable candidate (falling back past it could put traffic back on an old key), the last good',
    'value keeps being served, and retries back off.',
  );
  {
    const failed = Promise.all([next(app, 'error'), next(worker, 'error')]);
    operator('memory.outage(true)');
    memory.outage(true);
    await failed;
    await next(app, 'error'); // one retry, to show it
  }
  reads(app);
  {
    const recovered = Promise.all([next(app, 'resolve'), next(worker, 'resolve')]);
    operator('memory.outage(false)');
    memory.outage(false);
    await recovered;
  }
  reads(app);

  step('Revoke: every candidate is absent', 'v1 leaked and is disabled at once, while v2 is still disabled: nothing is left to serve.',
    'keyflip fails closed rather than keep serving a revoked key.',);
  {
    const revoked = Promise.all([next(app, 'revoke'), next(worker, 'revoke')]);
    operator(`memory.disable('${V1}')`);
    memory.disable(V1);
    await revoked;
  }
  reads(app);
  reads(worker);

  step('Re-enable v2: served again', 'A later refresh that finds a candidate serves it again.');
  {
    const back = Promise.all([next(app, 'rotate'), next(worker, 'rotate')]);
    operator(`memory.enable('${V2}')`);
    memory.enable(V2);
    await back;
  }
  reads(app);
  reads(worker);

  step(
    'Retire v1',
    'Playbook step 5: v2 wins before v1 is ever fetched, so deleting v1 disturbs nobody. Step 4, proving',
    'that no process still uses v1, is the job of the usage beacon: planned, not in this release.',
  );
  {
    const before = counts.rotate + counts.fallback + counts.error + counts.revoke;
    operator(`memory.delete('${V1}')`);
    memory.delete(V1);
    await sleep(REFRESH_MS * (1 + JITTER) + 100); // long enough for the worker to poll once
    const after = counts.rotate + counts.fallback + counts.error + counts.revoke;
    say(dim(`   ${after === before ? 'no event: nobody was using v1' : `${after - before} unexpected events`}`));
  }
  reads(app);
  reads(worker);

  await Promise.all([app.resolver.close(), worker.resolver.close()]);

  const leaked = Object.values(DEMO_VALUES).filter((value) => printed.some((text) => containsSlice(text, value)));
  if (leaked.length > 0) throw new Error(`${leaked.length} secret value(s) appeared in the output`);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  say();
  say(
    bold(
      `✔ ${steps} steps in ${seconds} s · events: ${counts.rotate} rotate, ${counts.fallback} fallback, ` +
        `${counts.error} error, ${counts.revoke} revoke · values printed: 0`,
    ),
  );
}

/** True when `text` holds any 8-character slice of `value` (a prefix, a suffix, anything in between). */
function containsSlice(text: string, value: string): boolean {
  for (let i = 0; i + 8 <= value.length; i++) if (text.includes(value.slice(i, i + 8))) return true;
  return false;
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
