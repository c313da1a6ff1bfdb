/**
 * The drill's result, assembled from its record, its figures and its checks; the last check searches every
 * output and the result itself for the key values, and decides, with the others, whether the drill passed.
 */
import { arch, cpus, platform, release, totalmem } from 'node:os';
import { leakCheck, leakNeedles, propertyChecks } from './checks.js';
import { computeFigures } from './figures/index.js';
import type { DrillRecord } from './record.js';
import type { DrillResult } from './result.js';
import { spread } from './stats.js';

export function buildResult(record: DrillRecord): DrillResult {
  const { drill, workers, seen } = record;
  const o = drill.settings;
  const figures = computeFigures(record);
  const checks = propertyChecks(record, figures);
  // No value anywhere: the outputs of every process, and the result itself (checked again below).
  const needles = leakNeedles(record);
  const outputs = drill.transcript.join('\n');
  const leaksInOutput = needles.filter((n) => outputs.includes(n)).length;
  const ready = drill.marked('ready');

  const result: DrillResult = {
    schema: 'keyflip.drill/v3',
    ok: false,
    startedAt: new Date(drill.start).toISOString(),
    durationMs: Date.now() - drill.start,
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      os: `${platform()} ${release()} ${arch()}`,
      node: process.version,
    },
    options: o,
    chain: drill.chain,
    keys: drill.fp,
    workers: {
      live: o.workers,
      stale: 1,
      straggler: workers.filter((w) => w.mode === 'straggler').length,
      startupMs: spread(workers.map((w) => w.startupMs).filter((x): x is number => x !== undefined)),
      allReadyMs: Number.isFinite(ready) ? ready - (workers[0]?.spawnedAt ?? drill.start) : -1,
    },
    totals: figures.totals.totals,
    phases: figures.phases,
    commands: seen.commands.map((c) => ({
      step: c.step,
      command: c.command,
      exitCode: c.exitCode,
      outcome: c.json?.outcome ?? c.json?.error?.code,
      refusal: c.json?.refusal,
      message: c.json?.message ?? c.json?.error?.message,
      ms: c.endedAt - c.startedAt,
      at: drill.rel(c.startedAt),
    })),
    timeline: drill.timeline,
    flips: figures.flips,
    refusals: figures.retirement.refusals,
    restart: figures.retirement.restart,
    retirements: figures.retirement.retirements,
    automated: figures.automated,
    emergency: figures.emergency.summary,
    pids: drill.pids,
    drillLoopDelayMs: record.loopDelayMs,
    leaks: leaksInOutput,
    checks,
  };
  const leaksInResult = needles.filter((n) => JSON.stringify(result).includes(n)).length;
  checks.push(leakCheck(outputs.length, leaksInOutput, leaksInResult));
  return { ...result, leaks: leaksInOutput + leaksInResult, ok: checks.every((c) => c.ok || !c.enforced) };
}
