/**
 * Retiring the old keys. Rotation 1 (v1): verify and revoke refused while the stale worker ran (and named it, and
 * no one else); after the collector's restart, verify answered "cannot prove" until the collector had observed the
 * window again, then passed. Both rotations: revoke disabled every version holding the old key, and no request
 * carried it after revoke — by the workers' reports and by the provider's own count.
 */
import { STALE_SERVICE } from '../constants.js';
import type { DrillRecord } from '../record.js';
import type { DrillResult, RetirementSummary } from '../result.js';
import type { RotationSeen } from '../playbook.js';
import { answeredAt, type CommandRun, keyState, keyVersions, missingOf, offendersOf } from '../rotate-command.js';
import type { Sent } from './requests.js';

export interface RetirementFigures {
  readonly refusals: DrillResult['refusals'];
  readonly restart: DrillResult['restart'];
  readonly retirements: DrillResult['retirements'];
  /** The offenders the refused verify named (service, pid and instance id). */
  readonly verifyOffenders: readonly { service: string; pid: number; id: string }[];
}

/** A command's exit code; null when it did not run (or was killed). */
export const exitOf = (run: CommandRun | undefined): number | null => run?.exitCode ?? null;

/** Whether `run` named the stale worker (its pid, its service and its instance id) among its offenders. */
export function namesStale(record: DrillRecord, run: CommandRun | undefined): boolean {
  const stale = record.stale;
  return (
    !!run &&
    !!stale &&
    offendersOf(run).some((x) => x.pid === stale.pid && x.service === STALE_SERVICE && x.id === stale.instanceId)
  );
}

/**
 * The verifies after the collector's restarts: those that answered before the collector had observed the window
 * plus one beacon interval since its latest restart ("blind": cannot prove is the only right answer), how they
 * answered, and when verify passed.
 */
function restartFigures(record: DrillRecord): DrillResult['restart'] {
  const { drill, seen } = record;
  const o = drill.settings;
  const restarts = seen.collectorRestarts;
  const first = restarts[0];
  if (first === undefined) return undefined;
  const blindMs = o.windowMs + o.beaconMs;
  /** The latest restart before `at`. */
  const restartBefore = (at: number): number | undefined => restarts.filter((r) => r <= at).at(-1);
  const after = seen.commands.filter((c) => c.command === 'verify' && c.startedAt >= first);
  const blind = after.filter((c) => {
    const at = answeredAt(c) ?? c.endedAt;
    const restart = restartBefore(at);
    return restart !== undefined && at < restart + blindMs;
  });
  const verify = seen.rotations[0]?.verify;
  const passed = verify?.exitCode === 0 ? verify : undefined;
  const passedAt = passed ? (answeredAt(passed) ?? passed.endedAt) : undefined;
  const passedRestart = passedAt === undefined ? undefined : restartBefore(passedAt);
  return {
    at: drill.rel(first),
    restarts: restarts.length,
    coverageBackMs: blindMs,
    blindVerifies: blind.length,
    blindExitCodes: blind.map((c) => c.exitCode),
    blindRefusals: blind.map((c) => c.json?.refusal ?? null),
    missing: [...new Set(blind.flatMap(missingOf))],
    cannotProve: seen.cannotProve.length,
    passedAfterMs: passedAt === undefined || passedRestart === undefined ? null : passedAt - passedRestart,
  };
}

/** The retirement of one rotation's old key (undefined when the rotation did not get that far). */
function retirementOf(record: DrillRecord, all: readonly Sent[], seen: RotationSeen): RetirementSummary | undefined {
  const { drill } = record;
  const { rotation, verify, revoke } = seen;
  if (verify === undefined) return undefined;
  const key = rotation.from;
  const revokeStart = revoke?.startedAt;
  // The keyflip workers' requests; the straggler's (rotation 2) are counted apart: it must get 401 after revoke.
  const carried = (w: Sent['w']): boolean => w.mode !== 'straggler';
  const after = (a: Sent['r'][4][number]): boolean =>
    revokeStart !== undefined && a[0] === drill.fp[key] && a[2] >= revokeStart;
  const attempts = all.filter(({ w, r }) => carried(w) && r[4].some(after)).length;
  const stragglerAttempts = all.filter(({ w }) => !carried(w)).reduce((n, { r }) => n + r[4].filter(after).length, 0);
  const staleStoppedAt = rotation.n === 1 ? record.seen.staleStoppedAt : undefined;
  return {
    rotation: rotation.n,
    key,
    verifyExitCode: exitOf(verify),
    verifyAttempts: seen.verifyAttempts,
    afterStaleStopMs: staleStoppedAt === undefined ? null : verify.endedAt - staleStoppedAt,
    revokeExitCode: exitOf(revoke),
    disabled: !!revoke && keyState(drill, revoke, key) === 'DISABLED',
    versions: revoke ? keyVersions(drill, revoke, key) : 'not revoked',
    afterRevoke: {
      attempts,
      providerRequests: revoke ? record.providerCounted[key] - seen.providerOldBeforeRevoke - stragglerAttempts : 0,
    },
  };
}

export function retirementFigures(record: DrillRecord, all: readonly Sent[]): RetirementFigures {
  const { drill, seen } = record;
  const verifyOffenders = seen.verifyRefused ? offendersOf(seen.verifyRefused) : [];
  const revokeRefused = seen.revokeRefused;
  const v1StillEnabled = revokeRefused ? keyState(drill, revokeRefused, 'v1') === 'ENABLED' : false;
  return {
    refusals: {
      verify: {
        refused: exitOf(seen.verifyRefused) === 1,
        exitCode: exitOf(seen.verifyRefused),
        namedStale: namesStale(record, seen.verifyRefused),
        offenders: verifyOffenders.map(({ service, pid }) => ({ service, pid })),
      },
      revoke: {
        refused: exitOf(revokeRefused) === 1,
        exitCode: exitOf(revokeRefused),
        refusal: revokeRefused?.json?.refusal,
        namedStale: namesStale(record, revokeRefused),
        v1StillEnabled,
      },
    },
    restart: restartFigures(record),
    retirements: seen.rotations.flatMap((r) => retirementOf(record, all, r) ?? []),
    verifyOffenders,
  };
}
