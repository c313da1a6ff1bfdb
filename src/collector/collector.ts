/**
 * The embedded collector: receives `keyflip.beacon/v1` reports and answers "which processes held which
 * fingerprint of SECRET in the last window, and how often did they use it?". One process, no database:
 * everything is in memory and bounded (retention, a cap on instances, on fingerprints per secret and on
 * the use samples kept per fingerprint).
 *
 * Times are the collector's own clock when a report arrived, not the sender's `sentAt`: a sender whose
 * clock lags by an hour must not fall out of a one-hour window (that would make `verify` pass wrongly).
 */
import type { BeaconReport } from '../beacon/types.js';
import { CollectorInputError, validateReport, REPORT_LIMITS } from './report.js';
import type { FingerprintUsage, SecretUsage, UsageInstance } from './types.js';

export { CollectorInputError, REPORT_LIMITS, validateReport, type ReportIssue } from './report.js';

/** Options of {@link createCollector}. */
export interface CollectorOptions {
  /**
   * How long what an instance reported is kept. Usage can be asked over any window up to this long.
   * @default 86_400_000 (24 h)
   */
  retentionMs?: number | undefined;
  /**
   * The most instances tracked at once. When a new instance would exceed it, the instance that has gone
   * longest without reporting is dropped (and counted in `stats.evicted`): a live process reports again
   * within its interval and comes back; a dead one does not.
   * @default 50_000
   */
  maxInstances?: number | undefined;
  /**
   * Fingerprints kept per (instance, secret): a process that rotated more often than this within the
   * retention loses the one it held longest ago.
   * @default 16
   */
  maxFingerprintsPerSecret?: number | undefined;
  /**
   * An instance is stale when it has not reported for `staleFactor` × its interval (estimated from the
   * gaps between its reports; `defaultIntervalMs` until it has sent two).
   * @default 2
   */
  staleFactor?: number | undefined;
  /** The interval assumed for an instance that has sent one report. @default 60_000 (the beacon's default) */
  defaultIntervalMs?: number | undefined;
  /** Injectable for tests. @default Date.now */
  clock?: { now(): number } | undefined;
}

/** What the collector holds of one secret in one instance. */
export interface CollectorInstanceSecret {
  readonly name: string;
  readonly fingerprint: string;
  readonly version?: string | undefined;
  readonly candidate: string;
  readonly source: string;
  readonly status: string;
  readonly loadedAt: number;
  readonly lastUsedAt?: number | undefined;
  /** The last report (collector time) that listed this fingerprint. */
  readonly lastSeen: number;
  /** Uses summed over the retention. */
  readonly uses: number;
}

/** One tracked instance, as `instances()` and `GET /v1/instances` give it. */
export interface CollectorInstance {
  readonly id: string;
  readonly service: string;
  readonly environment?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly runtime: string;
  readonly keyflip: string;
  /** The first and the last report received (collector time). */
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** The sender's own clock in its last report. */
  readonly sentAt: number;
  readonly reports: number;
  /** The median gap between its recent reports; undefined until it has sent two. */
  readonly intervalMs?: number | undefined;
  /** Not reported for `staleFactor` × its interval. */
  readonly stale: boolean;
  /** Every fingerprint it listed within the retention, the most recently listed first. */
  readonly secrets: readonly CollectorInstanceSecret[];
}

export interface CollectorStats {
  /** Instances tracked now. */
  readonly instances: number;
  /** Distinct secret names tracked now. */
  readonly secrets: number;
  /** (instance, secret, fingerprint) entries tracked now. */
  readonly entries: number;
  /** Reports ingested, and refused by the schema check. */
  readonly reports: number;
  readonly rejected: number;
  /** Instances dropped because of `maxInstances`, and because they outlived the retention. */
  readonly evicted: number;
  readonly expired: number;
}

/** The collector in process. `usage` answers synchronously; it is also a `UsageSource` through `verifyRetired`. */
export interface Collector {
  readonly retentionMs: number;
  /** Checks and records one report; throws {@link CollectorInputError} (nothing recorded) when it is not one. */
  ingest(report: unknown): void;
  /** Who held which fingerprint of `secret` within the last `windowMs` (at most `retentionMs`). */
  usage(secret: string, options: { windowMs: number }): SecretUsage;
  /** Every instance tracked, the most recently reporting first. */
  instances(): CollectorInstance[];
  /** The secret names reported within the retention, sorted. */
  secrets(): string[];
  /** Drops what is older than the retention now (it also happens on its own as reports arrive). */
  prune(): void;
  /** The collector's clock (ms since the epoch): the time every answer is given at. */
  now(): number;
  readonly stats: CollectorStats;
}

const DAY = 86_400_000;
/** Use samples kept per entry; beyond, two old ones are merged for each new one. */
const SAMPLE_CAP = 64;
/** Gaps between reports kept per instance to estimate its interval. */
const GAPS = 7;

interface FingerprintState {
  readonly fingerprint: string;
  version: string | undefined;
  candidate: string;
  source: string;
  status: string;
  loadedAt: number;
  lastUsedAt: number | undefined;
  lastSeen: number;
  /**
   * Reports with uses > 0, as [time, uses] pairs, oldest first, at most SAMPLE_CAP: beyond, old ones are
   * merged (see mergeOnePair), a merged pair taking the later time, so a window's sum may include uses from
   * shortly before its start: it errs toward "in use", never away from it.
   */
  samples: Float64Array | undefined;
  n: number;
  /** Where the first sample's span starts (its own time until it absorbs or follows a dropped one). */
  since: number;
}

interface SecretState {
  readonly name: string;
  readonly instance: InstanceState;
  lastSeen: number;
  readonly fingerprints: Map<string, FingerprintState>;
}

interface InstanceState {
  readonly id: string;
  service: string;
  environment: string | undefined;
  labels: Readonly<Record<string, string>> | undefined;
  host: string;
  pid: number;
  startedAt: number;
  runtime: string;
  keyflip: string;
  firstSeen: number;
  lastSeen: number;
  sentAt: number;
  reports: number;
  gaps: number[];
  readonly secrets: Map<string, SecretState>;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`createCollector: ${name} must be a positive number`);
  }
  return value;
}

function addSample(state: FingerprintState, at: number, uses: number): void {
  let s = state.samples;
  const n = state.n;
  if (s !== undefined && n > 0 && s[2 * n - 2] === at) {
    s[2 * n - 1] = (s[2 * n - 1] as number) + uses;
    return;
  }
  if (s === undefined) {
    s = state.samples = new Float64Array(8);
    state.since = at;
  } else if (2 * n === s.length) {
    if (n < SAMPLE_CAP) {
      const grown = new Float64Array(s.length * 2);
      grown.set(s);
      s = state.samples = grown;
    } else {
      mergeOnePair(s, n, at, state.since);
      state.n = n - 1;
    }
  }
  const m = state.n;
  s[2 * m] = at;
  s[2 * m + 1] = uses;
  state.n = m + 1;
}

/**
 * Merges the two adjacent samples whose merged sample would cover the shortest span relative to its age
 * (a sample covers the time since the sample before it). Recent samples stay exact; older ones get
 * coarser, about in proportion to their age (with 64 samples over a day of one-minute reports, a merged
 * sample covers about an eighth of its age). The merged sample takes the later time and the summed uses.
 */
function mergeOnePair(s: Float64Array, n: number, now: number, since: number): void {
  let best = 0;
  let bestScore = Infinity;
  for (let i = 0; i < n - 1; i++) {
    const start = i === 0 ? since : (s[2 * i - 2] as number);
    const end = s[2 * i + 2] as number;
    const score = (end - start) / Math.max(now - end, 1);
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  s[2 * best + 3] = (s[2 * best + 1] as number) + (s[2 * best + 3] as number);
  s.copyWithin(2 * best, 2 * best + 2, 2 * n);
}

/** Uses of the samples at or after `cutoff`. */
function sumSince(state: FingerprintState, cutoff: number): number {
  const s = state.samples;
  if (s === undefined) return 0;
  let sum = 0;
  for (let i = state.n - 1; i >= 0; i--) {
    if ((s[2 * i] as number) < cutoff) break;
    sum += s[2 * i + 1] as number;
  }
  return sum;
}

/** Drops the samples before `cutoff`. */
function trimBefore(state: FingerprintState, cutoff: number): void {
  const s = state.samples;
  if (s === undefined) return;
  let first = 0;
  while (first < state.n && (s[2 * first] as number) < cutoff) first++;
  if (first === 0) return;
  state.since = s[2 * first - 2] as number;
  if (first === state.n) {
    state.samples = undefined;
    state.n = 0;
    return;
  }
  s.copyWithin(0, 2 * first, 2 * state.n);
  state.n -= first;
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : Math.round(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}

const byRecency = (
  a: { lastSeen: number; id?: string; fingerprint?: string },
  b: { lastSeen: number; id?: string; fingerprint?: string },
): number => b.lastSeen - a.lastSeen || ((a.id ?? a.fingerprint ?? '') < (b.id ?? b.fingerprint ?? '') ? -1 : 1);

/**
 * Creates an in-memory collector.
 *
 * @example
 * const collector = createCollector({ retentionMs: 86_400_000 });
 * collector.ingest(report);                     // throws CollectorInputError when it is not a beacon report
 * collector.usage('OPENAI_API_KEY', { windowMs: 3_600_000 });
 */
export function createCollector(options: CollectorOptions = {}): Collector {
  const retentionMs = positive('retentionMs', options.retentionMs, DAY);
  const maxInstances = Math.floor(positive('maxInstances', options.maxInstances, 50_000));
  const maxFingerprints = Math.floor(positive('maxFingerprintsPerSecret', options.maxFingerprintsPerSecret, 16));
  const staleFactor = positive('staleFactor', options.staleFactor, 2);
  const defaultIntervalMs = positive('defaultIntervalMs', options.defaultIntervalMs, 60_000);
  const clock = options.clock ?? Date;
  /** Full passes over every entry happen at most this often; expired instances go on every ingest. */
  const sweepEveryMs = Math.min(Math.max(retentionMs / 8, 1_000), 60_000);

  /** In order of their last report, least recent first (re-inserted on each report). */
  const instances = new Map<string, InstanceState>();
  /** secret name → instance id → what that instance holds of it. */
  const bySecret = new Map<string, Map<string, SecretState>>();
  let entries = 0;
  let reports = 0;
  let rejected = 0;
  let evicted = 0;
  let expired = 0;
  let lastSweep = clock.now();

  const dropSecret = (state: SecretState): void => {
    entries -= state.fingerprints.size;
    state.instance.secrets.delete(state.name);
    const index = bySecret.get(state.name);
    if (index !== undefined && index.get(state.instance.id) === state) {
      index.delete(state.instance.id);
      if (index.size === 0) bySecret.delete(state.name);
    }
  };

  const dropInstance = (instance: InstanceState): void => {
    for (const state of [...instance.secrets.values()]) dropSecret(state);
    instances.delete(instance.id);
  };

  const expireInstances = (cutoff: number): void => {
    for (const instance of instances.values()) {
      if (instance.lastSeen >= cutoff) break;
      dropInstance(instance);
      expired++;
    }
  };

  const sweep = (now: number): void => {
    lastSweep = now;
    const cutoff = now - retentionMs;
    expireInstances(cutoff);
    for (const instance of instances.values()) {
      for (const state of [...instance.secrets.values()]) {
        if (state.lastSeen < cutoff) {
          dropSecret(state);
          continue;
        }
        for (const fp of [...state.fingerprints.values()]) {
          if (fp.lastSeen < cutoff) {
            state.fingerprints.delete(fp.fingerprint);
            entries--;
          } else trimBefore(fp, cutoff);
        }
      }
    }
  };

  const maybeSweep = (now: number): void => {
    if (now - lastSweep >= sweepEveryMs || now < lastSweep) sweep(now);
  };

  const record = (report: BeaconReport, now: number): void => {
    const identity = report.instance;
    let instance = instances.get(identity.id);
    if (instance === undefined) {
      instance = {
        id: identity.id,
        service: report.service,
        environment: report.environment,
        labels: report.labels,
        host: identity.host,
        pid: identity.pid,
        startedAt: identity.startedAt,
        runtime: identity.runtime,
        keyflip: identity.keyflip,
        firstSeen: now,
        lastSeen: now,
        sentAt: report.sentAt,
        reports: 0,
        gaps: [],
        secrets: new Map(),
      };
    } else {
      instances.delete(identity.id);
      const gap = now - instance.lastSeen;
      if (gap > 0) {
        instance.gaps.push(gap);
        if (instance.gaps.length > GAPS) instance.gaps.shift();
      }
      // The same id may come back as a restarted process (a configured instanceId): the latest wins.
      instance.service = report.service;
      instance.environment = report.environment;
      instance.labels = report.labels;
      instance.host = identity.host;
      instance.pid = identity.pid;
      instance.startedAt = identity.startedAt;
      instance.runtime = identity.runtime;
      instance.keyflip = identity.keyflip;
      instance.lastSeen = now;
      instance.sentAt = report.sentAt;
    }
    instance.reports++;
    instances.set(identity.id, instance);

    for (const secret of report.secrets) {
      let state = instance.secrets.get(secret.name);
      if (state === undefined) {
        state = { name: secret.name, instance, lastSeen: now, fingerprints: new Map() };
        instance.secrets.set(secret.name, state);
        let index = bySecret.get(secret.name);
        if (index === undefined) bySecret.set(secret.name, (index = new Map()));
        index.set(instance.id, state);
      }
      state.lastSeen = now;
      let fp = state.fingerprints.get(secret.fingerprint);
      if (fp === undefined) {
        if (state.fingerprints.size >= maxFingerprints) {
          let oldest: FingerprintState | undefined;
          for (const candidate of state.fingerprints.values())
            if (oldest === undefined || candidate.lastSeen < oldest.lastSeen) oldest = candidate;
          if (oldest !== undefined) {
            state.fingerprints.delete(oldest.fingerprint);
            entries--;
          }
        }
        fp = {
          fingerprint: secret.fingerprint,
          version: secret.version,
          candidate: secret.candidate,
          source: secret.source,
          status: secret.status,
          loadedAt: secret.loadedAt,
          lastUsedAt: secret.lastUsedAt,
          lastSeen: now,
          samples: undefined,
          n: 0,
          since: now,
        };
        state.fingerprints.set(secret.fingerprint, fp);
        entries++;
      } else {
        if (secret.version !== undefined) fp.version = secret.version;
        fp.candidate = secret.candidate;
        fp.source = secret.source;
        fp.status = secret.status;
        fp.loadedAt = secret.loadedAt;
        if (secret.lastUsedAt !== undefined) fp.lastUsedAt = secret.lastUsedAt;
        fp.lastSeen = now;
      }
      if (secret.uses > 0) addSample(fp, now, secret.uses);
    }

    while (instances.size > maxInstances) {
      const oldest = instances.values().next().value as InstanceState;
      dropInstance(oldest);
      evicted++;
    }
  };

  const checkQuery = (secret: unknown, windowMs: unknown): void => {
    const issues = [];
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
  };

  const intervalOf = (instance: InstanceState): number | undefined => median(instance.gaps);

  return {
    retentionMs,

    ingest(input: unknown): void {
      let report: BeaconReport;
      try {
        report = validateReport(input);
      } catch (error) {
        rejected++;
        throw error;
      }
      const now = clock.now();
      maybeSweep(now);
      record(report, now);
      reports++;
    },

    usage(secret: string, { windowMs }: { windowMs: number }): SecretUsage {
      checkQuery(secret, windowMs);
      const now = clock.now();
      maybeSweep(now);
      const cutoff = now - windowMs;
      const found = new Map<
        string,
        {
          fingerprint: string;
          version: string | undefined;
          versionSeen: number;
          instances: UsageInstance[];
          uses: number;
          lastSeen: number;
        }
      >();
      let instancesSeen = 0;
      const index = bySecret.get(secret);
      if (index !== undefined) {
        for (const state of index.values()) {
          if (state.lastSeen < cutoff) continue;
          instancesSeen++;
          const instance = state.instance;
          for (const fp of state.fingerprints.values()) {
            if (fp.lastSeen < cutoff) continue;
            const uses = sumSince(fp, cutoff);
            const entry: { -readonly [K in keyof UsageInstance]: UsageInstance[K] } = {
              id: instance.id,
              service: instance.service,
              host: instance.host,
              pid: instance.pid,
              lastSeen: fp.lastSeen,
              uses,
            };
            if (instance.environment !== undefined) entry.environment = instance.environment;
            let group = found.get(fp.fingerprint);
            if (group === undefined) {
              group = {
                fingerprint: fp.fingerprint,
                version: undefined,
                versionSeen: -Infinity,
                instances: [],
                uses: 0,
                lastSeen: fp.lastSeen,
              };
              found.set(fp.fingerprint, group);
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
      }
      const fingerprints: FingerprintUsage[] = [...found.values()]
        .map((g): FingerprintUsage => {
          const instancesOf = g.instances.sort(byRecency);
          return g.version === undefined
            ? { fingerprint: g.fingerprint, instances: instancesOf, uses: g.uses, lastSeen: g.lastSeen }
            : {
                fingerprint: g.fingerprint,
                version: g.version,
                instances: instancesOf,
                uses: g.uses,
                lastSeen: g.lastSeen,
              };
        })
        .sort(byRecency);
      return { secret, windowMs, at: now, instancesSeen, fingerprints };
    },

    instances(): CollectorInstance[] {
      const now = clock.now();
      maybeSweep(now);
      const cutoff = now - retentionMs;
      const out: CollectorInstance[] = [];
      for (const instance of instances.values()) {
        if (instance.lastSeen < cutoff) continue;
        const secrets: CollectorInstanceSecret[] = [];
        for (const state of instance.secrets.values()) {
          for (const fp of state.fingerprints.values()) {
            if (fp.lastSeen < cutoff) continue;
            const item: { -readonly [K in keyof CollectorInstanceSecret]: CollectorInstanceSecret[K] } = {
              name: state.name,
              fingerprint: fp.fingerprint,
              candidate: fp.candidate,
              source: fp.source,
              status: fp.status,
              loadedAt: fp.loadedAt,
              lastSeen: fp.lastSeen,
              uses: sumSince(fp, cutoff),
            };
            if (fp.version !== undefined) item.version = fp.version;
            if (fp.lastUsedAt !== undefined) item.lastUsedAt = fp.lastUsedAt;
            secrets.push(item);
          }
        }
        secrets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : b.lastSeen - a.lastSeen));
        const intervalMs = intervalOf(instance);
        const item: { -readonly [K in keyof CollectorInstance]: CollectorInstance[K] } = {
          id: instance.id,
          service: instance.service,
          host: instance.host,
          pid: instance.pid,
          startedAt: instance.startedAt,
          runtime: instance.runtime,
          keyflip: instance.keyflip,
          firstSeen: instance.firstSeen,
          lastSeen: instance.lastSeen,
          sentAt: instance.sentAt,
          reports: instance.reports,
          stale: now - instance.lastSeen > staleFactor * (intervalMs ?? defaultIntervalMs),
          secrets,
        };
        if (instance.environment !== undefined) item.environment = instance.environment;
        if (instance.labels !== undefined) item.labels = instance.labels;
        if (intervalMs !== undefined) item.intervalMs = intervalMs;
        out.push(item);
      }
      return out.reverse();
    },

    secrets(): string[] {
      const now = clock.now();
      maybeSweep(now);
      const cutoff = now - retentionMs;
      const names: string[] = [];
      for (const [name, index] of bySecret) {
        for (const state of index.values()) {
          if (state.lastSeen >= cutoff) {
            names.push(name);
            break;
          }
        }
      }
      return names.sort();
    },

    prune(): void {
      sweep(clock.now());
    },

    now(): number {
      return clock.now();
    },

    get stats(): CollectorStats {
      return { instances: instances.size, secrets: bySecret.size, entries, reports, rejected, evicted, expired };
    },
  };
}
