/**
 * Benchmarks 1 and 2: reading a resolved secret.
 *
 * 1. `handle.value` (a getter that also counts one use) vs a plain object property read,
 *    vs `process.env.X`, vs `get(name)` of the cache a developer would hand-roll (bench/naive-cache.ts:
 *    a `Map` of `{ value, fetchedAt }` and a `Date.now()` check against a TTL on every read).
 * 2. `await handle.get()` vs `await Promise.resolve(value)`.
 *
 * Every loop adds what it read to a sink (one char code per iteration) that is returned and
 * printed, so the reads cannot be removed as dead code. Each loop is its own function, so each gets its
 * own type feedback and is optimised on its own.
 */
import type { SecretHandle } from '../src/index.js';
import { type BenchResult, formatNs, formatRatio, interleave, median, best, type Row } from './lib.js';
import { usageCounter } from '../src/testing/usage-counter.js';
import type { Keyflip } from './keyflip.js';
import * as naive from './naive-cache.js';

const SECRET = 'sk-bench-0123456789abcdef0123456789abcdef';
const ENV_NAME = 'KEYFLIP_BENCH_SECRET';

// ---- 1. synchronous reads ----------------------------------------------------------------------

function readHandleValue(handle: SecretHandle<string>, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + handle.value.charCodeAt(i & 7)) | 0;
  return sink;
}

function readPlainProperty(holder: { value: string }, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + holder.value.charCodeAt(i & 7)) | 0;
  return sink;
}

function readNaiveCache(n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + naive.get('BENCH_KEY').charCodeAt(i & 7)) | 0;
  return sink;
}

function readProcessEnv(n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + (process.env.KEYFLIP_BENCH_SECRET as string).charCodeAt(i & 7)) | 0;
  return sink;
}

// ---- 2. asynchronous reads ---------------------------------------------------------------------

async function awaitHandleGet(handle: SecretHandle<string>, n: number): Promise<number> {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + (await handle.get()).charCodeAt(i & 7)) | 0;
  return sink;
}

async function awaitPromiseResolve(value: string, n: number): Promise<number> {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + (await Promise.resolve(value)).charCodeAt(i & 7)) | 0;
  return sink;
}

export async function hotPath(keyflip: Keyflip, sink: { value: number }): Promise<BenchResult> {
  process.env[ENV_NAME] = SECRET;
  const source = keyflip.memorySource({ BENCH_KEY_v1: SECRET });
  const uses = usageCounter();
  const resolver = keyflip.createResolver({ sources: [source], beacon: uses.reporter });
  const handle = resolver.secret('BENCH_KEY', 'BENCH_KEY_v2 ?? BENCH_KEY_v1');
  await resolver.ready();
  if (handle.value !== SECRET) throw new Error('benchmark set-up: the handle does not serve the expected value');
  uses.take();
  const plain = { value: SECRET };
  await naive.loadSecrets(['BENCH_KEY'], async () => SECRET);
  if (naive.get('BENCH_KEY') !== SECRET)
    throw new Error('benchmark set-up: the naive cache does not serve the expected value');

  // ~20–40 ms a round for the fast loops; process.env is ~100× slower, so it runs fewer iterations, and
  // the naive cache (a Date.now() per read) is ~15× slower.
  const sync = await interleave(
    {
      value: { run: (n: number) => readHandleValue(handle, n), n: 20_000_000 },
      plain: { run: (n: number) => readPlainProperty(plain, n), n: 20_000_000 },
      naive: { run: (n: number) => readNaiveCache(n), n: 2_000_000 },
      env: { run: (n: number) => readProcessEnv(n), n: 300_000 },
    },
    { rounds: 9, warmup: 3, warmupN: 200_000 },
    sink,
  );
  const usesCounted = uses.take();

  const async = await interleave(
    {
      get: { run: (n: number) => awaitHandleGet(handle, n), n: 1_000_000 },
      resolve: { run: (n: number) => awaitPromiseResolve(SECRET, n), n: 1_000_000 },
    },
    { rounds: 9, warmup: 3, warmupN: 100_000 },
    sink,
  );
  const getUses = uses.take();
  await resolver.close();
  delete process.env[ENV_NAME];

  const value = median(sync.value.nsPerOp);
  const plainNs = median(sync.plain.nsPerOp);
  const env = median(sync.env.nsPerOp);
  const naiveNs = median(sync.naive.nsPerOp);
  const get = median(async.get.nsPerOp);
  const resolved = median(async.resolve.nsPerOp);

  const rows: Row[] = [
    {
      what: '1a. `handle.value` (resolved; counts a use) vs plain property read',
      keyflip: formatNs(value),
      baseline: `${formatNs(plainNs)} (\`obj.value\`)`,
      ratio: formatRatio(value / plainNs),
      target: '≤ 5×',
      pass: value / plainNs <= 5,
    },
    {
      what: '1b. `handle.value` vs `process.env.X`',
      keyflip: formatNs(value),
      baseline: `${formatNs(env)} (\`process.env.X\`)`,
      ratio: formatRatio(value / env),
      target: '≤ 0.05× (≥ 20× faster)',
      pass: env / value >= 20,
    },
    {
      what:
        '1c. `handle.value` vs a hand-rolled cache: `get(name)` over a `Map` of `{ value, fetchedAt }`, ' +
        '`Date.now()` checked against a TTL on every read',
      keyflip: formatNs(value),
      baseline: `${formatNs(naiveNs)} (naive \`get(name)\`)`,
      ratio: formatRatio(value / naiveNs),
      target: '≤ 1× (no slower)',
      pass: value / naiveNs <= 1,
    },
    {
      what: '2. `await handle.get()` (resolved) vs `await Promise.resolve(value)`',
      keyflip: formatNs(get),
      baseline: `${formatNs(resolved)} (\`await Promise.resolve(v)\`)`,
      ratio: formatRatio(get / resolved),
      target: '≤ 2×',
      pass: get / resolved <= 2,
    },
  ];
  const spread = (s: { nsPerOp: number[] }): string =>
    `best ${formatNs(best(s.nsPerOp))}, median ${formatNs(median(s.nsPerOp))}`;
  const notes = [
    `1: ${sync.value.nsPerOp.length} interleaved rounds after 3 warm-ups; ` +
      `2e7 iterations a round for \`handle.value\` and \`obj.value\`, ` +
      `2e6 for the naive cache, 3e5 for \`process.env.X\`. ` +
      `Each iteration adds one char code of what it read to a sink. ` +
      `handle.value ${spread(sync.value)}; obj.value ${spread(sync.plain)}; ` +
      `process.env.X ${spread(sync.env)}; naive get(name) ${spread(sync.naive)}. ` +
      `The naive cache is bench/naive-cache.ts (TTL 5 min, never reached here, so every read takes its hit path). ` +
      `Uses counted by the handle during the timed and warm-up loops: ${usesCounted.toLocaleString('en-US')}.`,
    `2: ${async.get.nsPerOp.length} interleaved rounds of 1e6 awaits after 3 warm-ups. ` +
      `handle.get() ${spread(async.get)}; Promise.resolve ${spread(async.resolve)}. ` +
      `Uses counted: ${getUses.toLocaleString('en-US')}.`,
  ];
  return { rows, notes };
}
