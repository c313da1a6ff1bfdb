/**
 * The automated rotation (the second, v2 → v3): what `rotate auto` minted and where it stored it; the straggler's
 * requests (no keyflip, no beacon) before its stop and after the revoke; verify and revoke refused on the provider's
 * evidence while the beacons showed no holder; every `rotate auto` run after the straggler stopped; and v2 at the
 * provider at the end (deleted).
 */
import { NORMAL_ROTATIONS } from '../context.js';
import type { DrillRecord } from '../record.js';
import type { AutomatedSummary } from '../result.js';
import { type CommandRun, keyState, offendersOf } from '../rotate-command.js';

/** A verification's provider evidence, as a command's `--json` holds it. */
interface Evidence {
  readonly reason?: string;
  readonly message?: string;
  readonly requests?: number;
  readonly keyId?: string;
  /** The end of the window asked: when the command asked the provider, ms since the epoch. */
  readonly endMs?: number;
}

/** The provider evidence of the first verification of `run` (verify or revoke). */
export function evidenceOf(run: CommandRun | undefined): Evidence | undefined {
  const verifications = (run?.json?.verifications ?? []) as { provider?: Evidence }[];
  return verifications.find((v) => v.provider !== undefined)?.provider;
}

export function automatedFigures(record: DrillRecord): AutomatedSummary | undefined {
  const { drill, seen, workers, providerKeys } = record;
  const auto = seen.automated;
  if (auto.mint === undefined) return undefined;
  const { from, to } = NORMAL_ROTATIONS[1];
  const o = drill.settings;
  const straggler = workers.find((w) => w.mode === 'straggler');
  const revokedAt = auto.revoked?.startedAt;
  // When the run that revoked asked the provider (the end of its window), else when it started.
  const askedAt = evidenceOf(auto.revoked)?.endMs ?? revokedAt;
  const requests = straggler?.requests ?? [];
  const before = revokedAt === undefined ? requests : requests.filter((r) => r[1] < revokedAt);
  const after = revokedAt === undefined ? [] : requests.filter((r) => r[1] >= revokedAt);
  const command = (run: CommandRun | undefined) =>
    run === undefined
      ? undefined
      : {
          exitCode: run.exitCode,
          outcome: (run.json?.outcome as string | undefined) ?? (run.json?.error?.code as string | undefined),
          refusal: run.json?.refusal as string | undefined,
          offenders: offendersOf(run).length,
          provider: evidenceOf(run)?.reason,
          providerRequests: evidenceOf(run)?.requests,
          providerMessage: evidenceOf(run)?.message,
          oldKeyState: keyState(drill, run, from),
        };
  const v2 = providerKeys[from];
  const v3 = providerKeys[to];
  return {
    rotation: 2,
    from,
    to,
    lagMs: o.lagMs,
    minted: {
      exitCode: auto.mint.exitCode,
      fingerprint: auto.minted?.fingerprint,
      stored: auto.minted?.stored,
      keyId: auto.minted?.keyId,
      serviceAccount: auto.minted?.serviceAccount,
      given: auto.minted?.given ?? false,
      atProvider:
        v3 === undefined ? undefined : { status: v3.status, serviceAccount: v3.serviceAccountId !== undefined },
    },
    straggler: {
      pid: straggler?.pid,
      everyMs: o.stragglerEveryMs,
      startedAt: auto.stragglerStartedAt === undefined ? null : drill.rel(auto.stragglerStartedAt),
      stoppedAt: auto.stragglerStoppedAt === undefined ? null : drill.rel(auto.stragglerStoppedAt),
      beforeRevoke: { sent: before.length, ok: before.filter((r) => r[3] === 200).length },
      afterRevoke: { sent: after.length, answered401: after.filter((r) => r[3] === 401).length },
    },
    verify: command(auto.verifyRefused),
    revoke: command(auto.revokeRefused),
    autoRuns: auto.autoRuns.map((run) => ({
      at: drill.rel(run.startedAt),
      exitCode: run.exitCode,
      outcome: (run.json?.outcome as string | undefined) ?? (run.json?.error?.code as string | undefined),
      provider: evidenceOf(run)?.reason,
      oldKeyState: keyState(drill, run, from),
      message: typeof run.json?.message === 'string' ? run.json.message.slice(0, 240) : undefined,
    })),
    revokedAt: revokedAt === undefined ? null : drill.rel(revokedAt),
    afterStragglerStopMs:
      revokedAt === undefined || auto.stragglerStoppedAt === undefined ? null : revokedAt - auto.stragglerStoppedAt,
    clearableAfterMs: o.windowMs + o.lagMs,
    revokedEarly: askedAt !== undefined && auto.clearableAt !== undefined && askedAt < auto.clearableAt,
    oldKeyAtProvider: v2?.status,
  };
}
