/**
 * The playbook as the drill runs it, one function per step, in order: v1 set up live, the fleet started,
 * the rotation to v2 (provision → probe → flip), verify and revoke refused while the stale worker holds v1,
 * v1 retired once it is gone (after a collector restart: verify cannot prove anything until the collector has
 * observed the window again), and the emergency rotation to v3 under load. Each step runs the `keyflip
 * rotate` commands an operator would, waits on observed state (never on a fixed delay alone), marks its
 * moments and records what it saw in {@link Observations}, which the figures and checks read afterwards.
 */
import type { DrillContext } from './context.js';
import type { Fleet } from './fleet.js';
import { answeredAt, type CommandRun, recordAt, runRotate } from './rotate-command.js';
import { type DrillServices, holders, restartCollector } from './services.js';
import { seconds } from './stats.js';

/** What the playbook's steps saw, for the figures and checks. */
export interface Observations {
  /** Every `keyflip rotate` run, in order. */
  readonly commands: CommandRun[];
  /** provision, probe and flip of v1. */
  readonly setUp: CommandRun[];
  flip: CommandRun | undefined;
  /** verify and revoke while the stale worker runs (both must refuse). */
  verifyRefused: CommandRun | undefined;
  revokeRefused: CommandRun | undefined;
  /**
   * When the collector was restarted (listening again), once the stale worker was gone: once, or again (at most
   * {@link MAX_RESTARTS} in all) when no verify answered before the collector had caught up.
   */
  collectorRestarts: number[];
  /** The verify runs after the restart that answered "cannot prove" (exit 4), in order. */
  cannotProve: CommandRun[];
  /** verify once the stale worker is gone (the last run), and how many runs it took (exit 4 included). */
  verifyPassed: CommandRun | undefined;
  verifyAttempts: number;
  revoke: CommandRun | undefined;
  emergency: CommandRun | undefined;
  /** When the stale worker had exited. */
  staleStoppedAt: number | undefined;
  /** Requests the provider counted on v1 when revoke started. */
  providerV1BeforeRevoke: number;
  /** When v2 was revoked at the provider. */
  revokedV2At: number | undefined;
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
    flip: undefined,
    verifyRefused: undefined,
    revokeRefused: undefined,
    collectorRestarts: [],
    cannotProve: [],
    verifyPassed: undefined,
    verifyAttempts: 0,
    revoke: undefined,
    emergency: undefined,
    staleStoppedAt: undefined,
    providerV1BeforeRevoke: 0,
    revokedV2At: undefined,
  };
}

/** When v2 went live: the flip's own record, or the start of the flip command. */
export function flipTime(p: Pick<Playbook, 'drill'>, flip: CommandRun): number {
  return recordAt(p.drill, flip, 2, 'flipped') ?? flip.startedAt;
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

/** Set-up: v1 live, through the playbook (provision, probe against the mock provider, flip). */
export async function setUpV1(p: Playbook): Promise<void> {
  const { keys } = p.drill;
  const probe = ['--provider', 'openai', '--base-url', p.services.mock.url];
  p.seen.setUp.push(await rotate(p, 'set-up', 'provision', [], keys.v1));
  p.seen.setUp.push(await rotate(p, 'set-up', 'probe', probe, keys.v1));
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

/** The rotation: v2 provisioned and probed (staged), flipped live; every live worker must switch to it. */
export async function rotateToV2(p: Playbook): Promise<void> {
  const { drill, services, fleet } = p;
  const o = drill.settings;
  drill.mark('provision');
  services.mock.accept(drill.keys.v2);
  await rotate(p, 'rotation', 'provision', [], drill.keys.v2);
  await rotate(p, 'rotation', 'probe', ['--provider', 'openai', '--base-url', services.mock.url], drill.keys.v2);
  drill.mark('flip');
  const flip = await rotate(p, 'rotation', 'flip', []);
  p.seen.flip = flip;
  if (flip.exitCode !== 0) throw new Error('flip failed');
  const flipAt = flipTime(p, flip);
  const switched = await drill.waitFor(
    () => fleet.allOn('v2', flip.startedAt),
    3 * o.refreshMs * (1 + o.jitter) + 30_000,
  );
  const allV2 = drill.mark('all-v2', fleet.lastFirstUse('v2', flip.startedAt));
  drill.note(
    switched
      ? `every live worker has sent a request with v2 (the last ${seconds(allV2 - flipAt)} after the flip)`
      : 'NOT every live worker switched to v2',
  );
}

/**
 * The window: the live workers' last reports of v1 age out, while the stale worker still holds it. Verify
 * and revoke must both refuse, naming it.
 */
export async function refuseWhileStale(p: Playbook): Promise<void> {
  const { drill, services } = p;
  const o = drill.settings;
  const flipAt = flipTime(p, p.seen.flip as CommandRun);
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
 * v1 retired: the stale worker stops; once the window has passed without it, the collector restarts (from its
 * state file, on the same port). Verify must answer "cannot prove" (exit 4) until the restarted collector has
 * observed the window plus one beacon interval, then pass (a few attempts, a beacon interval apart); revoke
 * disables v1, and v1 is revoked at the provider too.
 */
export async function retireV1(p: Playbook): Promise<void> {
  const { drill, services, fleet } = p;
  const o = drill.settings;
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
    const shown = await verifyUntilClear(p, caughtUpAt);
    // A machine so loaded that the first verify answered after the collector had caught up showed nothing:
    // restart again (the verify that passed was right to pass: the collector had observed the whole window).
    if (shown || p.seen.verifyPassed?.exitCode !== 0 || restarts >= MAX_RESTARTS) break;
    drill.note('no verify answered before the restarted collector caught up (a slow machine): restarting it again');
  }
  drill.mark('revoke');
  p.seen.providerV1BeforeRevoke = services.mock.requestsFor(drill.keys.v1);
  p.seen.revoke = await rotate(p, 'revoke', 'revoke', windowArgs(p));
  if (p.seen.revoke.exitCode === 0) {
    services.mock.revoke(drill.keys.v1);
    drill.note('v1 revoked at the provider too (mock.revoke): a request still carrying it would get a 401');
  }
  drill.mark('revoked');
}

/** Restarts of the collector at most, to show verify answering "cannot prove" on a slow machine. */
const MAX_RESTARTS = 3;

/**
 * Runs verify a beacon interval apart until it passes (or fails otherwise 5 times, or still cannot prove 30 s
 * after `caughtUpAt`); says whether one answered "cannot prove" before `caughtUpAt`, when the restarted collector
 * had observed the window plus one beacon interval.
 */
async function verifyUntilClear(p: Playbook, caughtUpAt: number): Promise<boolean> {
  const o = p.drill.settings;
  let shown = false;
  let others = 0;
  for (;;) {
    const run = await rotate(p, 'verify (stale worker gone)', 'verify', windowArgs(p));
    p.seen.verifyAttempts++;
    p.seen.verifyPassed = run;
    if (run.exitCode === 4) {
      p.seen.cannotProve.push(run);
      if ((answeredAt(run) ?? run.endedAt) < caughtUpAt) shown = true;
    } else others++;
    if (run.exitCode === 0 || run.exitCode === 2) return shown;
    if (run.exitCode === 4 ? Date.now() > caughtUpAt + 30_000 : others >= 5) return shown;
    await p.drill.sleep(o.beaconMs);
  }
}

/**
 * The emergency, under load: `rotate emergency` makes v3 live and disables v2 at once, then v2 is revoked
 * at the provider; every live worker must reach v3, at its first 401 (authFetch) or its next refresh.
 */
export async function emergencyToV3(p: Playbook): Promise<void> {
  const { drill, services, fleet } = p;
  const o = drill.settings;
  drill.mark('emergency');
  services.mock.accept(drill.keys.v3);
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
  const emergency = await rotate(p, 'emergency', 'emergency', args, drill.keys.v3);
  p.seen.emergency = emergency;
  if (emergency.exitCode === 0) {
    services.mock.revoke(drill.keys.v2);
    p.seen.revokedV2At = drill.mark('provider-revoke-v2');
    drill.note('v2 revoked at the provider (mock.revoke): its next request on v2 gets a 401 and authFetch heals');
  }
  const healed = await drill.waitFor(
    () => fleet.allOn('v3', emergency.startedAt),
    2 * o.refreshMs * (1 + o.jitter) + 30_000,
  );
  drill.mark('all-v3', fleet.lastFirstUse('v3', emergency.startedAt));
  drill.note(healed ? 'every live worker has sent a request with v3' : 'NOT every live worker reached v3');
}
