/**
 * The usage beacon engine: `usageBeacon(options)` makes the usage reporter a resolver runs when given as
 * `createResolver({ sources, beacon: usageBeacon({ sink, service }) })`. It plugs into the resolver through
 * the core's `UsageReporter` interface (src/usage-reporter.ts) and uses only `node:os` and `node:crypto`; the
 * sinks that carry reports elsewhere are in sinks.ts and otel.ts.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { describeValue, isRecord } from '../check.js';
import { jitterFactor, unrefTimer } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import type { TimerHandle } from '../types.js';
import type { AttachedUsageReporter, SecretChange, UsageReporter, UsageReporterHost } from '../usage-reporter.js';
import {
  BEACON_SCHEMA,
  type BeaconInstance,
  type BeaconOptions,
  type BeaconReport,
  type BeaconSecret,
  type BeaconSink,
  type BeaconStats,
} from './types.js';

declare const __KEYFLIP_VERSION__: string | undefined;
/** The keyflip version, injected by tsup at build time (`0.0.0-dev` when running from the sources). */
export const KEYFLIP_VERSION: string = typeof __KEYFLIP_VERSION__ === 'string' ? __KEYFLIP_VERSION__ : '0.0.0-dev';

/** @default `BeaconOptions.intervalMs` */
export const DEFAULT_BEACON_INTERVAL_MS = 60_000;
/** A sink with this many sends still in flight gets no more reports until one settles (they are counted as dropped). */
export const MAX_IN_FLIGHT_PER_SINK = 4;
/** A send whose promise has not settled after this long counts as failed and frees its place. */
export const SEND_TIMEOUT_MS = 30_000;
/** `close()` waits at most this long for sends in flight and the sinks' `close()`. */
export const CLOSE_TIMEOUT_MS = 5_000;

/** Validated options. */
interface Settings {
  readonly sinks: readonly BeaconSink[];
  readonly service: string;
  readonly environment: string | undefined;
  readonly intervalMs: number;
  /** `undefined`: a random UUID is drawn when the beacon is attached to a resolver. */
  readonly instanceId: string | undefined;
  readonly labels: Readonly<Record<string, string>> | undefined;
}

interface SinkState {
  readonly sink: BeaconSink;
  /** Sends in flight (their settlement, which never rejects). */
  readonly pending: Set<Promise<void>>;
}

/**
 * Checks the options of {@link usageBeacon} and throws a `ConfigurationError` that names what is wrong. The
 * instance id is drawn when the beacon is attached (one per resolver), unless `instanceId` is given.
 */
function validateBeaconOptions(options: unknown): Settings {
  if (!isRecord(options)) {
    throw new ConfigurationError(
      'usageBeacon(options): `beacon` options must be an object: ' +
        '{ sink, service, environment?, intervalMs?, instanceId?, labels? }',
    );
  }
  const o = options as Partial<Record<keyof BeaconOptions, unknown>>;
  if (typeof o.service !== 'string' || o.service.trim() === '') {
    throw new ConfigurationError(
      '`beacon.service` is required: a non-empty string naming the service this process belongs to ' +
        `(e.g. 'checkout-api'), not ${describeValue(o.service)}`,
    );
  }
  const list: unknown[] = Array.isArray(o.sink) ? [...(o.sink as unknown[])] : o.sink === undefined ? [] : [o.sink];
  if (list.length === 0) {
    throw new ConfigurationError(
      '`beacon.sink` is required: a sink ({ send(report) }, e.g. logSink() or httpSink({ url }) from ' +
        'keyflip/beacon) or a non-empty array of sinks',
    );
  }
  list.forEach((sink, i) => {
    const where = Array.isArray(o.sink) ? `\`beacon.sink[${i}]\`` : '`beacon.sink`';
    if (typeof sink !== 'object' || sink === null)
      throw new ConfigurationError(
        `${where} must be a sink object with a \`send(report)\` method, not ${describeValue(sink)}`,
      );
    const s = sink as { send?: unknown; close?: unknown };
    if (typeof s.send !== 'function') throw new ConfigurationError(`${where} has no \`send(report)\` method`);
    if (s.close !== undefined && typeof s.close !== 'function')
      throw new ConfigurationError(`${where}.close must be a function when given`);
  });
  const intervalMs = o.intervalMs ?? DEFAULT_BEACON_INTERVAL_MS;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 1) {
    throw new ConfigurationError(
      '`beacon.intervalMs` must be a finite number of milliseconds, at least 1, ' +
        `not ${describeValue(o.intervalMs)}`,
    );
  }
  if (o.environment !== undefined && (typeof o.environment !== 'string' || o.environment === '')) {
    throw new ConfigurationError(
      `\`beacon.environment\` must be a non-empty string when given, not ${describeValue(o.environment)}`,
    );
  }
  if (o.instanceId !== undefined && (typeof o.instanceId !== 'string' || o.instanceId.trim() === '')) {
    throw new ConfigurationError(
      `\`beacon.instanceId\` must be a non-empty string when given, not ${describeValue(o.instanceId)}`,
    );
  }
  let labels: Record<string, string> | undefined;
  if (o.labels !== undefined) {
    if (!isRecord(o.labels)) {
      throw new ConfigurationError(`\`beacon.labels\` must be an object of strings, not ${describeValue(o.labels)}`);
    }
    labels = Object.create(null) as Record<string, string>;
    for (const [key, value] of Object.entries(o.labels)) {
      if (typeof value !== 'string')
        throw new ConfigurationError(`\`beacon.labels.${key}\` must be a string, not ${describeValue(value)}`);
      labels[key] = value;
    }
    labels = Object.freeze({ ...labels });
  }
  return {
    sinks: list as BeaconSink[],
    service: o.service,
    environment: o.environment as string | undefined,
    intervalMs,
    instanceId: o.instanceId as string | undefined,
    labels,
  };
}

/**
 * The usage beacon, to plug into a resolver: `createResolver({ sources, beacon: usageBeacon({ sink, service }) })`.
 * The options are checked at once (a `ConfigurationError` names what is wrong). The resolver attaches it when
 * it is created; from then on it reports every `intervalMs` (scaled by the resolver's `jitter`), at once after
 * every rotate or revoke of a declared secret, and on `resolver.close()`. Reports hold fingerprints, never
 * values; family members are not reported. `resolver.beaconStats()` says what it has done.
 *
 * @example
 * import { httpSink, usageBeacon } from 'keyflip/beacon';
 * const resolver = createResolver({
 *   sources: [envSource()],
 *   beacon: usageBeacon({ service: 'checkout-api', sink: httpSink({ url: 'http://collector:4318' }) }),
 * });
 */
export function usageBeacon(options: BeaconOptions): UsageReporter {
  const settings = validateBeaconOptions(options);
  return Object.freeze({
    attach(host: UsageReporterHost): AttachedUsageReporter {
      const beacon = new Beacon(settings, host);
      beacon.start();
      return beacon;
    },
  });
}

/**
 * The usage beacon of one resolver. Every `intervalMs` (scaled by the resolver's `jitter`), at once after
 * a rotate or revoke of a declared secret (coalesced: several in the same tick make one report), and on
 * `close()`, it builds one `keyflip.beacon/v1` report and hands the same frozen report to every sink.
 *
 * - A report lists every **declared** secret that has been resolved: its provenance (fingerprint, never
 *   the value) and the uses counted since the previous report. **Family members are not reported**: they
 *   are end-user keys, many and LRU-bounded, and their owners' usage is not a fleet's rotation concern.
 * - Uses are taken from the handles' counters when the report is built. A sink that fails to accept a
 *   report does not get those uses again: each report is one delivery per sink, and the counters are
 *   shared by every sink, so a failed delivery is counted in `stats()` and the uses it carried are lost
 *   to that sink only.
 * - Uses counted just before a rotation are reported with the new fingerprint (in the report sent at once
 *   after it): the previous report, at most one interval old, already listed the old fingerprint as held.
 * - A sink never affects the app: a throw or a rejection is caught and counted, never printed and never an
 *   unhandled rejection; a sink with {@link MAX_IN_FLIGHT_PER_SINK} sends in flight is skipped (counted as
 *   dropped) until one settles; a send still pending after {@link SEND_TIMEOUT_MS} counts as failed.
 *
 * Made by {@link usageBeacon}'s `attach`, which the resolver calls once, when it is created.
 */
class Beacon implements AttachedUsageReporter {
  readonly #settings: Settings;
  readonly #host: UsageReporterHost;
  readonly #sinks: readonly SinkState[];
  readonly #instance: BeaconInstance;
  /** lastUsedAt per `name\0fingerprint` of the last report. */
  #lastUsedAt = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #closing: Promise<void> | undefined;
  #reports = 0;
  #sent = 0;
  #failed = 0;
  #dropped = 0;
  #inFlight = 0;

  constructor(settings: Settings, host: UsageReporterHost) {
    this.#settings = settings;
    this.#host = host;
    this.#sinks = this.#settings.sinks.map((sink) => ({ sink, pending: new Set<Promise<void>>() }));
    this.#instance = Object.freeze({
      id: this.#settings.instanceId ?? randomUUID(),
      host: safeHostname(),
      pid: process.pid,
      startedAt: host.clock.now(),
      runtime: `node ${process.version}`,
      keyflip: KEYFLIP_VERSION,
    });
  }

  /** Who this process is, as every report says. */
  get instance(): BeaconInstance {
    return this.#instance;
  }

  /** Starts the periodic reports. */
  start(): void {
    this.#scheduleNext();
  }

  /** A declared secret rotated or was revoked: report at once (once per tick, however many changed). */
  changed(_change?: SecretChange): void {
    if (this.#closing !== undefined || this.#immediate !== undefined) return;
    this.#immediate = setImmediate(() => {
      this.#immediate = undefined;
      if (this.#closing === undefined) this.#report();
    });
    this.#immediate.unref();
  }

  stats(): BeaconStats {
    return {
      reports: this.#reports,
      sent: this.#sent,
      failed: this.#failed,
      dropped: this.#dropped,
      inFlight: this.#inFlight,
    };
  }

  /**
   * Stops the timers, sends the final report, then waits for the sends in flight and each sink's
   * `close()`, at most {@link CLOSE_TIMEOUT_MS} (on the resolver's clock). Never rejects. Safe to call twice.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    const { clock } = this.#host;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#immediate !== undefined) clearImmediate(this.#immediate);
    this.#immediate = undefined;
    this.#report(); // before #closing is set: the final report is built now, with the uses counted so far
    this.#closing = this.#finish();
    return this.#closing;
  }

  async #finish(): Promise<void> {
    const { clock } = this.#host;
    const drained = Promise.all(
      this.#sinks.map(async (state) => {
        await Promise.all([...state.pending]);
        if (typeof state.sink.close !== 'function') return;
        try {
          await state.sink.close();
        } catch {
          this.#failed++;
        }
      }),
    );
    let timer: TimerHandle | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = clock.setTimeout(resolve, CLOSE_TIMEOUT_MS);
      unrefTimer(timer);
    });
    await Promise.race([drained, bound]);
    clock.clearTimeout(timer);
  }

  #scheduleNext(): void {
    if (this.#closing !== undefined) return;
    const { clock, jitter } = this.#host;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#closing !== undefined) return;
      this.#report();
      this.#scheduleNext();
    }, this.#settings.intervalMs * jitterFactor(jitter));
    unrefTimer(this.#timer);
  }

  /** Builds one report and hands it to every sink. Never throws. */
  #report(): void {
    let report: BeaconReport;
    try {
      report = this.#build();
    } catch {
      // Only a bug in keyflip (or a clock that throws) gets here; the app must not notice.
      this.#failed += this.#sinks.length;
      return;
    }
    this.#reports++;
    for (const state of this.#sinks) this.#deliver(state, report);
  }

  #build(): BeaconReport {
    const sentAt = this.#host.clock.now();
    const secrets: BeaconSecret[] = [];
    const lastUsed = new Map<string, number>();
    for (const target of this.#host.secrets()) {
      const info = target.info;
      if (info === undefined) continue; // not resolved yet: nothing held, and no use can have been counted
      const uses = target.takeUses();
      const key = `${info.name}\u0000${info.fingerprint}`;
      const lastUsedAt = uses > 0 ? sentAt : this.#lastUsedAt.get(key);
      if (lastUsedAt !== undefined) lastUsed.set(key, lastUsedAt);
      // Field by field: nothing of SecretInfo beyond the schema leaves, and never a value.
      const secret: BeaconSecret = {
        name: info.name,
        candidate: info.candidate,
        source: info.source,
        ...(info.version === undefined ? {} : { version: info.version }),
        fingerprint: info.fingerprint,
        loadedAt: info.loadedAt,
        ...(lastUsedAt === undefined ? {} : { lastUsedAt }),
        uses,
        status: info.status,
      };
      secrets.push(Object.freeze(secret));
    }
    this.#lastUsedAt = lastUsed;
    const { service, environment, labels } = this.#settings;
    return Object.freeze({
      schema: BEACON_SCHEMA,
      sentAt,
      service,
      ...(environment === undefined ? {} : { environment }),
      ...(labels === undefined ? {} : { labels }),
      instance: this.#instance,
      secrets: Object.freeze(secrets),
    });
  }

  #deliver(state: SinkState, report: BeaconReport): void {
    if (state.pending.size >= MAX_IN_FLIGHT_PER_SINK) {
      this.#dropped++;
      return;
    }
    let result: unknown;
    let async: boolean;
    try {
      result = state.sink.send(report);
      async = isThenable(result); // inside the try: a `then` getter may throw too
    } catch {
      this.#failed++;
      return;
    }
    if (!async) {
      this.#sent++;
      return;
    }
    const { clock } = this.#host;
    let settled = false;
    let timer: TimerHandle | undefined;
    let tracked: Promise<void> | undefined;
    const settle = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (tracked !== undefined) state.pending.delete(tracked);
      this.#inFlight--;
      if (ok) this.#sent++;
      else this.#failed++;
    };
    this.#inFlight++;
    // Promise.resolve adopts any thenable; a `then` that throws becomes a rejection, handled here.
    tracked = Promise.resolve(result).then(
      () => settle(true),
      () => settle(false),
    );
    state.pending.add(tracked);
    timer = clock.setTimeout(() => settle(false), SEND_TIMEOUT_MS);
    unrefTimer(timer);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function safeHostname(): string {
  try {
    return hostname();
  } catch {
    return 'unknown';
  }
}
