/**
 * keyflip demo: the blue/green key-rotation playbook, live, on Google Cloud Secret Manager — the embedded
 * emulator (`startSecretManagerEmulator` from keyflip/testing), reached by the real
 * `@google-cloud/secret-manager` client over real gRPC on 127.0.0.1. Nothing leaves the machine.
 *
 *   npm run demo
 *
 * Two processes resolve OPENAI_API_KEY as `OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1` (one secret per key
 * version, the suffix layout), each refreshing on its own jittered period. An operator then provisions
 * v2, disables it, slows Secret Manager past the fetch budget, revokes everything and recovers. The demo
 * prints what keyflip reports through its events: candidates, versions, fingerprints and statuses —
 * never a value. keyflip itself prints nothing.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createResolver,
  fingerprint,
  isKeyflipError,
  SourceUnavailableError,
  type Resolver,
  type ResolverEvents,
  type SecretHandle,
  type SecretInfo,
} from 'keyflip';
import { gcpSecretManager } from 'keyflip/gcp';
import { startSecretManagerEmulator } from 'keyflip/testing';
import { DEMO_SECRET, DEMO_VALUES } from './demo-values.js';

const V1 = 'OPENAI_API_KEY_v1';
const V2 = 'OPENAI_API_KEY_v2';
const CHAIN = `${V2} ?? ${V1}`;
const REFRESH_MS = { app: 400, worker: 700 } as const;
const JITTER = 0.2;
/** The budget of one Secret Manager call: slower answers count as an outage. */
const FETCH_TIMEOUT_MS = 250;
/** How long the demo waits for an expected event before it gives up (and exits 1). */
const EVENT_TIMEOUT_MS = 3_000;

// ── output ──────────────────────────────────────────────────────────────────────────────────────────
const useColor = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
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

const emulator = await startSecretManagerEmulator({ projectId: 'demo-project' });

function startProcess(label: keyof typeof REFRESH_MS): Proc {
  // Each process has its own Secret Manager source; SECRET_MANAGER_EMULATOR_HOST points it at the emulator.
  const source = gcpSecretManager({
    projectId: emulator.projectId,
    env: { SECRET_MANAGER_EMULATOR_HOST: emulator.host },
  });
  const resolver = createResolver({
    sources: [source],
    refreshMs: REFRESH_MS[label],
    jitter: JITTER,
    fetchTimeoutMs: FETCH_TIMEOUT_MS,
  });
  const proc: Proc = {
    label,
    resolver,
    key: resolver.secret(DEMO_SECRET, CHAIN),
    status: undefined,
    serving: undefined,
    changed: false,
  };
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
    if (proc.status !== 'ok')
      line(proc, 'resolve', `${proc.status === undefined ? 'serving' : 'recovered, serving'} ${provenance(info)}`);
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
    line(
      proc,
      'error',
      `${error.code}${where} → ${servingStale ? 'still serving the last good value (stale)' : 'nothing to serve'}`,
    );
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
    const from = info
      ? `from ${info.source}:${info.candidate} version ${info.version ?? '-'}, status ${info.status}`
      : '';
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
  say(
    `   source   Google Cloud Secret Manager: the embedded emulator at ${emulator.host}, ` +
      'through the real client over gRPC',
  );
  say(`   app      refreshes every ${REFRESH_MS.app} ms ± ${JITTER * 100}%`);
  say(`   worker   refreshes every ${REFRESH_MS.worker} ms ± ${JITTER * 100}%`);
  say(
    `   keys     v1 = ${fingerprint(DEMO_VALUES[V1])}, v2 = ${fingerprint(DEMO_VALUES[V2])} ` +
      '(fingerprints: values are never printed)',
  );

  step('Start with only v1', 'Playbook step 2: the code reads v2 ?? v1 before v2 even exists.');
  operator(`add ${V1} version 1`);
  emulator.addVersion(V1, DEMO_VALUES[V1]);
  const app = startProcess('app');
  const worker = startProcess('worker');
  await Promise.all([app.resolver.ready(), worker.resolver.ready()]);
  reads(app);
  reads(worker);

  step(
    'Provision v2: the live rotation',
    'Playbook steps 1 and 3: v2 is added beside v1, never over it; no restart, no redeploy.',
  );
  {
    const rotated = Promise.all([next(app, 'rotate'), next(worker, 'rotate')]);
    operator(`add ${V2} version 1 (a new secret beside v1)`);
    emulator.addVersion(V2, DEMO_VALUES[V2]);
    const [appMs, workerMs] = await rotated;
    say(dim(`   app switched after ${appMs} ms, worker after ${workerMs} ms: each on its next refresh, no restart`));
  }
  reads(app);
  reads(worker);

  step('Fall back: disable v2', 'v2 misbehaves; disabling it in the secret manager sends every process back to v1.');
  {
    const fellBack = Promise.all([next(app, 'fallback'), next(worker, 'fallback')]);
    operator(`disable ${V2} version 1`);
    emulator.disableVersion(V2, '1');
    await fellBack;
  }
  reads(app);

  step(
    'Outage: Secret Manager stops answering in time',
    `Each call now outlives its ${FETCH_TIMEOUT_MS} ms budget and is aborted. The walk stops at the unreachable`,
    'candidate (falling back past it could put traffic back on an old key), the last good value keeps',
    'being served, and retries back off.',
  );
  {
    const failed = Promise.all([next(app, 'error'), next(worker, 'error')]);
    operator('every call takes 2 s');
    emulator.setLatency(2_000);
    await failed;
    await next(app, 'error'); // one retry, to show it
  }
  reads(app);
  {
    const recovered = Promise.all([next(app, 'resolve'), next(worker, 'resolve')]);
    operator('calls are fast again');
    emulator.setLatency(0);
    await recovered;
  }
  reads(app);

  step(
    'Revoke: every candidate is absent',
    'v1 leaked and is disabled at once, while v2 is still disabled: nothing is left to serve.',
    'keyflip fails closed rather than keep serving a revoked key.',
  );
  {
    const revoked = Promise.all([next(app, 'revoke'), next(worker, 'revoke')]);
    operator(`disable ${V1} version 1`);
    emulator.disableVersion(V1, '1');
    await revoked;
  }
  reads(app);
  reads(worker);

  step('Re-enable v2: served again', 'A later refresh that finds a candidate serves it again.');
  {
    const back = Promise.all([next(app, 'rotate'), next(worker, 'rotate')]);
    operator(`enable ${V2} version 1`);
    emulator.enableVersion(V2, '1');
    await back;
  }
  reads(app);
  reads(worker);

  step(
    'Retire v1',
    'Playbook step 5: v2 wins before v1 is ever fetched, so destroying v1 disturbs nobody. Step 4, proving',
    'that no process still uses v1, is the job of the usage beacon: planned, not in this release.',
  );
  {
    const before = counts.rotate + counts.fallback + counts.error + counts.revoke;
    operator(`destroy ${V1} version 1`);
    emulator.destroyVersion(V1, '1');
    await sleep(REFRESH_MS.worker * (1 + JITTER) + 100); // long enough for both to refresh once
    const after = counts.rotate + counts.fallback + counts.error + counts.revoke;
    say(dim(`   ${after === before ? 'no event: nobody was using v1' : `${after - before} unexpected events`}`));
  }
  reads(app);
  reads(worker);

  await Promise.all([app.resolver.close(), worker.resolver.close()]);
  const access = emulator.calls('AccessSecretVersion');
  const other = emulator.calls() - access;
  await emulator.close();
  say();
  say(
    dim(
      `   Secret Manager saw ${access} AccessSecretVersion calls and ${other} other calls: ` +
        'keyflip polls with access only.',
    ),
  );

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
