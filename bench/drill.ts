/**
 * The "Rotation drill" section of BENCHMARKS.md: the summary of the newest `npm run drill` result of each
 * configuration (layout × workers × rate) found in drill/results/, as table rows and notes.
 *
 * It reads the results instead of running a drill. A drill is not a micro-benchmark: it takes from half a
 * minute (16 workers) to a few minutes (64), starts up to 65 processes and keeps both cores of a small
 * machine busy, so run inside `npm run bench` it would disturb the rows measured next to it and say less
 * than its own report; and its figures only mean something together with its checks, which its result
 * file holds. So `npm run drill` (and `-- --layout alias`, `-- --workers 64`) measures, and this quotes it,
 * naming the file and the date of each run. No result yet: `undefined`, and bench/run.ts says so.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DrillResult } from '../drill/drill.js';
import { seconds, spreadText } from '../drill/stats.js';
import { type BenchResult, ROOT, type Row } from './lib.js';

export const RESULTS_DIR = join(ROOT, 'drill', 'results');

/** The newest result of each configuration, newest first (`latest.json` is a copy of one of them). */
export function drillResults(dir = RESULTS_DIR): { file: string; result: DrillResult }[] {
  if (!existsSync(dir)) return [];
  const newest = new Map<string, { file: string; result: DrillResult }>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'latest.json')) {
    let result: DrillResult;
    try {
      result = JSON.parse(readFileSync(join(dir, file), 'utf8')) as DrillResult;
    } catch {
      continue;
    }
    if (result?.schema !== 'keyflip.drill/v3') continue;
    const o = result.options;
    const config = `${o.layout}/${o.workers}/${o.rate}/${o.refreshMs}/${o.windowMs}`;
    const seen = newest.get(config);
    if (!seen || seen.result.startedAt < result.startedAt) newest.set(config, { file, result });
  }
  // Fewest workers first; the pair layout (the default) first, then suffix and alias.
  const order = (layout: string): number => ['pair', 'suffix', 'alias'].indexOf(layout);
  return [...newest.values()].sort(
    (a, b) =>
      a.result.options.workers - b.result.options.workers ||
      order(a.result.options.layout) - order(b.result.options.layout),
  );
}

function pass(r: DrillResult, ...ids: string[]): boolean | null {
  const checks = r.checks.filter((c) => ids.includes(c.id));
  if (checks.length === 0) return null;
  if (checks.every((c) => !c.enforced)) return null;
  return checks.every((c) => c.ok || !c.enforced);
}

function rows(r: DrillResult): Row[] {
  const o = r.options;
  const tag = `drill ${o.workers}×${o.rate}/s, ${o.layout}`;
  const row = (what: string, keyflip: string, target: string, ok: boolean | null): Row => ({
    what: `${tag}: ${what}`,
    keyflip,
    baseline: '—',
    ratio: '—',
    target,
    pass: ok,
  });
  const normalFailed = r.totals.normalFailed;
  const e = r.emergency;
  return [
    row(
      'requests sent / failed through the two normal rotations (provision → probe → flip → verify → revoke)',
      `${r.totals.sent.toLocaleString('en-US')} / ${normalFailed} ` +
        `(${r.totals.achievedRatePerWorker}/s per worker achieved)`,
      '0 failed',
      pass(r, 'normal-zero-failed'),
    ),
    row(
      'each flip → every live worker sent a request with the new key (p50 / max); the switching refresh started (max)',
      r.flips.map((f) => `${f.to}: ${spreadText(f.toNewMs)}; ${seconds(f.refreshStartMs.max)}`).join('; '),
      `refresh started ≤ ${seconds(r.flips[0]?.boundMs)}`,
      pass(r, 'flip-bound', 'flip-first-refresh'),
    ),
    row(
      'verify and revoke while the stale worker runs',
      r.refusals.verify.refused && r.refusals.revoke.refused
        ? `both refused, naming ${r.refusals.verify.offenders.map((x) => `${x.service} pid ${x.pid}`).join(', ')}`
        : 'NOT refused',
      'refuse, name it',
      pass(r, 'verify-refused', 'revoke-refused'),
    ),
    row(
      'requests on v1 after revoke (workers / provider)',
      `${r.retirements[0]?.afterRevoke.attempts} / ${r.retirements[0]?.afterRevoke.providerRequests}`,
      '0',
      pass(r, 'verify-passed', 'revoke-done', 'no-v1-after-revoke'),
    ),
    row(
      `emergency → every live worker on ${e.to} (p50 / max); failed requests`,
      `${spreadText(e.toNewMs)}; ${e.failed} failed ` +
        `(${e.requestsAnswered401} answered 401, ${e.healedByRetry} healed by authFetch's retry)`,
      'failed ⊆ in flight',
      pass(r, 'emergency-v4', 'emergency-failures'),
    ),
  ];
}

/** The drill's summary as table rows and notes, or `undefined` when there is no result yet. */
export async function drillBench(): Promise<BenchResult | undefined> {
  const found = drillResults();
  if (found.length === 0) return undefined;
  const notes: string[] = [
    'Read from drill/results/ (the newest run of each configuration), written by `npm run drill`: a drill keeps ' +
      'the machine busy for minutes with up to 65 processes, so it runs on its own, not inside `npm run bench`.',
  ];
  for (const { file, result: r } of found) {
    const o = r.options;
    const failedChecks = r.checks.filter((c) => !c.ok);
    const failed = failedChecks.map((c) => `${c.id}${c.enforced ? '' : ', informs only'}: ${c.detail}`).join('; ');
    notes.push(
      `drill ${o.workers}×${o.rate}/s, ${o.layout}: drill/results/${file}, ` +
        `${r.startedAt.slice(0, 19).replace('T', ' ')} UTC, ${seconds(r.durationMs, 0)}; ` +
        `${r.machine.cpu}, ${r.machine.cores} cores, Node ${r.machine.node}; ` +
        `refresh ${o.refreshMs} ms ± ${Math.round(o.jitter * 100)} %, beacon ${o.beaconMs} ms, ` +
        `window ${o.windowMs} ms, CLI via ${o.cli}; ` +
        `${r.ok ? 'DRILL PASSED' : 'DRILL FAILED'}${failedChecks.length ? ` (${failed})` : ''}.`,
    );
  }
  return { rows: found.flatMap(({ result }) => rows(result)), notes };
}
