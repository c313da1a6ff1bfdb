/**
 * The rotation drill: a fleet of real processes rotates a key while it serves traffic, and the drill
 * counts every request.
 *
 * `runDrill(options)` starts, all on 127.0.0.1 and all in this process: the Secret Manager emulator
 * (gRPC), the mock provider (the openai preset) and the collector (HTTP). Then N worker processes
 * (drill/worker.ts; each reads the key through keyflip from the emulator and calls the mock provider with
 * the real `openai` SDK through `authFetch`, at a steady rate, beaconing to the collector) and one stale
 * worker that read its key from `process.env` at start-up. It runs the playbook with the `keyflip rotate`
 * commands as separate processes, and checks what the operator must be able to rely on:
 *
 * - set-up: v1 provisioned, probed and flipped live;
 * - provision v2 → probe → flip: zero failed requests; every live worker on v2 on its first refresh after
 *   the flip (within one refresh period plus jitter);
 * - verify and revoke refuse while the stale worker runs, and name it; once it is gone and the window has
 *   passed, the collector restarts (from its state file): verify answers "cannot prove" (exit 4) until the
 *   collector has observed the window plus one beacon interval again, then passes, and revoke disables v1; zero
 *   requests on v1 after that;
 * - an emergency rotation to v3 under load (`rotate emergency`, then v2 revoked at the provider): every
 *   worker on v3, at its first 401 (authFetch refreshes and retries once) or its next refresh; failures
 *   limited to requests in flight at the revocation, counted exactly.
 *
 * Every child process is stopped (or killed) before it returns, also on failure. No key value is ever
 * printed or written: the result holds fingerprints, and the drill checks its own output for the values.
 *
 * Its parts: settings.ts (options), context.ts (clock, marks, transcript), services.ts, fleet.ts (the
 * workers), rotate-command.ts (the operator's commands), playbook.ts (the steps), figures/ (what the
 * record shows), checks.ts (the properties), build-result.ts (the JSON), report.ts (the tables).
 */
import { buildResult } from './build-result.js';
import { createDrillContext, type DrillContext } from './context.js';
import { Fleet } from './fleet.js';
import {
  emergencyToV3,
  noObservations,
  type Observations,
  type Playbook,
  refuseWhileStale,
  retireV1,
  rotateToV2,
  setUpV1,
  startFleet,
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
    await setUpV1(playbook);
    await startFleet(playbook);
    await steady(playbook);
    await rotateToV2(playbook);
    await refuseWhileStale(playbook);
    await retireV1(playbook);
    await steady(playbook);
    await emergencyToV3(playbook);
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
  const providerCounted = mock
    ? { v1: mock.requestsFor(drill.keys.v1), v2: mock.requestsFor(drill.keys.v2), v3: mock.requestsFor(drill.keys.v3) }
    : { v1: 0, v2: 0, v3: 0 };
  await fleet?.killRest();
  await closeServices(services);
  drill.note(`stopped: ${fleet?.workers.length ?? 0} worker processes exited, services closed`);
  const loopDelayMs = drill.stopLoopDelay();
  return { drill, workers: fleet?.workers ?? [], stale: fleet?.stale, seen, providerCounted, failure, loopDelayMs };
}
