/**
 * What Prometheus can vouch for about one secret (the `coverage` of `prometheusUsageSource`'s answer), by the same
 * rule as the collector: absence of evidence is not evidence of absence.
 *
 * - The scrape interval `I` (`maxIntervalMs`): the largest among the secret's series, measured exactly from their
 *   samples: (the last sample's time − the time of the last sample before L) / the samples within L, for L of
 *   2 s, else 10 s, 1 m, 5 m (the first with a sample within it; a series younger than L, or not scraped for
 *   5 m, gives none). It is the beacon's interval as Prometheus sees it: `otelSink`'s gauge is read at every
 *   scrape, so a running process has a sample every `I` whatever its beacon interval (which Prometheus does not
 *   hold). Unknown when no series has two recent samples.
 * - `observedSince`: a range query over [at − window − I, at] at the scrape step (coarser for a long window or a
 *   large fleet: at most 10 000 points per series and 1 000 000 in all) says, at each step, which of the secret's
 *   series (per scrape target and instance) had a sample within the last two steps. A span of more than two steps
 *   without any sample of the secret, or without a sample of one instance between its first and its last, is a
 *   scrape gap (listed in `gaps`); `observedSince` is the first step after the last gap, or the first step with
 *   a sample when the series begin within the range (Prometheus holds nothing older of the secret). Nothing at
 *   the end of the range (the secret is not being scraped now) leaves it undefined.
 * - A retention shorter than the window plus `I` (Prometheus's `storageRetention`) is a gap too: waiting does
 *   not help.
 * - `dropped` is always empty: Prometheus does not say what it dropped; gaps stand for it.
 */
import { formatDuration } from '../duration.js';
import type { MatrixSeries, PrometheusApi } from './prometheus-api.js';
import type { UsageCoverage } from './types.js';

/** The labels one presence series is kept per: the scrape target, and the beacon instance. */
const GROUP = 'job, instance, service_instance_id';
/** The look-back spans tried in turn to measure the scrape interval, ms. */
const INTERVAL_SPANS_MS = [2_000, 10_000, 60_000, 300_000] as const;
/** Points per series of the presence query at most (Prometheus refuses more than 11 000). */
const MAX_POINTS_PER_SERIES = 10_000;
/** Points of the presence query at most, over all series (about 20 bytes of JSON each). */
const MAX_POINTS = 1_000_000;
/** Gaps described one by one at most; the rest are counted. */
const MAX_GAPS_LISTED = 5;

/** What {@link prometheusCoverage} is asked. */
export interface CoverageQuestion {
  readonly secret: string;
  /** The gauge's selector for the secret: `keyflip_secret_in_use{secret_name="S"}`. */
  readonly selector: string;
  /** The answer's time, ms. */
  readonly at: number;
  readonly windowMs: number;
}

/** A span without samples: of every series of the secret (`who` undefined), or of one of them. */
export interface ScrapeGap {
  /** The last step with a sample before it, and the first step after it. */
  readonly from: number;
  readonly to: number;
  readonly who: string | undefined;
}

/** The promql measuring the scrape interval of each presence group, in seconds. */
export function intervalQuery(selector: string): string {
  const perSpan = INTERVAL_SPANS_MS.map(
    (ms) => `(timestamp(${selector}) - timestamp(${selector} offset ${ms}ms)) / count_over_time(${selector}[${ms}ms])`,
  );
  return `max by (${GROUP}) (${perSpan.join(' or ')})`;
}

/** The promql of the presence query: per group, the samples of the secret's series within the last two steps. */
export function presenceQuery(selector: string, stepMs: number): string {
  return `count by (${GROUP}) (count_over_time(${selector}[${2 * stepMs}ms]))`;
}

/** Asks Prometheus what it can vouch for about one secret (see the module comment). */
export async function prometheusCoverage(api: PrometheusApi, question: CoverageQuestion): Promise<UsageCoverage> {
  const { secret, selector, at, windowMs } = question;
  const [rows, retentionMs] = await Promise.all([api.vector(intervalQuery(selector), at), api.retentionMs()]);
  const intervals = rows.map((r) => Number(r.value[1]) * 1000).filter((ms) => Number.isFinite(ms) && ms > 0);
  const intervalMs = intervals.length === 0 ? undefined : Math.ceil(Math.max(...intervals));
  const gaps: string[] = [];
  if (retentionMs !== undefined && retentionMs < windowMs + (intervalMs ?? 0)) {
    gaps.push(
      `Prometheus keeps ${formatDuration(retentionMs)} of samples (its retention), less than the window plus one ` +
        `scrape interval: it cannot vouch for the whole window; use a shorter window or keep samples longer`,
    );
  }
  if (intervalMs === undefined) {
    gaps.push(
      `Prometheus has no two recent samples of any series of ${secret} (within 5m): its scrape interval, and ` +
        'whether it scrapes the secret at all, are unknown',
    );
    return { observedSince: undefined, dropped: [], maxIntervalMs: undefined, gaps };
  }

  const spanMs = windowMs + intervalMs;
  const stepMs = Math.max(
    intervalMs,
    Math.ceil(spanMs / MAX_POINTS_PER_SERIES),
    Math.ceil((spanMs * Math.max(1, rows.length)) / MAX_POINTS),
  );
  const steps = Math.ceil(spanMs / stepMs);
  const start = at - steps * stepMs;
  const series = await api.range(presenceQuery(selector, stepMs), start, at, stepMs);
  const found = scrapeGaps(series, start, stepMs, steps);
  const listed = found.gaps.slice(-MAX_GAPS_LISTED).map((gap) => describeGap(secret, gap, stepMs));
  if (found.gaps.length > MAX_GAPS_LISTED)
    listed.unshift(`${found.gaps.length - MAX_GAPS_LISTED} more scrape gaps of ${secret} before these`);
  gaps.push(...listed);
  if (found.observedSince === undefined) {
    gaps.push(
      found.lastSample === undefined
        ? `Prometheus has no sample of ${secret} from ${iso(start)} to ${iso(at)}`
        : `Prometheus has no sample of ${secret} since ${iso(found.lastSample)}: it does not scrape it now`,
    );
  }
  return { observedSince: found.observedSince, dropped: [], maxIntervalMs: intervalMs, gaps };
}

/**
 * The gaps in a presence query's answer (steps `start + k × stepMs`, k from 0 to `steps`): spans with no sample of
 * any series, and spans of one group between its first and last samples; `observedSince` as the module comment
 * says; `lastSample` the last step with a sample.
 */
export function scrapeGaps(
  series: readonly MatrixSeries[],
  start: number,
  stepMs: number,
  steps: number,
): { gaps: ScrapeGap[]; observedSince: number | undefined; lastSample: number | undefined } {
  const time = (k: number): number => start + k * stepMs;
  const any = new Set<number>();
  const gaps: ScrapeGap[] = [];
  const perGroup: { who: string; present: number[] }[] = [];
  for (const s of series) {
    const present = [
      ...new Set(
        s.values
          .filter(([, v]) => Number(v) > 0)
          .map(([t]) => Math.round((Math.round(Number(t) * 1000) - start) / stepMs))
          .filter((k) => Number.isInteger(k) && k >= 0 && k <= steps),
      ),
    ].sort((a, b) => a - b);
    for (const k of present) any.add(k);
    perGroup.push({ who: groupName(s.metric), present });
  }
  const all = [...any].sort((a, b) => a - b);
  const first = all[0];
  const last = all.at(-1);
  if (first === undefined || last === undefined) return { gaps, observedSince: undefined, lastSample: undefined };
  const holes = (present: readonly number[], who: string | undefined): ScrapeGap[] => {
    const found: ScrapeGap[] = [];
    for (let i = 1; i < present.length; i++) {
      const [before, after] = [present[i - 1] as number, present[i] as number];
      if (after - before > 1) found.push({ from: time(before), to: time(after), who });
    }
    return found;
  };
  const everywhere = holes(all, undefined);
  gaps.push(...everywhere);
  for (const group of perGroup) {
    // A group's gap inside a gap of every series says nothing more.
    for (const gap of holes(group.present, group.who))
      if (!everywhere.some((e) => e.from <= gap.from && gap.to <= e.to)) gaps.push(gap);
  }
  gaps.sort((a, b) => a.from - b.from || a.to - b.to);
  if (last < steps) return { gaps, observedSince: undefined, lastSample: time(last) };
  const observedSince = Math.max(time(first), ...gaps.map((g) => g.to));
  return { gaps, observedSince, lastSample: time(last) };
}

function groupName(metric: Readonly<Record<string, string>>): string {
  if (metric.service_instance_id) return `instance ${JSON.stringify(metric.service_instance_id)}`;
  const target = [metric.job, metric.instance].filter(Boolean).join('/');
  return target === '' ? 'a series without instance labels' : `target ${JSON.stringify(target)}`;
}

function describeGap(secret: string, gap: ScrapeGap, stepMs: number): string {
  const whose = gap.who === undefined ? `any series of ${secret}` : `${secret} from ${gap.who}`;
  return (
    `Prometheus has no sample of ${whose} between ${iso(gap.from)} and ${iso(gap.to)} ` +
    `(a scrape gap: more than 2 × the ${formatDuration(stepMs)} step)`
  );
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
