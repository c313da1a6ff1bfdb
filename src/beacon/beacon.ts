/**
 * The usage beacon engine: `usageBeacon(options)` makes the usage reporter a resolver runs when given as
 * `createResolver({ sources, beacon: usageBeacon({ sink, service }) })`. It plugs into the resolver through
 * the core's `UsageReporter` interface (src/usage-reporter.ts) and uses only `node:os` and `node:crypto`; the
 * sinks that carry reports elsewhere are in sinks.ts and otel.ts, the option checks in options.ts.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { jitterFactor, unrefTimer } from '../clock.js';
import { isKeyflipError, type KeyflipError, type KeyflipErrorCode } from '../errors.js';
import type { TimerHandle } from '../types.js';
import type { AttachedUsageReporter, SecretChange, UsageReporter, UsageReporterHost } from '../usage-reporter.js';
import { BeaconDeliveryError, BeaconOmissionError, type OmittedSecret } from './errors.js';
import { fitted, misfit } from './fields.js';
import { type BeaconSettings, validateBeaconOptions } from './options.js';
import {
  BEACON_LIMITS,
  BEACON_SCHEMA,
  type BeaconInstance,
  type BeaconOptions,
  type BeaconReport,
  type BeaconSecret,
  type BeaconSink,
  type BeaconStats,
} from './types.js';

export { DEFAULT_BEACON_INTERVAL_MS } from './options.js';

declare const __KEYFLIP_VERSION__: string | undefined;
/** The keyflip version, injected by tsup at build time (`0.0.0-dev` when running from the sources). */
export const KEYFLIP_VERSION: string = typeof __KEYFLIP_VERSION__ === 'string' ? __KEYFLIP_VERSION__ : '0.0.0-dev';

/** A sink with this many sends still in flight gets no more reports until one settles (they are counted as dropped). */
export const MAX_IN_FLIGHT_PER_SINK = 4;
/** A send whose promise has not settled after this long counts as failed and frees its place. */
export const SEND_TIMEOUT_MS = 30_000;
/** `close()` waits at most this long for sends in flight and the sinks' `close()`. */
export const CLOSE_TIMEOUT_MS = 5_000;

interface SinkState {
  readonly sink: BeaconSink;
  /** How events name it: its `name`, or `sink[i]`. */
  readonly label: string;
  /** See `BeaconSink.settlesItself`: no send timeout, no limit of sends in flight. */
  readonly settlesItself: boolean;
  /** Sends in flight (their settlement, which never rejects). */
  readonly pending: Set<Promise<void>>;
  /** The failure the app was last told of; undefined while the sink delivers (or before its first send). */
  failing: KeyflipErrorCode | undefined;
}

/** How a delivery ended, when it did not end well. */
type Failure = { readonly how: 'threw' | 'rejected'; readonly reason: unknown } | { readonly how: 'timeout' };

/**
 * The usage beacon, to plug into a resolver: `createResolver({ sources, beacon: usageBeacon({ sink, service }) })`.
 * The options are checked at once, their lengths included (a `ConfigurationError` names the field and the limit,
 * so the collector never refuses a report for them). The resolver attaches it when it is created; from then on it
 * reports as soon as a declared secret first resolves, every `intervalMs` (scaled by the resolver's `jitter`), at
 * once after every rotate or revoke of a declared secret, and on `resolver.close()`. Reports hold fingerprints,
 * never values; family members are not reported. `resolver.beaconStats()` says what it has done; a sink that
 * starts failing, or secrets left out of reports, make the resolver emit `error` (once per change of state).
 *
 * @example
 * import { httpSink, usageBeacon } from 'keyflip/beacon';
 * const resolver = createResolver({
 *   sources: [envSource()],
 *   beacon: usageBeacon({ service: 'checkout-api', sink: httpSink({ url: 'http://collector:7391' }) }),
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
 * The usage beacon of one resolver. As soon as a declared secret first resolves, every `intervalMs` (scaled by
 * the resolver's `jitter`), at once after a rotate or revoke of a declared secret (coalesced: several in the same
 * tick make one report), and on `close()`, it builds one `keyflip.beacon/v1` report and hands the same frozen
 * report to every sink.
 *
 * - A report lists every **declared** secret that has been resolved: its provenance (fingerprint, never
 *   the value) and the uses counted since the previous report. **Family members are not reported**: they
 *   are end-user keys, many and LRU-bounded, and their owners' usage is not a fleet's rotation concern.
 * - Every report declares `intervalMs`, the configured period before jitter.
 * - **Nothing the collector would refuse.** A secret whose name, candidate or source does not fit
 *   `BEACON_LIMITS` is left out (the collector would refuse the whole report with it, hiding every other
 *   secret), and so are the secrets beyond `BEACON_LIMITS.secrets`; a version that does not fit is left out of
 *   its secret (then verifiable by fingerprint only). Not truncated: a cut name would be another secret's name.
 *   The app is told by one `error` event (`BEACON_SECRET_OMITTED`) each time the set of such secrets changes.
 *   The host name and runtime are fitted (control characters replaced, cut to their limit): they describe the
 *   process, the instance id identifies it.
 * - Uses are taken from the handles' counters when the report is built. A sink that fails to accept a
 *   report does not get those uses again: each report is one delivery per sink, and the counters are
 *   shared by every sink, so a failed delivery is counted in `stats()` and the uses it carried are lost
 *   to that sink only.
 * - Uses counted just before a rotation are reported with the new fingerprint (in the report sent at once
 *   after it): the previous report, at most one interval old, already listed the old fingerprint as held.
 * - A sink never affects the app: a throw or a rejection is caught and counted, never printed and never an
 *   unhandled rejection; a sink with {@link MAX_IN_FLIGHT_PER_SINK} sends in flight is skipped (counted as
 *   dropped) until one settles; a send still pending after {@link SEND_TIMEOUT_MS} counts as failed (neither
 *   applies to a sink that `settlesItself`, such as `httpSink`).
 * - **A failing sink is told, once per change of state.** The first failure of a sink that delivered (or had
 *   not tried yet), and a failure of another kind (another code) than the last one told, make the resolver
 *   emit `error` with a `BeaconDeliveryError`; failures of the same kind that follow are only counted. A
 *   delivery that succeeds makes the sink healthy again, silently (it is not an error); its next failure is
 *   told again. A drop is not a change of state.
 *
 * Made by {@link usageBeacon}'s `attach`, which the resolver calls once, when it is created.
 */
class Beacon implements AttachedUsageReporter {
  readonly #settings: BeaconSettings;
  readonly #host: UsageReporterHost;
  readonly #sinks: readonly SinkState[];
  readonly #instance: BeaconInstance;
  /** lastUsedAt per `name\0fingerprint` of the last report. */
  #lastUsedAt = new Map<string, number>();
  /** Which secrets the last report left out or cut, as a key: the app is told when it changes. */
  #omissions = '';
  #timer: TimerHandle | undefined;
  #immediate: ReturnType<typeof setImmediate> | undefined;
  #closing: Promise<void> | undefined;
  /** `close()` settled: nothing is told any more. */
  #closed = false;
  #reports = 0;
  #sent = 0;
  #failed = 0;
  #dropped = 0;
  #inFlight = 0;

  constructor(settings: BeaconSettings, host: UsageReporterHost) {
    this.#settings = settings;
    this.#host = host;
    this.#sinks = settings.sinks.map((sink, i) => ({
      sink,
      label: typeof sink.name === 'string' && sink.name !== '' ? sink.name : `sink[${i}]`,
      settlesItself: sink.settlesItself === true,
      pending: new Set<Promise<void>>(),
      failing: undefined,
    }));
    this.#instance = Object.freeze({
      id: settings.instanceId ?? randomUUID(),
      host: fitted(safeHostname(), 'host'),
      pid: process.pid,
      startedAt: host.clock.now(),
      runtime: fitted(`node ${process.version}`, 'runtime'),
      keyflip: fitted(KEYFLIP_VERSION, 'keyflip'),
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

  /**
   * A declared secret resolved for the first time, rotated or was revoked: report at once (once per tick, however
   * many changed). The first `load` is what makes a new process visible without waiting for a period.
   */
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
    this.#closing = this.#finish().finally(() => {
      this.#closed = true;
    });
    return this.#closing;
  }

  async #finish(): Promise<void> {
    const { clock } = this.#host;
    const drained = Promise.all(
      this.#sinks.map(async (state) => {
        // A sink that settles its sends itself delivers its queue in its close(): call it now, not after.
        if (state.settlesItself) await Promise.all([this.#closeSink(state), ...state.pending]);
        else {
          await Promise.all([...state.pending]);
          await this.#closeSink(state);
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

  async #closeSink(state: SinkState): Promise<void> {
    if (typeof state.sink.close !== 'function') return;
    try {
      await state.sink.close();
    } catch {
      this.#failed++;
    }
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
    const omitted: OmittedSecret[] = [];
    const lastUsed = new Map<string, number>();
    for (const target of this.#host.secrets()) {
      const info = target.info;
      if (info === undefined) continue; // not resolved yet: nothing held, and no use can have been counted
      const secret = info.name.slice(0, BEACON_LIMITS.chars.name);
      const unfit = unfitField(info.name, info.candidate, info.source);
      if (unfit !== undefined) {
        omitted.push({ secret, ...unfit, effect: 'left-out' });
        continue;
      }
      if (secrets.length >= BEACON_LIMITS.secrets) {
        const problem = `comes after the ${BEACON_LIMITS.secrets} secrets a report may list (BEACON_LIMITS.secrets)`;
        omitted.push({ secret, field: 'secrets', problem, effect: 'left-out' });
        continue;
      }
      const versionProblem = info.version === undefined ? undefined : misfit(info.version, 'version');
      if (versionProblem !== undefined) {
        omitted.push({ secret, field: 'version', problem: versionProblem, effect: 'no-version' });
      }
      const version = versionProblem === undefined ? info.version : undefined;
      const uses = target.takeUses();
      const key = `${info.name}\u0000${info.fingerprint}`;
      const lastUsedAt = uses > 0 ? sentAt : this.#lastUsedAt.get(key);
      if (lastUsedAt !== undefined) lastUsed.set(key, lastUsedAt);
      // Field by field: nothing of SecretInfo beyond the schema leaves, and never a value.
      const entry: BeaconSecret = {
        name: info.name,
        candidate: info.candidate,
        source: info.source,
        ...(version === undefined ? {} : { version }),
        fingerprint: info.fingerprint,
        loadedAt: info.loadedAt,
        ...(lastUsedAt === undefined ? {} : { lastUsedAt }),
        uses,
        status: info.status,
      };
      secrets.push(Object.freeze(entry));
    }
    this.#lastUsedAt = lastUsed;
    this.#noteOmissions(omitted);
    const { service, environment, labels, intervalMs } = this.#settings;
    return Object.freeze({
      schema: BEACON_SCHEMA,
      sentAt,
      service,
      ...(environment === undefined ? {} : { environment }),
      ...(labels === undefined ? {} : { labels }),
      instance: this.#instance,
      intervalMs,
      secrets: Object.freeze(secrets),
    });
  }

  /** Tells the app when the set of secrets left out of (or cut in) reports changes to a non-empty one. */
  #noteOmissions(omitted: readonly OmittedSecret[]): void {
    const key = omitted.map((o) => `${o.field}\u0000${o.effect}\u0000${o.secret}`).join('\u0001');
    if (key === this.#omissions) return;
    this.#omissions = key;
    if (omitted.length > 0) this.#tell(new BeaconOmissionError(omitted));
  }

  #deliver(state: SinkState, report: BeaconReport): void {
    if (!state.settlesItself && state.pending.size >= MAX_IN_FLIGHT_PER_SINK) {
      this.#dropped++;
      return;
    }
    let result: unknown;
    let async: boolean;
    try {
      result = state.sink.send(report);
      async = isThenable(result); // inside the try: a `then` getter may throw too
    } catch (reason) {
      this.#failure(state, { how: 'threw', reason });
      return;
    }
    if (!async) {
      this.#success(state);
      return;
    }
    const { clock } = this.#host;
    let settled = false;
    let timer: TimerHandle | undefined;
    let tracked: Promise<void> | undefined;
    const settle = (failure: Failure | undefined): void => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clock.clearTimeout(timer);
      if (tracked !== undefined) state.pending.delete(tracked);
      this.#inFlight--;
      if (failure === undefined) this.#success(state);
      else this.#failure(state, failure);
    };
    this.#inFlight++;
    // Promise.resolve adopts any thenable; a `then` that throws becomes a rejection, handled here.
    tracked = Promise.resolve(result).then(
      () => settle(undefined),
      (reason: unknown) => settle({ how: 'rejected', reason }),
    );
    state.pending.add(tracked);
    if (state.settlesItself) return;
    timer = clock.setTimeout(() => settle({ how: 'timeout' }), SEND_TIMEOUT_MS);
    unrefTimer(timer);
  }

  #success(state: SinkState): void {
    this.#sent++;
    state.failing = undefined; // healthy again: its next failure is news
  }

  #failure(state: SinkState, failure: Failure): void {
    if (failure.how !== 'timeout' && isDrop(failure.reason)) {
      this.#dropped++;
      return;
    }
    this.#failed++;
    const error = deliveryError(state.label, failure);
    if (state.failing === error.code) return; // the same failure as the one told: counted, not told again
    state.failing = error.code;
    this.#tell(error);
  }

  /** Emits `error` on the resolver; never throws, and tells nothing once `close()` has settled. */
  #tell(error: KeyflipError): void {
    if (this.#closed) return;
    try {
      this.#host.reportError(error);
    } catch {
      // A usage reporter never affects the app.
    }
  }
}

/** The first of name, candidate and source that the collector would refuse, and why. */
function unfitField(
  name: string,
  candidate: string,
  source: string,
): Pick<OmittedSecret, 'field' | 'problem'> | undefined {
  const checks = [
    ['name', name, 'name'],
    ['candidate', candidate, 'candidate'],
    ['source', source, 'source'],
  ] as const;
  for (const [field, value, limit] of checks) {
    const problem = misfit(value, limit);
    if (problem !== undefined) return { field, problem };
  }
  return undefined;
}

/**
 * What the app is told of a failed delivery: the sink's own error when it carries a `BEACON_*` code (httpSink's,
 * which names the collector's URL and status), else a `BEACON_SINK_FAILED` naming the sink and how it failed.
 */
function deliveryError(label: string, failure: Failure): KeyflipError {
  if (failure.how !== 'timeout' && isBeaconError(failure.reason)) return failure.reason;
  if (failure.how === 'timeout') {
    return new BeaconDeliveryError(
      'BEACON_SINK_FAILED',
      `usage beacon: ${label}: a send did not settle within ${SEND_TIMEOUT_MS} ms; reports to this sink are not ` +
        'delivered',
      { sink: label },
    );
  }
  // The sink's own error is attached as the cause, not quoted: the beacon handed it fingerprints only.
  return new BeaconDeliveryError(
    'BEACON_SINK_FAILED',
    `usage beacon: ${label}: its send ${failure.how} ${kindOf(failure.reason)}; reports to this sink are not ` +
      'delivered',
    { sink: label, cause: failure.reason },
  );
}

function isBeaconError(reason: unknown): reason is KeyflipError {
  return isKeyflipError(reason) && reason.code.startsWith('BEACON_') && reason.code !== 'BEACON_SECRET_OMITTED';
}

/** A sink's rejection for a report it dropped unsent (`BeaconDeliveryError.outcome === 'dropped'`). */
function isDrop(reason: unknown): boolean {
  return isBeaconError(reason) && (reason as { outcome?: unknown }).outcome === 'dropped';
}

/** `an Error`, `a TypeError`, `a string`: what was thrown, never its message. */
function kindOf(reason: unknown): string {
  const kind = reason instanceof Error ? reason.constructor.name || 'Error' : typeof reason;
  return `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind}`;
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
