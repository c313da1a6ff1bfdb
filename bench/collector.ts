/**
 * Benchmarks of 'keyflip/collector' (10a–10e), on the built package (dist/collector/index.js):
 *
 * 10a. `collector.ingest(report)` in process: reports of 10 000 instances (2 secrets each, uses > 0), already
 *      parsed, ingested round-robin into a collector that tracks them all (the steady state of a fleet).
 * 10b. The same over HTTP: `POST /v1/beacons` with the JSON body and a Bearer token, to the server running in
 *      a worker thread (its own core), from 8 concurrent keep-alive clients (node:http) in the main thread.
 * 10c. `collector.usage(secret, { windowMs: 1 h })` with 10 000 instances holding the secret (two
 *      fingerprints, 6 reports each within the window).
 * 10d. Memory per tracked instance: heap used after 10 000 instances × 2 secrets × 70 reports, minus before,
 *      ÷ 10 000, in a fresh `node --expose-gc` process (so both ends are measured after a full GC).
 * 10e. (info) JSON.parse + ingest of the same reports from their JSON text: the in-process share of 10b.
 * 10f. RSS of a collector process (`keyflip collector`, default settings) under a flood of maximum-size reports
 *      (~0.9 MiB, 1 000 secrets each) from fresh instance ids: up to 3 000 reports within 30 s from two worker
 *      threads (test/evidence/support/flood.ts), its VmRSS read from /proc every 100 ms, /healthz asked every
 *      250 ms. Run it alone: `npx tsx bench/collector.ts flood` (`flood tsx` for the sources instead of dist/).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { flood } from '../test/evidence/support/flood.js';
import { type BenchResult, median, nowNs, ROOT, type Row } from './lib.js';

type CollectorModule = typeof import('../src/collector/index.js');

const BUILT = join(ROOT, 'dist/collector/index.js');
const INSTANCES = 10_000;
const TOKEN = 'bench-collector-token';
const FPS = ['kf_0123456789ab', 'kf_ba9876543210', 'kf_00000000beef', 'kf_feedfacecafe'];

function reportOf(i: number, round: number): Record<string, unknown> {
  return {
    schema: 'keyflip.beacon/v1',
    sentAt: 1_800_000_000_000 + round * 60_000,
    service: `service-${i % 40}`,
    environment: 'prod',
    labels: { region: i % 2 === 0 ? 'eu-west1' : 'us-east1' },
    instance: {
      id: `instance-${i.toString(36).padStart(6, '0')}`,
      host: `host-${i % 500}.internal`,
      pid: 1000 + (i % 30_000),
      startedAt: 1_799_999_000_000,
      runtime: 'node v20.20.2',
      keyflip: '0.1.0',
    },
    secrets: [
      {
        name: 'OPENAI_API_KEY',
        candidate: 'gcp:openai-key@current',
        source: 'gcp',
        version: i % 3 === 0 ? '3' : '4',
        fingerprint: FPS[i % 3 === 0 ? 0 : 1],
        loadedAt: 1_799_999_500_000,
        lastUsedAt: 1_800_000_000_000,
        uses: 1 + (i % 17),
        status: 'ok',
      },
      {
        name: 'DATABASE_URL',
        candidate: 'DATABASE_URL_v2',
        source: 'env',
        fingerprint: FPS[2 + (i % 2)],
        loadedAt: 1_799_999_500_000,
        uses: 3,
        status: 'ok',
      },
    ],
  };
}

const rate = (n: number, ms: number): number => (n / ms) * 1000;
const fmtRate = (r: number): string => `${Math.round(r).toLocaleString('en-US')} reports/s`;

/** 10a, 10e: in-process ingest rates (median of rounds). */
function ingestRates(mod: CollectorModule, sink: { value: number }): { parsed: number; fromJson: number } {
  let now = 1_800_000_000_000;
  const collector = mod.createCollector({ clock: { now: () => now } });
  const reports = Array.from({ length: INSTANCES }, (_, i) => reportOf(i, 0));
  const texts = reports.map((r) => JSON.stringify(r));
  for (const r of reports) collector.ingest(r); // every instance tracked
  const parsed: number[] = [];
  const fromJson: number[] = [];
  const N = 100_000;
  for (let round = 0; round < 7; round++) {
    now += 60_000;
    let start = nowNs();
    for (let k = 0; k < N; k++) collector.ingest(reports[k % INSTANCES]);
    parsed.push(rate(N, Number(nowNs() - start) / 1e6));
    now += 60_000;
    start = nowNs();
    for (let k = 0; k < N / 2; k++) collector.ingest(JSON.parse(texts[k % INSTANCES] as string));
    fromJson.push(rate(N / 2, Number(nowNs() - start) / 1e6));
  }
  sink.value = (sink.value + collector.stats.reports) | 0;
  // The first two rounds warm up.
  return { parsed: median(parsed.slice(2)), fromJson: median(fromJson.slice(2)) };
}

/** 10c: usage() over 10 000 instances. */
function usageTime(mod: CollectorModule, sink: { value: number }): number {
  let now = 1_800_000_000_000;
  const collector = mod.createCollector({ clock: { now: () => now } });
  for (let round = 0; round < 6; round++) {
    for (let i = 0; i < INSTANCES; i++) collector.ingest(reportOf(i, round));
    now += 60_000;
  }
  const times: number[] = [];
  for (let k = 0; k < 30; k++) {
    const start = nowNs();
    const usage = collector.usage('OPENAI_API_KEY', { windowMs: 3_600_000 });
    times.push(Number(nowNs() - start) / 1e6);
    if (usage.instancesSeen !== INSTANCES)
      throw new Error(`benchmark set-up: usage saw ${usage.instancesSeen} instances`);
    sink.value = (sink.value + usage.fingerprints.length) | 0;
  }
  return median(times.slice(5));
}

/** 10d: in a fresh `node --expose-gc` process. */
function memoryPerInstance(built: string): { bytes: number; note: string } {
  const script = `
    const { createCollector } = await import(${JSON.stringify(pathToFileURL(built).href)});
    const reportOf = ${reportOf.toString()};
    const FPS = ${JSON.stringify(FPS)};
    let now = 1_800_000_000_000;
    const gc = () => { for (let i = 0; i < 4; i++) global.gc(); };
    gc();
    const before = process.memoryUsage().heapUsed;
    const collector = createCollector({ clock: { now: () => now } });
    for (let round = 0; round < 70; round++) {
      for (let i = 0; i < ${INSTANCES}; i++) collector.ingest(JSON.parse(JSON.stringify(reportOf(i, round))));
      now += 60_000;
    }
    gc();
    const after = process.memoryUsage().heapUsed;
    console.log(JSON.stringify({ bytes: (after - before) / ${INSTANCES}, instances: collector.stats.instances }));
  `;
  const child = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (child.status !== 0) throw new Error(`benchmark 10d failed: ${child.stderr}`);
  const out = JSON.parse(child.stdout.trim().split('\n').at(-1) as string) as { bytes: number; instances: number };
  if (out.instances !== INSTANCES) throw new Error('benchmark 10d: not every instance was tracked');
  return { bytes: out.bytes, note: 'fresh `node --expose-gc` process, full GC before and after' };
}

/** 10b: the server in a worker thread, 8 keep-alive clients here. */
async function httpRate(built: string, sink: { value: number }): Promise<{ rate: number; errors: number }> {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     import(workerData.built).then(async ({ startCollectorServer }) => {
       const server = await startCollectorServer({ token: workerData.token, maxBodyBytes: 1_048_576 });
       parentPort.on('message', async () => {
         const stats = server.collector.stats;
         await server.close();
         parentPort.postMessage({ stats });
       });
       parentPort.postMessage({ url: server.url });
     });`,
    { eval: true, workerData: { built: pathToFileURL(built).href, token: TOKEN } },
  );
  const next = (): Promise<{ url?: string; stats?: { reports: number; rejected: number } }> =>
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    });
  const { url } = await next();
  if (url === undefined) throw new Error('benchmark set-up: the collector worker did not start');
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const bodies = Array.from({ length: 2_000 }, (_, i) => Buffer.from(JSON.stringify(reportOf(i * 5, 0))));
  let errors = 0;
  const post = (body: Buffer): Promise<number> =>
    new Promise((resolve) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          method: 'POST',
          path: '/v1/beacons',
          agent,
          headers: {
            authorization: `Bearer ${TOKEN}`,
            'content-type': 'application/json',
            'content-length': body.length,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(body);
    });
  const run = async (total: number): Promise<number> => {
    let issued = 0;
    const client = async (): Promise<void> => {
      while (issued < total) {
        const body = bodies[issued++ % bodies.length] as Buffer;
        const status = await post(body);
        if (status !== 204) errors++;
      }
    };
    const start = nowNs();
    await Promise.all(Array.from({ length: 8 }, client));
    return rate(total, Number(nowNs() - start) / 1e6);
  };
  await run(4_000); // warm-up: connections, JIT on both sides
  const rates: number[] = [];
  for (let round = 0; round < 5; round++) rates.push(await run(10_000));
  agent.destroy();
  const done = next();
  worker.postMessage('stop');
  const { stats } = await done;
  await worker.terminate();
  sink.value = (sink.value + (stats?.reports ?? 0)) | 0;
  if ((stats?.rejected ?? 0) > 0) errors += stats?.rejected ?? 0;
  return { rate: median(rates), errors };
}

/** `built`: the collector module to measure; by default the package's dist/collector/index.js. */
export async function collectorBench(sink: { value: number }, built: string = BUILT): Promise<BenchResult> {
  if (!existsSync(built)) {
    return {
      rows: [
        {
          what: '10. collector benchmarks',
          keyflip: 'not run: dist/collector/index.js is missing (no tsup entry for keyflip/collector yet)',
          baseline: '—',
          ratio: '—',
          target: '—',
          pass: null,
        },
      ],
      notes: ['10. The collector benchmarks load dist/collector/index.js; it was not built.'],
    };
  }
  const mod = (await import(pathToFileURL(built).href)) as CollectorModule;
  const ingest = ingestRates(mod, sink);
  const usageMs = usageTime(mod, sink);
  const http = await httpRate(built, sink);
  const memory = memoryPerInstance(built);
  const flooded = await floodRss();
  const rows: Row[] = [
    {
      what: '10a. `collector.ingest(report)` in process (10 000 instances tracked, 2 secrets per report)',
      keyflip: fmtRate(ingest.parsed),
      baseline: '—',
      ratio: '—',
      target: '≥ 20,000 reports/s',
      pass: ingest.parsed >= 20_000,
    },
    {
      what: '10b. `POST /v1/beacons` over HTTP, 8 keep-alive clients, server in a worker thread',
      keyflip: fmtRate(http.rate),
      baseline: '—',
      ratio: '—',
      target: '≥ 5,000 reports/s',
      pass: http.rate >= 5_000 && http.errors === 0,
    },
    {
      what: '10c. `collector.usage(secret, 1 h)` over 10 000 instances',
      keyflip: `${usageMs.toFixed(2)} ms`,
      baseline: '—',
      ratio: '—',
      target: '< 20 ms',
      pass: usageMs < 20,
    },
    {
      what: '10d. memory per tracked instance (2 secrets, 70 reports each with uses)',
      keyflip: `${(memory.bytes / 1024).toFixed(2)} KiB`,
      baseline: '—',
      ratio: '—',
      target: '—',
      pass: null,
    },
    {
      what: '10e. JSON.parse + ingest in process (the parsing share of 10b)',
      keyflip: fmtRate(ingest.fromJson),
      baseline: '—',
      ratio: '—',
      target: '—',
      pass: null,
    },
    floodRow(flooded),
  ];
  const answered =
    http.errors > 0 ? `; **${http.errors} requests were not answered 204**` : '; every request answered 204';
  return {
    rows,
    notes: [
      `10a/10e. ${INSTANCES.toLocaleString('en-US')} instances, each report with 2 secrets (uses > 0) and labels, ` +
        'ingested round-robin after all are tracked (schema check included); median of 5 rounds of 100,000 ' +
        '(10e: 50,000 from JSON text).',
      '10b. node:http server from dist/collector in a worker thread; 8 concurrent node:http clients with a ' +
        `keep-alive agent, Bearer token, ~${(bodies0Size() / 1024).toFixed(1)} KiB bodies; median of 5 rounds of ` +
        `10,000 after 4,000 warm-up requests${answered}.`,
      '10c. 10,000 instances, 6 reports each within the hour, two fingerprints of the secret; ' +
        'median of 25 calls after 5.',
      `10d. ${memory.note}; heap used after − before, ÷ 10,000 instances (each: 2 secrets, 70 reports with ` +
        "uses > 0, so each fingerprint's use samples are at their cap of 64).",
      floodNote(flooded),
    ],
  };
}

function bodies0Size(): number {
  return JSON.stringify(reportOf(0, 0)).length;
}

// ---- 10f: RSS under a flood ---------------------------------------------------------------------------

const MiB = 1_048_576;
/** The RSS the collector must stay under at its default settings, whatever valid reports arrive. */
const RSS_TARGET = 512 * MiB;

/** What a flood did to a collector process. */
export interface FloodRss {
  /** The peak VmRSS seen, bytes. */
  readonly maxRss: number;
  readonly sent: number;
  readonly accepted: number;
  readonly refused: number;
  /** Answers other than 204 and 429, and requests that got none. */
  readonly other: number;
  /** Whether every /healthz asked during the flood answered 200 (within 10 s). */
  readonly healthy: boolean;
  readonly probes: number;
  /** The process was killed because its RSS went over `abortAboveBytes` (the figure is then a floor). */
  readonly killed: boolean;
  /** The process died by itself during the flood. */
  readonly died: boolean;
  readonly bodyBytes: number;
  readonly seconds: number;
}

/** VmRSS of a process, bytes (0 when it is gone). */
function rssOf(pid: number): number {
  try {
    const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kib === undefined ? 0 : Number(kib) * 1024;
  } catch {
    return 0;
  }
}

/**
 * 10f: starts `keyflip collector --port 0 --json` (from dist/, or the sources with `cli: 'tsx'`) at its default
 * settings, floods it with up to 3 000 maximum-size reports within 30 s, and reads its peak RSS. A collector
 * whose RSS passes `abortAboveBytes` (a collector without a memory budget) is killed there, to spare the machine.
 */
export async function floodRss(
  options: { cli?: 'dist' | 'tsx'; abortAboveBytes?: number; reports?: number; withinMs?: number } = {},
): Promise<FloodRss> {
  const entry =
    options.cli === 'tsx' ? ['--import', 'tsx', join(ROOT, 'src/cli/index.ts')] : [join(ROOT, 'dist/cli/index.js')];
  const token = 'bench-flood-token';
  const child = spawn(process.execPath, [...entry, 'collector', '--port', '0', '--json'], {
    cwd: ROOT,
    env: { ...process.env, KEYFLIP_COLLECTOR_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let died = false;
  let killed = false;
  let stopping = false;
  void exited.then(() => {
    died = !killed && !stopping;
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const end = out.indexOf('\n');
      if (end !== -1) resolve((JSON.parse(out.slice(0, end)) as { url: string }).url);
    });
    void exited.then(() => reject(new Error('benchmark 10f: the collector exited before it listened')));
  });
  const pid = child.pid as number;
  const abortAbove = options.abortAboveBytes ?? 2_048 * MiB;
  let maxRss = rssOf(pid);
  const sampler = setInterval(() => {
    const rss = rssOf(pid);
    maxRss = Math.max(maxRss, rss);
    if (rss > abortAbove && !killed) {
      killed = true;
      child.kill('SIGKILL');
    }
  }, 100);
  let flooding = true;
  let probes = 0;
  let healthy = true;
  const probing = (async () => {
    while (flooding) {
      try {
        const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (response.status !== 200) healthy = false;
      } catch {
        healthy = false;
      }
      probes++;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  const start = nowNs();
  const result = await flood({
    url,
    token,
    reports: options.reports ?? 3_000,
    withinMs: options.withinMs ?? 30_000,
    shape: 'max',
    threads: 2,
    concurrency: 2,
  }).finally(() => {
    flooding = false;
  });
  const seconds = Number(nowNs() - start) / 1e9;
  await probing;
  clearInterval(sampler);
  maxRss = Math.max(maxRss, rssOf(pid));
  stopping = true;
  if (!died && !killed) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
  const accepted = result.byStatus['204'] ?? 0;
  const refused = result.byStatus['429'] ?? 0;
  return {
    maxRss,
    sent: result.sent,
    accepted,
    refused,
    other: result.sent - accepted - refused,
    healthy: healthy && !died && !killed,
    probes,
    killed,
    died,
    bodyBytes: result.bodyBytes,
    seconds,
  };
}

function floodRow(f: FloodRss): Row {
  const fate = f.killed ? ' (killed: over the limit)' : f.died ? ' (the collector died)' : '';
  return {
    what: '10f. collector RSS under a flood of max-size reports (~0.9 MiB, 1 000 secrets, fresh instance ids)',
    keyflip: `${(f.maxRss / MiB).toFixed(0)} MiB peak${fate}`,
    baseline: '—',
    ratio: '—',
    target: '< 512 MiB, answering throughout',
    pass: f.maxRss < RSS_TARGET && f.healthy && f.other === 0,
  };
}

function floodNote(f: FloodRss): string {
  return (
    `10f. \`keyflip collector\` (default settings) as its own process; ${f.sent} reports of ` +
    `${(f.bodyBytes / MiB).toFixed(2)} MiB from fresh instance ids in ${f.seconds.toFixed(1)} s (two worker ` +
    `threads, two requests in flight each, at most 3 000 within 30 s): ${f.accepted} accepted, ${f.refused} ` +
    `refused (429), ${f.other} otherwise; /healthz answered ${f.healthy ? 'every one' : 'NOT every one'} of ` +
    `${f.probes} probes; VmRSS sampled every 100 ms.`
  );
}

// `npx tsx bench/collector.ts flood [tsx]`: row 10f alone (it writes nothing).
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'flood') {
  const f = await floodRss({ cli: process.argv[3] === 'tsx' ? 'tsx' : 'dist' });
  const row = floodRow(f);
  console.log(`${row.what}: ${row.keyflip}; target ${row.target}: ${row.pass ? 'met' : 'MISSED'}`);
  console.log(floodNote(f));
}
