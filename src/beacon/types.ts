import type { SecretStatus } from '../types.js';
import type { UsageReporterStats } from '../usage-reporter.js';

/** The schema tag of every report. */
export const BEACON_SCHEMA = 'keyflip.beacon/v1' as const;

/** Who sent a report: one process. */
export interface BeaconInstance {
  /**
   * `BeaconOptions.instanceId`, or a random UUID drawn when the resolver is created and kept for its life
   * (one resolver per process is the usual case; two resolvers report as two instances).
   */
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** When this beacon started, i.e. when its resolver was created (ms since the epoch, on the resolver's clock). */
  readonly startedAt: number;
  /** `node v20.20.2`. */
  readonly runtime: string;
  /** The keyflip version. */
  readonly keyflip: string;
}

/** What one process holds of one secret, and how often it used it since its last report. Never a value. */
export interface BeaconSecret {
  readonly name: string;
  readonly candidate: string;
  readonly source: string;
  readonly version?: string | undefined;
  readonly fingerprint: string;
  readonly loadedAt: number;
  /** Approximate: the time of the report in which reads were counted (reads are counted, not timed). */
  readonly lastUsedAt?: number | undefined;
  /** Reads of the value (and requests through `authFetch`) since the last report. */
  readonly uses: number;
  readonly status: SecretStatus;
}

/** One process's report: `keyflip.beacon/v1`. */
export interface BeaconReport {
  readonly schema: typeof BEACON_SCHEMA;
  /** When it was sent (ms since the epoch). */
  readonly sentAt: number;
  readonly service: string;
  readonly environment?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly instance: BeaconInstance;
  readonly secrets: readonly BeaconSecret[];
}

/** Where reports go. `send` may be sync or async; it must not throw (a throw is counted and dropped). */
export interface BeaconSink {
  send(report: BeaconReport): void | Promise<void>;
  /** Flushes what is queued and releases resources. */
  close?(): Promise<void>;
}

/** Options of the usage beacon: `createResolver({ beacon: usageBeacon(options) })`. */
export interface BeaconOptions {
  /** Where reports go. */
  sink: BeaconSink | readonly BeaconSink[];
  /** The service this process belongs to (`checkout-api`). */
  service: string;
  /** `prod`, `staging`, … */
  environment?: string | undefined;
  /**
   * How often a report is sent, in milliseconds (jittered by the resolver's `jitter`). A report is also
   * sent at once after every rotate and revoke, and on `close()`.
   * @default 60_000
   */
  intervalMs?: number | undefined;
  /**
   * The instance id (a pod name, a task ARN, …).
   * @default a random UUID, stable for the life of the resolver
   */
  instanceId?: string | undefined;
  /** Extra labels sent with every report (region, version, …). */
  labels?: Readonly<Record<string, string>> | undefined;
}

/**
 * What the beacon of one resolver has done so far (`resolver.beaconStats()`). Each report goes to every
 * sink, so `sent + failed + dropped` counts deliveries (reports × sinks), not reports.
 */
export interface BeaconStats extends UsageReporterStats {
  /** Reports built (periodic, after a rotate or revoke, and the last one on `close()`). */
  readonly reports: number;
  /** Deliveries a sink accepted: `send` returned, or its promise resolved. */
  readonly sent: number;
  /**
   * Deliveries that failed: `send` threw, its promise rejected, or it did not settle within 30 s; also a
   * sink's `close()` that threw or rejected.
   */
  readonly failed: number;
  /** Deliveries skipped because the sink already had 4 sends in flight (a slow or hung sink). */
  readonly dropped: number;
  /** Sends whose promise has not settled yet, over all sinks. */
  readonly inFlight: number;
}
