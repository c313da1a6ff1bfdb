/**
 * Benchmarks of 'keyflip/clients' (5–7):
 *
 * 5. `authFetch` round trip vs a bare `fetch` round trip, on loopback against the mock provider (OpenAI
 *    preset, POST /v1/chat/completions with a small JSON body, keep-alive), one request at a time. The mock
 *    provider runs in a worker thread (built dist/testing), so that its work does not share the event loop
 *    with the client being measured.
 * 6. What `authFetch` adds per request by itself: it wraps a `fetch` that answers at once with a ready
 *    Response, vs calling that `fetch` directly. The difference is the header setting (copying the SDK's
 *    `Headers` without the placeholder, setting `Authorization`), reading the key (a use), and the
 *    dead-key check.
 * 7. `resolver.redact` per KiB of log text, without and with a provider-format key in it.
 *
 * The clients code is loaded from dist/clients/index.js when the build has that entry, else from src/.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type BenchResult, best, formatNs, formatRatio, interleave, median, nowNs, ROOT, type Row } from './lib.js';
import type { Keyflip } from './keyflip.js';

type Clients = typeof import('../src/clients/index.js');

const KEY = 'sk-bench-0123456789abcdef0123456789abcdef';
/** Timed pairs of requests in benchmark 5. */
const TRIP_PAIRS = 5_000;
const BODY = JSON.stringify({ model: 'gpt-bench', messages: [{ role: 'user', content: 'ping' }] });

async function loadClients(): Promise<{ clients: Clients; from: string }> {
  const built = join(ROOT, 'dist/clients/index.js');
  if (existsSync(built))
    return { clients: (await import(pathToFileURL(built).href)) as Clients, from: 'dist/clients/index.js' };
  return { clients: await import('../src/clients/index.js'), from: 'src/clients (dist has no clients entry yet)' };
}

interface RemoteMock {
  url: string;
  /** Stops the server and says how many requests carried the key (idempotent). */
  close(): Promise<number>;
}

/** `startMockProvider` from the built dist/testing, in a worker thread. */
async function startMockInWorker(key: string): Promise<RemoteMock> {
  const testing = pathToFileURL(join(ROOT, 'dist/testing/index.js')).href;
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.testing).then(async ({ startMockProvider }) => {
       const mock = await startMockProvider({ preset: 'openai', keys: [workerData.key] });
       parentPort.on('message', async () => {
         const count = mock.requestsFor(workerData.key);
         await mock.close();
         parentPort.postMessage({ count });
       });
       parentPort.postMessage({ url: mock.url });
     });`,
    { eval: true, workerData: { testing, key } },
  );
  const next = (): Promise<{ url?: string; count?: number }> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  const { url } = await next();
  if (url === undefined) throw new Error('benchmark set-up: the mock provider worker did not start');
  let closing: Promise<number> | undefined;
  return {
    url,
    close() {
      closing ??= (async () => {
        const done = next();
        worker.postMessage('close');
        const { count } = await done;
        await worker.terminate();
        return count ?? 0;
      })();
      return closing;
    },
  };
}

/** The headers an OpenAI SDK request carries (a fresh Headers per request, as Stainless SDKs build them). */
function sdkHeaders(auth: string): Headers {
  return new Headers({
    accept: 'application/json',
    'content-type': 'application/json',
    'user-agent': 'OpenAI/JS 6.49.0',
    'x-stainless-lang': 'js',
    'x-stainless-package-version': '6.49.0',
    'x-stainless-os': 'Linux',
    'x-stainless-arch': 'x64',
    'x-stainless-runtime': 'node',
    'x-stainless-runtime-version': process.version,
    'x-stainless-retry-count': '0',
    'x-stainless-timeout': '600',
    authorization: auth,
  });
}

/** One request, timed from the call to the last byte of the body, in ns. */
async function timedTrip(f: typeof fetch, url: string, auth: string, sink: { value: number }): Promise<number> {
  const start = nowNs();
  const response = await f(url, { method: 'POST', headers: sdkHeaders(auth), body: BODY });
  const bytes = (await response.arrayBuffer()).byteLength;
  const elapsed = Number(nowNs() - start);
  sink.value = (sink.value + response.status + bytes) | 0;
  return elapsed;
}

/**
 * Round trips in pairs, one through each fetch, in alternating order, each timed on its own: the two of a
 * pair share the machine's state (GC, the other core's load), which rounds of hundreds of requests do not.
 */
async function pairedTrips(
  auth: typeof fetch,
  url: string,
  pairs: number,
  warmup: number,
  sink: { value: number },
): Promise<{ auth: number[]; bare: number[] }> {
  const out = { auth: [] as number[], bare: [] as number[] };
  for (let i = 0; i < warmup + pairs; i++) {
    let a: number;
    let b: number;
    if (i % 2 === 0) {
      a = await timedTrip(auth, url, 'Bearer placeholder', sink);
      b = await timedTrip(fetch, url, `Bearer ${KEY}`, sink);
    } else {
      b = await timedTrip(fetch, url, `Bearer ${KEY}`, sink);
      a = await timedTrip(auth, url, 'Bearer placeholder', sink);
    }
    if (i >= warmup) {
      out.auth.push(a);
      out.bare.push(b);
    }
  }
  return out;
}

async function instantCalls(f: typeof fetch, headers: readonly Headers[], n: number): Promise<number> {
  let sink = 0;
  for (let i = 0; i < n; i++) {
    const response = await f('http://127.0.0.1:9/v1/chat/completions', {
      method: 'POST',
      headers: headers[i % headers.length] as Headers,
      body: BODY,
    });
    sink = (sink + response.status) | 0;
  }
  return sink;
}

function redactLoop(redact: (text: string) => string, text: string, n: number): number {
  let sink = 0;
  for (let i = 0; i < n; i++) sink = (sink + redact(text).length) | 0;
  return sink;
}

export async function clientsBench(keyflip: Keyflip, sink: { value: number }): Promise<BenchResult> {
  const { clients, from } = await loadClients();
  const source = keyflip.memorySource({ BENCH_KEY_v1: KEY });
  const resolver = keyflip.createResolver({ sources: [source] });
  const handle = resolver.secret('BENCH_KEY', 'BENCH_KEY_v2 ?? BENCH_KEY_v1');
  await resolver.ready();
  const mock = await startMockInWorker(KEY);
  try {
    const url = `${mock.url}/chat/completions`;
    const wrapped = clients.authFetch(handle, clients.providers.openai);

    // 5. Round trips on loopback.
    const trips = await pairedTrips(wrapped, url, TRIP_PAIRS, 500, sink);
    const requests = await mock.close();

    // 6. authFetch's own work: an instant fetch (a ready Response, no I/O) wrapped vs called directly.
    const ready = new Response(null, { status: 200 });
    const instant = (async () => ready) as unknown as typeof fetch;
    const overWrapped = clients.authFetch(handle, clients.providers.openai, { fetch: instant });
    const headerSets = Array.from({ length: 64 }, () => sdkHeaders('Bearer placeholder'));
    const direct = await interleave(
      {
        auth: { run: (n: number) => instantCalls(overWrapped, headerSets, n), n: 200_000 },
        bare: { run: (n: number) => instantCalls(instant, headerSets, n), n: 200_000 },
      },
      { rounds: 9, warmup: 3, warmupN: 50_000 },
      sink,
    );

    // 7. redact per KiB: a JSON log line of 1 KiB, clean and with one key of a provider format in it.
    const filler = JSON.stringify({
      level: 30,
      time: 1_764_000_000_000,
      msg: 'request handled',
      path: '/v1/chat/completions',
      user: 'u_123',
      text: 'lorem ipsum dolor sit amet '.repeat(40),
    }).slice(0, 1024);
    const groqLike = `gsk_${'AbCdEf0123'.repeat(6).slice(0, 52)}`;
    const withKey = `${filler.slice(0, 1024 - groqLike.length - 1)} ${groqLike}`;
    const redact = (text: string): string => resolver.redact(text);
    const red = await interleave(
      {
        clean: { run: (n: number) => redactLoop(redact, filler, n), n: 200_000 },
        key: { run: (n: number) => redactLoop(redact, withKey, n), n: 100_000 },
      },
      { rounds: 9, warmup: 3, warmupN: 20_000 },
      sink,
    );
    if (!redact(withKey).includes('[redacted groq key]') || redact(filler) !== filler)
      throw new Error('benchmark set-up: redact did not behave');

    const authTrip = median(trips.auth);
    const bareTrip = median(trips.bare);
    const authInstant = median(direct.auth.nsPerOp);
    const bareInstant = median(direct.bare.nsPerOp);
    const added = authInstant - bareInstant;
    const clean = median(red.clean.nsPerOp);
    const keyed = median(red.key.nsPerOp);
    const us = (ns: number): string => `${(ns / 1000).toFixed(1)} µs`;

    const rows: Row[] = [
      {
        what: '5. `authFetch` round trip vs bare `fetch`, loopback, mock provider (POST chat, keep-alive)',
        keyflip: `${us(authTrip)}/req`,
        baseline: `${us(bareTrip)}/req (bare \`fetch\`)`,
        ratio: formatRatio(authTrip / bareTrip),
        target: '≤ 1.05× (overhead < 5 %)',
        pass: authTrip / bareTrip <= 1.05,
      },
      {
        what: '6. what `authFetch` adds per request (set the header from SDK `Headers`, read the key, dead-key check)',
        keyflip: `${formatNs(added)} added`,
        baseline: `${formatNs(bareInstant)} (the wrapped \`fetch\` alone, no I/O)`,
        ratio: formatRatio(authInstant / bareInstant),
        target: '< 2 µs added',
        pass: added < 2_000,
      },
      {
        what: '7a. `resolver.redact` of 1 KiB of log text with no key (held values + provider formats)',
        keyflip: `${formatNs(clean)} per KiB`,
        baseline: '—',
        ratio: '—',
        target: '≤ 10 µs per KiB',
        pass: clean <= 10_000,
      },
      {
        what: '7b. the same with one provider-format key in the KiB',
        keyflip: `${formatNs(keyed)} per KiB`,
        baseline: '—',
        ratio: '—',
        target: '—',
        pass: null,
      },
    ];
    const spread = (s: { nsPerOp: number[] }): string =>
      `best ${formatNs(best(s.nsPerOp))}, median ${formatNs(median(s.nsPerOp))}`;
    const notes = [
      `5–7: 'keyflip/clients' loaded from ${from}; ` +
        `the mock provider is \`startMockProvider\` (dist/testing) on 127.0.0.1, in a worker thread.`,
      `5: ${TRIP_PAIRS.toLocaleString('en-US')} pairs of sequential requests (one through authFetch, one bare, ` +
        `alternating which goes first) after 500 warm-up pairs; ` +
        `each request has a fresh SDK-like \`Headers\` (12 headers, as the OpenAI SDK builds them) ` +
        `and is timed from the call to the end of its body; medians. ` +
        `Both kinds run in one process, so undici's request code sees both header shapes. ` +
        `authFetch best ${formatNs(best(trips.auth))}; bare best ${formatNs(best(trips.bare))}. ` +
        `Requests the mock counted on the key: ${requests.toLocaleString('en-US')}.`,
      `6: ${direct.auth.nsPerOp.length} interleaved rounds of 2e5 calls after 3 warm-ups; ` +
        `the wrapped \`fetch\` is \`async () => readyResponse\`. ` +
        `authFetch ${spread(direct.auth)}; direct ${spread(direct.bare)}.`,
      `7: ${red.clean.nsPerOp.length} interleaved rounds (2e5 clean lines, 1e5 lines with a key) after 3 warm-ups; ` +
        `the resolver holds one secret. ` +
        `clean ${spread(red.clean)}; with a key ${spread(red.key)}.`,
    ];
    return { rows, notes };
  } finally {
    await mock.close();
    await resolver.close();
  }
}
