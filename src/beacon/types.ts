import type { SecretStatus } from '../types.js';
import type { UsageReporterStats } from '../usage-reporter.js';

/** The schema tag of every report. */
export const BEACON_SCHEMA = 'keyflip.beacon/v1' as const;

/**
 * The bounds of a report, shared by both ends: the collector refuses a report outside them whole (400), and
 * `usageBeacon()` refuses, when it is created, options that would produce one (a `ConfigurationError` naming the
 * field and the limit), so no process can be invisible because of its own configuration.
 */
export const BEACON_LIMITS = {
  /** Secrets listed in one report. */
  secrets: 1_000,
  /** Labels of one report. */
  labels: 32,
  /** The shortest and the longest `intervalMs` a report may declare, ms (1 s to 1 day). */
  intervalMs: {
    /** The shortest, ms (1 s). */
    min: 1_000,
    /** The longest, ms (1 day). */
    max: 86_400_000,
  },
  /** Characters of each string field, by field. */
  chars: {
    /** `service`. */
    service: 256,
    /** `environment`. */
    environment: 128,
    /** `instance.id`: room for a Kubernetes pod name (253) or an ECS task ARN. */
    id: 256,
    /** `instance.host` (a DNS name's 255). */
    host: 255,
    /** `instance.runtime`. */
    runtime: 100,
    /** `instance.keyflip`. */
    keyflip: 50,
    /** Each secret's `name` (a family member's `family[id]` included). */
    name: 256,
    /** Each secret's `candidate`. */
    candidate: 512,
    /** Each secret's `source`. */
    source: 100,
    /** Each secret's `version`. */
    version: 128,
    /** The name of each label. */
    labelKey: 100,
    /** The value of each label. */
    labelValue: 256,
  },
} as const;

/** Who sent a report: one process. */
export interface BeaconInstance {
  /**
   * `BeaconOptions.instanceId`, or a random UUID drawn when the resolver is created and kept for its life
   * (one resolver per process is the usual case; two resolvers report as two instances).
   */
  readonly id: string;
  /** The host name (`os.hostname()`). */
  readonly host: string;
  /** The process id (`process.pid`). */
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
  /** The logical name (`OPENAI_API_KEY`; `family[id]` for a family member). */
  readonly name: string;
  /** The candidate serving it, as written (`OPENAI_API_KEY_v2`, `gcp:openai@current`). */
  readonly candidate: string;
  /** The name of the source that holds it. */
  readonly source: string;
  /** The provider's version of the value, when the source reports one. */
  readonly version?: string | undefined;
  /** `kf_` + 12 hex digits: the keyed fingerprint of the value held. */
  readonly fingerprint: string;
  /** When the process loaded this value (ms since the epoch). */
  readonly loadedAt: number;
  /** Approximate: the time of the report in which reads were counted (reads are counted, not timed). */
  readonly lastUsedAt?: number | undefined;
  /** Reads of the value (and requests through `authFetch`) since the last report. */
  readonly uses: number;
  /** `ok`, `stale` (sources failing, the last good value served) or `revoked`, as in `SecretInfo.status`. */
  readonly status: SecretStatus;
}

/** One process's report: `keyflip.beacon/v1`. */
export interface BeaconReport {
  /** `keyflip.beacon/v1` ({@link BEACON_SCHEMA}). */
  readonly schema: typeof BEACON_SCHEMA;
  /** When it was sent (ms since the epoch). */
  readonly sentAt: number;
  /** The service the process belongs to (`BeaconOptions.service`). */
  readonly service: string;
  /** `prod`, `staging`, … (`BeaconOptions.environment`), when set. */
  readonly environment?: string | undefined;
  /** The extra labels of `BeaconOptions.labels`, when set. */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** The process that sent it. */
  readonly instance: BeaconInstance;
  /**
   * The sender's beacon period, ms (`BeaconOptions.intervalMs`, before jitter): the longest a collector may go
   * without hearing from it while it runs. The evidence model needs it (a window shorter than two intervals proves
   * nothing). Absent in reports of keyflip before 0.2; a collector then uses the interval it observed.
   */
  readonly intervalMs?: number | undefined;
  /** Each secret the process holds (at most `BEACON_LIMITS.secrets`), with its uses since the last report. */
  readonly secrets: readonly BeaconSecret[];
}

/**
 * Where reports go. `send` may be sync or async. It returns (or its promise resolves) when the sink has taken the
 * report; a throw or a rejection is counted as a failed delivery, and the first of a run of failures is told to
 * the app as the resolver's `error` event (see `BeaconDeliveryError`). Reject with a `KeyflipError` carrying a
 * `BEACON_*` code to say how it failed; anything else counts as `BEACON_SINK_FAILED`.
 */
export interface BeaconSink {
  /** Delivers one report (or queues it); throw or reject when it failed. */
  send(report: BeaconReport): void | Promise<void>;
  /** Flushes what is queued and releases resources. */
  close?(): Promise<void>;
  /**
   * How the resolver's `error` events name this sink (`httpSink`, `logSink`, …). Never a credential.
   * @default `sink[i]`, its place in `BeaconOptions.sink`
   */
  readonly name?: string | undefined;
  /**
   * True for a sink whose `send` promise settles by itself, in a bounded time, once the report is delivered
   * (resolves), given up on (rejects) or dropped (rejects with `outcome: 'dropped'`), and that bounds its own
   * queue (`httpSink`). The beacon then applies neither its 30 s send timeout nor its limit of 4 sends in flight,
   * and `beaconStats()` counts exactly what the sink counts; its `close()` is called at once on `resolver.close()`.
   * @default false
   */
  readonly settlesItself?: boolean | undefined;
}

/** Options of the usage beacon: `createResolver({ beacon: usageBeacon(options) })`. */
export interface BeaconOptions {
  /** Where reports go. */
  sink: BeaconSink | readonly BeaconSink[];
  /** The service this process belongs to (`checkout-api`): at most 256 characters, no control character. */
  service: string;
  /** `prod`, `staging`, …: at most 128 characters, no control character. @default none */
  environment?: string | undefined;
  /**
   * How often a report is sent, in milliseconds (jittered by the resolver's `jitter`): a whole number from
   * 1_000 to 86_400_000 (`BEACON_LIMITS.intervalMs`). Every report declares it as `intervalMs`, so a collector
   * knows how long it may go without hearing from this process. A report is also sent at once when a declared
   * secret first resolves (a new process is visible at once), after every rotate and revoke, and on `close()`.
   * @default 60_000
   */
  intervalMs?: number | undefined;
  /**
   * The instance id (a pod name, a task ARN, …): at most 256 characters, no control character.
   * @default a random UUID, stable for the life of the resolver
   */
  instanceId?: string | undefined;
  /**
   * Extra labels sent with every report (region, version, …): at most 32, names of 1 to 100 characters, values of
   * at most 256, no control character (`BEACON_LIMITS`).
   * @default none
   */
  labels?: Readonly<Record<string, string>> | undefined;
}

/**
 * What the beacon of one resolver has done so far (`resolver.beaconStats()`). Each report goes to every
 * sink, so `sent + failed + dropped` counts deliveries (reports × sinks), not reports.
 */
export interface BeaconStats extends UsageReporterStats {
  /** Reports built (periodic, after a rotate or revoke, and the last one on `close()`). */
  readonly reports: number;
  /**
   * Deliveries a sink accepted: `send` returned, or its promise resolved (for `httpSink`: the collector answered
   * 2xx, so this equals the sink's own `stats().sent`).
   */
  readonly sent: number;
  /**
   * Deliveries that failed: `send` threw, its promise rejected, or it did not settle within 30 s; also a
   * sink's `close()` that threw or rejected. For `httpSink`, the reports it gave up on (its `stats().failed`).
   */
  readonly failed: number;
  /**
   * Deliveries skipped because the sink already had 4 sends in flight (a slow or hung sink), or that the sink
   * dropped unsent (`httpSink`: its full queue, or what its `close()` had no time for).
   */
  readonly dropped: number;
  /** Sends whose promise has not settled yet, over all sinks. */
  readonly inFlight: number;
}
