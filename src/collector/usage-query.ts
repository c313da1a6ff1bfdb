/**
 * The question the collector exists to answer: which processes held which fingerprint of SECRET within
 * the last window, and how often did they use it? Read from the per-secret index, grouped by fingerprint,
 * the most recently seen first, with what the collector can vouch for (`coverage`, see coverage.ts).
 *
 * Each instance says whether it holds the fingerprint now (`current`: its latest report listed it), since when
 * the collector knows it (`firstSeen`) and its beacon interval (`intervalMs`: declared, or observed for a sender
 * before keyflip 0.2 that has sent two reports). `coverage.maxIntervalMs` is the largest interval known among the
 * instances that reported the secret in the window, and those that reported it before the window but have not yet
 * been silent for {@link SILENT_INTERVALS} of their intervals: such an instance may be alive, between two reports,
 * and a window shorter than two of its intervals cannot prove it no longer holds the key (an app beaconing every
 * 8 s is simply outside a 2 s window, while a fast one reports in it). An instance silent longer has stopped (or
 * its reports are lost, which the collector records as dropped). An instance whose interval is unknown (an old
 * sender seen once) does not lower the maximum, and leaves it undefined only when no instance's interval is known
 * — `verifyRetired` then answers "cannot prove" (it also treats that instance itself as not yet proven).
 */
import { type Observation, coverageOf } from './coverage.js';
import { beaconIntervalOf } from './instance-registry.js';
import { CollectorInputError, REPORT_LIMITS, type ReportIssue } from './report.js';
import type { SecretIndex } from './secret-index.js';
import type { FingerprintUsage, SecretUsage, UsageInstance } from './types.js';
import { addUses, sumSince } from './use-samples.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** An instance silent for this many of its beacon intervals has stopped: its interval no longer bounds a window. */
export const SILENT_INTERVALS = 2;

/** One fingerprint's instances while they are gathered. */
interface Group {
  fingerprint: string;
  version: string | undefined;
  /** When the version kept was reported: the most recent report with a version wins. */
  versionSeen: number;
  instances: UsageInstance[];
  uses: number;
  lastSeen: number;
}

/**
 * Checks a usage query as it may come from the network; throws {@link CollectorInputError} (`INVALID_QUERY`)
 * for a secret name that cannot be one, or a window that is not positive or longer than the retention.
 */
export function checkUsageQuery(secret: unknown, windowMs: unknown, retentionMs: number): void {
  const issues: ReportIssue[] = [];
  if (typeof secret !== 'string' || secret.length === 0 || secret.length > REPORT_LIMITS.chars.name) {
    issues.push({ path: 'secret', problem: `expected a secret name of 1 to ${REPORT_LIMITS.chars.name} characters` });
  }
  if (typeof windowMs !== 'number' || !(windowMs > 0) || !Number.isFinite(windowMs)) {
    issues.push({ path: 'window', problem: 'expected a positive duration' });
  } else if (windowMs > retentionMs) {
    issues.push({
      path: 'window',
      problem: `longer than the collector's retention (${retentionMs} ms): it cannot answer for that window`,
    });
  }
  if (issues.length > 0) throw new CollectorInputError('INVALID_QUERY', issues);
}

/**
 * Who held which fingerprint of `secret` within `windowMs` before `now` (a query already checked), and what the
 * collector can vouch for about it.
 */
export function usageOf(
  index: SecretIndex,
  secret: string,
  windowMs: number,
  now: number,
  observation: Observation,
): SecretUsage {
  const cutoff = now - windowMs;
  const groups = new Map<string, Group>();
  let instancesSeen = 0;
  let maxIntervalMs: number | undefined;
  for (const held of index.holders(secret)) {
    const instance = held.instance;
    const intervalMs = beaconIntervalOf(instance);
    const inWindow = held.lastSeen >= cutoff;
    const mayBeAlive = intervalMs !== undefined && now - held.lastSeen <= SILENT_INTERVALS * intervalMs;
    if (
      intervalMs !== undefined &&
      (inWindow || mayBeAlive) &&
      (maxIntervalMs === undefined || intervalMs > maxIntervalMs)
    )
      maxIntervalMs = intervalMs;
    if (!inWindow) continue;
    instancesSeen++;
    for (const fp of held.fingerprints.values()) {
      if (fp.lastSeen < cutoff) continue;
      const uses = sumSince(fp, cutoff);
      const entry: Mutable<UsageInstance> = {
        id: instance.id,
        service: instance.service,
        host: instance.host,
        pid: instance.pid,
        lastSeen: fp.lastSeen,
        uses,
        // Its latest report listed this fingerprint: every fingerprint a report lists takes that report's time.
        current: fp.lastSeen === instance.lastSeen,
        firstSeen: instance.firstSeen,
        candidate: fp.candidate,
      };
      if (instance.environment !== undefined) entry.environment = instance.environment;
      if (intervalMs !== undefined) entry.intervalMs = intervalMs;
      let group = groups.get(fp.fingerprint);
      if (group === undefined) {
        group = {
          fingerprint: fp.fingerprint,
          version: undefined,
          versionSeen: -Infinity,
          instances: [],
          uses: 0,
          lastSeen: fp.lastSeen,
        };
        groups.set(fp.fingerprint, group);
      }
      group.instances.push(entry);
      group.uses = addUses(group.uses, uses);
      if (fp.lastSeen > group.lastSeen) group.lastSeen = fp.lastSeen;
      if (fp.version !== undefined && fp.lastSeen > group.versionSeen) {
        group.version = fp.version;
        group.versionSeen = fp.lastSeen;
      }
    }
  }
  const fingerprints = [...groups.values()].map(fingerprintUsage).sort(byRecency);
  const coverage = coverageOf(observation, secret, windowMs, now, maxIntervalMs);
  return { secret, windowMs, at: now, instancesSeen, fingerprints, coverage };
}

function fingerprintUsage(g: Group): FingerprintUsage {
  const instances = g.instances.sort(byRecency);
  return g.version === undefined
    ? { fingerprint: g.fingerprint, instances, uses: g.uses, lastSeen: g.lastSeen }
    : { fingerprint: g.fingerprint, version: g.version, instances, uses: g.uses, lastSeen: g.lastSeen };
}

/** The most recently seen first; ties by id (instances) or fingerprint. */
function byRecency(
  a: { lastSeen: number; id?: string; fingerprint?: string },
  b: { lastSeen: number; id?: string; fingerprint?: string },
): number {
  return b.lastSeen - a.lastSeen || ((a.id ?? a.fingerprint ?? '') < (b.id ?? b.fingerprint ?? '') ? -1 : 1);
}
