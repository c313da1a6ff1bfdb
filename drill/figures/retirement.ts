/**
 * Retiring v1: verify and revoke refused while the stale worker ran (and named it, and no one else), passed
 * once it was gone, and no request carried v1 after revoke — by the workers' reports and by the provider's
 * own count.
 */
import { STALE_SERVICE } from '../constants.js';
import type { DrillRecord } from '../record.js';
import type { DrillResult } from '../result.js';
import { type CommandRun, keyState, offendersOf } from '../rotate-command.js';
import type { Sent } from './requests.js';

export interface RetirementFigures {
  readonly refusals: DrillResult['refusals'];
  readonly cleared: DrillResult['cleared'];
  readonly v1AfterRevoke: DrillResult['v1AfterRevoke'];
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

export function retirementFigures(record: DrillRecord, all: readonly Sent[]): RetirementFigures {
  const { drill, seen } = record;
  const verifyOffenders = seen.verifyRefused ? offendersOf(seen.verifyRefused) : [];
  const revokeRefused = seen.revokeRefused;
  const v1StillEnabled = revokeRefused ? keyState(drill, revokeRefused, 1) === 'ENABLED' : false;
  const revokeStart = seen.revoke?.startedAt;
  const v1AfterRevoke =
    revokeStart === undefined
      ? 0
      : all.filter(({ r }) => r[4].some((a) => a[0] === drill.fp.v1 && a[2] >= revokeStart)).length;
  const staleStoppedAt = seen.staleStoppedAt;
  const verifyPassed = seen.verifyPassed;
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
    cleared: {
      verifyExitCode: exitOf(verifyPassed),
      verifyAttempts: seen.verifyAttempts,
      afterStaleStopMs: staleStoppedAt && verifyPassed ? verifyPassed.endedAt - staleStoppedAt : null,
      revokeExitCode: exitOf(seen.revoke),
      v1Disabled: !!seen.revoke && keyState(drill, seen.revoke, 1) === 'DISABLED',
    },
    v1AfterRevoke: {
      attempts: v1AfterRevoke,
      providerRequests: record.providerCounted.v1 - seen.providerV1BeforeRevoke,
    },
    verifyOffenders,
  };
}
