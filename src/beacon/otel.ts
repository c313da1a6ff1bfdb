/**
 * `keyflip/otel`: a beacon sink that records usage as OpenTelemetry metrics (`otelSink`), for Prometheus and
 * any OpenTelemetry backend. `@opentelemetry/api` is an optional peer.
 * @module keyflip/otel
 */
import { createRequire } from 'node:module';
import type { Attributes, Counter, MeterProvider, ObservableCallback, ObservableGauge } from '@opentelemetry/api';
import { DependencyError } from '../errors.js';
import type { BeaconReport, BeaconSink } from './types.js';

// Type-only imports above are erased: nothing of '@opentelemetry/api' is loaded unless `otelSink()` is called
// without a `meterProvider` (it is an optional peer dependency).

const OTEL_API_PACKAGE = '@opentelemetry/api';

declare const __KEYFLIP_VERSION__: string | undefined;
const VERSION = typeof __KEYFLIP_VERSION__ === 'string' ? __KEYFLIP_VERSION__ : '0.0.0-dev';

/** The meter (instrumentation scope) name. */
export const OTEL_METER_NAME = 'keyflip';
/** Counter: reads of a secret's value, per secret and fingerprint (`keyflip_secret_uses_total` in Prometheus). */
export const OTEL_METRIC_USES = 'keyflip.secret.uses';
/**
 * Observable gauge: 1 per fingerprint an instance holds now, 0 for one it held before (`keyflip_secret_in_use`
 * in Prometheus).
 */
export const OTEL_METRIC_IN_USE = 'keyflip.secret.in_use';

/** Options of {@link otelSink}. */
export interface OtelSinkOptions {
  /**
   * The MeterProvider to record into.
   * @default the global one: `metrics.getMeterProvider()` from `@opentelemetry/api`, looked up again on each
   * report, so a provider registered after the sink was created is picked up
   */
  meterProvider?: MeterProvider | undefined;
}

interface Instruments {
  provider: MeterProvider;
  uses: Counter;
  inUse: ObservableGauge;
}

/**
 * A beacon sink that turns each report into OpenTelemetry metrics, so any OpenTelemetry backend (Prometheus
 * through `@opentelemetry/exporter-prometheus`, an OTLP collector, …) holds the fleet's view:
 *
 * - `keyflip.secret.uses` (counter): the report's uses, added per secret and fingerprint;
 * - `keyflip.secret.in_use` (observable gauge): 1 for each fingerprint the instance holds according to its
 *   latest report (whatever its status, as the collector counts it), 0 for a fingerprint it held before (rotated
 *   away) and for everything after `close()`. Held-in-a-window is therefore `max_over_time(…[w]) > 0`.
 *
 * Attributes: `secret.name`, `secret.fingerprint`, `secret.version` (when the source has one), `service.name`,
 * `service.instance.id` and `deployment.environment` (when given); the gauge also carries `host.name` and
 * `process.pid`, so `keyflip verify --prometheus` can name the process. Never a value.
 *
 * `@opentelemetry/api` is an optional peer dependency: it is loaded only when no `meterProvider` is passed.
 */
export function otelSink(options: OtelSinkOptions = {}): BeaconSink {
  const injected = options.meterProvider;
  const getProvider: () => MeterProvider = injected ? () => injected : globalProvider(loadApi());
  /** The gauge's series, per instance that reported through this sink: held now (1) or before (0). */
  const series = new Map<string, Map<string, { attributes: Attributes; held: boolean }>>();
  let instruments: Instruments | undefined;
  let closed = false;

  const observe: ObservableCallback = (result) => {
    for (const points of series.values()) for (const p of points.values()) result.observe(p.held ? 1 : 0, p.attributes);
  };

  function current(): Instruments {
    const provider = getProvider();
    if (instruments?.provider === provider) return instruments;
    // First report, or the global provider changed (the SDK was set up after the sink): (re)create the instruments.
    instruments?.inUse.removeCallback(observe);
    const meter = provider.getMeter(OTEL_METER_NAME, VERSION);
    const uses = meter.createCounter(OTEL_METRIC_USES, {
      description: 'Reads of a secret value (and requests through authFetch), per fingerprint held',
    });
    const inUse = meter.createObservableGauge(OTEL_METRIC_IN_USE, {
      description: '1 for each secret fingerprint a keyflip instance holds now, 0 for one it held before',
    });
    inUse.addCallback(observe);
    instruments = { provider, uses, inUse };
    return instruments;
  }

  return {
    name: 'otelSink',
    send(report: BeaconReport): void {
      if (closed) return;
      const { uses } = current();
      let points = series.get(report.instance.id);
      if (!points) {
        points = new Map();
        series.set(report.instance.id, points);
      }
      for (const p of points.values()) p.held = false;
      for (const secret of report.secrets) {
        const attributes: Attributes = {
          'secret.name': secret.name,
          'secret.fingerprint': secret.fingerprint,
          'service.name': report.service,
          'service.instance.id': report.instance.id,
        };
        if (secret.version !== undefined) attributes['secret.version'] = secret.version;
        if (report.environment !== undefined) attributes['deployment.environment'] = report.environment;
        // add(0) too: the series then exists from the first report, so a backend's rate()/increase() sees later uses.
        uses.add(Number.isFinite(secret.uses) && secret.uses > 0 ? secret.uses : 0, attributes);
        const gauge = { ...attributes, 'host.name': report.instance.host, 'process.pid': report.instance.pid };
        const key = JSON.stringify(gauge);
        points.delete(key); // re-inserted last: the oldest retired series are at the front
        points.set(key, { attributes: gauge, held: true });
      }
      // Retired series stay observed as 0 (an SDK with cumulative temporality would otherwise keep exporting
      // their last value, 1, for ever), bounded per instance.
      for (const [key, p] of points) {
        if (points.size <= MAX_SERIES_PER_INSTANCE) break;
        if (!p.held) points.delete(key);
      }
    },
    async close(): Promise<void> {
      // The instance holds nothing any more: every series reads 0 from now on (see above for why not none).
      closed = true;
      for (const points of series.values()) for (const p of points.values()) p.held = false;
    },
  };
}

/** Series kept per instance (held ones always; retired ones, reading 0, up to this bound). */
const MAX_SERIES_PER_INSTANCE = 256;

interface OtelApi {
  metrics: { getMeterProvider(): MeterProvider };
}

function globalProvider(api: OtelApi): () => MeterProvider {
  return () => api.metrics.getMeterProvider();
}

/** Loads `@opentelemetry/api` (once per call site; Node caches the module) or says what to install. */
function loadApi(): OtelApi {
  try {
    // `__filename` in the CJS build, `import.meta.url` in the ESM one (no bundler shim needed).
    const require = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
    return require(OTEL_API_PACKAGE) as OtelApi;
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new DependencyError(
      OTEL_API_PACKAGE,
      `keyflip/otel needs ${OTEL_API_PACKAGE} (version 1.4 or later): run \`npm install ${OTEL_API_PACKAGE}\` ` +
        `and set up an OpenTelemetry MeterProvider, or pass \`meterProvider\` (${why})`,
      { cause },
    );
  }
}
