/**
 * Benchmark 9: what the usage beacon costs on the hot path.
 *
 * 9a. `handle.value` on a resolver whose beacon reports every 1 s (to a trivial in-file sink) vs the same
 *     read on a resolver without a beacon. A read counts one use either way; the beacon only takes the
 *     counter when it builds a report, so the target is "within 10 %".
 * 9b. The uses the beacon reported (summed over every report, the last one sent by `close()`) vs the reads
 *     made: none may be lost or counted twice while reports are taken between the rounds.
 *
 * Loads the built package (dist/index.js, through bench/keyflip.ts) and the beacon from dist/beacon/index.js
 * (from src/beacon when the build has no such entry): `createResolver({ beacon: usageBeacon(…) })`. Each loop
 * is its own function, so each gets its own type feedback; every iteration adds one char code of what it read
 * to a sink, so no read can be removed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BeaconReport, BeaconSink } from '../src/beacon/index.js';
import type { SecretHandle } from '../src/index.js';
import { type BenchResult, best, formatNs, formatRatio, interleave, median, ROOT, type Row } from './lib.js';
import type { Keyflip } from './keyflip.js';

type Beacon = typeof import('../src/beacon/index.js');

async function loadBeacon(): Promise<Beacon> {
  const built = join(ROOT, 'dist/beacon/index.js');
  if (existsSync(built)) return (await import(pathToFileURL(built).href)) as Beacon;
  return import('../src/beacon/index.js');
}

const SECRET = 'sk-bench-beacon-0123456789abcdef0123456789';
const N = 20_000_000;
const ROUNDS = 9;
const WARMUP = 3;
const WARMUP_N = 200_000;
/** The shortest period `usageBeacon()` accepts (BEACON_LIMITS.intervalMs.min); reports also go out on close(). */
const INTERVAL_MS = 1_000;

function readWithoutBeacon(handle: SecretHandle<string>, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + handle.value.charCodeAt(i & 7)) | 0;
  return sink;
}

function readWithBeacon(handle: SecretHandle<string>, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + handle.value.charCodeAt(i & 7)) | 0;
  return sink;
}

/** A macrotask turn, so the beacon's timer can fire between rounds (both loops pay it). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function beaconBench(keyflip: Keyflip, sink: { value: number }): Promise<BenchResult> {
  const { usageBeacon } = await loadBeacon();
  let reports = 0;
  let reportedUses = 0;
  const counting: BeaconSink = {
    send(report: BeaconReport) {
      reports++;
      for (const secret of report.secrets) reportedUses += secret.uses;
    },
  };

  const off = keyflip.createResolver({ sources: [keyflip.memorySource({ BENCH_KEY_v1: SECRET })] });
  const on = keyflip.createResolver({
    sources: [keyflip.memorySource({ BENCH_KEY_v1: SECRET })],
    beacon: usageBeacon({ service: 'bench', sink: counting, intervalMs: INTERVAL_MS }),
  });
  const handleOff = off.secret('BENCH_KEY', 'BENCH_KEY_v2 ?? BENCH_KEY_v1');
  const handleOn = on.secret('BENCH_KEY', 'BENCH_KEY_v2 ?? BENCH_KEY_v1');
  await Promise.all([off.ready(), on.ready()]);
  if (handleOff.value !== SECRET || handleOn.value !== SECRET)
    throw new Error('benchmark set-up: the handles do not serve the expected value');
  const setupReads = 1;

  const series = await interleave(
    {
      off: {
        run: async (n: number) => {
          await turn();
          return readWithoutBeacon(handleOff, n);
        },
        n: N,
      },
      on: {
        run: async (n: number) => {
          await turn();
          return readWithBeacon(handleOn, n);
        },
        n: N,
      },
    },
    { rounds: ROUNDS, warmup: WARMUP, warmupN: WARMUP_N },
    sink,
  );
  await off.close();
  await on.close(); // the final report carries what the last period counted
  const reads = setupReads + WARMUP * Math.min(WARMUP_N, N) + ROUNDS * N;
  const stats = on.beaconStats();

  const offNs = median(series.off.nsPerOp);
  const onNs = median(series.on.nsPerOp);
  const rows: Row[] = [
    {
      what: `9a. \`handle.value\` with the beacon on (a report every ${INTERVAL_MS} ms) vs off`,
      keyflip: formatNs(onNs),
      baseline: `${formatNs(offNs)} (beacon off)`,
      ratio: formatRatio(onNs / offNs),
      target: '≤ 1.10× (within 10 %)',
      pass: onNs / offNs <= 1.1,
    },
    {
      what: '9b. uses reported by the beacon (sum over its reports) vs reads of `value` made',
      keyflip: reportedUses.toLocaleString('en-US'),
      baseline: `${reads.toLocaleString('en-US')} reads`,
      ratio: formatRatio(reportedUses / reads),
      target: '= reads',
      pass: reportedUses === reads,
    },
  ];
  const spread = (s: { nsPerOp: number[] }): string =>
    `best ${formatNs(best(s.nsPerOp))}, median ${formatNs(median(s.nsPerOp))}`;
  const notes = [
    `9: ${ROUNDS} interleaved rounds of ${N.toExponential(0).replace('+', '')} reads after ${WARMUP} warm-ups, ` +
      `one macrotask turn before each round (both loops) ` +
      `so the beacon's ${INTERVAL_MS} ms timer fires between rounds. ` +
      `Beacon on ${spread(series.on)}; off ${spread(series.off)}. Reports sent during the run: ${reports} ` +
      `(beacon stats: ${stats?.sent ?? 0} sent, ${stats?.failed ?? 0} failed, ${stats?.dropped ?? 0} dropped).`,
  ];
  return { rows, notes };
}
