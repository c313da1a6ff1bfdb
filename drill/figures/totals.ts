/**
 * The whole drill's totals: every request sent and how it ended, the attempts by key as the workers
 * reported them against what the provider counted, the rate the fleet achieved, latency, CPU and event-loop
 * delay in the workers, and a sample of the failures.
 */
import { liveWorkers, type DrillRecord } from '../record.js';
import type { DrillResult } from '../result.js';
import { failedByStatus, latency, type Sent, sumMaps } from './requests.js';

export interface TotalsFigures {
  readonly totals: DrillResult['totals'];
  /** Requests started before the emergency (the two normal rotations): how they failed. */
  readonly normalFailedByStatus: Record<string, number>;
  /** Workers whose last report did not account for every request they made. */
  readonly unreported: number;
}

export function totalsFigures(record: DrillRecord, all: readonly Sent[]): TotalsFigures {
  const { drill, workers, seen } = record;
  const live = liveWorkers(record);
  const allRs = all.map(({ r }) => r);
  // The two normal rotations, as the keyflip workers saw them (the straggler is no keyflip worker: its last
  // request is meant to get 401).
  const normal = all.filter(({ w, r }) => w.mode !== 'straggler' && r[1] < drill.marked('emergency')).map(({ r }) => r);
  const normalFailed = normal.filter((r) => r[3] !== 200);
  const liveSpan = live
    .map((w) => ((w.requests.at(-1)?.[1] ?? 0) - (w.requests[0]?.[1] ?? 0)) / 1000)
    .filter((s) => s > 0);
  const achievedRate =
    liveSpan.length === 0 ? 0 : live.reduce((n, w) => n + w.requests.length, 0) / liveSpan.reduce((a, b) => a + b, 0);
  const reported = { v1: 0, v2: 0, v3: 0, v4: 0 };
  for (const { r } of all) {
    for (const a of r[4]) {
      const key = drill.keyOf(a[0]);
      if (key !== 'other') reported[key]++;
    }
  }
  const cpuMs = live.reduce((n, w) => n + (w.cpuMs ?? 0), 0);
  const cpuRequests = live.reduce((n, w) => n + (w.cpuMs === undefined ? 0 : (w.sentCount ?? 0)), 0);
  return {
    totals: {
      sent: allRs.length,
      ok: allRs.filter((r) => r[3] === 200).length,
      failed: allRs.filter((r) => r[3] !== 200).length,
      failedByStatus: failedByStatus(allRs),
      failureKinds: sumMaps(workers.map((w) => w.failureKinds)),
      resolverErrors: sumMaps(workers.map((w) => w.errors)),
      skipped: workers.reduce((n, w) => n + w.skipped, 0),
      attemptsByKey: reported,
      providerCounted: { ...record.providerCounted },
      probes: { ...seen.probes },
      normalSent: normal.length,
      normalFailed: normalFailed.length,
      achievedRatePerWorker: Math.round(achievedRate * 10) / 10,
      latencyMs: latency(allRs),
      workerCpuMsPerRequest: Math.round((cpuMs / Math.max(1, cpuRequests)) * 100) / 100,
      workerLoopDelayMs: {
        p99: Math.max(0, ...workers.map((w) => w.loopDelayMs?.p99 ?? 0)),
        max: Math.max(0, ...workers.map((w) => w.loopDelayMs?.max ?? 0)),
      },
      failureSamples: failureSamples(record, all),
    },
    normalFailedByStatus: failedByStatus(normalFailed),
    unreported: workers.filter((w) => w.sentCount !== undefined && w.sentCount !== w.requests.length).length,
  };
}

/** Up to 20 failed requests, at most 8 per outcome, in the order the workers reported them. */
function failureSamples(record: DrillRecord, all: readonly Sent[]): DrillResult['totals']['failureSamples'] {
  const { drill } = record;
  const sampled = new Map<number, number>();
  return all
    .filter(({ r }) => {
      if (r[3] === 200) return false;
      const n = (sampled.get(r[3]) ?? 0) + 1;
      sampled.set(r[3], n);
      return n <= 8;
    })
    .slice(0, 20)
    .map(({ w, r }) => ({
      worker: w.instanceId,
      t0: drill.rel(r[1]),
      t1: drill.rel(r[2]),
      outcome: r[3],
      attempts: r[4].map(
        (a) => [drill.keyOf(a[0]), a[1], drill.rel(a[2]), drill.rel(a[3])] as [string, number, number, number],
      ),
    }));
}
