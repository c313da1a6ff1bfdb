/**
 * The properties the drill shows, each a check with a stable id (the test and the report refer to them by
 * it), what it means, whether it held, and the figures that say so. A check that is not `enforced` informs
 * only (a duration in the test, an open issue): it does not decide `ok`.
 */
import type { Figures } from './figures/index.js';
import { sumMaps } from './figures/requests.js';
import { exitOf, namesStale } from './figures/retirement.js';
import { ISSUES_FOUND } from './issues.js';
import type { DrillRecord } from './record.js';
import type { Check } from './result.js';
import { keyState } from './rotate-command.js';
import { int, seconds, spreadText } from './stats.js';

const check = (id: string, what: string, ok: boolean, detail: string, enforced = true): Check => ({
  id,
  what,
  ok,
  enforced,
  detail,
});

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

/** Every property of the run but the leak check (which needs the whole result), in the report's order. */
export function propertyChecks(record: DrillRecord, figures: Figures): Check[] {
  return [
    ...runChecks(record, figures),
    ...rotationChecks(record, figures),
    ...retirementChecks(record, figures),
    ...emergencyChecks(record, figures),
  ];
}

/** The drill itself: it ran every step, set v1 up, its processes ran cleanly, and its counts agree. */
function runChecks(record: DrillRecord, figures: Figures): Check[] {
  const { failure, workers, seen, providerCounted: saw } = record;
  const o = record.drill.settings;
  const { unreported, probes } = figures.totals;
  const reported = figures.totals.totals.attemptsByKey;
  const healthy = workers.filter((w) => w.fatal === undefined && w.exitCode === 0 && w.doneAt !== undefined);
  // Exact counts: every request a worker made reached the drill; every attempt the workers reported is one the
  // provider counted (it also counted the probes: one per key, by `rotate probe` or `rotate emergency --provider`).
  const countsAgree = (['v1', 'v2', 'v3'] as const).every((k) => saw[k] === reported[k] + probes[k]);
  return [
    check(
      'no-abort',
      'the drill ran every step',
      failure === undefined,
      failure === undefined ? 'yes' : `stopped early: ${failure instanceof Error ? failure.message : String(failure)}`,
    ),
    check(
      'setup',
      'v1 provisioned, probed and flipped live by `keyflip rotate`',
      seen.setUp.length === 3 && seen.setUp.every((r) => r.exitCode === 0),
      seen.setUp.map((r) => `${r.command} ${r.exitCode}`).join(', '),
    ),
    check(
      'workers',
      `${o.workers} live workers and 1 stale worker ran and stopped cleanly (exit 0)`,
      workers.length === o.workers + 1 && healthy.length === workers.length,
      `${healthy.length} of ${workers.length} clean${workers
        .filter((w) => w.fatal)
        .map((w) => `; ${w.instanceId}: ${w.fatal}`)
        .join('')}`,
    ),
    check(
      'exact-counts',
      'every request was reported, and the provider saw exactly the attempts the workers reported, key by key',
      unreported === 0 && countsAgree,
      `${unreported} workers with unreported requests; ` +
        `attempts reported v1/v2/v3 ${reported.v1}/${reported.v2}/${reported.v3}, ` +
        `the provider counted ${saw.v1}/${saw.v2}/${saw.v3} (with ${probes.v1}/${probes.v2}/${probes.v3} probes)`,
    ),
  ];
}

/** The normal rotation to v2: nothing failed, every worker switched on its first refresh, within the bound. */
function rotationChecks(record: DrillRecord, figures: Figures): Check[] {
  const o = record.drill.settings;
  const { normalSent, normalFailed, normalFailedByStatus } = figures.totals;
  const { summary: flip, withinBound } = figures.flip;
  const onV2 = flip.toV2Ms.n;
  const staged = flip.stagedKeyBeforeFlip;
  const failureKinds = sumMaps(record.workers.map((w) => w.failureKinds));
  return [
    check(
      'normal-zero-failed',
      'zero failed requests through the normal rotation',
      normalSent > 0 && normalFailed === 0,
      `${int(normalSent)} sent, ${normalFailed} failed${
        normalFailed
          ? ` (${JSON.stringify(normalFailedByStatus)}; ` +
            `all failures of the drill by kind: ${JSON.stringify(failureKinds)})`
          : ''
      }`,
    ),
    check(
      'flip-first-refresh',
      'every live worker switched to v2 on its first refresh after the flip, and sent nothing on v1 after it',
      onV2 === o.workers && flip.switchedOnFirstRefresh === o.workers && flip.v1AfterSwitch === 0,
      `${onV2}/${o.workers} on v2; ${flip.switchedOnFirstRefresh}/${o.workers} on their first refresh; ` +
        `${flip.v1AfterSwitch} requests on v1 after the switch`,
    ),
    check(
      'flip-bound',
      'every live worker switched to v2 on a refresh that started within one refresh period plus jitter ' +
        `(${seconds(o.refreshMs * (1 + o.jitter))}) + 250 ms = ${seconds(flip.boundMs)} of the flip ` +
        '(or of the end of the refresh in flight at the flip)',
      withinBound === o.workers && onV2 === o.workers,
      `${withinBound}/${o.workers} within (max ${seconds(flip.refreshStartMs.max)}); ` +
        `flip → resolver on v2 p50/max ${spreadText(flip.onV2Ms)}, → first request on v2 ${spreadText(flip.toV2Ms)}; ` +
        `the refresh timer's gap ${spreadText(flip.refreshGapMs)}; ` +
        `the switching refresh took ${spreadText(flip.switchWalkMs)}`,
      o.enforceTimeBounds,
    ),
    check(
      'staged-unseen',
      'no worker used the staged key before the flip (provision stages it disabled; issue 3, open)',
      staged.requests === 0,
      staged.requests === 0
        ? 'none did'
        : `${staged.requests} requests from ${plural(staged.workers, 'worker')} carried v2 before the flip: ` +
            ISSUES_FOUND[3],
      false,
    ),
  ];
}

/**
 * Retiring v1: refused (naming the stale worker) while it ran; after the collector's restart, "cannot prove"
 * until it had observed the window again; then verified and revoked; v1 unused after.
 */
function retirementChecks(record: DrillRecord, figures: Figures): Check[] {
  const { drill, seen, stale } = record;
  const { verifyOffenders, refusals, cleared, v1AfterRevoke, restart } = figures.retirement;
  const { verifyRefused, revokeRefused, verifyPassed, revoke } = seen;
  const named = verifyOffenders.map((x) => `${x.service} pid ${x.pid}`).join(', ');
  const v1After = (run: typeof revoke): string => (run ? (keyState(drill, run, 1) ?? 'undefined') : '?');
  return [
    check(
      'verify-refused',
      'verify refused while the stale worker ran, and named it (pid, service, instance) and no one else',
      exitOf(verifyRefused) === 1 &&
        verifyRefused?.json?.outcome === 'failed' &&
        namesStale(record, verifyRefused) &&
        verifyOffenders.length === 1,
      `exit ${exitOf(verifyRefused)}; offenders: ${named || 'none'} (stale worker: pid ${stale?.pid})`,
    ),
    check(
      'revoke-refused',
      'revoke refused too (not-verified), naming the stale worker; v1 stayed enabled',
      exitOf(revokeRefused) === 1 &&
        revokeRefused?.json?.refusal === 'not-verified' &&
        namesStale(record, revokeRefused) &&
        refusals.revoke.v1StillEnabled,
      `exit ${exitOf(revokeRefused)} ${revokeRefused?.json?.refusal ?? ''}; ` +
        `names the stale worker: ${namesStale(record, revokeRefused)}; v1 ${v1After(revokeRefused)}`,
    ),
    check(
      'restart-cannot-prove',
      'after a collector restart (state file kept), every verify answered before the collector had observed the ' +
        'window plus one beacon interval again said "cannot prove" (exit 4, evidence-incomplete), never "clear"',
      restart !== undefined &&
        restart.blindVerifies > 0 &&
        restart.blindExitCodes.every((code) => code === 4) &&
        restart.blindRefusals.every((refusal) => refusal === 'evidence-incomplete'),
      restart === undefined
        ? 'the drill stopped before the restart'
        : `${plural(restart.restarts, 'restart')}; ${plural(restart.blindVerifies, 'verify run')} within ` +
            `${seconds(restart.coverageBackMs)} of a restart: ` +
            `exit ${restart.blindExitCodes.join(', ') || '—'} (${restart.blindRefusals.join(', ') || '—'}; ` +
            `missing: ${restart.missing.join(', ') || '—'}); verify passed ` +
            `${restart.passedAfterMs === null ? 'never' : `${seconds(restart.passedAfterMs)} after the restart`}`,
    ),
    check(
      'verify-passed',
      'once the stale worker was gone, the window had passed and the restarted collector had observed it again, ' +
        'verify passed',
      exitOf(verifyPassed) === 0,
      `exit ${exitOf(verifyPassed)} after ${seen.verifyAttempts} attempt(s) ` +
        `(${seen.cannotProve.length} answered cannot prove), ` +
        `${seconds(cleared.afterStaleStopMs)} after the stale worker stopped`,
    ),
    check(
      'revoke-done',
      'revoke disabled v1',
      exitOf(revoke) === 0 && cleared.v1Disabled,
      `exit ${exitOf(revoke)}; v1 ${v1After(revoke)}`,
    ),
    check(
      'no-v1-after-revoke',
      'zero requests on v1 after revoke',
      revoke !== undefined && v1AfterRevoke.attempts === 0 && v1AfterRevoke.providerRequests === 0,
      `${v1AfterRevoke.attempts} requests carried v1 after revoke started; ` +
        `the provider saw ${v1AfterRevoke.providerRequests}`,
    ),
  ];
}

/** The emergency: v3 live and v2 disabled at once, every worker healed, failures only in flight, no known race. */
function emergencyChecks(record: DrillRecord, figures: Figures): Check[] {
  const { drill, seen } = record;
  const o = drill.settings;
  const { summary: e, healKnown, healFailures } = figures.emergency;
  const run = seen.emergency;
  const state = (n: 2 | 3): string => (run ? (keyState(drill, run, n) ?? 'undefined') : '?');
  const onV3 = e.toV3Ms.n;
  return [
    check(
      'emergency-done',
      '`rotate emergency` made v3 live and disabled v2 at once',
      exitOf(run) === 0 && !!run && keyState(drill, run, 3) === 'ENABLED' && keyState(drill, run, 2) === 'DISABLED',
      `exit ${exitOf(run)}; v3 ${state(3)}, v2 ${state(2)}`,
    ),
    check(
      'emergency-v3',
      'every live worker reached v3: at its first 401, healed by that same request (one retry with v3), ' +
        'or earlier by its refresh; none sent v2 after healing',
      onV3 === o.workers &&
        healFailures === 0 &&
        healKnown === 0 &&
        e.v2AfterHeal === 0 &&
        e.workersHealedOn401 + e.workersSwitchedByRefresh === o.workers,
      `${onV3}/${o.workers} on v3: ${e.workersHealedOn401} healed on their first 401, ` +
        `${e.workersSwitchedByRefresh} by refresh, ${healFailures + healKnown} not healed by the retry` +
        `${healKnown ? ` (${healKnown} with issue 2's signature)` : ''}; ${e.v2AfterHeal} requests on v2 after healing`,
    ),
    check(
      'emergency-failures',
      'emergency failures limited to requests in flight at the revocation, and counted',
      run !== undefined && seen.revokedV2At !== undefined && e.failedNotInFlight === 0,
      e.explanation,
    ),
    check(
      'no-fail-closed',
      'no request failed closed (SecretRevokedError) while a key was live (issue 1, fixed)',
      e.failedClosed.requests === 0,
      e.failedClosed.requests === 0
        ? 'none did'
        : `${e.failedClosed.requests} requests from ${plural(e.failedClosed.workers, 'worker')} failed closed: ` +
            ISSUES_FOUND[1],
    ),
    check(
      'no-stale-join',
      'no request failed on a 401 after authFetch’s forced refresh joined a refresh that began before the old ' +
        'key died (issue 2, fixed)',
      e.staleJoins.requests === 0,
      e.staleJoins.requests === 0
        ? 'none did'
        : `${e.staleJoins.requests} requests from ${plural(e.staleJoins.workers, 'worker')}: ${ISSUES_FOUND[2]}`,
    ),
  ];
}

/** The values no output may hold (the keys and the collector's token), and pieces of them, raw and in base64. */
export function leakNeedles(record: DrillRecord): string[] {
  const { keys, token } = record.drill;
  const secrets = [keys.v1, keys.v2, keys.v3, token];
  return secrets.flatMap((s) => [s, s.slice(12, 40), Buffer.from(s).toString('base64').slice(4, 40)]);
}

/** No value anywhere: in the outputs of every process (`inOutput` hits of `searched` characters), nor in the result. */
export function leakCheck(searched: number, inOutput: number, inResult: number): Check {
  return check(
    'no-leak',
    'no key value (nor the collector token) in any output of any process, nor in the result',
    inOutput === 0 && inResult === 0,
    `${int(searched)} characters of output searched: ${inOutput} hits; result: ${inResult} hits`,
  );
}
