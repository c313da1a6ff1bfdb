import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { afterEach, describe, expect, it } from 'vitest';
import { createResolver, memorySource } from '../../src/index.js';
import { otelSink, OTEL_METRIC_IN_USE, OTEL_METRIC_USES } from '../../src/beacon/otel.js';
import { BEACON_SCHEMA, type BeaconReport, type BeaconSecret } from '../../src/beacon/types.js';

/** A pull reader: `collect()` returns what an exporter would export now. */
class TestReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface Point {
  attributes: Record<string, unknown>;
  value: unknown;
}

function rig(): { provider: MeterProvider; read(): Promise<{ data: ResourceMetrics; points: Map<string, Point[]> }> } {
  const reader = new TestReader();
  const provider = new MeterProvider({ readers: [reader] });
  providers.push(provider);
  return {
    provider,
    async read() {
      const { resourceMetrics, errors } = await reader.collect();
      expect(errors).toEqual([]);
      const points = new Map<string, Point[]>();
      for (const scope of resourceMetrics.scopeMetrics) {
        for (const metric of scope.metrics) {
          const list = points.get(metric.descriptor.name) ?? [];
          for (const p of metric.dataPoints) list.push({ attributes: { ...p.attributes }, value: p.value });
          points.set(metric.descriptor.name, list);
        }
      }
      return { data: resourceMetrics, points };
    },
  };
}

const providers: MeterProvider[] = [];
afterEach(async () => {
  metrics.disable();
  for (const p of providers.splice(0)) await p.shutdown();
});

function secret(fields: Partial<BeaconSecret> & { name: string; fingerprint: string }): BeaconSecret {
  return { candidate: `${fields.name}_v1`, source: 'memory', loadedAt: 1, uses: 0, status: 'ok', ...fields };
}

function report(
  secrets: BeaconSecret[],
  fields: Partial<Omit<BeaconReport, 'instance'>> & { id?: string } = {},
): BeaconReport {
  const { id = 'inst-a', ...rest } = fields;
  return {
    schema: BEACON_SCHEMA,
    sentAt: 1_000,
    service: 'checkout-api',
    instance: { id, host: 'host-1', pid: 4242, startedAt: 1, runtime: 'node v20', keyflip: '0.1.0' },
    secrets,
    ...rest,
  };
}

const byFingerprint = (points: Point[] | undefined): Record<string, unknown> =>
  Object.fromEntries(
    (points ?? []).map((p) => [
      `${String(p.attributes['service.instance.id'])}/${String(p.attributes['secret.fingerprint'])}`,
      p.value,
    ]),
  );

describe('otelSink', () => {
  it('records keyflip.secret.uses (counter) and keyflip.secret.in_use (gauge), documented attributes', async () => {
    const { provider, read } = rig();
    const sink = otelSink({ meterProvider: provider });
    await sink.send(
      report(
        [
          secret({ name: 'OPENAI_API_KEY', fingerprint: 'kf_aaaaaaaaaaaa', version: '2', uses: 5 }),
          secret({ name: 'STRIPE_KEY', fingerprint: 'kf_bbbbbbbbbbbb', uses: 0 }),
        ],
        { environment: 'prod' },
      ),
    );
    const { points, data } = await read();
    expect([...points.keys()].sort()).toEqual([OTEL_METRIC_IN_USE, OTEL_METRIC_USES].sort());
    expect(data.scopeMetrics[0]?.scope.name).toBe('keyflip');

    const uses = points.get(OTEL_METRIC_USES) ?? [];
    expect(uses).toHaveLength(2);
    expect(uses.find((p) => p.attributes['secret.name'] === 'OPENAI_API_KEY')).toEqual({
      attributes: {
        'secret.name': 'OPENAI_API_KEY',
        'secret.fingerprint': 'kf_aaaaaaaaaaaa',
        'secret.version': '2',
        'service.name': 'checkout-api',
        'service.instance.id': 'inst-a',
        'deployment.environment': 'prod',
      },
      value: 5,
    });
    // No version: no secret.version attribute (not an empty one).
    expect(uses.find((p) => p.attributes['secret.name'] === 'STRIPE_KEY')?.attributes).not.toHaveProperty(
      'secret.version',
    );

    const inUse = points.get(OTEL_METRIC_IN_USE) ?? [];
    expect(inUse).toHaveLength(2);
    expect(inUse.find((p) => p.attributes['secret.name'] === 'OPENAI_API_KEY')).toEqual({
      attributes: {
        'secret.name': 'OPENAI_API_KEY',
        'secret.fingerprint': 'kf_aaaaaaaaaaaa',
        'secret.version': '2',
        'service.name': 'checkout-api',
        'service.instance.id': 'inst-a',
        'deployment.environment': 'prod',
        'host.name': 'host-1',
        'process.pid': 4242,
      },
      value: 1,
    });
  });

  it('sums uses across reports per fingerprint, and observes only the fingerprints of the latest report', async () => {
    const { provider, read } = rig();
    const sink = otelSink({ meterProvider: provider });
    const name = 'OPENAI_API_KEY';
    await sink.send(report([secret({ name, fingerprint: 'kf_111111111111', version: '1', uses: 3 })]));
    await sink.send(report([secret({ name, fingerprint: 'kf_111111111111', version: '1', uses: 4 })]));
    let { points } = await read();
    expect(byFingerprint(points.get(OTEL_METRIC_USES))).toEqual({ 'inst-a/kf_111111111111': 7 });
    expect(byFingerprint(points.get(OTEL_METRIC_IN_USE))).toEqual({ 'inst-a/kf_111111111111': 1 });

    // Rotated: the new fingerprint is held (1), the old one reads 0 (the SDK would otherwise keep exporting
    // its last value for ever); its counter keeps its total.
    await sink.send(report([secret({ name, fingerprint: 'kf_222222222222', version: '2', uses: 2 })]));
    await sink.send(report([secret({ name, fingerprint: 'kf_222222222222', version: '2', uses: 1 })]));
    ({ points } = await read());
    expect(byFingerprint(points.get(OTEL_METRIC_USES))).toEqual({
      'inst-a/kf_111111111111': 7,
      'inst-a/kf_222222222222': 3,
    });
    expect(byFingerprint(points.get(OTEL_METRIC_IN_USE))).toEqual({
      'inst-a/kf_111111111111': 0,
      'inst-a/kf_222222222222': 1,
    });

    // Revoked (fails closed) still reads 1, as the collector counts it: the process is on that fingerprint.
    await sink.send(
      report([secret({ name, fingerprint: 'kf_222222222222', version: '2', uses: 0, status: 'revoked' })]),
    );
    ({ points } = await read());
    expect(byFingerprint(points.get(OTEL_METRIC_IN_USE))).toEqual({
      'inst-a/kf_111111111111': 0,
      'inst-a/kf_222222222222': 1,
    });
    expect(byFingerprint(points.get(OTEL_METRIC_USES))).toEqual({
      'inst-a/kf_111111111111': 7,
      'inst-a/kf_222222222222': 3,
    });
  });

  it('one sink shared by several instances keeps the latest report of each', async () => {
    const { provider, read } = rig();
    const sink = otelSink({ meterProvider: provider });
    const name = 'K';
    await sink.send(report([secret({ name, fingerprint: 'kf_111111111111', uses: 1 })], { id: 'a' }));
    await sink.send(report([secret({ name, fingerprint: 'kf_111111111111', uses: 2 })], { id: 'b' }));
    await sink.send(report([secret({ name, fingerprint: 'kf_222222222222', uses: 3 })], { id: 'a' }));
    const { points } = await read();
    expect(byFingerprint(points.get(OTEL_METRIC_IN_USE))).toEqual({
      'a/kf_111111111111': 0,
      'a/kf_222222222222': 1,
      'b/kf_111111111111': 1,
    });
    expect(byFingerprint(points.get(OTEL_METRIC_USES))).toEqual({
      'a/kf_111111111111': 1,
      'b/kf_111111111111': 2,
      'a/kf_222222222222': 3,
    });
  });

  it('after close() every series reads 0 and send() is ignored', async () => {
    const { provider, read } = rig();
    const sink = otelSink({ meterProvider: provider });
    await sink.send(report([secret({ name: 'K', fingerprint: 'kf_111111111111', uses: 1 })]));
    expect(byFingerprint((await read()).points.get(OTEL_METRIC_IN_USE))).toEqual({ 'inst-a/kf_111111111111': 1 });
    await sink.close?.();
    await sink.send(report([secret({ name: 'K', fingerprint: 'kf_111111111111', uses: 5 })]));
    const { points } = await read();
    expect(byFingerprint(points.get(OTEL_METRIC_IN_USE))).toEqual({ 'inst-a/kf_111111111111': 0 });
    expect(byFingerprint(points.get(OTEL_METRIC_USES))).toEqual({ 'inst-a/kf_111111111111': 1 });
    await sink.close?.(); // twice is fine
  });

  it('without meterProvider, uses the global one, even when it is registered after the sink was made', async () => {
    const sink = otelSink();
    // no-op provider: dropped
    await sink.send(report([secret({ name: 'K', fingerprint: 'kf_111111111111', uses: 1 })]));
    const { provider, read } = rig();
    expect(metrics.setGlobalMeterProvider(provider)).toBe(true);
    await sink.send(report([secret({ name: 'K', fingerprint: 'kf_111111111111', uses: 2 })]));
    const { points } = await read();
    expect(byFingerprint(points.get(OTEL_METRIC_USES))).toEqual({ 'inst-a/kf_111111111111': 2 });
    expect(byFingerprint(points.get(OTEL_METRIC_IN_USE))).toEqual({ 'inst-a/kf_111111111111': 1 });
    await sink.close?.();
  });

  it('observes at most 256 series per instance: the oldest retired ones are dropped, held ones never', async () => {
    // A fake provider, to see what the sink itself observes (the SDK would keep exporting a dropped series' last
    // value).
    let callback: ((result: { observe(value: number, attributes: Record<string, unknown>): void }) => void) | undefined;
    const meterProvider = {
      getMeter: () => ({
        createCounter: () => ({ add() {} }),
        createObservableGauge: () => ({
          addCallback(cb: typeof callback) {
            callback = cb;
          },
          removeCallback() {},
        }),
      }),
    } as unknown as MeterProvider;
    const sink = otelSink({ meterProvider });
    const held = secret({ name: 'HELD', fingerprint: 'kf_000000000000' });
    const fp = (i: number): string => `kf_${i.toString(16).padStart(12, '0')}`;
    for (let i = 1; i <= 300; i++) await sink.send(report([held, secret({ name: 'K', fingerprint: fp(i) })]));
    const observed: [string, number][] = [];
    callback?.({ observe: (value, attributes) => observed.push([String(attributes['secret.fingerprint']), value]) });
    expect(observed).toHaveLength(256);
    expect(
      observed
        .filter(([, v]) => v === 1)
        .map(([f]) => f)
        .sort(),
    ).toEqual([fp(0), fp(300)]);
    expect(observed.map(([f]) => f)).not.toContain(fp(1)); // the oldest retired went first
    expect(observed.map(([f]) => f)).toContain(fp(299));
  });

  it('never exports a value: reports of a real resolver, grepped in exported data and Prometheus text', async () => {
    const values = { K_v1: 'sk-live-value-one-0123456789', K_v2: 'sk-live-value-two-9876543210' };
    const memory = memorySource({ K_v1: values.K_v1 });
    const resolver = createResolver({ sources: [memory] });
    const handle = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    const { provider, read } = rig();
    const sink = otelSink({ meterProvider: provider });
    const send = async (): Promise<void> => {
      void handle.value;
      await sink.send(
        report(
          resolver.snapshot().map((info) => ({ ...info, uses: 1, lastUsedAt: Date.now() })),
          { labels: { region: 'eu' } },
        ),
      );
    };
    await send();
    memory.set('K_v2', values.K_v2);
    await resolver.refresh();
    await send();
    const { data, points } = await read();
    expect(byFingerprint(points.get(OTEL_METRIC_USES))).toHaveProperty(`inst-a/${handle.info?.fingerprint ?? ''}`, 1);
    const text = JSON.stringify(data) + new PrometheusSerializer().serialize(data);
    expect(text).toContain(handle.info?.fingerprint);
    for (const value of Object.values(values)) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(value.slice(8)); // not even a part of it
    }
    await resolver.close();
  });

  it('without @opentelemetry/api installed and no meterProvider, says what to install', () => {
    // Bundle src/beacon/otel.ts with the api left external into a directory where it cannot be resolved.
    const dir = mkdtempSync(join(tmpdir(), 'keyflip-otel-'));
    try {
      const root = resolve(import.meta.dirname, '../..');
      const out = join(dir, 'otel.mjs');
      const build = spawnSync(
        join(root, 'node_modules/.bin/esbuild'),
        [
          join(root, 'src/beacon/otel.ts'),
          '--bundle',
          '--platform=node',
          '--format=esm',
          '--external:@opentelemetry/api',
          `--outfile=${out}`,
        ],
        { encoding: 'utf8' },
      );
      expect(build.status, build.stderr).toBe(0);
      writeFileSync(
        join(dir, 'run.mjs'),
        `import { otelSink } from './otel.mjs';
         const gauge = { addCallback() {}, removeCallback() {} };
         const meter = { createCounter: () => ({ add() {} }), createObservableGauge: () => gauge };
         const provider = { getMeter: () => meter };
         const report = { service: 's', instance: { id: 'i', host: 'h', pid: 1 }, secrets: [] };
         otelSink({ meterProvider: provider }).send(report);
         console.log('injected ok');
         try { otelSink(); } catch (e) { console.log(e.name + ': ' + e.message); }`,
      );
      const run = spawnSync(process.execPath, [join(dir, 'run.mjs')], { cwd: dir, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.stdout).toContain('injected ok');
      expect(run.stdout).toMatch(
        /DependencyError: keyflip\/otel needs @opentelemetry\/api .*npm install @opentelemetry\/api.*meterProvider/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
