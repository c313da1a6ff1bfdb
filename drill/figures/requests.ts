/** Requests as the workers reported them, and the small sums every figure uses. */
import type { WorkerState } from '../fleet.js';
import type { RequestRecord } from '../protocol.js';

/** One request, with the worker that sent it. */
export interface Sent {
  readonly w: WorkerState;
  readonly r: RequestRecord;
}

/** Every request of every worker. */
export function allRequests(workers: readonly WorkerState[]): Sent[] {
  return workers.flatMap((w) => w.requests.map((r) => ({ w, r })));
}

/** Failed requests (outcome other than 200) counted by outcome. */
export function failedByStatus(rs: readonly RequestRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rs) if (r[3] !== 200) out[String(r[3])] = (out[String(r[3])] ?? 0) + 1;
  return out;
}

/** Request durations (start to end), ms: median, 99th percentile (nearest rank), maximum. */
export function latency(rs: readonly RequestRecord[]): { p50: number; p99: number; max: number } {
  const d = rs.map((r) => r[2] - r[1]).sort((a, b) => a - b);
  const at = (q: number): number => d[Math.min(d.length - 1, Math.max(0, Math.ceil(q * d.length) - 1))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: d[d.length - 1] ?? 0 };
}

/** Adds up counts by key. */
export function sumMaps(maps: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const map of maps) for (const [k, n] of Object.entries(map)) out[k] = (out[k] ?? 0) + n;
  return out;
}
