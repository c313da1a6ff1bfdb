/**
 * The drill's report for a terminal: the timeline, the requests by phase, the summary of the properties
 * with this run's figures against their targets, and every check. Markdown tables, so that a run can be
 * pasted as it is.
 */
import type { AutomatedCommand, Check, DrillResult } from './result.js';
import { int, markdownTable, seconds, spreadText } from './stats.js';

/** The phases as a markdown table: requests started in each phase, their outcomes, and the keys the provider saw. */
export function phaseTable(r: DrillResult): string {
  return markdownTable(
    ['phase (requests by start time)', 'from', 'sent', 'ok', 'failed', 'on v1', 'on v2', 'on v3', 'on v4', '401s'],
    r.phases.map((p) => [
      p.phase,
      `+${seconds(p.from, 1)}`,
      int(p.sent),
      int(p.ok),
      p.failed === 0
        ? '0'
        : `${p.failed} (${Object.entries(p.failedByStatus)
            .map(([s, n]) => `${n}×${s}`)
            .join(', ')})`,
      int(p.attempts.v1),
      int(p.attempts.v2),
      int(p.attempts.v3),
      int(p.attempts.v4),
      int(p.answers401),
    ]),
  );
}

/** The properties the drill shows, with the figures of this run, as a markdown table. */
export function summaryTable(r: DrillResult): string {
  const e = r.emergency;
  const [v1, v2] = r.retirements;
  const probes = sum(r.totals.probes);
  const flipRows = r.flips.flatMap((f): string[][] => [
    [
      `rotation ${f.rotation}: flip → every live worker sent a request with ${f.to} (p50 / max over workers)`,
      spreadText(f.toNewMs),
      '—',
      verdict(r, 'flip-first-refresh'),
    ],
    [
      `rotation ${f.rotation}: flip → the refresh that switched each worker to ${f.to} started (p50 / max)`,
      spreadText(f.refreshStartMs),
      `≤ ${seconds(f.boundMs)}`,
      verdict(r, 'flip-bound'),
    ],
    [
      `rotation ${f.rotation}: live workers that switched to ${f.to} on their first refresh after the flip`,
      `${f.switchedOnFirstRefresh} / ${r.workers.live}`,
      'all',
      verdict(r, 'flip-first-refresh'),
    ],
    [
      `rotation ${f.rotation}: ${f.to} while staged, before its flip: requests (workers) / refreshes that read it`,
      `${f.stagedKeyBeforeFlip.requests} (${f.stagedKeyBeforeFlip.workers}) / ${f.stagedKeyBeforeFlip.reads}`,
      '0',
      verdict(r, 'staged-unseen'),
    ],
  ]);
  const rows: string[][] = [
    ['the chain every live worker declared, unchanged through the three rotations', `\`${r.chain}\``, '—', '—'],
    [
      'requests sent (all workers, whole drill)',
      `${int(r.totals.sent)} (${r.totals.achievedRatePerWorker}/s per worker)`,
      '—',
      r.totals.failed === 0 ? '0 failed' : `${r.totals.failed} failed`,
    ],
    [
      `HTTP attempts reported by the workers / counted by the provider, less the ${probes} probes`,
      `${int(sum(r.totals.attemptsByKey))} / ${int(sum(r.totals.providerCounted) - probes)}`,
      'equal',
      verdict(r, 'exact-counts'),
    ],
    [
      'failed requests of the keyflip workers through the two normal rotations (the second automated)',
      String(r.totals.normalFailed),
      '0',
      verdict(r, 'normal-zero-failed'),
    ],
    ...flipRows,
    [
      'rotation 1: verify while the stale worker runs',
      r.refusals.verify.refused
        ? `refused, named ${r.refusals.verify.offenders.map((x) => `${x.service} pid ${x.pid}`).join(', ')}`
        : 'NOT refused',
      'refuse, name it',
      verdict(r, 'verify-refused'),
    ],
    [
      'rotation 1: revoke while the stale worker runs',
      r.refusals.revoke.refused ? `refused (${r.refusals.revoke.refusal}), v1 left enabled` : 'NOT refused',
      'refuse',
      verdict(r, 'revoke-refused'),
    ],
    [
      'rotation 1: verify after a collector restart (state file kept), before it observed window + 1 beacon ' +
        'interval again',
      r.restart === undefined
        ? 'not reached'
        : `${r.restart.blindExitCodes.every((c) => c === 4) ? 'cannot prove' : 'NOT cannot prove'} ` +
          `(exit ${r.restart.blindExitCodes.join(', ') || '—'}; missing: ${r.restart.missing.join(', ') || '—'})`,
      'exit 4, never 0',
      verdict(r, 'restart-cannot-prove'),
    ],
    [
      'rotation 1: verify after the stale worker stopped (window elapsed, collector caught up)',
      v1?.verifyExitCode === 0
        ? `passed, ${seconds(v1.afterStaleStopMs)} after it stopped`
        : `exit ${v1?.verifyExitCode ?? '—'}`,
      'pass',
      verdict(r, 'verify-passed'),
    ],
    [
      'rotation 1: requests on v1 after revoke (workers / provider)',
      v1 ? `${v1.afterRevoke.attempts} / ${v1.afterRevoke.providerRequests}` : 'not reached',
      '0',
      verdict(r, 'no-v1-after-revoke'),
    ],
    ...automatedRows(r),
    [
      'rotation 2: requests on v2 after revoke (keyflip workers / provider, less the straggler’s)',
      v2 ? `${v2.afterRevoke.attempts} / ${v2.afterRevoke.providerRequests}` : 'not reached',
      '0',
      verdict(r, 'no-v2-after-revoke'),
    ],
    [
      `rotation 3, emergency → every live worker sent a request with ${e.to} (p50 / max)`,
      spreadText(e.toNewMs),
      '—',
      verdict(r, 'emergency-v4'),
    ],
    [
      `emergency: how each worker reached ${e.to}`,
      `${e.workersHealedOn401} at their first 401, ${e.workersSwitchedByRefresh} by refresh`,
      'all',
      verdict(r, 'emergency-v4'),
    ],
    [
      `emergency: first 401 → the same request done with ${e.to} (p50 / max)`,
      spreadText(e.healMs),
      'one retry',
      verdict(r, 'emergency-v4'),
    ],
    [
      'emergency: requests answered 401 / healed by authFetch’s retry / failed',
      `${e.requestsAnswered401} / ${e.healedByRetry} / ${e.failed}`,
      'failed ⊆ in flight',
      verdict(r, 'emergency-failures'),
    ],
    [
      'requests that failed closed while a key was live: issue 1 (workers)',
      `${e.failedClosed.requests} (${e.failedClosed.workers})`,
      '0',
      verdict(r, 'no-fail-closed'),
    ],
    [
      'requests that failed on a 401 after joining a stale refresh: issue 2 (workers)',
      `${e.staleJoins.requests} (${e.staleJoins.workers})`,
      '0',
      verdict(r, 'no-stale-join'),
    ],
    ['key values in any output or in the JSON', String(r.leaks), '0', verdict(r, 'no-leak')],
  ];
  return markdownTable(['property', 'this run', 'target', 'result'], rows, ['l', 'r', 'r', 'r']);
}

/** The automated rotation's rows: the mint, the straggler blocking verify and revoke, auto's waits and revoke. */
function automatedRows(r: DrillResult): string[][] {
  const a = r.automated;
  if (a === undefined)
    return [['rotation 2 (automated): `rotate auto`', 'not reached', '—', verdict(r, 'auto-minted')]];
  const blocked = (c: AutomatedCommand | undefined): string =>
    c === undefined
      ? 'not reached'
      : `exit ${c.exitCode}${c.refusal ? ` (${c.refusal})` : ''}; beacons: ${c.offenders} holder(s); provider: ` +
        `${c.provider ?? '—'}, ${c.providerRequests ?? '?'} requests`;
  const waits = a.autoRuns.slice(0, -1);
  return [
    [
      'rotation 2, automated: `rotate auto` minted v3 at the provider, stored, probed and flipped it (one run)',
      `exit ${a.minted.exitCode}; ${a.minted.stored ?? '?'}; id ${a.minted.keyId ?? '?'}`,
      'minted, flipped',
      verdict(r, 'auto-minted'),
    ],
    [
      'rotation 2: verify while the straggler (no keyflip, no beacon) sends v2',
      blocked(a.verify),
      'refuse (provider)',
      verdict(r, 'provider-blocks-verify'),
    ],
    [
      'rotation 2: revoke while the straggler sends v2',
      blocked(a.revoke),
      'refuse (provider)',
      verdict(r, 'provider-blocks-revoke'),
    ],
    [
      `rotation 2: \`rotate auto\` runs after the straggler stopped: waiting / revoked (window + lag ${seconds(
        a.clearableAfterMs,
      )})`,
      `${waits.length} waiting (exit ${[...new Set(waits.map((x) => x.exitCode))].join(', ') || '—'}); ` +
        `revoked ${seconds(a.afterStragglerStopMs)} after its last request`,
      'wait, then revoke',
      verdict(r, 'auto-waits'),
    ],
    [
      'rotation 2: v2 in Secret Manager / at the provider after auto’s revoke',
      `${r.retirements[1]?.versions ?? '—'} / ${a.oldKeyAtProvider ?? '—'}`,
      'disabled / deleted',
      verdict(r, 'retire-v2'),
    ],
    [
      'rotation 2: the straggler’s requests: ok before the revoke / 401 after it',
      `${a.straggler.beforeRevoke.ok} of ${a.straggler.beforeRevoke.sent} / ` +
        `${a.straggler.afterRevoke.answered401} of ${a.straggler.afterRevoke.sent}`,
      'all / all',
      verdict(r, 'straggler-401'),
    ],
  ];
}

const sum = (byKey: Readonly<Record<string, number>>): number => Object.values(byKey).reduce((a, b) => a + b, 0);

function verdict(r: DrillResult, id: string): string {
  const c = r.checks.find((x) => x.id === id);
  if (!c) return '—';
  if (!c.enforced) return c.ok ? 'pass (info)' : 'over (info)';
  return c.ok ? 'pass' : '**FAIL**';
}

/** The whole report for a terminal: timeline, phases, summary, checks. */
export function report(r: DrillResult): string {
  const lines = [
    headline(r),
    machineLine(r),
    ...saturation(r),
    '',
    'Timeline',
    ...r.timeline.map((t) => `${seconds(t.t, 1).padStart(8)}  ${t.event}`),
    '',
    'Requests by phase',
    phaseTable(r),
    '',
    'Summary',
    summaryTable(r),
    '',
    `Emergency: ${r.emergency.explanation}.`,
    ...failures(r),
    '',
    'Checks',
    ...r.checks.map(checkLine),
    '',
    r.ok ? 'DRILL PASSED' : 'DRILL FAILED',
  ];
  return lines.join('\n');
}

/** `  PASS  what — detail` (FAIL, or OVER for a check that informs only). */
function checkLine(c: Check): string {
  const verdict = c.ok ? 'PASS' : c.enforced ? 'FAIL' : 'OVER';
  return `  ${verdict}  ${c.what}${c.enforced ? '' : ' (informs only)'} — ${c.detail}`;
}

/** What ran: the fleet and its settings. */
function headline(r: DrillResult): string {
  const o = r.options;
  return (
    `keyflip rotation drill — ${r.workers.live} live workers + ${r.workers.stale} stale + ` +
    `${r.workers.straggler} straggler, ${o.layout} layout ` +
    `(\`${r.chain}\`, three rotations: normal, automated (\`rotate auto\`, key minted at the provider), emergency), ` +
    `${o.rate} requests/s each, refresh ${o.refreshMs} ms ± ${o.jitter * 100} %, beacon ${o.beaconMs} ms, ` +
    `window ${o.windowMs} ms, provider lag ${o.lagMs} ms, straggler every ${o.stragglerEveryMs} ms, CLI via ${o.cli}`
  );
}

/** Where it ran, and how loaded the machine was: start-up, event-loop delays, latency, CPU per request. */
function machineLine(r: DrillResult): string {
  const { machine: m, totals: t, drillLoopDelayMs: d } = r;
  return (
    `${m.cpu}, ${m.cores} cores, Node ${m.node}; ${seconds(r.durationMs, 1)} in all; ` +
    `workers ready in ${seconds(r.workers.allReadyMs, 1)} ` +
    `(each ${spreadText(r.workers.startupMs)} p50/max from spawn to ready); ` +
    `the drill's event-loop delay p50/p99/max ${d.p50}/${d.p99}/${d.max} ms, ` +
    `the workers' p99/max ${t.workerLoopDelayMs.p99}/${t.workerLoopDelayMs.max} ms; ` +
    `request latency p50/p99/max ${t.latencyMs.p50}/${t.latencyMs.p99}/${t.latencyMs.max} ms; ` +
    `${t.workerCpuMsPerRequest} ms of CPU per request in a worker`
  );
}

/** A warning when the fleet fell short of its rate by more than 10 %. */
function saturation(r: DrillResult): string[] {
  const t = r.totals;
  if (t.achievedRatePerWorker >= 0.9 * r.options.rate) return [];
  return [
    `The machine was saturated: the fleet achieved ${t.achievedRatePerWorker} of ${r.options.rate} requests/s per ` +
      `worker (slots skipped: ${int(t.skipped)}, ${t.workerCpuMsPerRequest} ms of CPU per request per worker); ` +
      'durations measure the machine as much as keyflip.',
  ];
}

/** The failed requests by kind, and the first of them. */
function failures(r: DrillResult): string[] {
  if (r.totals.failed === 0) return [];
  const kinds = Object.entries(r.totals.failureKinds)
    .map(([k, n]) => `${n} × ${k}`)
    .join('; ');
  return [
    '',
    `Failed requests by kind: ${kinds}`,
    'First failures (worker, start → end in ms since the drill started, outcome, ' +
      'attempts [key, status, start, end]):',
    ...r.totals.failureSamples.map((f) => `  ${f.worker} ${f.t0} → ${f.t1} ${f.outcome} ${JSON.stringify(f.attempts)}`),
  ];
}
