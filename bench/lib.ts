/**
 * Shared helpers of the benchmarks: timing, statistics, the result table, the machine description.
 * Benchmarks inform; they are not tests. Nothing here fails a run because a target was missed.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { cpus, platform, arch, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/..). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Nanoseconds from a monotonic clock. */
export function nowNs(): bigint {
  return process.hrtime.bigint();
}

/** Milliseconds elapsed since `start` (from {@link nowNs}). */
export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function best(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.min(...values);
}

/** A synchronous loop: runs `n` iterations and returns a sink value derived from every result. */
export type SyncLoop = (n: number) => number;
/** The same, for a loop that awaits. */
export type AsyncLoop = (n: number) => Promise<number>;

export interface Series {
  /** ns per iteration of each measured round. */
  readonly nsPerOp: number[];
}

/**
 * Runs each loop `warmup` times on `warmupN` iterations (so it is optimised before it is timed), then
 * `rounds` timed rounds of `n` iterations, interleaved between the loops (the order rotates each round,
 * so drift of the machine is shared). Every loop's sink is added to `sink.value`, which the caller
 * prints, so no loop can be removed as dead code.
 */
export async function interleave<K extends string>(
  loops: Record<K, { run: SyncLoop | AsyncLoop; n: number }>,
  options: { rounds: number; warmup: number; warmupN: number },
  sink: { value: number },
): Promise<Record<K, Series>> {
  const names = Object.keys(loops) as K[];
  const out = {} as Record<K, Series>;
  for (const name of names) out[name] = { nsPerOp: [] };
  for (let w = 0; w < options.warmup; w++) {
    for (const name of names)
      sink.value = (sink.value + (await loops[name].run(Math.min(options.warmupN, loops[name].n)))) | 0;
  }
  for (let r = 0; r < options.rounds; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length] as K;
      const { run, n } = loops[name];
      const start = nowNs();
      const result = await run(n);
      const elapsed = Number(nowNs() - start);
      sink.value = (sink.value + result) | 0;
      out[name].nsPerOp.push(elapsed / n);
    }
  }
  return out;
}

/** One line of the result table. Cells are already formatted. */
export interface Row {
  readonly what: string;
  readonly keyflip: string;
  readonly baseline: string;
  /** keyflip ÷ baseline. */
  readonly ratio: string;
  readonly target: string;
  /** `null` for a row that only informs. */
  readonly pass: boolean | null;
}

/** What one benchmark hands back: its rows and the notes explaining them. */
export interface BenchResult {
  readonly rows: Row[];
  readonly notes: string[];
}

export function formatNs(ns: number): string {
  if (ns < 10) return `${ns.toFixed(2)} ns/op`;
  if (ns < 100) return `${ns.toFixed(1)} ns/op`;
  return `${Math.round(ns)} ns/op`;
}

export function formatMs(ms: number): string {
  return `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
}

export function formatRatio(ratio: number): string {
  if (ratio < 0.1) return `${ratio.toFixed(4)}× (${(1 / ratio).toFixed(0)}× faster)`;
  return `${ratio.toFixed(2)}×`;
}

export function verdict(pass: boolean | null): string {
  if (pass === null) return 'info';
  return pass ? 'pass' : '**MISSED**';
}

export function markdownTable(rows: readonly Row[]): string {
  const header = ['what', 'keyflip', 'baseline', 'ratio (keyflip ÷ baseline)', 'target', 'result'];
  const lines = [`| ${header.join(' | ')} |`, `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const row of rows) {
    const cells = [row.what, row.keyflip, row.baseline, row.ratio, row.target, verdict(row.pass)];
    lines.push(`| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly date: string;
}

export function machine(): Machine {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** The newest modification time of the files under `dir` (recursively), in ms; 0 when it does not exist. */
export function newestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const mtime = entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return newest;
}
