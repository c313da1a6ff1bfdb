/**
 * The properties the drill shows, each a check with a stable id (the test and the report refer to them by
 * it), what it means, whether it held, and the figures that say so (a check of the flips covers both normal
 * rotations). A check that is not `enforced` informs only (a duration in the test): it does not decide `ok`.
 */
import { EMERGENCY, KEY_NAMES, type KeyName, NORMAL_ROTATIONS } from './context.js';
import type { Figures } from './figures/index.js';
import { sumMaps } from './figures/requests.js';
import { exitOf, namesStale } from './figures/retirement.js';
import { ISSUES_FOUND } from './issues.js';
import type { DrillRecord } from './record.js';
import type { AutomatedCommand, Check, FlipSummary, RetirementSummary } from './result.js';
import { keyState, keyVersions } from './rotate-command.js';
import { int, seconds, spreadText } from './stats.js';

const check = (id: string, what: string, ok: boolean, detail: string, enforced = true): Check => ({
  id,
  what,
  ok,
  enforced,
  detail,
});

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** Every property of the run but the leak check (which needs the whole result), in the report's order. */
export function propertyChecks(record: DrillRecord, figures: Figures): Check[] {
  return [
    ...runChecks(record, figures),
    ...rotationChecks(record, figures),
    ...retirementChecks(record, figures),
    ...automatedChecks(figures),
    ...emergencyChecks(record, figures),
  ];
}

/** The drill itself: it ran every step, set v1 up, its processes ran cleanly, and its counts agree. */
function runChecks(record: DrillRecord, figures: Figures): Check[] {
  const { failure, workers, seen, providerCounted: saw } = record;
  const o = record.drill.settings;
  const { unreported } = figures.totals;
  const { attemptsByKey: reported, probes } = figures.totals.totals;
  const healthy = workers.filter((w) => w.fatal === undefined && w.exitCode === 0 && w.doneAt !== undefined);
  // Exact counts: every request a worker made reached the drill; every attempt the workers reported is one the
  // provider counted (it also counted the probes: one per key, by `rotate probe` or `rotate emergency --provider`).
  const countsAgree = KEY_NAMES.every((k) => saw[k] === reported[k] + probes[k]);
  const byKey = (counts: Readonly<Record<KeyName, number>>): string => KEY_NAMES.map((k) => counts[k]).join('/');
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
      `${o.workers} live workers, 1 stale worker and the straggler ran and stopped cleanly (exit 0)`,
      workers.filter((w) => w.mode === 'live').length === o.workers &&
        workers.filter((w) => w.mode !== 'live').length === 2 &&
        healthy.length === workers.length,
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
        `attempts reported v1/v2/v3/v4 ${byKey(reported)}, ` +
        `the provider counted ${byKey(saw)} (with ${byKey(probes)} probes)`,
    ),
  ];
}

/**
 * The two normal rotations (v1 → v2, v2 → v3) on the chain declared at start-up: nothing failed, nothing saw a
 * staged key, every worker switched on its first refresh after each flip, within the bound.
 */
function rotationChecks(record: DrillRecord, figures: Figures): Check[] {
  const o = record.drill.settings;
  const { normalSent, normalFailed } = figures.totals.totals;
  const { normalFailedByStatus } = figures.totals;
  const { flips } = figures;
  const both = flips.length === NORMAL_ROTATIONS.length;
  const failureKinds = sumMaps(record.workers.map((w) => w.failureKinds));
  const each = (text: (f: FlipSummary) => string): string =>
    both ? flips.map((f) => `${f.from} → ${f.to}: ${text(f)}`).join('; ') : `${flips.length} of 2 flips ran`;
  const unseen = (f: FlipSummary): boolean => f.stagedKeyBeforeFlip.requests === 0 && f.stagedKeyBeforeFlip.reads === 0;
  return [
    check(
      'normal-zero-failed',
      'zero failed requests from the keyflip workers through the two normal rotations',
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
      'after each flip, every live worker switched to the new key on its first refresh, on the chain it declared ' +
        'at start-up, and sent nothing on the old key after',
      both &&
        flips.every(
          (f) => f.toNewMs.n === o.workers && f.switchedOnFirstRefresh === o.workers && f.oldAfterSwitch === 0,
        ),
      each(
        (f) =>
          `${f.toNewMs.n}/${o.workers} on ${f.to}, ${f.switchedOnFirstRefresh}/${o.workers} on their first ` +
          `refresh, ${f.oldAfterSwitch} requests on ${f.from} after the switch`,
      ),
    ),
    check(
      'flip-bound',
      'after each flip, every live worker switched on a refresh that started within one refresh period plus jitter ' +
        `(${seconds(o.refreshMs * (1 + o.jitter))}) + 250 ms = ${seconds(flips[0]?.boundMs)} of the flip ` +
        '(or of the end of the refresh in flight at the flip)',
      both && flips.every((f) => f.withinBound === o.workers && f.toNewMs.n === o.workers),
      each(
        (f) =>
          `${f.withinBound}/${o.workers} within (max ${seconds(f.refreshStartMs.max)}); ` +
          `flip → resolver on ${f.to} p50/max ${spreadText(f.onNewMs)}, → first request ${spreadText(f.toNewMs)}; ` +
          `the refresh timer's gap ${spreadText(f.refreshGapMs)}; ` +
          `the switching refresh took ${spreadText(f.switchWalkMs)}`,
      ),
      o.enforceTimeBounds,
    ),
    check(
      'staged-unseen',
      'no worker read or sent a staged key before its flip (it is staged where no app reads it; issue 3, fixed)',
      both && flips.every(unseen),
      each((f) =>
        unseen(f)
          ? 'none did'
          : `${f.stagedKeyBeforeFlip.requests} requests from ${plural(f.stagedKeyBeforeFlip.workers, 'worker')} ` +
            `carried ${f.to}, ${plural(f.stagedKeyBeforeFlip.reads, 'refresh', 'refreshes')} read it: ` +
            ISSUES_FOUND[3],
      ),
    ),
  ];
}

/**
 * Retiring the old keys. v1: refused (naming the stale worker) while it ran; after the collector's restart,
 * "cannot prove" until it had observed the window again; then verified and revoked; v1 unused after. v2: revoked by
 * `rotate auto` (disabled, and deleted at the provider) once the straggler had stopped and the window plus the lag
 * had passed; unused by the keyflip workers after.
 */
function retirementChecks(record: DrillRecord, figures: Figures): Check[] {
  const { drill, seen, stale } = record;
  const { verifyOffenders, refusals, retirements, restart } = figures.retirement;
  const auto = figures.automated;
  const { verifyRefused, revokeRefused } = seen;
  const [first, second] = retirements;
  const named = verifyOffenders.map((x) => `${x.service} pid ${x.pid}`).join(', ');
  const after = (r: RetirementSummary | undefined): string =>
    r === undefined
      ? 'not reached'
      : `${r.afterRevoke.attempts} requests carried ${r.key} after revoke started; ` +
        `the provider saw ${r.afterRevoke.providerRequests}`;
  const unused = (r: RetirementSummary | undefined): boolean =>
    r !== undefined &&
    r.revokeExitCode !== null &&
    r.afterRevoke.attempts === 0 &&
    r.afterRevoke.providerRequests === 0;
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
        `names the stale worker: ${namesStale(record, revokeRefused)}; ` +
        `v1 ${revokeRefused ? keyVersions(drill, revokeRefused, 'v1') : '?'}`,
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
      first?.verifyExitCode === 0,
      first === undefined
        ? 'not reached'
        : `exit ${first.verifyExitCode} after ${first.verifyAttempts} attempt(s) ` +
            `(${seen.cannotProve.length} answered cannot prove), ` +
            `${seconds(first.afterStaleStopMs)} after the stale worker stopped`,
    ),
    check(
      'revoke-done',
      'revoke disabled every version holding v1',
      first?.revokeExitCode === 0 && first.disabled,
      first === undefined ? 'not reached' : `exit ${first.revokeExitCode}; v1: ${first.versions}`,
    ),
    check('no-v1-after-revoke', 'zero requests on v1 after revoke', unused(first), after(first)),
    check(
      'retire-v2',
      'rotation 2: once the straggler had stopped and the window plus the provider’s lag had passed, `rotate auto` ' +
        'revoked v2: every version holding it disabled, and the key deleted at the provider',
      auto !== undefined &&
        second?.revokeExitCode === 0 &&
        second.disabled &&
        auto.oldKeyAtProvider === 'deleted' &&
        !auto.revokedEarly,
      second === undefined || auto === undefined
        ? 'not reached'
        : `revoke (by rotate auto) exit ${second.revokeExitCode}, ` +
            `${seconds(auto.afterStragglerStopMs)} after the straggler's last request ` +
            `(window + lag ${seconds(auto.clearableAfterMs)}); v2: ${second.versions}; ` +
            `at the provider: ${auto.oldKeyAtProvider ?? 'unknown'}`,
    ),
    check('no-v2-after-revoke', 'zero requests on v2 after revoke', unused(second), after(second)),
  ];
}

/**
 * The automated rotation: v3 minted at the provider and flipped by one `rotate auto` run; verify and revoke refused
 * on the provider's evidence alone while the straggler ran; `rotate auto` waited, then revoked; the straggler's
 * requests succeeded until the revoke and got 401 after it.
 */
function automatedChecks(figures: Figures): Check[] {
  const a = figures.automated;
  const flipped = figures.flips.some((f) => f.rotation === 2);
  const blocked = (c: AutomatedCommand | undefined): boolean =>
    c !== undefined &&
    c.exitCode === 1 &&
    c.offenders === 0 &&
    c.provider === 'in-use' &&
    (c.providerRequests ?? 0) > 0 &&
    c.oldKeyState === 'ENABLED';
  const said = (c: AutomatedCommand | undefined): string =>
    c === undefined
      ? 'not reached'
      : `exit ${c.exitCode} ${c.outcome ?? ''}${c.refusal ? ` (${c.refusal})` : ''}; beacons named ` +
        `${plural(c.offenders, 'instance')}; provider: ${c.provider ?? 'no evidence'} ` +
        `(${c.providerRequests ?? '?'} requests): ${c.providerMessage ?? '—'}; v2 ${c.oldKeyState ?? '?'}`;
  const runs = a?.autoRuns ?? [];
  const waited = runs.slice(0, -1);
  const s = a?.straggler;
  return [
    check(
      'auto-minted',
      '`rotate auto` minted v3 through the provider’s management API (in a service account of its own), stored it ' +
        'in Secret Manager, probed and flipped it, in one run (alias layout: the key made in the provider’s console, ' +
        'given in a file)',
      a !== undefined &&
        a.minted.exitCode === 0 &&
        a.minted.keyId !== undefined &&
        a.minted.stored !== undefined &&
        a.minted.atProvider?.serviceAccount === !a.minted.given &&
        flipped,
      a === undefined
        ? 'not reached'
        : `exit ${a.minted.exitCode}; v3 ${a.minted.fingerprint ?? '?'} stored in ${a.minted.stored ?? '?'}, id ` +
            `${a.minted.keyId ?? '?'} at the provider (service account ${a.minted.serviceAccount ?? '?'}; listed ` +
            `${a.minted.atProvider ? `${a.minted.atProvider.status}, owned by a service account: ` : ''}` +
            `${a.minted.atProvider?.serviceAccount ?? 'not listed'})`,
    ),
    check(
      'provider-blocks-verify',
      'while the straggler (no keyflip, no beacon) ran, verify refused on the provider’s evidence alone: the beacons ' +
        'named no one, the provider counted its requests on v2',
      blocked(a?.verify) && a?.verify?.outcome === 'failed',
      said(a?.verify),
    ),
    check(
      'provider-blocks-revoke',
      'revoke refused too (not-verified) on the provider’s evidence; v2 stayed enabled',
      blocked(a?.revoke) && a?.revoke?.refusal === 'not-verified',
      said(a?.revoke),
    ),
    check(
      'auto-waits',
      'after the straggler stopped, `rotate auto` revoked nothing while the provider’s data still showed its ' +
        'requests in the window (exit 1, in use) or did not cover it yet (exit 0, waiting); it revoked v2 only once ' +
        'the window plus the provider’s lag had passed since its last request',
      // A machine so slow that the first run after the stop asked the provider once the evidence could clear
      // shows no wait: what must hold is that no run revoked early, and that every earlier run revoked nothing.
      a !== undefined &&
        a.revokedAt !== null &&
        !a.revokedEarly &&
        waited.every(
          (r) =>
            r.oldKeyState === 'ENABLED' &&
            ((r.exitCode === 1 && r.provider === 'in-use') || (r.exitCode === 0 && r.provider !== 'clear')),
        ),
      a === undefined
        ? 'not reached'
        : `${plural(runs.length, 'run')}: ${runs
            .map((r) => `exit ${r.exitCode} ${r.outcome ?? '?'} (provider: ${r.provider ?? '—'}; v2 ${r.oldKeyState})`)
            .join(', ')}`,
    ),
    check(
      'straggler-401',
      'the straggler’s requests on v2 succeeded until the revoke; after it, every one got 401 (the key deleted at ' +
        'the provider)',
      s !== undefined &&
        s.beforeRevoke.sent > 0 &&
        s.beforeRevoke.ok === s.beforeRevoke.sent &&
        s.afterRevoke.sent > 0 &&
        s.afterRevoke.answered401 === s.afterRevoke.sent,
      s === undefined
        ? 'not reached'
        : `before the revoke ${s.beforeRevoke.ok}/${s.beforeRevoke.sent} ok; after it ` +
            `${s.afterRevoke.answered401}/${s.afterRevoke.sent} answered 401`,
    ),
  ];
}

/** The emergency: v4 live and every other key disabled at once, every worker healed, failures only in flight. */
function emergencyChecks(record: DrillRecord, figures: Figures): Check[] {
  const { drill, seen } = record;
  const o = drill.settings;
  const { summary: e, healKnown, healFailures } = figures.emergency;
  const run = seen.emergency;
  const { from, to } = EMERGENCY;
  const others = KEY_NAMES.filter((k) => k !== to);
  const state = (k: KeyName): string => (run ? (keyState(drill, run, k) ?? 'undefined') : '?');
  const onNew = e.toNewMs.n;
  return [
    check(
      'emergency-done',
      `\`rotate emergency\` made ${to} live and left every other key disabled, at once`,
      exitOf(run) === 0 && state(to) === 'ENABLED' && others.every((k) => state(k) === 'DISABLED'),
      `exit ${exitOf(run)}; ${KEY_NAMES.map((k) => `${k} ${state(k)}`).join(', ')}` +
        `${run ? ` (${from}: ${keyVersions(drill, run, from)}; ${to}: ${keyVersions(drill, run, to)})` : ''}`,
    ),
    check(
      'emergency-v4',
      `every live worker reached ${to}: at its first 401, healed by that same request (one retry with ${to}), ` +
        `or earlier by its refresh; none sent ${from} after healing`,
      onNew === o.workers &&
        healFailures === 0 &&
        healKnown === 0 &&
        e.oldAfterHeal === 0 &&
        e.workersHealedOn401 + e.workersSwitchedByRefresh === o.workers,
      `${onNew}/${o.workers} on ${to}: ${e.workersHealedOn401} healed on their first 401, ` +
        `${e.workersSwitchedByRefresh} by refresh, ${healFailures + healKnown} not healed by the retry` +
        `${healKnown ? ` (${healKnown} with issue 2's signature)` : ''}; ` +
        `${e.oldAfterHeal} requests on ${from} after healing`,
    ),
    check(
      'emergency-failures',
      'emergency failures limited to requests in flight at the revocation, and counted',
      run !== undefined && seen.emergencyRevokedAt !== undefined && e.failedNotInFlight === 0,
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

/**
 * The values no output may hold (the keys, the minted one included, the collector's token and the provider's admin
 * key), and pieces of them, raw and in base64.
 */
export function leakNeedles(record: DrillRecord): string[] {
  const { keys, token, adminKey } = record.drill;
  const secrets = [...KEY_NAMES.map((k) => keys[k]).filter((k) => k !== ''), token, adminKey];
  return secrets.flatMap((s) => [s, s.slice(12, 40), Buffer.from(s).toString('base64').slice(4, 40)]);
}

/** No value anywhere: in the outputs of every process (`inOutput` hits of `searched` characters), nor in the result. */
export function leakCheck(searched: number, inOutput: number, inResult: number): Check {
  return check(
    'no-leak',
    'no key value (the minted one included), nor the collector token or the admin key, in any output of any ' +
      'process, nor in the result',
    inOutput === 0 && inResult === 0,
    `${int(searched)} characters of output searched: ${inOutput} hits; result: ${inResult} hits`,
  );
}
