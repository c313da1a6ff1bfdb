/**
 * The emergency rotation (the third, v3 → v4) under load: how each live worker reached v4 (healed on its first 401
 * by authFetch's one retry, or switched earlier by its refresh), which requests failed and why — in flight at
 * the revocation (expected), or with the signature of issue 1 or 2 (not expected, each recognised).
 */
import { EMERGENCY } from '../context.js';
import { firstUse, type WorkerState } from '../fleet.js';
import type { RequestRecord } from '../protocol.js';
import { liveWorkers, type DrillRecord } from '../record.js';
import type { DrillResult } from '../result.js';
import { recordAt } from '../rotate-command.js';
import { spread } from '../stats.js';
import { failedByStatus, type Sent } from './requests.js';

export interface EmergencyFigures {
  readonly summary: DrillResult['emergency'];
  /** Workers whose first 401 was not healed by the retry: with issue 2's signature, and otherwise. */
  readonly healKnown: number;
  readonly healFailures: number;
}

/** How one live worker reached the new key. */
interface Reached {
  /** Emergency → its first request with the new key, and provider revocation → it. */
  readonly toNew: number;
  readonly fromRevoke: number | undefined;
  readonly how: 'refresh' | 'healed' | 'stale-join' | 'not-healed';
  /** Healed: its first 401 → the same request done with the new key; and its requests on the old key after. */
  readonly healMs?: number;
  readonly oldAfterHeal?: number;
}

export function emergencyFigures(record: DrillRecord, all: readonly Sent[]): EmergencyFigures {
  const { drill, seen } = record;
  const { fp } = drill;
  const emergencyRun = seen.emergency;
  const revokedAt = seen.emergencyRevokedAt;
  const { from, to } = EMERGENCY;
  const staleJoin = staleJoinSignature(record);
  const emergencyAt = emergencyRun
    ? (recordAt(drill, emergencyRun, to, 'flipped') ?? emergencyRun.startedAt)
    : undefined;

  const reached: Reached[] = [];
  for (const w of liveWorkers(record)) {
    const first = emergencyRun ? firstUse(w, fp[to], emergencyRun.startedAt) : undefined;
    if (first === undefined || emergencyAt === undefined) continue;
    reached.push(
      howReached(record, w, first - emergencyAt, revokedAt === undefined ? undefined : first - revokedAt, staleJoin),
    );
  }

  const emergencyRequests = emergencyRun ? all.filter(({ r }) => r[1] >= emergencyRun.startedAt) : [];
  const inFlight = (r: RequestRecord): boolean => revokedAt !== undefined && r[1] <= revokedAt && r[2] >= revokedAt;
  const failedPairs = emergencyRequests.filter(({ r }) => r[3] !== 200);
  const failed = failedPairs.map(({ r }) => r);
  const answered401 = emergencyRequests.filter(({ r }) => r[4].some((a) => a[1] === 401)).map(({ r }) => r);
  const healedByRetry = answered401.filter((r) => r[3] === 200).length;
  const failedNotInFlight = failed.filter((r) => !inFlight(r)).length;
  const closedAll = all.filter(({ r }) => r[5] === 1);
  const joined = failedPairs.filter(({ w, r }) => staleJoin(w, r));
  const explanation = explain({
    failed,
    answered401,
    inFlightAnswered401: answered401.filter(inFlight).length,
    failedNotInFlight,
    failedJoin: failedPairs.filter(({ w, r }) => !inFlight(r) && staleJoin(w, r)).length,
    failedClosedEnd: failed.filter((r) => !inFlight(r) && r[5] === 1).length,
    healedByRetry,
  });
  const healed = reached.filter((x) => x.how === 'healed');
  return {
    summary: {
      from,
      to,
      toNewMs: spread(reached.map((x) => x.toNew)),
      fromProviderRevokeMs: spread(reached.flatMap((x) => (x.fromRevoke === undefined ? [] : [x.fromRevoke]))),
      workersHealedOn401: healed.length,
      workersSwitchedByRefresh: reached.filter((x) => x.how === 'refresh').length,
      healMs: spread(healed.map((x) => x.healMs ?? 0)),
      inFlightAtRevocation: emergencyRequests.filter(({ r }) => inFlight(r)).length,
      requestsAnswered401: answered401.length,
      healedByRetry,
      failed: failed.length,
      failedByStatus: failedByStatus(failed),
      failedNotInFlight,
      oldAfterHeal: healed.reduce((n, x) => n + (x.oldAfterHeal ?? 0), 0),
      failedClosed: {
        requests: closedAll.length,
        workers: new Set(closedAll.map(({ w }) => w.instanceId)).size,
        failedInTheEnd: closedAll.filter(({ r }) => r[3] !== 200).length,
      },
      staleJoins: { requests: joined.length, workers: new Set(joined.map(({ w }) => w.instanceId)).size },
      explanation,
    },
    healKnown: reached.filter((x) => x.how === 'stale-join').length,
    healFailures: reached.filter((x) => x.how === 'not-healed').length,
  };
}

/**
 * Issue 2's signature: a request answered 401 on the old key (v3) and not sent again, whose answer came while a
 * refresh of its worker was running that had read the candidates before the emergency's writes (it began
 * before the emergency command ended, and ended after the provider revoked the old key, on it — or on nothing,
 * torn by issue 1) — authFetch's forced refresh joined that walk, found no new key and put the old key on its 1 s
 * cooldown — or within that cooldown. A request that fails on a 401 without such a walk is not this issue.
 */
function staleJoinSignature(record: DrillRecord): (w: WorkerState, r: RequestRecord) => boolean {
  const old = record.drill.fp[EMERGENCY.from];
  const { emergency, emergencyRevokedAt: revokedAt } = record.seen;
  return (w, r) => {
    const [only, ...more] = r[4];
    if (r[3] !== 401 || more.length > 0 || !only || only[0] !== old || only[1] !== 401) return false;
    if (emergency === undefined || revokedAt === undefined) return false;
    const end = emergency.endedAt;
    return w.walks.some(
      (x) =>
        (x[2] === old || x[2] === 'revoked') &&
        x[0] < end &&
        x[1] >= revokedAt &&
        only[3] >= x[0] &&
        only[3] <= x[1] + 1_000,
    );
  };
}

/** How `w` reached the new key: by the request that got its first 401 on the old one (by when it came), if any. */
function howReached(
  record: DrillRecord,
  w: WorkerState,
  toNew: number,
  fromRevoke: number | undefined,
  staleJoin: (w: WorkerState, r: RequestRecord) => boolean,
): Reached {
  const { fp } = record.drill;
  const old = fp[EMERGENCY.from];
  let hit: RequestRecord | undefined;
  let hitAt = Number.POSITIVE_INFINITY;
  for (const r of w.requests)
    for (const a of r[4]) if (a[1] === 401 && a[0] === old && a[3] < hitAt) [hit, hitAt] = [r, a[3]];
  if (!hit) return { toNew, fromRevoke, how: 'refresh' };
  const [dead, retry] = hit[4];
  if (
    hit[3] === 200 &&
    hit[4].length === 2 &&
    dead &&
    retry &&
    dead[1] === 401 &&
    retry[0] === fp[EMERGENCY.to] &&
    retry[1] === 200
  ) {
    const oldAfterHeal = w.requests.filter((r) => r[4].some((a) => a[0] === old && a[2] > retry[2])).length;
    return { toNew, fromRevoke, how: 'healed', healMs: retry[3] - dead[3], oldAfterHeal };
  }
  return { toNew, fromRevoke, how: staleJoin(w, hit) ? 'stale-join' : 'not-healed' };
}

/** The emergency's failures in one sentence: how many, by outcome, and why. */
function explain(f: {
  failed: readonly RequestRecord[];
  answered401: readonly RequestRecord[];
  inFlightAnswered401: number;
  failedNotInFlight: number;
  failedJoin: number;
  failedClosedEnd: number;
  healedByRetry: number;
}): string {
  if (f.failed.length === 0) {
    return (
      `0 failed: ${f.answered401.length} requests got a 401 on v3 (${f.inFlightAnswered401} of them in flight ` +
      'at the revocation); authFetch refreshed the secret once, found v4 and sent each again, once — so the SDK ' +
      'never saw a 401'
    );
  }
  const byStatus = Object.entries(failedByStatus(f.failed))
    .map(([s, n]) => `${n} × ${s}`)
    .join(', ');
  const parts = [
    `${f.failed.length} failed (${byStatus}): ${f.failed.length - f.failedNotInFlight} in flight at the revocation`,
  ];
  if (f.failedJoin) {
    parts.push(
      `${f.failedJoin} answered 401 after authFetch's forced refresh joined a refresh that began before the ` +
        "emergency's writes (issue 2)",
    );
  }
  if (f.failedClosedEnd) parts.push(`${f.failedClosedEnd} failed closed with SecretRevokedError (issue 1)`);
  const otherwise = f.failedNotInFlight - f.failedJoin - f.failedClosedEnd;
  if (otherwise > 0) parts.push(`${otherwise} otherwise`);
  const healed = `${f.healedByRetry} of ${f.answered401.length} requests answered 401 were healed by authFetch's retry`;
  return `${parts.join(', ')}; ${healed}`;
}
