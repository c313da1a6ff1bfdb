/**
 * Benchmark 7c–7d: `resolver.redact` with 10 000 held values (a family of 10 000 end-user keys, all
 * `sk-proj-…`, so they share a prefix), and what adding one more value costs.
 *
 * - 7c. `resolver.redact` of 1 KiB of log text with no key in it, the resolver holding 10 000 values.
 * - 7d. Adding one value: `family.get(newId)` (a fetch from an in-memory source) and the next `redact` of
 *   1 KiB, with 10 000 values held vs with 1 held. Equal times mean adding costs O(the value), not O(held).
 *
 * Run alone (loads src/, writes nothing): `npx tsx bench/redact.ts`. `npm run bench` runs it on dist/.
 */
import { pathToFileURL } from 'node:url';
import type { Keyflip } from './keyflip.js';
import {
  type BenchResult,
  best,
  formatNs,
  formatRatio,
  interleave,
  markdownTable,
  median,
  nowNs,
  type Row,
} from './lib.js';

/** Held values in 7c and 7d. */
const HELD = 10_000;
/** Members added one at a time in 7d (each timed). */
const ADDS = Number(process.env.REDACT_BENCH_ADDS ?? 200);

/**
 * A made-up value, distinct per `i`: every other one of OpenAI's shape (`sk-proj-…`, a shared prefix), the others
 * random-looking tokens (no shared prefix: the case a single alternation regex handles worst).
 */
function keyOf(i: number): string {
  let state = (i + 1) * 2_654_435_761;
  let tail = '';
  while (tail.length < 40) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    tail += state.toString(36);
  }
  return i % 2 === 0 ? `sk-proj-${tail.slice(0, 40)}${i.toString(36)}` : `${tail.slice(0, 32)}${i.toString(36)}`;
}

/** A JSON log line of 1 KiB with no key in it. */
function logLine(): string {
  return JSON.stringify({
    level: 30,
    time: 1_764_000_000_000,
    msg: 'request handled',
    path: '/v1/chat/completions',
    user: 'u_123',
    text: 'lorem ipsum dolor sit amet '.repeat(40),
  }).slice(0, 1024);
}

interface Setup {
  redact(text: string): string;
  add(i: number): Promise<unknown>;
  close(): Promise<void>;
}

/** A resolver holding `held` family members (ids 0 … held-1); `add(i)` fetches member i. */
async function holding(keyflip: Keyflip, held: number): Promise<Setup> {
  const values: Record<string, string> = {};
  for (let i = 0; i < held + 2 * ADDS + 10; i++) values[`BYOK_${i}`] = keyOf(i);
  const resolver = keyflip.createResolver({ sources: [keyflip.memorySource(values)] });
  const family = resolver.family('byok', (id) => `BYOK_${id}`, { max: held + 2 * ADDS + 10 });
  for (let i = 0; i < held; i++) await family.get(String(i));
  return {
    redact: (text) => resolver.redact(text),
    add: (i) => family.get(String(i)),
    close: () => resolver.close(),
  };
}

/** ns of each `add(i) + redact(text)`, for i = from … from+ADDS-1. */
async function addThenRedact(setup: Setup, from: number, text: string, sink: { value: number }): Promise<number[]> {
  const times: number[] = [];
  for (let i = from; i < from + ADDS; i++) {
    const start = nowNs();
    await setup.add(i);
    sink.value = (sink.value + setup.redact(text).length) | 0;
    times.push(Number(nowNs() - start));
  }
  return times;
}

export async function redactBench(keyflip: Keyflip, sink: { value: number }): Promise<BenchResult> {
  const text = logLine();
  const many = await holding(keyflip, HELD);
  const one = await holding(keyflip, 1);
  try {
    const probe = `${text.slice(0, 900)} ${keyOf(HELD - 1)}`;
    if (many.redact(text) !== text || many.redact(probe).includes(keyOf(HELD - 1)))
      throw new Error('benchmark set-up: redact did not behave');
    const red = await interleave(
      {
        many: { run: (n: number) => redactLoop(many.redact, text, n), n: 20_000 },
        one: { run: (n: number) => redactLoop(one.redact, text, n), n: 20_000 },
      },
      { rounds: 9, warmup: 3, warmupN: 2_000 },
      sink,
    );
    // Alternate the two resolvers so drift is shared; the first add of each warms up and is dropped.
    await addThenRedact(many, HELD, text, sink);
    await addThenRedact(one, 1, text, sink);
    const addMany = await addThenRedact(many, HELD + ADDS, text, sink).catch(() => [] as number[]);
    const addOne = await addThenRedact(one, 1 + ADDS, text, sink).catch(() => [] as number[]);
    const manyNs = median(red.many.nsPerOp);
    const oneNs = median(red.one.nsPerOp);
    const addManyNs = median(addMany);
    const addOneNs = median(addOne);
    const rows: Row[] = [
      {
        what: '7c. `resolver.redact` of 1 KiB of log text, 10 000 held values (half `sk-proj-…`, half random)',
        keyflip: `${formatNs(manyNs)} per KiB`,
        baseline: `${formatNs(oneNs)} per KiB (1 held value)`,
        ratio: formatRatio(manyNs / oneNs),
        target: '≤ 10 µs per KiB',
        pass: manyNs <= 10_000,
      },
      {
        what: '7d. adding one held value: `family.get(new id)` + the next `redact` of 1 KiB, 10 000 held',
        keyflip: `${formatNs(addManyNs)}`,
        baseline: `${formatNs(addOneNs)} (1 held)`,
        ratio: formatRatio(addManyNs / addOneNs),
        target: '≤ 2× (O(the value), not O(held))',
        pass: addManyNs / addOneNs <= 2,
      },
    ];
    const notes = [
      `7c: ${red.many.nsPerOp.length} interleaved rounds of 2e4 lines after 3 warm-ups, against a resolver ` +
        `holding ${HELD.toLocaleString('en-US')} family members and one holding 1; ` +
        `10 000 held: best ${formatNs(best(red.many.nsPerOp))}; 1 held: best ${formatNs(best(red.one.nsPerOp))}.`,
      `7d: ${ADDS} members added one at a time to each resolver (after ${ADDS} warm-up adds), each timed from ` +
        '`family.get` (an in-memory source) to the end of the next `redact`; medians. ' +
        `10 000 held: best ${formatNs(best(addMany))}; 1 held: best ${formatNs(best(addOne))}.`,
    ];
    return { rows, notes };
  } finally {
    await many.close();
    await one.close();
  }
}

function redactLoop(redact: (text: string) => string, text: string, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + redact(text).length) | 0;
  return sink;
}

// Run alone: the sources, no build, nothing written.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sink = { value: 0 };
  const { rows, notes } = await redactBench(await import('../src/index.js'), sink);
  console.log(`${markdownTable(rows)}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n\nsink ${sink.value}`);
}
