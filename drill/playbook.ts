/**
 * The playbook as the drill runs it, one function per step, in order, with one chain for the whole drill (the
 * pair layout's `NAME_v2 ?? NAME_v1` by default): v1 set up live, the fleet started; rotation 1 to v2 (provision →
 * probe → flip), verify and revoke refused while the stale worker holds v1, v1 retired once it is gone (after a
 * collector restart: verify cannot prove anything until the collector has observed the window again); rotation 2
 * to v3, automated: `rotate auto` mints v3 through the provider's management API and stages, probes and flips it,
 * a straggler without keyflip or beacon still sends v2, so verify and revoke refuse on the provider's evidence
 * alone, and once it has stopped and the window plus the provider's lag has passed, `rotate auto` revokes v2 in
 * Secret Manager and deletes it at the provider (the straggler's next request gets 401); and the emergency
 * rotation to v4 under load. Each step runs the `keyflip rotate` commands an operator (or a scheduled job) would,
 * waits on observed state (never on a fixed delay alone), marks its moments and records what it saw in
 * {@link Observations}, which the figures and checks read afterwards.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PROVIDER_PROJECT } from './constants.js';
import {
  EMERGENCY,
  type KeyName,
  MINTED,
  NORMAL_ROTATIONS,
  type NormalRotation,
  type DrillContext,
} from './context.js';
import type { Fleet, WorkerState } from './fleet.js';
import { type MintedKey, readMintedKey } from './minted-key.js';
import { answeredAt, type CommandRun, keyState, recordAt, runRotate } from './rotate-command.js';
import { type DrillServices, holders, restartCollector } from './services.js';
import { seconds } from './stats.js';

/** What one normal rotation saw: its flip, the verify that ended the wait, its revoke. */
export interface RotationSeen {
  readonly rotation: NormalRotation;
  flip: CommandRun | undefined;
  /**
   * The last verify run before revoke (the one that passed, when one did), and how many runs it took; in the
   * automated rotation, the verify the straggler made refuse (auto verifies before it revokes).
   */
  verify: CommandRun | undefined;
  verifyAttempts: number;
  revoke: CommandRun | undefined;
  /** Requests the provider counted on the old key when revoke started. */
  providerOldBeforeRevoke: number;
}

/** What the playbook's steps saw, for the figures and checks. */
export interface Observations {
  /** Every `keyflip rotate` run, in order. */
  readonly commands: CommandRun[];
  /** provision, probe and flip of v1. */
  readonly setUp: CommandRun[];
  /** The normal rotations, as far as they got, in order (rotation 1 is `rotations[0]`). */
  readonly rotations: RotationSeen[];
  /** Rotation 1: verify and revoke while the stale worker runs (both must refuse). */
  verifyRefused: CommandRun | undefined;
  revokeRefused: CommandRun | undefined;
  /**
   * Rotation 1: when the collector was restarted (listening again), once the stale worker was gone: once, or again
   * (at most {@link MAX_RESTARTS} in all) when no verify answered before the collector had caught up.
   */
  collectorRestarts: number[];
  /** Rotation 1: the verify runs after the restart that answered "cannot prove" (exit 4), in order. */
  cannotProve: CommandRun[];
  emergency: CommandRun | undefined;
  /** When the stale worker had exited. */
  staleStoppedAt: number | undefined;
  /** When the emergency's old key (v3) was revoked at the provider. */
  emergencyRevokedAt: number | undefined;
  /** Probes the provider counted besides the workers' requests, by key (`rotate probe`, `emergency --provider`). */
  readonly probes: Record<KeyName, number>;
  /** Rotation 2 (automated): what it saw. */
  readonly automated: AutomatedSeen;
}

/** What the automated rotation (rotation 2) saw. */
export interface AutomatedSeen {
  /** The `rotate auto` run that minted, staged, probed and flipped v3. */
  mint: CommandRun | undefined;
  /**
   * v3 as stored (its value stays in the drill's memory: {@link DrillContext.learnMinted}); `given`: made in the
   * provider's console and given to auto in a file (the alias layout), not minted by auto.
   */
  minted: (Omit<MintedKey, 'value'> & { given: boolean }) | undefined;
  /** When the straggler was ready and sending, stopped (its last request ended), and revoked v2 was pinged. */
  stragglerStartedAt: number | undefined;
  stragglerStoppedAt: number | undefined;
  /** verify and revoke, with the provider, while the straggler ran (beacons clear): both must refuse. */
  verifyRefused: CommandRun | undefined;
  revokeRefused: CommandRun | undefined;
  /** The `rotate auto` runs after the straggler stopped, in order; the last revoked v2 (when one did). */
  readonly autoRuns: CommandRun[];
  /** The run that revoked v2, in Secret Manager and at the provider. */
  revoked: CommandRun | undefined;
  /** The earliest moment the evidence could clear: the straggler's last request + window + lag. */
  clearableAt: number | undefined;
}

/** The drill under way: its context, the services, the fleet and what was observed. */
export interface Playbook {
  readonly drill: DrillContext;
  readonly services: DrillServices;
  readonly fleet: Fleet;
  readonly seen: Observations;
}

export function noObservations(): Observations {
  return {
    commands: [],
    setUp: [],
    rotations: [],
    verifyRefused: undefined,
    revokeRefused: undefined,
    collectorRestarts: [],
    cannotProve: [],
    emergency: undefined,
    staleStoppedAt: undefined,
    emergencyRevokedAt: undefined,
    probes: { v1: 0, v2: 0, v3: 0, v4: 0 },
    automated: {
      mint: undefined,
      minted: undefined,
      stragglerStartedAt: undefined,
      stragglerStoppedAt: undefined,
      verifyRefused: undefined,
      revokeRefused: undefined,
      autoRuns: [],
      revoked: undefined,
      clearableAt: undefined,
    },
  };
}

/** When `key` went live: the flip's own record of it, or the start of the flip command. */
export function flipTime(p: Pick<Playbook, 'drill'>, flip: CommandRun, key: KeyName): number {
  return recordAt(p.drill, flip, key, 'flipped') ?? flip.startedAt;
}

const rotate = (p: Playbook, step: string, command: string, args: readonly string[], stdin?: string) =>
  runRotate(p.drill, p.services, p.seen.commands, step, command, args, stdin);

/** `--window W --collector URL`: what verify and revoke need. */
const windowArgs = (p: Playbook): string[] => [
  '--window',
  `${p.drill.settings.windowMs}ms`,
  '--collector',
  p.services.collector.url,
];

/** `rotate probe` of `key` against the mock provider (counted: the provider sees it). */
async function probe(p: Playbook, step: string, key: KeyName): Promise<CommandRun> {
  const run = await rotate(
    p,
    step,
    'probe',
    ['--provider', 'openai', '--base-url', p.services.mock.url],
    p.drill.keys[key],
  );
  if (run.exitCode === 0) p.seen.probes[key]++;
  return run;
}

/** The rotation's record (it must have started). */
function seenOf(p: Playbook, rotation: NormalRotation): RotationSeen {
  const seen = p.seen.rotations.find((r) => r.rotation === rotation);
  if (!seen) throw new Error(`rotation ${rotation.n} has not started`);
  return seen;
}

/** Set-up: v1 live, through the playbook (provision, probe against the mock provider, flip). */
export async function setUpV1(p: Playbook): Promise<void> {
  const { keys } = p.drill;
  p.seen.setUp.push(await rotate(p, 'set-up', 'provision', [], keys.v1));
  p.seen.setUp.push(await probe(p, 'set-up', 'v1'));
  p.seen.setUp.push(await rotate(p, 'set-up', 'flip', []));
  if (p.seen.setUp.some((r) => r.exitCode !== 0)) throw new Error('the set-up of v1 failed');
}

/** The fleet: every worker started and ready, then traffic from all of them at once. */
export async function startFleet(p: Playbook): Promise<void> {
  const { settings: o } = p.drill;
  const starting = Date.now();
  await p.fleet.start();
  p.fleet.startTraffic();
  p.drill.mark('ready');
  p.drill.note(
    `${o.workers} live workers + 1 stale worker ready in ${seconds(Date.now() - starting)}; traffic starts now ` +
      `(each: ${o.rate} requests/s through the openai SDK; beacon every ${o.beaconMs} ms; ` +
      `refresh every ${o.refreshMs} ms ± ${o.jitter * 100} %)`,
  );
}

/** A steady phase: traffic on the live key, nothing else. */
export function steady(p: Playbook): Promise<void> {
  return p.drill.sleep(p.drill.settings.steadyMs);
}

/**
 * A normal rotation: the new key provisioned (staged where no app reads it) and probed, then flipped live; every
 * live worker must switch to it, on the chain it declared at start-up.
 */
export async function rotateTo(p: Playbook, rotation: NormalRotation): Promise<void> {
  const { drill, services } = p;
  const { n, to } = rotation;
  const seen: RotationSeen = {
    rotation,
    flip: undefined,
    verify: undefined,
    verifyAttempts: 0,
    revoke: undefined,
    providerOldBeforeRevoke: 0,
  };
  p.seen.rotations.push(seen);
  const step = `rotation ${n}`;
  drill.mark(`provision-${to}`);
  services.mock.accept(drill.keys[to]);
  const provision = await rotate(p, step, 'provision', [], drill.keys[to]);
  const probed = await probe(p, step, to);
  if (provision.exitCode !== 0 || probed.exitCode !== 0) throw new Error(`${step}: provision or probe failed`);
  drill.mark(`flip-${to}`);
  const flip = await rotate(p, step, 'flip', []);
  seen.flip = flip;
  if (flip.exitCode !== 0) throw new Error(`${step}: flip failed`);
  await everyWorkerOn(p, to, flip);
}

/** Waits until every live worker has sent a request with `to` since `flip` started, and marks when. */
async function everyWorkerOn(p: Playbook, to: KeyName, flip: CommandRun): Promise<void> {
  const { drill, fleet } = p;
  const o = drill.settings;
  const flipAt = flipTime(p, flip, to);
  const switched = await drill.waitFor(
    () => fleet.allOn(to, flip.startedAt),
    3 * o.refreshMs * (1 + o.jitter) + 30_000,
  );
  const all = drill.mark(`all-${to}`, fleet.lastFirstUse(to, flip.startedAt));
  drill.note(
    switched
      ? `every live worker has sent a request with ${to} (the last ${seconds(all - flipAt)} after the flip)`
      : `NOT every live worker switched to ${to}`,
  );
}

/**
 * Rotation 1's window: the live workers' last reports of v1 age out, while the stale worker still holds it. Verify
 * and revoke must both refuse, naming it.
 */
export async function refuseWhileStale(p: Playbook): Promise<void> {
  const { drill, services } = p;
  const o = drill.settings;
  const [first] = NORMAL_ROTATIONS;
  const flip = seenOf(p, first).flip;
  if (!flip) throw new Error('rotation 1 did not flip');
  const flipAt = flipTime(p, flip, first.to);
  const staleId = (p.fleet.stale as { instanceId: string }).instanceId;
  await drill.waitFor(
    () => Date.now() >= flipAt + o.windowMs + 100 && holders(drill, services, 'v1').every((id) => id === staleId),
    o.windowMs + 30_000,
    50,
  );
  p.seen.verifyRefused = await rotate(p, 'verify (stale worker running)', 'verify', windowArgs(p));
  p.seen.revokeRefused = await rotate(p, 'revoke (stale worker running)', 'revoke', windowArgs(p));
}

/**
 * Rotation 1, v1 retired: the stale worker stops; once the window has passed without it, the collector restarts
 * (from its state file, on the same port). Verify must answer "cannot prove" (exit 4) until the restarted collector has
 * observed the window plus one beacon interval, then pass (a few attempts, a beacon interval apart); revoke
 * disables v1, and v1 is revoked at the provider too.
 */
export async function retireV1(p: Playbook): Promise<void> {
  const { drill, services, fleet } = p;
  const o = drill.settings;
  const seen = seenOf(p, NORMAL_ROTATIONS[0]);
  const stale = fleet.stale;
  drill.note(
    `stopping the stale worker (pid ${stale?.pid}): the process that read OPENAI_API_KEY from its ` +
      'environment at start-up',
  );
  if (stale) await fleet.stop(stale);
  const staleStoppedAt = drill.mark('stale-stopped');
  p.seen.staleStoppedAt = staleStoppedAt;
  drill.note(`stale worker gone (exit ${stale?.exitCode})`);
  await drill.waitFor(
    () => Date.now() >= staleStoppedAt + o.windowMs + 100 && holders(drill, services, 'v1').length === 0,
    o.windowMs + 30_000,
    50,
  );
  // Where verify would pass, the collector restarts: until it has observed the window again, it cannot prove.
  drill.mark('collector-restart');
  for (let restarts = 1; ; restarts++) {
    const restartedAt = await restartCollector(drill, services);
    p.seen.collectorRestarts.push(restartedAt);
    const caughtUpAt = restartedAt + o.windowMs + o.beaconMs;
    const shown = await verifyUntilClear(p, seen, 'verify (stale worker gone)', caughtUpAt);
    // A machine so loaded that the first verify answered after the collector had caught up showed nothing:
    // restart again (the verify that passed was right to pass: the collector had observed the whole window).
    if (shown || seen.verify?.exitCode !== 0 || restarts >= MAX_RESTARTS) break;
    drill.note('no verify answered before the restarted collector caught up (a slow machine): restarting it again');
  }
  await revokeOld(p, seen);
}

/**
 * The flags that give a command the provider's management API: the mock's, through the admin key in a file (never
 * on argv), its project, and its reporting lag.
 */
const providerArgs = (p: Playbook): string[] => [
  '--provider',
  'openai',
  '--admin-key-file',
  p.services.adminKeyFile,
  '--provider-base-url',
  p.services.mock.url,
  '--provider-project',
  PROVIDER_PROJECT,
  '--provider-lag',
  `${p.drill.settings.lagMs}ms`,
];

/**
 * `rotate auto`'s flags: the provider's management API (to mint, find, watch and revoke the key), the probe against
 * the mock, a maximum age so short that v2 is due at once, and the window and collector of verify.
 */
const autoArgs = (p: Playbook): string[] => [
  ...providerArgs(p),
  '--base-url',
  p.services.mock.url,
  '--max-age',
  '1s',
  ...windowArgs(p),
];

/**
 * The straggler starts, alongside the steady phase on v2: a process without keyflip and without a beacon that
 * read v2 from its environment once, and sends a request every few seconds from now on.
 */
export async function startStraggler(p: Playbook): Promise<void> {
  const { drill, fleet } = p;
  const o = drill.settings;
  const from = NORMAL_ROTATIONS[1].from;
  const w = await fleet.startStraggler(drill.keys[from], o.stragglerEveryMs);
  fleet.resume(w);
  p.seen.automated.stragglerStartedAt = drill.mark('straggler-started');
  drill.note(
    `straggler started (pid ${w.pid}): ${from} read from its environment once, a request every ` +
      `${seconds(o.stragglerEveryMs)}, no keyflip, no beacon — only the provider sees it`,
  );
}

/**
 * Rotation 2, automated: one `rotate auto` run mints v3 through the provider's management API, stores it in Secret
 * Manager (staged), probes and flips it; the drill reads v3 back from Secret Manager (to count and search for it),
 * and every live worker must switch to it, on the chain it declared at start-up.
 */
export async function autoRotateTo(p: Playbook, rotation: NormalRotation): Promise<void> {
  const { drill, services } = p;
  const { n, to } = rotation;
  if (to !== MINTED) throw new Error(`rotation ${n} mints ${MINTED}, not ${to}`);
  const seen: RotationSeen = {
    rotation,
    flip: undefined,
    verify: undefined,
    verifyAttempts: 0,
    revoke: undefined,
    providerOldBeforeRevoke: 0,
  };
  p.seen.rotations.push(seen);
  drill.mark(`provision-${to}`);
  // auto mints in the pair and suffix layouts; in the alias layout a staged key stays disabled, so keyflip could not
  // read a minted one back to probe it: there the key is made in the provider's console (the mock's) and given to
  // auto in a file, as for a provider that cannot mint.
  const given = drill.settings.layout === 'alias' ? services.mock.mint(`keyflip drill ${to}`) : undefined;
  const valueFile = join(dirname(services.statePath), 'new-key');
  if (given) {
    writeFileSync(valueFile, given.value, { mode: 0o600 });
    drill.learnMinted(given.value);
  }
  const run = await rotate(p, `rotation ${n} (auto)`, 'auto', [
    ...autoArgs(p),
    ...(given ? ['--value-file', valueFile] : []),
  ]);
  if (given) rmSync(valueFile, { force: true });
  p.seen.automated.mint = run;
  if (run.exitCode !== 0)
    throw new Error(
      `rotation ${n}: rotate auto did not mint and flip (exit ${run.exitCode}: ` +
        `${String(run.json?.message ?? run.json?.error?.message ?? 'no JSON').slice(0, 300)})`,
    );
  const minted = await readMintedKey(services, run);
  drill.learnMinted(minted.value);
  const { value: _value, ...shown } = minted;
  p.seen.automated.minted = { ...shown, given: given !== undefined };
  if (recordAt(drill, run, to, 'flipped') === undefined) throw new Error(`rotation ${n}: rotate auto did not flip`);
  p.seen.probes[to]++; // auto probed v3 once, against the mock, before it flipped it (it never flips unprobed)
  seen.flip = run;
  drill.mark(`flip-${to}`, flipTime(p, run, to));
  drill.note(
    `rotate auto ${given ? 'staged the key made in the provider’s console' : 'minted'} ${to} ` +
      `(${drill.fp[to]}, id ${minted.keyId ?? '?'} at the provider` +
      `${minted.serviceAccount ? `, service account ${minted.serviceAccount}` : ''}), stored it in ` +
      `${minted.stored}, probed and flipped it: the drill read it back from Secret Manager to count it`,
  );
  await everyWorkerOn(p, to, run);
}

/**
 * Rotation 2, v2 retired by the provider's evidence: once the window and the provider's lag have passed since the
 * flip and the live workers' last reports of v2 have aged out of the window, the beacons show no holder — but the
 * straggler still sends v2, and the provider counts it. verify and revoke (with the provider) must refuse on that
 * evidence alone. The straggler stops; `rotate auto` runs (as a schedule would): it revokes nothing while the
 * provider's data still shows the straggler's requests in the window (exit 1: in use; or exit 0: waiting for the
 * data to cover the window), then revokes v2: disabled in Secret Manager, deleted at the provider. The straggler's
 * next request gets 401.
 */
export async function retireByProvider(p: Playbook): Promise<void> {
  const { drill, services, fleet } = p;
  const o = drill.settings;
  const rotation = NORMAL_ROTATIONS[1];
  const { from } = rotation;
  const seen = seenOf(p, rotation);
  const auto = p.seen.automated;
  const flip = seen.flip;
  const straggler = fleet.straggler;
  if (!flip || !straggler) throw new Error('rotation 2 did not flip, or the straggler did not start');
  const flipAt = flipTime(p, flip, rotation.to);
  // The provider's usage is read from the first whole minute after the flip (the minute holding the flip holds use
  // from before it too): the straggler shows once a request of it in that minute is older than the lag.
  const firstWholeMinute = Math.ceil(flipAt / 60_000) * 60_000;
  const visibleAt = Math.max(flipAt + o.windowMs, firstWholeMinute + 2 * o.stragglerEveryMs) + o.lagMs + 100;
  await drill.waitFor(
    () => Date.now() >= visibleAt && holders(drill, services, from).length === 0,
    visibleAt - Date.now() + 30_000,
    50,
  );
  const args = [...windowArgs(p), ...providerArgs(p)];
  auto.verifyRefused = await rotate(p, 'verify (straggler running, no beacon)', 'verify', args);
  seen.verify = auto.verifyRefused;
  seen.verifyAttempts = 1;
  auto.revokeRefused = await rotate(p, 'revoke (straggler running, no beacon)', 'revoke', args);

  drill.note(`stopping the straggler (pid ${straggler.pid}): it sends no more requests`);
  await fleet.idle(straggler, 'pause');
  const stoppedAt = drill.mark('straggler-stopped', lastRequestEnd(straggler) ?? Date.now());
  auto.stragglerStoppedAt = stoppedAt;
  auto.clearableAt = stoppedAt + o.windowMs + o.lagMs;
  // The mock reports usage as OpenAI does, in buckets of a whole minute (UTC): the straggler's last request shows
  // until its minute has left the window. Until then each run waits; the drill runs auto once at once (it must
  // wait), then from when the evidence can clear, a beacon interval apart.
  const minuteAfter = Math.floor(stoppedAt / 60_000) * 60_000 + 60_000;
  const expected = Math.max(auto.clearableAt, minuteAfter + o.windowMs + o.lagMs) + 250;
  for (let attempt = 0; ; attempt++) {
    if (attempt === 1) await drill.sleep(Math.max(0, expected - Date.now()));
    else if (attempt > 1) await drill.sleep(o.beaconMs);
    seen.providerOldBeforeRevoke = services.mock.requestsFor(drill.keys[from]);
    const run = await rotate(p, 'auto (straggler gone)', 'auto', autoArgs(p));
    auto.autoRuns.push(run);
    if (revokedBy(p, run, from)) {
      auto.revoked = run;
      seen.revoke = run;
      drill.mark(`revoke-${from}`, run.startedAt);
      break;
    }
    // Exit 1 (not-verified) is auto saying the old key is still in use a whole window after the flip: the
    // straggler's requests are still in the provider's data. Anything else that is not a wait ends the loop.
    const inUse = run.exitCode === 1 && run.json?.refusal === 'not-verified';
    if ((run.exitCode !== 0 && !inUse) || Date.now() > expected + 30_000) break;
  }
  drill.mark(`revoked-${from}`);
  if (auto.revoked) {
    drill.note(`${from} revoked by rotate auto: disabled in Secret Manager and deleted at the provider`);
    await fleet.idle(straggler, 'ping');
    drill.note('the straggler sent one more request with the key it read at start-up');
  }
  await fleet.stop(straggler);
}

/** Whether `run` revoked `key`: every version holding it disabled, and the provider revoked it. */
function revokedBy(p: Playbook, run: CommandRun, key: KeyName): boolean {
  const revocations = (run.json?.providerRevocations ?? []) as { fingerprint?: string; outcome?: string }[];
  return (
    keyState(p.drill, run, key) === 'DISABLED' &&
    revocations.some((r) => r.fingerprint === p.drill.fp[key] && r.outcome === 'revoked')
  );
}

/** When the straggler's last request ended (undefined before its first). */
function lastRequestEnd(w: WorkerState): number | undefined {
  return w.requests.reduce<number | undefined>((t, r) => Math.max(t ?? 0, r[2]), undefined);
}

/** Revoke of the rotation's old key (after its verify), and the same key revoked at the provider too. */
async function revokeOld(p: Playbook, seen: RotationSeen): Promise<void> {
  const { drill, services } = p;
  const old = seen.rotation.from;
  drill.mark(`revoke-${old}`);
  seen.providerOldBeforeRevoke = services.mock.requestsFor(drill.keys[old]);
  seen.revoke = await rotate(p, `revoke (rotation ${seen.rotation.n})`, 'revoke', windowArgs(p));
  if (seen.revoke.exitCode === 0) {
    services.mock.revoke(drill.keys[old]);
    drill.note(`${old} revoked at the provider too (mock.revoke): a request still carrying it would get a 401`);
  }
  drill.mark(`revoked-${old}`);
}

/** Restarts of the collector at most, to show verify answering "cannot prove" on a slow machine. */
const MAX_RESTARTS = 3;

/**
 * Runs verify a beacon interval apart until it passes (or fails otherwise 5 times, or still cannot prove 30 s
 * after `caughtUpAt`); says whether one answered "cannot prove" before `caughtUpAt`, when the restarted collector
 * had observed the window plus one beacon interval.
 */
async function verifyUntilClear(p: Playbook, seen: RotationSeen, step: string, caughtUpAt: number): Promise<boolean> {
  const o = p.drill.settings;
  let shown = false;
  let others = 0;
  for (;;) {
    const run = await rotate(p, step, 'verify', windowArgs(p));
    seen.verifyAttempts++;
    seen.verify = run;
    if (run.exitCode === 4) {
      if (seen.rotation.n === 1) p.seen.cannotProve.push(run);
      if ((answeredAt(run) ?? run.endedAt) < caughtUpAt) shown = true;
    } else others++;
    if (run.exitCode === 0 || run.exitCode === 2) return shown;
    if (run.exitCode === 4 ? Date.now() > caughtUpAt + 30_000 : others >= 5) return shown;
    await p.drill.sleep(o.beaconMs);
  }
}

/**
 * The emergency, under load: `rotate emergency` makes v4 live and disables every other key at once, then v3 is
 * revoked at the provider; every live worker must reach v4, at its first 401 (authFetch) or its next refresh.
 */
export async function emergencyToV4(p: Playbook): Promise<void> {
  const { drill, services, fleet } = p;
  const o = drill.settings;
  const { from, to } = EMERGENCY;
  drill.mark('emergency');
  services.mock.accept(drill.keys[to]);
  const args = [
    '--provider',
    'openai',
    '--base-url',
    services.mock.url,
    '--refresh',
    `${o.refreshMs}ms`,
    '--collector',
    services.collector.url,
  ];
  const emergency = await rotate(p, 'emergency', 'emergency', args, drill.keys[to]);
  p.seen.emergency = emergency;
  if (emergency.exitCode === 0) p.seen.probes[to]++;
  if (emergency.exitCode === 0) {
    // v3, minted by auto, is revoked as an operator would: through the management API (its service account
    // deleted). Another key (no id recorded) is revoked in the mock directly.
    const keyId = from === MINTED ? p.seen.automated.minted?.keyId : undefined;
    if (keyId) await services.provider.revokeKey(keyId);
    else services.mock.revoke(drill.keys[from]);
    p.seen.emergencyRevokedAt = drill.mark(`provider-revoke-${from}`);
    drill.note(
      `${from} revoked at the provider (${keyId ? `management API: ${keyId} deleted` : 'mock.revoke'}): its next ` +
        `request on ${from} gets a 401 and authFetch heals`,
    );
  }
  const healed = await drill.waitFor(
    () => fleet.allOn(to, emergency.startedAt),
    2 * o.refreshMs * (1 + o.jitter) + 30_000,
  );
  drill.mark(`all-${to}`, fleet.lastFirstUse(to, emergency.startedAt));
  drill.note(healed ? `every live worker has sent a request with ${to}` : `NOT every live worker reached ${to}`);
}
