/**
 * The question the collector exists to answer: which processes held which fingerprint of SECRET within
 * the last window, and how often did they use it? Read from the per-secret index, grouped by fingerprint,
 * the most recently seen first.
 */
import { CollectorInputError, REPORT_LIMITS, type ReportIssue } from './report.js';
import type { SecretIndex } from './secret-index.js';
import type { FingerprintUsage, SecretUsage, UsageInstance } from './types.js';
import { sumSince } from './use-samples.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

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

/** Who held which fingerprint of `secret` within `windowMs` before `now` (a query already checked). */
export function usageOf(index: SecretIndex, secret: string, windowMs: number, now: number): SecretUsage {
  const cutoff = now - windowMs;
  const groups = new Map<string, Group>();
  let instancesSeen = 0;
  for (const held of index.holders(secret)) {
    if (held.lastSeen < cutoff) continue;
    instancesSeen++;
    const instance = held.instance;
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
      };
      if (instance.environment !== undefined) entry.environment = instance.environment;
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
      group.uses += uses;
      if (fp.lastSeen > group.lastSeen) group.lastSeen = fp.lastSeen;
      if (fp.version !== undefined && fp.lastSeen > group.versionSeen) {
        group.version = fp.version;
        group.versionSeen = fp.lastSeen;
      }
    }
  }
  const fingerprints = [...groups.values()].map(fingerprintUsage).sort(byRecency);
  return { secret, windowMs, at: now, instancesSeen, fingerprints };
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
