/**
 * The evidence model's "cannot prove" rules (docs/evidence.md): what a usage source's answer lacks before
 * `verifyRetired` may answer "clear". Each rule gives what is missing, with figures, and what to do. Absence of
 * evidence is not evidence of absence: every rule holds back a "clear" the answer cannot back.
 *
 * With `at` the answer's time, `W` the window and `I` the longest beacon interval of the instances that reported
 * the secret, the evidence must cover `[at − W − I, at]`: a process reports at least once per interval, so one that
 * held the key in the window reported it in that span.
 */
import { formatAge, formatDuration } from '../duration.js';
import type { HeldKey, RetiredMatch } from './retired-key.js';
import type { DroppedEvidence, SecretUsage, UsageInstance } from './types.js';

/** Every reason `verifyRetired` may answer "cannot prove", in the order the rules are applied. */
export const MISSING_CODES = [
  'no-coverage',
  'no-reports',
  'interval-unknown',
  'window-too-short',
  'coverage',
  'dropped',
  'source-gap',
  'version-unknown',
  'young-instance',
] as const;
/** Which piece of evidence is missing: one of {@link MISSING_CODES}. */
export type MissingCode = (typeof MISSING_CODES)[number];

/** One piece of evidence a "clear" would need and the answer lacks. Never holds a value. */
export interface MissingEvidence {
  /** Which piece of evidence. */
  readonly code: MissingCode;
  /** What is missing, with figures, for people. */
  readonly message: string;
  /** What to do about it, for people. */
  readonly action: string;
}

/** What the rules look at. */
export interface EvidenceQuestion {
  readonly secret: string;
  /** How messages name the retired key: `kf_…` or `OPENAI_API_KEY_v1@1`. */
  readonly key: string;
  /** ms */
  readonly windowMs: number;
  readonly usage: SecretUsage;
  /** How messages name the source: `the collector at http://127.0.0.1:7391`. */
  readonly source: string;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const iso = (ms: number): string =>
  Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z') : String(ms);
const span = (ms: number): string => formatDuration(ms);
/** How long something was observed, rounded down (2.6s is `2s`: never more than it was). */
const observed = (ms: number): string => formatAge(Math.max(0, Math.floor(ms / 1_000) * 1_000));

/** Every instance of the answer once (an instance that rotated is listed under each of its fingerprints). */
export function instancesOf(usage: SecretUsage): UsageInstance[] {
  const byId = new Map<string, UsageInstance>();
  for (const f of usage.fingerprints) for (const i of f.instances) if (!byId.has(i.id)) byId.set(i.id, i);
  return [...byId.values()];
}

/** `checkout-api/prod on web-1 pid 7`. */
export function describeInstance(i: Pick<UsageInstance, 'service' | 'environment' | 'host' | 'pid'>): string {
  return `${i.service}${i.environment ? `/${i.environment}` : ''} on ${i.host} pid ${i.pid}`;
}

/** At most three instances (each once), then how many more. */
function some(listed: readonly UsageInstance[], detail: (i: UsageInstance) => string = () => ''): string {
  const instances = [...new Map(listed.map((i) => [i.id, i])).values()];
  const shown = instances.slice(0, 3).map((i) => `${describeInstance(i)}${detail(i)}`);
  return instances.length > 3 ? `${shown.join(', ')} and ${instances.length - 3} more` : shown.join(', ');
}

/**
 * A shorter window the evidence would back, from `2 × I` to `longestMs` (rounded down to a whole minute, or
 * second): `, or use a shorter window from 2m to 40m (--window 40m)`; '' when there is none.
 */
function shorterWindow(intervalMs: number | undefined, longestMs: number, windowMs: number): string {
  if (intervalMs === undefined) return '';
  const unit = longestMs >= 60_000 ? 60_000 : 1_000;
  const longest = Math.floor(longestMs / unit) * unit;
  const shortest = 2 * intervalMs;
  if (!(longest >= shortest && longest < windowMs && longest > 0)) return '';
  const range = longest === shortest ? `of ${span(longest)}` : `from ${span(shortest)} to ${span(longest)}`;
  return `, or use a shorter window ${range} (--window ${span(longest)})`;
}

/** What each kind of drop was, and what avoids it next time. */
const DROPS: Readonly<Record<string, { what: string; avoid: string }>> = {
  'instance-cap': {
    what: 'reports from new instances refused (it tracks its maximum of instances)',
    avoid: 'raise its maximum of instances (--max-instances), or find what floods it (a leaked beacon token?)',
  },
  'memory-budget': {
    what: 'reports refused or state shed (it reached its memory budget)',
    avoid: 'raise its memory budget (--max-bytes), or find what floods it (a leaked beacon token?)',
  },
  'fingerprint-cap': {
    what: 'fingerprints forgotten (more per instance than maxFingerprintsPerSecret)',
    avoid: 'raise maxFingerprintsPerSecret',
  },
  evicted: {
    what: 'instances evicted to make room',
    avoid: 'raise its maximum of instances (--max-instances)',
  },
  'collector-down': {
    what: 'spans while it was down (reports sent then were lost; its state file kept what came before)',
    avoid: 'keep the collector running (a supervisor that restarts it at once shortens the gap)',
  },
};

/** The rules about the source's coverage, in order: what the answer lacks whatever key is asked about. */
export function coverageEvidence(q: EvidenceQuestion): MissingEvidence[] {
  const { secret, windowMs, usage, source } = q;
  const { at, coverage } = usage;
  const out: MissingEvidence[] = [];
  const reported = Math.max(usage.instancesSeen, instancesOf(usage).length) > 0;
  const interval = coverage?.maxIntervalMs;
  const slack = interval ?? 0;
  const needs = interval === undefined ? `${span(windowMs)} plus one beacon interval` : `${span(windowMs + interval)}`;

  if (coverage === undefined) {
    out.push({
      code: 'no-coverage',
      message: `${source} does not say since when it has observed ${secret} (its answer has no coverage)`,
      action: 'ask a source that reports its coverage: a keyflip collector from the same keyflip version as this one',
    });
  } else if (coverage.observedSince === undefined) {
    out.push({
      code: 'no-coverage',
      message: `${source} cannot tell since when it has observed ${secret} without a gap`,
      action: `make the source cover the window plus one beacon interval (${needs}), then verify again`,
    });
  }
  if (!reported) {
    out.push({
      code: 'no-reports',
      message: `no instance reported ${secret} in the last ${span(windowMs)}: no beacons is not proof of zero traffic`,
      action:
        `check that the services run with a beacon (usageBeacon) whose sink reaches ${source}, reporting the ` +
        `secret as ${secret} (the first argument of resolver.secret())`,
    });
  } else if (coverage !== undefined && interval === undefined) {
    out.push({
      code: 'interval-unknown',
      message:
        `no instance that reported ${secret} declared its beacon interval, and ${source} has not observed one: ` +
        'nothing says how long a process may go unheard',
      action: 'upgrade keyflip in those services (0.2 and later declare it), or wait until each has sent two reports',
    });
  }
  if (interval !== undefined && windowMs < 2 * interval) {
    out.push({
      code: 'window-too-short',
      message:
        `the window (${span(windowMs)}) is shorter than twice the longest beacon interval of the instances that ` +
        `reported ${secret} (2 × ${span(interval)}): a process that holds the key may not have reported in it`,
      action: `use a window of at least ${span(2 * interval)} (--window ${span(2 * interval)})`,
    });
  }
  const since = coverage?.observedSince;
  if (since !== undefined && since > at - windowMs - slack) {
    const parts = interval === undefined ? '' : ` (${span(windowMs)} + one ${span(interval)} interval)`;
    const until =
      interval === undefined ? `${iso(since + windowMs)} plus one beacon interval` : iso(since + windowMs + slack);
    out.push({
      code: 'coverage',
      message: `${source} has observed ${secret} for ${observed(at - since)}; the window needs ${needs}${parts}`,
      action: `wait until ${until}, then verify again${shorterWindow(interval, at - since - slack, windowMs)}`,
    });
  }
  out.push(...droppedEvidence(q, coverage?.dropped ?? [], slack));
  for (const gap of coverage?.gaps ?? []) {
    out.push({
      code: 'source-gap',
      message: `${source} cannot vouch for the window: ${gap}`,
      action:
        'wait until the gap is out of the window, or fix it at the source (its retention, its scrape), ' +
        'then verify again',
    });
  }
  return out;
}

/** One `dropped` entry per kind of drop that overlaps `[at − W − I, at]`, with its total and its span. */
function droppedEvidence(q: EvidenceQuestion, dropped: readonly DroppedEvidence[], slack: number): MissingEvidence[] {
  const { secret, windowMs, usage, source } = q;
  const start = usage.at - windowMs - slack;
  const byReason = new Map<string, { count: number; from: number; to: number }>();
  for (const d of dropped) {
    if (d.to < start || d.from > usage.at) continue;
    const seen = byReason.get(d.reason);
    if (seen === undefined) byReason.set(d.reason, { count: d.count, from: d.from, to: d.to });
    else
      byReason.set(d.reason, {
        count: seen.count + d.count,
        from: Math.min(seen.from, d.from),
        to: Math.max(seen.to, d.to),
      });
  }
  return [...byReason].map(([reason, { count, from, to }]) => {
    const known = DROPS[reason];
    const what = known ? known.what : `evidence dropped (${reason})`;
    const wait = `wait until ${iso(to + windowMs + slack)}, when it is out of the window, then verify again`;
    const shorter = shorterWindow(slack === 0 ? undefined : slack, usage.at - to - slack - 1, windowMs);
    return {
      code: 'dropped',
      message:
        `${source} dropped evidence of ${secret} in the window: ${count} ${what}, ` + `from ${iso(from)} to ${iso(to)}`,
      action: `${wait}${shorter}${known ? `; to avoid it, ${known.avoid}` : ''}`,
    };
  });
}

/**
 * `young-instance`: instances (none of them on the retired key) seen for less than one of their intervals: not yet
 * proven, and processes started with them may not have reported yet.
 */
export function youngEvidence(q: EvidenceQuestion, holders: ReadonlySet<string>): MissingEvidence[] {
  const { secret, usage } = q;
  const interval = usage.coverage?.maxIntervalMs;
  const young = instancesOf(usage).filter((i) => {
    const own = i.intervalMs ?? interval;
    return !holders.has(i.id) && i.firstSeen !== undefined && own !== undefined && i.firstSeen > usage.at - own;
  });
  if (young.length === 0) return [];
  const until = Math.max(...young.map((i) => (i.firstSeen ?? 0) + (i.intervalMs ?? interval ?? 0)));
  const detail = (i: UsageInstance): string => `, first seen ${formatAge(usage.at - (i.firstSeen ?? usage.at))} ago`;
  return [
    {
      code: 'young-instance',
      message:
        `${plural(young.length, 'instance')} reporting ${secret} ${young.length === 1 ? 'was' : 'were'} first ` +
        `seen less than one beacon interval ago (${some(young, detail)}): not yet proven, and processes started ` +
        'with them may not have reported yet',
      action: `wait until ${iso(until)}, then verify again`,
    },
  ];
}

/** `version-unknown`: by version, instances that may hold the key, or a secret written in the other layout's form. */
export function versionEvidence(q: EvidenceQuestion, match: RetiredMatch): MissingEvidence[] {
  const { secret, key, source } = q;
  const action =
    'verify by fingerprint: keyflip fingerprint < old-key.txt gives it (keyflip rotate status lists every key’s)';
  const out: MissingEvidence[] = [];
  const noVersion = match.unknown.filter((u) => u.why === 'no-version');
  const noCandidate = match.unknown.filter((u) => u.why === 'no-candidate');
  if (noVersion.length > 0) {
    out.push({
      code: 'version-unknown',
      message:
        `${plural(distinct(noVersion), 'instance')} reported ${secret} from a source that gives no version ` +
        `(env:, file:): they may hold ${key} (${some(noVersion)})`,
      action,
    });
  }
  if (noCandidate.length > 0) {
    out.push({
      code: 'version-unknown',
      message:
        `${plural(distinct(noCandidate), 'instance')} reported ${secret} at the version of ${key} without saying ` +
        `from which secret (${source} does not report candidates): they may hold it (${some(noCandidate)})`,
      action,
    });
  }
  if (match.otherLayout !== undefined) {
    const loaded = match.otherLayout.slice(0, 5).join(', ');
    out.push({
      code: 'version-unknown',
      message:
        `${key} names a secret no instance loads ${secret} from; they load ${loaded}` +
        `${match.otherLayout.length > 5 ? ' …' : ''}: the version is written for the other layout`,
      action:
        `${action}; or qualify the version by the secret that holds it: NAME_v1@1 in the suffix layout ` +
        '(each key is its own secret), NAME@1 in the alias layout',
    });
  }
  return out;
}

const distinct = (instances: readonly HeldKey[]): number => new Set(instances.map((i) => i.id)).size;
