/**
 * The rotation drill: a fleet of real processes rotates a key while it serves traffic, and the drill
 * counts every request.
 *
 * `runDrill(options)` starts, all on 127.0.0.1 and all in this process: the Secret Manager emulator
 * (gRPC), the mock provider (the openai preset, with its management API) and the collector (HTTP). Then N worker
 * processes (drill/worker.ts; each reads the key through keyflip from the emulator and calls the mock provider
 * with the real `openai` SDK through `authFetch`, at a steady rate, beaconing to the collector) and one stale
 * worker that read its key from `process.env` at start-up. It runs the playbook with the `keyflip rotate`
 * commands as separate processes — three rotations in a row, normal, automated, emergency, on one chain the workers
 * declare at start-up and never change (the pair layout's `OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1` by default) —
 * and checks what the operator must be able to rely on:
 *
 * - set-up: v1 provisioned, probed and flipped live;
 * - rotation 1, provision v2 → probe → flip: zero failed requests; no request carries v2 before its flip; every
 *   live worker on v2 on its first refresh after the flip (within one refresh period plus jitter); verify and
 *   revoke refuse while the stale worker runs, and name it; once it is gone and the window has passed, the
 *   collector restarts (from its state file): verify answers "cannot prove" (exit 4) until the collector has
 *   observed the window plus one beacon interval again, then passes, and revoke disables v1; zero requests on v1
 *   after that;
 * - rotation 2, automated: `rotate auto` mints v3 through the provider's management API, stores, probes and flips
 *   it; a straggler (drill/straggler.ts: v2 read from its environment once, no keyflip, no beacon) makes verify and
 *   revoke refuse on the provider's usage data alone; once it has stopped and the window plus the provider's lag
 *   has passed, `rotate auto` revokes v2 in Secret Manager and deletes it at the provider, and the straggler's next
 *   request gets 401; zero failed requests from the keyflip workers, zero requests of theirs on v2 after;
 * - an emergency rotation to v4 under load (`rotate emergency`, then v3 revoked at the provider): every
 *   worker on v4, at its first 401 (authFetch refreshes and retries once) or its next refresh; failures
 *   limited to requests in flight at the revocation, counted exactly.
 *
 * Every child process is stopped (or killed) before it returns, also on failure. No key value is ever
 * printed or written: the result holds fingerprints, and the drill checks its own output for the values (the minted
 * key, which it reads back from Secret Manager, and the provider's admin key included).
 *
 * Its parts: settings.ts (options), context.ts (clock, marks, transcript), services.ts, fleet.ts (the
 * workers), straggler.ts, minted-key.ts, rotate-command.ts (the operator's commands), playbook.ts (the steps),
 * figures/ (what the record shows), checks.ts (the properties), build-result.ts (the JSON), report.ts (the tables).
 */
import { buildResult } from './build-result.js';
import { createDrillContext, type DrillContext, KEY_NAMES, type KeyName, NORMAL_ROTATIONS } from './context.js';
import { Fleet } from './fleet.js';
import {
  emergencyToV4,
  noObservations,
  type Observations,
  type Playbook,
  refuseWhileStale,
  retireByProvider,
  retireV1,
  rotateTo,
  setUpV1,
  autoRotateTo,
  startFleet,
  startStraggler,
  steady,
} from './playbook.js';
import type { DrillRecord } from './record.js';
import type { DrillResult } from './result.js';
import { closeServices, type DrillServices, startServices } from './services.js';
import { type DrillOptions, drillSettings } from './settings.js';

export { ROOT } from './constants.js';
export { ISSUES_FOUND } from './issues.js';
export { phaseTable, report, summaryTable } from './report.js';
export type { Check, CommandSummary, DrillResult, PhaseRow } from './result.js';
export type { DrillOptions, DrillSettings, Layout } from './settings.js';

/** Runs the drill (see above) and returns its result; it rejects only for options that make no sense. */
export async function runDrill(options: DrillOptions = {}): Promise<DrillResult> {
  const drill = createDrillContext(drillSettings(options), options);
  const seen = noObservations();
  let services: Partial<DrillServices> = {};
  let fleet: Fleet | undefined;
  let failure: unknown;
  try {
    const started = await startServices(drill, (part) => {
      services = part;
    });
    // One object from here on: a collector restart replaces `started.collector`, and the close must see it.
    services = started;
    fleet = new Fleet(drill, started);
    const playbook: Playbook = { drill, services: started, fleet, seen };
    const [first, second] = NORMAL_ROTATIONS;
    await setUpV1(playbook);
    await startFleet(playbook);
    await steady(playbook);
    // Rotation 1: v1 → v2, with the stale worker blocking verify and revoke, and a collector restart.
    await rotateTo(playbook, first);
    await refuseWhileStale(playbook);
    await retireV1(playbook);
    // The straggler (no keyflip, no beacon) starts on v2 during the steady phase.
    await Promise.all([steady(playbook), startStraggler(playbook)]);
    // Rotation 2, automated, on the same chain: `rotate auto` mints v3 at the provider and flips it; the straggler
    // blocks verify and revoke through the provider's evidence alone; once it has stopped, auto revokes v2.
    await autoRotateTo(playbook, second);
    await retireByProvider(playbook);
    await steady(playbook);
    // Rotation 3: the emergency, v3 → v4, on the same chain.
    await emergencyToV4(playbook);
    await steady(playbook);
  } catch (error) {
    failure = error;
    drill.note(`drill stopped early: ${error instanceof Error ? error.message : String(error)}`);
  }
  const record = await stopEverything(drill, services, fleet, seen, failure);
  return buildResult(record);
}

/**
 * Stops every worker (killing any that does not leave), reads what the provider counted, closes the
 * services, whatever happened before: the drill never leaves a process behind.
 */
async function stopEverything(
  drill: DrillContext,
  services: Partial<DrillServices>,
  fleet: Fleet | undefined,
  seen: Observations,
  failure: unknown,
): Promise<DrillRecord> {
  drill.mark('stop');
  await fleet?.stopAll();
  const mock = services.mock;
  const known = KEY_NAMES.filter((k) => drill.keys[k] !== '');
  const providerCounted = Object.fromEntries(
    KEY_NAMES.map((k) => [k, mock && drill.keys[k] !== '' ? mock.requestsFor(drill.keys[k]) : 0]),
  ) as Record<KeyName, number>;
  const listed = mock ? mock.keys() : [];
  const providerKeys = Object.fromEntries(
    known.flatMap((k) => {
      const id = mock?.keyId(drill.keys[k]);
      const key = listed.find((x) => x.id === id);
      return key ? [[k, key]] : [];
    }),
  ) as DrillRecord['providerKeys'];
  await fleet?.killRest();
  await closeServices(services);
  drill.note(`stopped: ${fleet?.workers.length ?? 0} processes exited, services closed`);
  const loopDelayMs = drill.stopLoopDelay();
  const workers = fleet?.workers ?? [];
  return { drill, workers, stale: fleet?.stale, seen, providerCounted, providerKeys, failure, loopDelayMs };
}
