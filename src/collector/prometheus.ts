import { positiveMs } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { prometheusApi, promString } from './prometheus-api.js';
import { prometheusCoverage } from './prometheus-coverage.js';
import type { FingerprintUsage, SecretUsage, UsageInstance, UsageSource } from './types.js';

export { promString } from './prometheus-api.js';

/** Options of {@link prometheusUsageSource}. */
export interface PrometheusUsageSourceOptions {
  /**
   * The base URL of a Prometheus-compatible HTTP API (Prometheus, Thanos, Mimir, VictoriaMetrics, …):
   * `http://prometheus:9090`, or with a path prefix (`https://host/prometheus`); queries go to `{url}/api/v1/query`
   * and `{url}/api/v1/query_range`.
   * Credentials in the URL (`https://user:pass@host`) are sent as HTTP basic auth.
   */
  url: string;
  /** The fetch the queries go through. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** The deadline of each HTTP request, in milliseconds. @default 10_000 */
  timeoutMs?: number | undefined;
  /** Extra request headers (`Authorization: Bearer …` for a managed Prometheus). @default none */
  headers?: Readonly<Record<string, string>> | undefined;
  /**
   * The metric names as your pipeline writes them into Prometheus.
   * @default `keyflip_secret_in_use` and `keyflip_secret_uses_total` (what `@opentelemetry/exporter-prometheus`
   * and the OpenTelemetry Collector's Prometheus exporters write for `keyflip.secret.in_use` and `keyflip.secret.uses`)
   */
  metrics?:
    | {
        /** The gauge of `keyflip.secret.in_use`. @default `keyflip_secret_in_use` */
        inUse?: string | undefined;
        /** The counter of `keyflip.secret.uses`. @default `keyflip_secret_uses_total` */
        uses?: string | undefined;
      }
    | undefined;
}

/** What a secret name passed to {@link prometheusUsageSource}'s `usage` may contain. */
const SECRET_NAME = /^[A-Za-z0-9_.\-/[\]]{1,512}$/;
const METRIC_NAME = /^[A-Za-z_:][A-Za-z0-9_:]*$/;
/** The labels `otelSink`'s attributes become (`secret.name` → `secret_name`, …). */
const HELD_BY = [
  'service_instance_id',
  'service_name',
  'deployment_environment',
  'host_name',
  'process_pid',
  'secret_fingerprint',
  'secret_version',
].join(', ');
const KEY_BY = 'service_instance_id, secret_fingerprint';
/** Concurrent follow-up queries (see `lastSeen` below). */
const FOLLOW_UP_CONCURRENCY = 4;

/**
 * Answers "which processes held which key of SECRET in the last window?" from the metrics `otelSink`
 * (`keyflip/otel`) writes, with PromQL over a Prometheus-compatible HTTP API (`/api/v1/query`, `/api/v1/query_range`).
 * `keyflip verify --prometheus URL` uses it.
 *
 * - An instance held a fingerprint within the window when its `keyflip_secret_in_use` series was above 0 in any
 *   sample of the window: `max_over_time(keyflip_secret_in_use{secret_name="S"}[w]) > 0`.
 * - `lastSeen`: the last time it was still held, from a subquery at a step of window/3600 (1 s to 60 s);
 *   exact to the step (and to the sample, for a series that ended between two steps: it is looked up raw).
 * - `uses`: the counter's last value in the window minus its last value before the window (all of it for a series
 *   that began within the window), exact to the scrape.
 * - `host` and `pid` come from the gauge's `host.name`/`process.pid` attributes ('' and 0 when absent).
 * - `instancesSeen` counts the instances that held any fingerprint of the secret within the window.
 * - `current` and `firstSeen` are left out (Prometheus cannot tell them apart from a scrape gap).
 * - `coverage` (what Prometheus can vouch for, see prometheus-coverage.ts): `maxIntervalMs` is the scrape interval
 *   measured from the secret's samples; `observedSince` the first scrape step from which the secret's series have
 *   no gap of more than two steps within [at − window − interval, at] (a range query on `/api/v1/query_range`);
 *   every gap, and a retention shorter than the window (from `/api/v1/status/runtimeinfo` when the server has it),
 *   is listed in `gaps`; `dropped` is empty.
 *
 * Failures reject with a {@link UsageSourceError} (`UNREACHABLE` for a network error or a timeout, `UNAUTHORIZED`,
 * `HTTP_STATUS`, `BAD_RESPONSE`) whose message names the URL, the HTTP status, Prometheus's own error and the
 * query; a secret name outside `A-Z a-z 0-9 _ . - / [ ]` or a bad window is a `ConfigurationError`.
 */
export function prometheusUsageSource(options: PrometheusUsageSourceOptions): UsageSource {
  const api = prometheusApi({
    url: options.url,
    fetch: options.fetch ?? globalThis.fetch,
    timeoutMs: positiveMs('prometheusUsageSource: timeoutMs', options.timeoutMs, 10_000),
    headers: options.headers,
  });
  const inUseMetric = metricName(options.metrics?.inUse ?? 'keyflip_secret_in_use');
  const usesMetric = metricName(options.metrics?.uses ?? 'keyflip_secret_uses_total');
  const { vector, matrix } = api;

  return {
    async usage(secret: string, { windowMs }: { windowMs: number }): Promise<SecretUsage> {
      if (typeof secret !== 'string' || !SECRET_NAME.test(secret)) {
        throw new ConfigurationError(
          `invalid secret name ${JSON.stringify(secret)}: ` +
            'a secret name for Prometheus has 1 to 512 of A-Z a-z 0-9 _ . - / [ ]',
        );
      }
      if (!Number.isFinite(windowMs) || windowMs < 1) {
        throw new ConfigurationError(`windowMs must be a positive number of milliseconds, not ${String(windowMs)}`);
      }
      const at = Date.now();
      const window = `${Math.round(windowMs)}ms`;
      const step = `${Math.min(60_000, Math.max(1_000, Math.round(windowMs / 3600)))}ms`;
      const selector = `${inUseMetric}{secret_name=${promString(secret)}}`;
      const uses = `${usesMetric}{secret_name=${promString(secret)}}`;

      const [heldRows, seenRows, useRows, coverage] = await Promise.all([
        vector(`max by (${HELD_BY}) (max_over_time(${selector}[${window}])) > 0`, at),
        vector(`max by (${KEY_BY}) (max_over_time(timestamp(${selector} > 0)[${window}:${step}]))`, at),
        // Exact (no extrapolation): the counter now minus where it stood before the window; all of it for a
        // series that began within the window (a new instance or fingerprint).
        vector(
          `max by (${KEY_BY}) ((last_over_time(${uses}[${window}]) - ` +
            `last_over_time(${uses}[${window}] offset ${window})) or last_over_time(${uses}[${window}]))`,
          at,
        ),
        prometheusCoverage(api, { secret, selector, at, windowMs }),
      ]);

      const seen = new Map(seenRows.map((r) => [key(r.metric), Math.round(number(r.value[1]) * 1000)]));
      const usesOf = new Map(useRows.map((r) => [key(r.metric), Math.max(0, Math.round(number(r.value[1])))]));

      // One row per (instance, fingerprint); several only if other labels changed within the window.
      const rows = new Map<string, Record<string, string>>();
      for (const r of heldRows)
        if (r.metric.service_instance_id && r.metric.secret_fingerprint) rows.set(key(r.metric), r.metric);

      // A series that ended between two steps of the subquery has no lastSeen: read its samples (rare).
      const missing = [...rows.entries()].filter(([k]) => !Number.isFinite(seen.get(k) ?? Number.NaN));
      await eachLimited(missing, FOLLOW_UP_CONCURRENCY, async ([k, metric]) => {
        const labels = [
          `secret_name=${promString(secret)}`,
          `service_instance_id=${promString(metric.service_instance_id ?? '')}`,
          `secret_fingerprint=${promString(metric.secret_fingerprint ?? '')}`,
        ];
        const exact = `${inUseMetric}{${labels.join(', ')}}`;
        let last = Number.NaN;
        for (const series of await matrix(`${exact}[${window}]`, at)) {
          for (const [t, v] of series.values) {
            const ms = Math.round(number(t) * 1000);
            if (number(v) > 0 && Number.isFinite(ms) && !(ms <= last)) last = ms;
          }
        }
        seen.set(k, Number.isFinite(last) ? last : at - Math.round(windowMs));
      });

      const byFingerprint = new Map<string, { version: string | undefined; instances: UsageInstance[] }>();
      const instanceIds = new Set<string>();
      for (const [k, m] of rows) {
        const fingerprint = m.secret_fingerprint ?? '';
        const id = m.service_instance_id ?? '';
        instanceIds.add(id);
        let entry = byFingerprint.get(fingerprint);
        if (!entry) {
          entry = { version: m.secret_version || undefined, instances: [] };
          byFingerprint.set(fingerprint, entry);
        }
        const pid = Number.parseInt(m.process_pid ?? '', 10);
        const instance: UsageInstance = {
          id,
          service: m.service_name ?? '',
          ...(m.deployment_environment ? { environment: m.deployment_environment } : {}),
          host: m.host_name ?? '',
          pid: Number.isSafeInteger(pid) ? pid : 0,
          lastSeen: seen.get(k) ?? at,
          uses: usesOf.get(k) ?? 0,
        };
        entry.instances.push(instance);
      }

      const fingerprints: FingerprintUsage[] = [...byFingerprint].map(([fingerprint, { version, instances }]) => {
        instances.sort(
          (a, b) => b.lastSeen - a.lastSeen || a.service.localeCompare(b.service) || a.id.localeCompare(b.id),
        );
        return {
          fingerprint,
          ...(version ? { version } : {}),
          instances,
          uses: instances.reduce((sum, i) => sum + i.uses, 0),
          lastSeen: Math.max(...instances.map((i) => i.lastSeen)),
        };
      });
      fingerprints.sort((a, b) => b.lastSeen - a.lastSeen || a.fingerprint.localeCompare(b.fingerprint));
      return { secret, windowMs, at, instancesSeen: instanceIds.size, fingerprints, coverage };
    },
  };
}

function key(metric: Record<string, string>): string {
  return `${metric.service_instance_id ?? ''}\u0000${metric.secret_fingerprint ?? ''}`;
}

function number(value: unknown): number {
  return typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
}

function metricName(name: string): string {
  if (!METRIC_NAME.test(name))
    throw new ConfigurationError(`prometheusUsageSource: ${JSON.stringify(name)} is not a Prometheus metric name`);
  return name;
}

async function eachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await run(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
