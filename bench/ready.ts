/**
 * Benchmark 3: `ready()` on 50 secrets whose source answers each fetch after 20 ms, vs the latency of
 * one such fetch. Secrets resolve in parallel, so the total should stay close to one fetch.
 */
import type { Source, SourceResult } from '../src/index.js';
import { type BenchResult, best, formatMs, formatRatio, median, msSince, nowNs } from './lib.js';
import type { Keyflip } from './keyflip.js';

const SECRETS = 50;
const LATENCY_MS = 20;
const ROUNDS = 10;

function slowSource(latencyMs: number): Source {
  return {
    name: 'slow',
    async fetch(ref): Promise<SourceResult> {
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      return { status: 'found', value: `value-of-${ref.name}-0123456789abcdef`, version: '1' };
    },
  };
}

export async function readyBench(keyflip: Keyflip, sink: { value: number }): Promise<BenchResult> {
  const source = slowSource(LATENCY_MS);
  const oneFetch = async (): Promise<number> => {
    const start = nowNs();
    const result = await source.fetch({ name: 'ONE' }, { signal: new AbortController().signal });
    const ms = msSince(start);
    if (result.status === 'found') sink.value = (sink.value + String(result.value).length) | 0;
    return ms;
  };
  const readyAll = async (): Promise<number> => {
    const start = nowNs();
    const resolver = keyflip.createResolver({ sources: [source] });
    const handles = [];
    for (let i = 0; i < SECRETS; i++) handles.push(resolver.secret(`SECRET_${i}`));
    await resolver.ready();
    const ms = msSince(start);
    for (const handle of handles) sink.value = (sink.value + handle.value.length) | 0;
    await resolver.close();
    return ms;
  };

  // One untimed round of each (module code, timers and the HMAC key warm up), then interleaved rounds.
  await oneFetch();
  await readyAll();
  const fetchMs: number[] = [];
  const readyMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    fetchMs.push(await oneFetch());
    readyMs.push(await readyAll());
  }

  const ready = median(readyMs);
  const fetch = median(fetchMs);
  return {
    rows: [
      {
        what: `3. \`ready()\` on ${SECRETS} secrets, source answers after ${LATENCY_MS} ms (fresh resolver each round)`,
        keyflip: formatMs(ready),
        baseline: `${formatMs(fetch)} (one fetch, measured)`,
        ratio: formatRatio(ready / fetch),
        target: '≤ 3×',
        pass: ready / fetch <= 3,
      },
    ],
    notes: [
      `3: ${ROUNDS} rounds after 1 warm-up; ` +
        `each round times createResolver + ${SECRETS} × secret() + ready(), then closes the resolver (untimed). ` +
        `ready() best ${formatMs(best(readyMs))}, median ${formatMs(ready)}; ` +
        `one direct source.fetch() best ${formatMs(best(fetchMs))}, median ${formatMs(fetch)} ` +
        `(nominal ${LATENCY_MS} ms; the ratio against the nominal latency is ${formatRatio(ready / LATENCY_MS)}).`,
    ],
  };
}
