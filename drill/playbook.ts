/**
 * The playbook as the drill runs it, one function per step, in order, with one chain for the whole drill (the
 * pair layout's `NAME_v2 ?? NAME_v1` by default): v1 set up live, the fleet started; rotation 1 to v2 (provision →
 * probe → flip), verify and revoke refused while the stale worker holds v1, v1 retired once it is gone (after a
 * collector restart: verify cannot prove anything until the collector has observed the window again); rotation 2
 * to v3 the same way, v2 retired (no stale worker: verify passes once the window has passed); and the emergency
 * rotation to v4 under load. Each step runs the `keyflip rotate` commands an operator would, waits on observed
 * state (never on a fixed delay alone), marks its moments and records what it saw in {@link Observations}, which
 * the figures and checks read afterwards.
 */
import { EMERGENCY, type KeyName, NORMAL_ROTATIONS, type NormalRotation, type DrillContext } from './context.js';
import type { Fleet } from './fleet.js';
import { answeredAt, type CommandRun, recordAt, runRotate } from './rotate-command.js';
import { type DrillServices, holders, restartCollector } from './services.js';
import { seconds } from './stats.js';

/** What one normal rotation saw: its flip, the verify that ended the wait, its revoke. */
export interface RotationSeen {
  readonly rotation: NormalRotation;
  flip: CommandRun | undefined;
  /** The last verify run before revoke (the one that passed, when one did), and how many runs it took. */
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
  const { drill, services, fleet } = p;
  const o = drill.settings;
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
 * Rotation 2, v2 retired: no process holds it any more (no stale worker now); once the live workers' last reports
 * of it have aged out of the window, verify passes and revoke disables every version holding it.
 */
export async function retireV2(p: Playbook): Promise<void> {
  const { drill, services } = p;
  const o = drill.settings;
  const second = NORMAL_ROTATIONS[1];
  const seen = seenOf(p, second);
  const flip = seen.flip;
  if (!flip) throw new Error('rotation 2 did not flip');
  const flipAt = flipTime(p, flip, second.to);
  await drill.waitFor(
    () => Date.now() >= flipAt + o.windowMs + 100 && holders(drill, services, second.from).length === 0,
    o.windowMs + 30_000,
    50,
  );
  await verifyUntilClear(p, seen, 'verify (rotation 2)', Date.now());
  await revokeOld(p, seen);
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
    services.mock.revoke(drill.keys[from]);
    p.seen.emergencyRevokedAt = drill.mark(`provider-revoke-${from}`);
    drill.note(
      `${from} revoked at the provider (mock.revoke): its next request on ${from} gets a 401 and authFetch heals`,
    );
  }
  const healed = await drill.waitFor(
    () => fleet.allOn(to, emergency.startedAt),
    2 * o.refreshMs * (1 + o.jitter) + 30_000,
  );
  drill.mark(`all-${to}`, fleet.lastFirstUse(to, emergency.startedAt));
  drill.note(healed ? `every live worker has sent a request with ${to}` : `NOT every live worker reached ${to}`);
}
