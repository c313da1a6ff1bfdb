/**
 * What the collector can vouch for about one secret besides who held it (`SecretUsage.coverage`): since when it
 * has observed the fleet, the evidence it dropped near the window, and the largest beacon interval among the
 * instances that reported the secret (in the window, or before it and not yet silent for two of their intervals:
 * see usage-query.ts). `verifyRetired` answers "clear" only when these prove the window.
 */
import type { EvidenceDrops } from './dropped-evidence.js';
import type { UsageCoverage } from './types.js';

/** What the collector observed: since when, and what it dropped. */
export interface Observation {
  /**
   * Since when the collector has observed the fleet (ms, its clock): its start, or with a state file the start
   * carried across restarts (the downtime between them is a `collector-down` drop).
   */
  readonly observedSince: number;
  readonly drops: EvidenceDrops;
}

/**
 * The coverage of an answer about `secret` over `windowMs` before `now`. `dropped` holds the spans that overlap
 * the window plus the largest interval, `[now − windowMs − maxIntervalMs, now]` (the window alone when no interval
 * is known: the answer is "cannot prove" then anyway). `gaps` is always empty: the collector has none to report
 * beyond its drops.
 */
export function coverageOf(
  observation: Observation,
  secret: string,
  windowMs: number,
  now: number,
  maxIntervalMs: number | undefined,
): UsageCoverage {
  const from = now - windowMs - (maxIntervalMs ?? 0);
  return {
    observedSince: observation.observedSince,
    dropped: observation.drops.affecting(secret, from, now),
    maxIntervalMs,
    gaps: [],
  };
}
