/**
 * Real beacons → real OpenTelemetry metrics → a real `@opentelemetry/exporter-prometheus` endpoint → a real
 * Prometheus server scraping it every second → `prometheusUsageSource` (and `keyflip verify --prometheus`).
 *
 * Four resolvers stand for four processes of a fleet (each with its own secret-manager view, so one can be
 * left behind): three rotate from v1 to v2, the "stale" one stays on v1.
 */
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createResolver,
  fingerprint,
  memorySource,
  type MemorySource,
  type Resolver,
  type SecretHandle,
} from '../../src/index.js';
import { usageBeacon } from '../../src/beacon/index.js';
import { otelSink } from '../../src/beacon/otel.js';
import { prometheusUsageSource } from '../../src/collector/prometheus.js';
import type { SecretUsage } from '../../src/collector/types.js';
import { runCli } from '../support/cli.js';
import { startPrometheus, type PrometheusServer } from './prometheus.js';

const SECRET = 'OPENAI_API_KEY';
const V1 = 'sk-e2e-old-key-0123456789abcdef';
const V2 = 'sk-e2e-new-key-fedcba9876543210';
const FP1 = fingerprint(V1);
const FP2 = fingerprint(V2);

interface Process {
  id: string;
  service: string;
  memory: MemorySource;
  resolver: Resolver;
  handle: SecretHandle<string>;
  reader: ReturnType<typeof setInterval>;
}

let exporter: PrometheusExporter;
let provider: MeterProvider;
let metricsServer: Server;
let prometheus: PrometheusServer | undefined;
const fleet: Process[] = [];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined), at most `timeoutMs`; the last failure explains. */
async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not within ${timeoutMs} ms ` +
          `(last: ${last instanceof Error ? last.message : JSON.stringify(last)})\n` +
          (prometheus?.logs().slice(-2000) ?? ''),
      );
    }
    await sleep(250);
  }
}

/** `{ fingerprint: [instance ids] }`, sorted, for compact assertions. */
function holders(usage: SecretUsage): Record<string, string[]> {
  return Object.fromEntries(usage.fingerprints.map((f) => [f.fingerprint, f.instances.map((i) => i.id).sort()]));
}

async function startProcess(id: string, service: string): Promise<Process> {
  const memory = memorySource({ [`${SECRET}_v1`]: V1 });
  const resolver = createResolver({
    sources: [memory],
    jitter: 0,
    beacon: usageBeacon({
      sink: otelSink({ meterProvider: provider }),
      service,
      environment: 'e2e',
      instanceId: id,
      intervalMs: 1_000, // BEACON_LIMITS.intervalMs.min: usageBeacon() refuses less
    }),
  });
  const handle = resolver.secret(SECRET, `${SECRET}_v2 ?? ${SECRET}_v1`);
  await resolver.ready();
  // The app at work: a read every 20 ms, each one a use.
  const reader = setInterval(() => void handle.value, 20);
  return { id, service, memory, resolver, handle, reader };
}

async function stopProcess(p: Process): Promise<void> {
  clearInterval(p.reader);
  await p.resolver.close(); // the final report, then the sink's close(): its series read 0 from then on
}

/** The CLI as a child process (Prometheus answers slowly at first: a generous timeout). */
const cli = (args: string[]) => runCli(args, { env: { NO_COLOR: '1' }, timeoutMs: 60_000 });

beforeAll(async () => {
  exporter = new PrometheusExporter({ preventServerStart: true });
  provider = new MeterProvider({ readers: [exporter] });
  metricsServer = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
  await new Promise<void>((r) => metricsServer.listen(0, '127.0.0.1', () => r()));
  const address = metricsServer.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  prometheus = await startPrometheus({ target: `127.0.0.1:${port}` });
  for (const [id, service] of [
    ['api-1', 'checkout-api'],
    ['api-2', 'checkout-api'],
    ['worker-1', 'billing-worker'],
    ['stale', 'legacy-cron'],
  ] as const) {
    fleet.push(await startProcess(id, service));
  }
  await prometheus.waitForTargetUp();
});

afterAll(async () => {
  await Promise.all(fleet.map((p) => stopProcess(p).catch(() => undefined)));
  await prometheus?.stop();
  await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
  await provider?.shutdown();
});

describe('beacons → OpenTelemetry → Prometheus → usage', () => {
  it('sees the whole fleet on v1, then the stale instance alone on v1 after the others rotated', async () => {
    const source = prometheusUsageSource({ url: prometheus?.url ?? '' });

    const before = await until('all four instances on v1 in Prometheus', 30_000, async () => {
      const usage = await source.usage(SECRET, { windowMs: 60_000 });
      return usage.instancesSeen === 4 && holders(usage)[FP1]?.length === 4 ? usage : undefined;
    });
    expect(holders(before)).toEqual({ [FP1]: ['api-1', 'api-2', 'stale', 'worker-1'] });
    expect(before.fingerprints[0]?.version).toBe('1');

    // The flip: v2 appears where three of the four processes look; the stale one never sees it.
    const rotated = fleet.filter((p) => p.id !== 'stale');
    await Promise.all(
      rotated.map(async (p) => {
        const rotation = new Promise((r) => p.handle.once('rotate', r));
        p.memory.set(`${SECRET}_v2`, V2);
        await rotation;
      }),
    );
    for (const p of rotated) expect(p.handle.info?.fingerprint).toBe(FP2);

    // Over a short window (3 s), once it only covers the time after the flip: stale on v1, the others on v2.
    const after = await until('stale alone on v1, the others on v2', 30_000, async () => {
      const usage = await source.usage(SECRET, { windowMs: 3_000 });
      const h = holders(usage);
      return h[FP1]?.join() === 'stale' && h[FP2]?.length === 3 ? usage : undefined;
    });
    expect(holders(after)).toEqual({ [FP1]: ['stale'], [FP2]: ['api-1', 'api-2', 'worker-1'] });
    expect(after.instancesSeen).toBe(4);
    expect(after.windowMs).toBe(3_000);
    const stale = after.fingerprints.find((f) => f.fingerprint === FP1)?.instances[0];
    expect(stale).toMatchObject({
      id: 'stale',
      service: 'legacy-cron',
      environment: 'e2e',
      host: hostname(),
      pid: process.pid,
    });
    expect(stale?.lastSeen).toBeGreaterThanOrEqual(after.at - 3_000);
    expect(stale?.lastSeen).toBeLessThanOrEqual(after.at);
    const v2 = after.fingerprints.find((f) => f.fingerprint === FP2);
    expect(v2?.version).toBe('1'); // the provider version of the candidate OPENAI_API_KEY_v2: its first
    expect(v2?.instances.map((i) => i.service).sort()).toEqual(['billing-worker', 'checkout-api', 'checkout-api']);
    // Reads every 20 ms for 3 s: uses are counted (exact to the scrape, so only a loose bound here).
    const debug = JSON.stringify({ after, raw: await prometheus?.query(`keyflip_secret_uses_total[8s]`) });
    for (const i of v2?.instances ?? []) expect(i.uses, debug).toBeGreaterThan(10);
    expect(v2?.uses).toBe(v2?.instances.reduce((s, i) => s + i.uses, 0));

    // Over a longer window the history is there: everyone held v1 at some point within it.
    const history = await source.usage(SECRET, { windowMs: 120_000 });
    expect(holders(history)).toEqual({
      [FP1]: ['api-1', 'api-2', 'stale', 'worker-1'],
      [FP2]: ['api-1', 'api-2', 'worker-1'],
    });

    // Coverage, from the real Prometheus: the scrape interval measured from the samples (1 s configured) ...
    const hour = await source.usage(SECRET, { windowMs: 3_600_000 });
    expect(hour.coverage?.maxIntervalMs).toBeGreaterThanOrEqual(1_000);
    expect(hour.coverage?.maxIntervalMs).toBeLessThan(2_000);
    expect(hour.coverage?.dropped).toEqual([]);
    // ... and what it cannot vouch for: it started minutes ago, so the series begin within the hour, and it
    // keeps 1h of samples (its retention), less than the window plus one interval.
    expect(hour.coverage?.observedSince).toBeGreaterThan(hour.at - 3_600_000);
    expect(hour.coverage?.gaps).toContainEqual(expect.stringMatching(/^Prometheus keeps 1h of samples/));

    // No value anywhere in what Prometheus holds.
    const raw = JSON.stringify(await prometheus?.query('{__name__=~"keyflip_.*"}'));
    expect(raw).toContain(FP1);
    expect(raw).not.toContain(V1);
    expect(raw).not.toContain(V2);
  });

  const VERIFY_CLI =
    '`keyflip verify --prometheus`: exit 1 naming the stale instance; exit 0 once it is gone for the whole window';
  it(VERIFY_CLI, async () => {
    const url = prometheus?.url ?? '';
    const verify = (window: string, ...more: string[]) =>
      cli(['verify', SECRET, '--retired', FP1, '--window', window, '--prometheus', url, ...more]);

    // Five minutes back, everyone held v1 at some point: all four are named.
    const history = await verify('5m', '--json');
    expect(history.code, history.stderr).toBe(1);
    const offenders = (JSON.parse(history.stdout) as { offenders: { id: string }[] }).offenders.map((o) => o.id).sort();
    expect(offenders).toEqual(['api-1', 'api-2', 'stale', 'worker-1']);

    // Three seconds back (long after the flip), only the stale process holds it.
    const now = await verify('3s');
    expect(now.code, now.stderr).toBe(1);
    expect(now.stdout).toMatch(/NOT OK: 1 instance/);
    expect(now.stdout).toContain('legacy-cron');
    expect(now.stdout).not.toMatch(/checkout-api|billing-worker/);

    // The stale process goes away: its series read 0 from the next scrape, so a 3 s window is clean ~3 s later.
    const staleProcess = fleet.find((p) => p.id === 'stale');
    const stoppedAt = Date.now();
    let closing: Promise<void> = Promise.resolve();
    if (staleProcess) {
      fleet.splice(fleet.indexOf(staleProcess), 1);
      closing = stopProcess(staleProcess); // its sink is closed at once; the resolver may take longer
    }
    const passing = await until('verify to pass once stale is out of the window', 30_000, async () => {
      const run = await verify('3s');
      if (run.code === 0) return run;
      if (run.code !== 1) throw new Error(`exit ${run.code}: ${run.stderr}`);
      return undefined;
    });
    await closing;
    expect(passing.stdout).toMatch(/^OK: /);
    // Not before the window passed: its last sample at 1 was scraped at most a scrape (1 s) before the stop.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(2_000);

    const json = await verify('3s', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, reason: 'clear', instancesSeen: 3, offenders: [] });
    for (const out of [history, now, passing, json]) {
      expect(out.stdout + out.stderr).not.toContain(V1);
      expect(out.stdout + out.stderr).not.toContain(V2);
    }
  });
});
