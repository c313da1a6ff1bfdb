/**
 * keyflip demo: the whole rotation loop, live, in one process, with nothing leaving the machine.
 *
 *   npm run demo
 *
 * - Google Cloud Secret Manager is the embedded emulator (`startSecretManagerEmulator` from keyflip/testing),
 *   reached by the real `@google-cloud/secret-manager` client over real gRPC on 127.0.0.1.
 * - Two apps (two resolvers, `web` and `worker`) resolve OPENAI_API_KEY as `OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1`
 *   (the pair layout, the default: `_v2` holds the current key, `_v1` the previous one; the chain never changes)
 *   and run the usage beacon, which reports to a collector served over HTTP (`startCollectorServer` from
 *   keyflip/collector). The seed is key A in `OPENAI_API_KEY_v1`.
 * - The operator runs the playbook with keyflip/rotation, the functions `keyflip rotate …` runs: provision key B
 *   (staged in `OPENAI_API_KEY_next`, which no app declares), probe it against a mock of the OpenAI API, flip (B in
 *   `_v2`, A in `_v1`), verify (refused while the worker still holds A, naming it), let the worker refresh, verify
 *   again (passes), revoke A — and nobody is disturbed. Then a second rotation, to key C, with the same chain.
 *
 * The window is 2 s over beacons every 1 s so that the demo takes seconds; production uses a 1 h window over 60 s
 * beacons (docs/evidence.md). Every line is printed by the demo from what the library returned or emitted
 * (keyflip itself prints nothing), and no value is ever printed: keys show as their fingerprints.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createResolver,
  fingerprint,
  type Resolver,
  type ResolverEvents,
  type SecretHandle,
  type SecretInfo,
} from 'keyflip';
import { httpSink, usageBeacon } from 'keyflip/beacon';
import { collectorUsageSource, createCollector, formatDuration, startCollectorServer } from 'keyflip/collector';
import { gcpSecretManager } from 'keyflip/gcp';
import {
  flip,
  openSecretAdmin,
  probe,
  provision,
  type RotationContext,
  type RotationResult,
  revoke,
  type SecretAdmin,
  verify,
} from 'keyflip/rotation';
import { startMockProvider, startSecretManagerEmulator } from 'keyflip/testing';
import {
  bold,
  cyan,
  DEMO_KEYS,
  dim,
  green,
  keyName,
  leakedValues,
  note,
  red,
  say,
  sayWrapped,
  shownKey,
  since,
  step,
  summary,
} from './demo-output.js';
import { DEMO_SECRET } from './demo-values.js';

/** The pair layout's names: apps read `_v2` (the current key) first, then `_v1` (the previous one). */
const V1 = `${DEMO_SECRET}_v1` as const;
const V2 = `${DEMO_SECRET}_v2` as const;
/** Where provision stages a new key: a secret no app declares. */
const NEXT = `${DEMO_SECRET}_next` as const;
const CHAIN = `${V2} ?? ${V1}`;
/** Each app's beacon period: the shortest the collector accepts (production: the default, 60 s). */
const BEACON_MS = 1_000;
/** The verify window: two beacon intervals, the shortest that proves anything (production: 1 h). */
const WINDOW_MS = 2 * BEACON_MS;
/** `web` refreshes every second; `worker` keeps the library's default, 5 minutes: it is the straggler. */
const REFRESH_MS = { web: 1_000, worker: 300_000 } as const;
/** How long the demo waits for something it expects before it gives up (and exits 1). */
const PATIENCE_MS = 5_000;

// ── the services: Secret Manager, the collector, the provider ────────────────────────────────────────────────────
const emulator = await startSecretManagerEmulator({ projectId: 'demo-project' });
const emulatorEnv = { SECRET_MANAGER_EMULATOR_HOST: emulator.host };
/** The collector's bearer token, shared by the beacons and verify (`KEYFLIP_COLLECTOR_TOKEN` for the CLI). */
const token = randomBytes(16).toString('hex');
const collector = createCollector();
const server = await startCollectorServer({ collector, token });
const openai = await startMockProvider({ preset: 'openai', keys: [DEMO_KEYS.B, DEMO_KEYS.C] });
/** The operator's Secret Manager admin, opened in step 2: the apps' first call loads the SDK, as in a real app. */
let admin: SecretAdmin | undefined;

// ── the two apps ─────────────────────────────────────────────────────────────────────────────────────────────────
type AppName = keyof typeof REFRESH_MS;
type EventName = keyof ResolverEvents;

interface App {
  readonly name: AppName;
  readonly id: string;
  readonly resolver: Resolver;
  readonly key: SecretHandle<string>;
  /** Events emitted so far, by name (`resolve` on every refresh, `fallback` on each that skips `_v2`). */
  readonly events: Record<EventName, number>;
}

/** Every app started, to close them all however the demo ends. */
const apps: App[] = [];

/** An app as you would write it: a resolver on Secret Manager, with the usage beacon reporting to the collector. */
function startApp(name: AppName): App {
  const id = `${name}-1`;
  const resolver = createResolver({
    sources: [gcpSecretManager({ projectId: emulator.projectId, env: emulatorEnv })],
    refreshMs: REFRESH_MS[name],
    beacon: usageBeacon({
      service: name,
      instanceId: id,
      intervalMs: BEACON_MS,
      sink: httpSink({ url: server.url, token }),
    }),
  });
  const app: App = {
    name,
    id,
    resolver,
    key: resolver.secret(DEMO_SECRET, CHAIN),
    events: { resolve: 0, rotate: 0, fallback: 0, revoke: 0, error: 0 },
  };
  apps.push(app);
  for (const event of Object.keys(app.events) as EventName[]) resolver.on(event, () => app.events[event]++);
  // What the demo narrates: a change of key, and anything that goes wrong (there should be none).
  const shownInfo = (info: SecretInfo): string => `${info.candidate} ${shownKey(info.fingerprint)}`;
  resolver.on('rotate', ({ previous, current }) =>
    emitted(app, 'rotate', `${shownInfo(previous)} → ${shownInfo(current)}`),
  );
  resolver.on('revoke', ({ skipped }) =>
    emitted(app, 'revoke', `${skipped.map((s) => `${s.candidate} ${s.reason}`).join(', ')}: fails closed`),
  );
  resolver.on('error', ({ error }) => emitted(app, 'error', `${error.code}: ${error.message}`));
  return app;
}

function emitted(app: App, event: EventName, detail: string): void {
  const paint = event === 'rotate' ? cyan : red;
  say(`     ${dim(since().padStart(7))}  ${app.name.padEnd(6)}  ${paint(event.padEnd(6))}  ${detail}`);
}

/** What the app's hot path reads (a synchronous `.value`), shown as its fingerprint, and where it came from. */
function serves(app: App): void {
  const fp = fingerprint(app.key.value);
  const info = app.key.info;
  const from = info ? ` from ${info.source}:${info.candidate} version ${info.version ?? '-'}, ${info.status}` : '';
  say(`   ${bold(app.name.padEnd(6))}  serves ${shownKey(fp)}${dim(from)}`);
}

// ── the collector's view ─────────────────────────────────────────────────────────────────────────────────────────
/** The fingerprint each instance's latest report lists, by the collector's usage answer over the window. */
function holding(): Map<string, string> {
  const held = new Map<string, string>();
  for (const f of collector.usage(DEMO_SECRET, { windowMs: WINDOW_MS }).fingerprints)
    for (const instance of f.instances) if (instance.current) held.set(instance.id, f.fingerprint);
  return held;
}

/** Waits until the collector has the latest reports of both apps holding these keys, then prints what it holds. */
async function collectorShows(expected: Record<AppName, string>): Promise<void> {
  const apps = Object.keys(expected) as AppName[];
  await until('the collector to show the apps on their keys', () =>
    apps.every((name) => holding().get(`${name}-1`) === expected[name]),
  );
  const held = holding();
  const shown = apps.map((name) => `${name}-1 holds ${keyName(held.get(`${name}-1`))}`).join(' · ');
  say(`   ${bold('collector')}  ${shown} ${dim(`(${collector.stats.reports} reports so far)`)}`);
}

/** When an instance last reported the fingerprint `fp` (collector time), or undefined. */
function lastReported(fp: string): number | undefined {
  return collector.usage(DEMO_SECRET, { windowMs: WINDOW_MS }).fingerprints.find((f) => f.fingerprint === fp)?.lastSeen;
}

// ── the operator ─────────────────────────────────────────────────────────────────────────────────────────────────
/** One `keyflip rotate` command's answer: its outcome, why it refused when it did, and its message. */
function operator(result: RotationResult, message = result.message): void {
  const mark = result.ok ? green('✔') : red('✘');
  const outcome = `${result.outcome}${result.refusal ? ` (${result.refusal})` : ''}`;
  sayWrapped(`   ${mark} ${bold(`rotate ${result.command}`.padEnd(17))}`, `${outcome}: ${message}`);
}

/** A refused or failed verify, trimmed: the verdict, then who holds the old key and who held it. Never a value. */
function verdict(result: RotationResult): void {
  for (const check of result.verifications ?? []) {
    // The usage verdict when it is what refused; otherwise the rotation's reason (the new key not live long enough).
    operator(result, check.result.ok ? result.message : check.result.message);
    for (const o of check.result.holding)
      say(`       ${red('still holding')}  ${o.id} (service ${o.service}, pid ${o.pid}) on ${shownKey(o.fingerprint)}`);
    for (const o of check.result.heldEarlier) {
      const ago = ((check.result.at - o.lastSeen) / 1000).toFixed(1);
      say(`       ${dim('held earlier ')}  ${o.id} (service ${o.service}): reported it ${ago} s ago, rotated since`);
    }
  }
}

/** What a secret's newest version holds after a command: `OPENAI_API_KEY_v1@1 key A, ENABLED (old)`. */
const slot = (result: RotationResult, secretId: string): string => {
  const key = result.keys.filter((k) => k.secretId === secretId).at(-1);
  return key ? `${key.label} ${keyName(key.fingerprint)}, ${key.state} (${key.role})` : `${secretId}: none`;
};
/** Where the current and the previous key are: `_v2`'s newest version, then `_v1`'s. */
const slots = (result: RotationResult): void =>
  sayWrapped(`   ${bold('Secret Manager')}  `, `${slot(result, V2)} · ${slot(result, V1)}`);

// ── helpers ──────────────────────────────────────────────────────────────────────────────────────────────────────
async function until(what: string, done: () => boolean): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what} after ${PATIENCE_MS} ms`);
    await sleep(20);
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const times = (n: number): string => (n === 1 ? 'once' : `${n} times`);

// ── the story ────────────────────────────────────────────────────────────────────────────────────────────────────
async function main(): Promise<void> {
  const fpA = fingerprint(DEMO_KEYS.A);
  const fpB = fingerprint(DEMO_KEYS.B);
  const fpC = fingerprint(DEMO_KEYS.C);
  say(bold('keyflip demo: rotate an API key under two running apps, prove the old key unused, revoke it'));
  say(`   secret          apps declare ${CHAIN}, forever: _v2 current key, _v1 previous`);
  say(`   Secret Manager  the embedded emulator at ${emulator.host}, through the real client over gRPC`);
  say(`   collector       ${server.url}, in this process; each app's usage beacon reports to it every 1 s`);
  say(`   OpenAI          a mock of its API at ${openai.url}, for the probe`);
  say(`   keys            A = ${fpA}, B = ${fpB}, C = ${fpC} (fingerprints only, never a value)`);
  say(`   operator        keyflip/rotation's provision, probe, flip, verify, revoke: what \`keyflip rotate\` runs`);

  step(
    'Two apps serve key A',
    `${V1} version 1 holds key A (the seed); ${V2} does not exist yet: the first flip adds it.`,
  );
  emulator.addVersion(V1, DEMO_KEYS.A);
  const startedAt = performance.now();
  const web = startApp('web');
  const worker = startApp('worker');
  const beacon = `beacon every ${formatDuration(BEACON_MS)}`;
  say(`   ${bold('web   ')}  refreshes every ${formatDuration(REFRESH_MS.web)}, ${beacon}`);
  say(`   ${bold('worker')}  refreshes every ${formatDuration(REFRESH_MS.worker)} (the default), ${beacon}`);
  await Promise.all([web.resolver.ready(), worker.resolver.ready()]);
  note(
    `both ready in ${seconds(performance.now() - startedAt)}: the first call loads the Google SDK and opens a gRPC ` +
      'connection; the default fetchTimeoutMs (5 s) leaves room for it',
  );
  serves(web);
  serves(worker);
  await collectorShows({ web: fpA, worker: fpA });

  step(
    'Rotate to key B: provision, probe, flip',
    `provision stages key B in ${NEXT}, which no app declares: no app can read it before flip.`,
    `flip makes ${V2} current (key B) and ${V1} previous (key A): no restart, no redeploy.`,
  );
  admin = await openSecretAdmin({ projectId: emulator.projectId, env: emulatorEnv });
  /** What every `keyflip rotate` command works on; `usage` is what `--collector URL` gives verify and revoke. */
  const ctx: RotationContext = { admin, name: DEMO_SECRET, usage: collectorUsageSource({ url: server.url, token }) };
  const rotations = web.events.rotate + worker.events.rotate;
  operator(await provision(ctx, DEMO_KEYS.B));
  operator(await probe(ctx, DEMO_KEYS.B, { provider: 'openai', baseUrl: openai.url }));
  if (web.events.rotate + worker.events.rotate > rotations) throw new Error('an app read the staged key before flip');
  const flipped = await flip(ctx);
  operator(flipped);
  const flippedAt = Date.now();
  slots(flipped);
  await until('web to serve key B', () => web.key.info?.fingerprint === fpB);
  await collectorShows({ web: fpB, worker: fpA });
  note(`the worker still serves key A: its next refresh is up to ${formatDuration(REFRESH_MS.worker)} away`);

  step(
    'Verify key A: refused, naming the app that still holds it',
    `Window ${formatDuration(WINDOW_MS)}: two beacon intervals, the least that proves anything ` +
      '(production: 1h over 60s beacons).',
  );
  verdict(await verify(ctx, { windowMs: WINDOW_MS }));
  const refused = await revoke(ctx, { windowMs: WINDOW_MS });
  operator(refused, `no write; ${slot(refused, V1)}`);

  step('The worker refreshes; verify passes');
  note(`its ${formatDuration(REFRESH_MS.worker)} refresh comes due: the demo calls worker.refresh() rather than wait`);
  await worker.resolver.refresh();
  await until('the worker to serve key B', () => worker.key.info?.fingerprint === fpB);
  await collectorShows({ web: fpB, worker: fpB });
  // What a pass needs (docs/evidence.md and the rotation's own gate): B live for the whole window, the last report
  // of A out of it, and the collector listening for the window plus one beacon interval. The demo waits for all.
  const provable = Math.max(
    flippedAt + WINDOW_MS,
    (lastReported(fpA) ?? collector.now()) + WINDOW_MS,
    collector.observedSince + WINDOW_MS + BEACON_MS,
  );
  const wait = Math.max(0, provable + 100 - collector.now());
  note(
    `waiting ${seconds(wait)}: a pass needs key B live for the whole ${formatDuration(WINDOW_MS)} window, no report ` +
      'of key A in it, and the collector listening for the window plus one beacon interval',
  );
  await sleep(wait);
  let passed = await verify(ctx, { windowMs: WINDOW_MS });
  // On a loaded machine the evidence may lag behind: show the answer, and ask again one beacon interval later.
  for (let attempt = 1; !passed.ok && attempt < 5; attempt++) {
    verdict(passed);
    note(`asking again in ${formatDuration(BEACON_MS)}`);
    await sleep(BEACON_MS);
    passed = await verify(ctx, { windowMs: WINDOW_MS });
  }
  if (!passed.ok) {
    verdict(passed);
    throw new Error('verify did not pass');
  }
  operator(passed);

  step('Revoke key A: nobody is disturbed', `Both apps read ${V2} first, so disabling key A changes nothing for them.`);
  const revoked = await revoke(ctx, { windowMs: WINDOW_MS });
  operator(revoked);
  if (!revoked.ok) throw new Error('revoke did not pass');
  const disabledAt = { web: { ...web.events }, worker: { ...worker.events } };
  slots(revoked);
  for (const text of revoked.notes) note(text);
  await until('web to refresh', () => web.events.resolve > disabledAt.web.resolve);
  await worker.resolver.refresh();
  const count = (app: App, event: EventName): number => app.events[event] - disabledAt[app.name][event];
  const disturbed = (['rotate', 'fallback', 'revoke', 'error'] as const)
    .map((event) => count(web, event) + count(worker, event))
    .reduce((a, b) => a + b);
  sayWrapped(
    '   ',
    `since key A was disabled, web refreshed ${times(count(web, 'resolve'))} and the worker ` +
      `${times(count(worker, 'resolve'))}: ${disturbed} rotate, fallback, revoke or error events`,
  );
  serves(web);
  serves(worker);
  if (disturbed > 0) throw new Error(`revoking key A disturbed an app (${disturbed} events)`);

  step('Rotate again, to key C: the same chain follows');
  const provisioned = await provision(ctx, DEMO_KEYS.C);
  const probed = await probe(ctx, DEMO_KEYS.C, { provider: 'openai', baseUrl: openai.url });
  const again = await flip(ctx);
  const failed = [provisioned, probed, again].find((result) => !result.ok);
  if (failed) throw new Error(`the second rotation's ${failed.command} failed: ${failed.message}`);
  say(`   ${green('✔')} ${bold('rotate provision, probe, flip')}  done: the apps still declare ${CHAIN}, unchanged`);
  slots(again);
  await until('web to serve key C', () => web.key.info?.fingerprint === fpC);

  await Promise.all(apps.map((app) => app.resolver.close()));
  const leaked = leakedValues();
  if (leaked.length > 0) throw new Error(`${leaked.length} secret value(s) appeared in the output`);
  say();
  sayWrapped(
    '',
    `✔ ${summary()} · the collector took ${collector.stats.reports} beacon reports · Secret Manager answered ` +
      `${emulator.calls('AccessSecretVersion')} AccessSecretVersion calls · values printed: 0`,
    bold,
  );
}

async function shutDown(): Promise<void> {
  await Promise.allSettled(apps.map((app) => app.resolver.close()));
  await server.close();
  await Promise.allSettled([admin?.close(), openai.close()]);
  await emulator.close();
}

try {
  await main();
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  await shutDown();
}
