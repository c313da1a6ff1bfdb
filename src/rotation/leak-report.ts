/**
 * `emergency`'s leak report: for each leaked key, its use per hour at the provider over the exposure window and
 * every instance that held it by the beacons. Reads only; a part that cannot be read is a gap, never an error (the
 * emergency itself must not wait on a report).
 */
import type { UsageInstance } from '../collector/index.js';
import { formatDuration } from '../duration.js';
import type { ProviderAdmin, ProviderUsageBucket, ProviderUsageReport } from '../providers/index.js';
import { iso } from './context.js';
import type { LeakReport, RotationContext } from './types.js';

const HOUR = 3_600_000;

/** A leaked key as the report names it. */
export interface LeakedKey {
  /** Its label in the ring. */
  readonly key: string;
  /** Its fingerprint. */
  readonly fingerprint: string;
  /** Its id at the provider, when known. */
  readonly keyId: string | undefined;
}

/** Buckets of any width summed into whole clock hours (UTC), oldest first; hours with no use are left out. */
export function hourly(buckets: readonly ProviderUsageBucket[]): ProviderUsageBucket[] {
  const hours = new Map<number, { requests: number | undefined; tokens: number; seen: boolean }>();
  for (const b of buckets) {
    const start = Math.floor(b.startMs / HOUR) * HOUR;
    const hour = hours.get(start) ?? { requests: undefined, tokens: 0, seen: false };
    hour.tokens += b.tokens;
    if (b.requests !== undefined) hour.requests = (hour.requests ?? 0) + b.requests;
    hour.seen = true;
    hours.set(start, hour);
  }
  return [...hours.entries()]
    .filter(([, h]) => h.seen && ((h.requests ?? 0) > 0 || h.tokens > 0))
    .sort(([a], [b]) => a - b)
    .map(([startMs, h]) => ({ startMs, endMs: startMs + HOUR, requests: h.requests, tokens: h.tokens }));
}

/** `service/env on host pid N`. */
const instanceName = (i: UsageInstance): string =>
  `${i.service}${i.environment ? `/${i.environment}` : ''} on ${i.host} pid ${i.pid}`;

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * The leak report of `leaked` over `[sinceMs, untilMs)`: the provider's usage of each key (by its id) per hour, and
 * the instances the beacons saw holding it (`ctx.usage`, when given). Never throws for a source that cannot answer:
 * what is missing is in `gaps`.
 */
export async function leakReport(
  ctx: RotationContext,
  provider: ProviderAdmin,
  leaked: readonly LeakedKey[],
  sinceMs: number,
  untilMs: number,
): Promise<LeakReport> {
  const gaps: string[] = [];
  const ids = [...new Set(leaked.flatMap((k) => (k.keyId === undefined ? [] : [k.keyId])))];
  for (const k of leaked) {
    if (k.keyId === undefined)
      gaps.push(
        `${k.key} (${k.fingerprint}): its id at ${provider.id} is unknown (none recorded, and no key there has a ` +
          'hint that matches it): its use at the provider cannot be reported, and it was not revoked there',
      );
  }
  let report: ProviderUsageReport | undefined;
  if (ids.length > 0) {
    try {
      report = await provider.usage(ids, { startMs: sinceMs, endMs: untilMs });
    } catch (error) {
      gaps.push(`${provider.id} could not report the leaked keys' usage: ${messageOf(error)}`);
    }
  }
  if (report && report.coveredUntilMs < untilMs)
    gaps.push(
      `${provider.id}'s usage data is complete until ${iso(report.coveredUntilMs)} (it lags up to ` +
        `${formatDuration(provider.lagMs)}): use after that is not in this report yet`,
    );
  let holders = new Map<string, string[]>();
  if (!ctx.usage) {
    gaps.push('no usage source (a collector or Prometheus) was given: the instances that held the keys are unknown');
  } else {
    try {
      const usage = await ctx.usage.usage(ctx.beaconName ?? ctx.name, { windowMs: Math.max(1, untilMs - sinceMs) });
      holders = new Map(usage.fingerprints.map((f) => [f.fingerprint, f.instances.map(instanceName)]));
    } catch (error) {
      gaps.push(`the beacons could not be read (${messageOf(error)}): the instances that held the keys are unknown`);
    }
  }
  const keys = leaked.map((k) => {
    const used = k.keyId === undefined ? undefined : report?.keys.find((u) => u.keyId === k.keyId);
    return {
      key: k.key,
      fingerprint: k.fingerprint,
      keyId: k.keyId,
      hourly: used ? hourly(used.buckets) : [],
      requests: used ? used.requests : undefined,
      tokens: used?.tokens ?? 0,
      coveredUntilMs: used ? report?.coveredUntilMs : undefined,
      instances: [...new Set(holders.get(k.fingerprint) ?? [])],
    };
  });
  return { sinceMs, untilMs, keys, gaps };
}
