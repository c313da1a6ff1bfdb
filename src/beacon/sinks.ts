/**
 * Beacon sinks: where the reports of `createResolver({ beacon })` go. `logSink` prints one JSON line per
 * report; `httpSink` posts them to a collector (`keyflip collector`, `startCollectorServer`).
 */
import { describeValue, isRecord, positiveMs, wholeNumber } from '../check.js';
import { jitterFactor } from '../clock.js';
import { ConfigurationError } from '../errors.js';
import { type BeaconDeliveryCode, BeaconDeliveryError } from './errors.js';
import { CONTROL_CHARACTER } from './fields.js';
import type { BeaconReport, BeaconSink } from './types.js';

// ---- logSink -------------------------------------------------------------------------------------------

/** Options of {@link logSink}. */
export interface LogSinkOptions {
  /**
   * Receives one JSON text per report, without a trailing newline (`logger.info`, a file stream, …).
   * @default writes the text and a newline to `process.stdout`
   */
  write?: ((line: string) => void) | undefined;
}

/**
 * A sink that writes each report as one line of JSON: to stdout by default, so a log pipeline (Cloud
 * Logging, Loki, CloudWatch) carries the beacons without a collector. A report holds fingerprints, never
 * values. A `write` that throws is counted by the beacon (`resolver.beaconStats().failed`), never rethrown.
 *
 * @example createResolver({ sources, beacon: usageBeacon({ service: 'checkout-api', sink: logSink() }) })
 */
export function logSink(options: LogSinkOptions = {}): BeaconSink {
  if (!isRecord(options)) throw new ConfigurationError('logSink(options): options must be an object');
  const write = options.write ?? ((line: string) => void process.stdout.write(`${line}\n`));
  if (typeof write !== 'function') throw new ConfigurationError('logSink: `write` must be a function (line) => void');
  return {
    name: 'logSink',
    send(report: BeaconReport): void {
      write(JSON.stringify(report));
    },
  };
}

// ---- httpSink ------------------------------------------------------------------------------------------

/** Options of {@link httpSink}. */
export interface HttpSinkOptions {
  /**
   * The collector's base URL, the same one `keyflip verify --collector` takes (`http://127.0.0.1:7391`);
   * reports are posted to `{url}/v1/beacons`.
   */
  url: string;
  /** Sent as `Authorization: Bearer <token>` (the collector's `KEYFLIP_COLLECTOR_TOKEN`). @default none */
  token?: string | undefined;
  /**
   * The budget of one request, in milliseconds; a request that outlives it is aborted and retried.
   * @default 5_000
   */
  timeoutMs?: number | undefined;
  /**
   * How many reports wait at most while the collector is slow or down; beyond it the oldest is dropped.
   * @default 100
   */
  maxQueue?: number | undefined;
  /**
   * The number of attempts per report, the first included: network errors, timeouts, 408, 429 and 5xx are retried.
   * @default 4
   */
  maxAttempts?: number | undefined;
  /**
   * The wait before the first retry, in milliseconds; it doubles per retry (±20 % jitter), up to 30 s.
   * @default 500
   */
  backoffMs?: number | undefined;
  /**
   * How long `close()` keeps delivering what is queued, in milliseconds; what is left is dropped.
   * @default 3_000
   */
  closeTimeoutMs?: number | undefined;
  /** The `fetch` to use. @default the global `fetch` */
  fetch?: typeof fetch | undefined;
}

/** What an {@link httpSink} has done so far. */
export interface HttpSinkStats {
  /** Reports the collector accepted (2xx). */
  readonly sent: number;
  /** Reports given up on: a 4xx other than 408/429 (bad token, schema), or every attempt failed. */
  readonly failed: number;
  /**
   * Reports dropped unsent: the oldest when the queue was full, what was left when `close()` ran out of time,
   * and any sent after `close()`.
   */
  readonly dropped: number;
  /** Retries made (attempts after the first). */
  readonly retries: number;
  /** Reports waiting now (the one in flight not included). */
  readonly queued: number;
}

/** A {@link BeaconSink} that posts to a collector, with its own delivery statistics. */
export interface HttpSink extends BeaconSink {
  /**
   * Queues the report (the app never waits on the network) and returns its delivery: resolves when the collector
   * accepted it (2xx), rejects with a {@link BeaconDeliveryError} when it was given up on (`outcome: 'failed'`,
   * the code says why) or dropped unsent (`outcome: 'dropped'`). The promise is already handled: ignoring it
   * never makes an unhandled rejection.
   */
  send(report: BeaconReport): Promise<void>;
  /** Delivers what is queued, within `closeTimeoutMs`; then drops the rest. Never rejects. */
  close(): Promise<void>;
  /** What it has done so far: reports sent, failed, dropped, retried, queued. */
  stats(): HttpSinkStats;
  /** `httpSink`. */
  readonly name: string;
  /** True: every `send` settles by itself (see {@link BeaconSink.settlesItself}). */
  readonly settlesItself: true;
}

const MAX_BACKOFF_MS = 30_000;
/** The longest part of a collector's error answer quoted in a {@link BeaconDeliveryError} message. */
const MAX_QUOTED = 200;

/** The end of one attempt. */
type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'fatal'; readonly status: number; readonly detail: string | undefined }
  | { readonly kind: 'retry'; readonly status?: number | undefined; readonly afterMs?: number | undefined }
  | { readonly kind: 'retry'; readonly network: string };

interface Queued {
  readonly report: BeaconReport;
  resolve(): void;
  reject(error: BeaconDeliveryError): void;
}

/**
 * A sink that POSTs each report as JSON to `{url}/v1/beacons`, with `Authorization: Bearer <token>` when a
 * token is given. `send` only queues (the app never waits on the network) and returns the report's delivery;
 * one request at a time drains the queue, each within `timeoutMs`, retried on network errors, timeouts, 408, 429
 * (honouring `Retry-After`) and 5xx with jittered exponential backoff up to `maxAttempts`. The queue holds at most
 * `maxQueue` reports: when full, the oldest is dropped and counted. Nothing it does throws into the app, and it
 * prints nothing (neither the token nor a report); `stats()` says what happened.
 *
 * A report given up on rejects its `send` promise with a {@link BeaconDeliveryError}: `BEACON_UNAUTHORIZED`
 * (401, 403: the token), `BEACON_REJECTED` (another 4xx: the report or the URL), `BEACON_REFUSED` (429 after every
 * attempt: the collector's instance cap or memory budget), `BEACON_UNREACHABLE` (network errors, timeouts, 408 or
 * 5xx after every attempt). Its message names the URL (without credentials or query) and the status, and quotes
 * the collector's `error` (at most 200 characters, the token masked); never the token, never a report.
 * Through `usageBeacon`, the resolver emits it as an `error` event once per change of state, and
 * `resolver.beaconStats()` counts exactly what `stats()` counts.
 *
 * @example
 * const sink = httpSink({ url: 'http://collector:7391', token: process.env.KEYFLIP_COLLECTOR_TOKEN });
 * createResolver({ sources, beacon: usageBeacon({ service: 'checkout-api', sink }) });
 */
export function httpSink(options: HttpSinkOptions): HttpSink {
  if (!isRecord(options)) throw new ConfigurationError('httpSink(options) needs an options object with `url`');
  const endpoint = beaconsUrl(options.url);
  const shownUrl = withoutQuery(endpoint);
  const token = options.token;
  if (token !== undefined && (typeof token !== 'string' || token === '' || CONTROL_CHARACTER.test(token))) {
    // The token is not quoted: it is a credential.
    throw new ConfigurationError(
      'httpSink: `token` must be a non-empty string without control characters (newlines included)',
    );
  }
  const timeoutMs = positiveMs('httpSink: timeoutMs', options.timeoutMs, 5_000);
  const maxQueue = wholeNumber('httpSink: maxQueue', options.maxQueue, 100);
  const maxAttempts = wholeNumber('httpSink: maxAttempts', options.maxAttempts, 4);
  const backoffMs = positiveMs('httpSink: backoffMs', options.backoffMs, 500);
  const closeTimeoutMs = positiveMs('httpSink: closeTimeoutMs', options.closeTimeoutMs, 3_000);
  if (options.fetch !== undefined && typeof options.fetch !== 'function')
    throw new ConfigurationError('httpSink: `fetch` must be a function');
  const doFetch: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  /** Text from the collector, made safe to quote: no control characters, the token masked, short. */
  const quoted = (text: string): string => {
    const masked = token === undefined ? text : text.split(token).join('[token]');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: replacing control characters is what this is for
    const clean = masked.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
    return clean.length > MAX_QUOTED ? `${clean.slice(0, MAX_QUOTED)}…` : clean;
  };

  const queue: Queued[] = [];
  let draining: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  /** close() ran out of time: abort the request in flight, stop waiting, drop the rest. */
  let expired = false;
  let inFlight: AbortController | undefined;
  let wake: (() => void) | undefined;
  let sent = 0;
  let failed = 0;
  let dropped = 0;
  let retries = 0;

  const error = (code: BeaconDeliveryCode, message: string, status?: number, outcome?: 'dropped') =>
    new BeaconDeliveryError(code, `httpSink: ${message}`, { sink: 'httpSink', url: shownUrl, status, outcome });

  function drop(item: Queued, reason: string): void {
    dropped++;
    item.reject(
      error('BEACON_UNREACHABLE', `a report to ${shownUrl} was dropped unsent: ${reason}`, undefined, 'dropped'),
    );
  }

  async function post(body: string): Promise<Outcome> {
    const controller = new AbortController();
    inFlight = controller;
    // A fetch that ignores its signal still ends the attempt: the abort rejects this race.
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener('abort', () => reject(new Error('timeout')), { once: true });
    });
    aborted.catch(() => undefined);
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    timer.unref();
    try {
      const response = await Promise.race([
        doFetch(endpoint, { method: 'POST', headers, body, signal: controller.signal, redirect: 'error' }),
        aborted,
      ]);
      let text = '';
      try {
        text = await Promise.race([response.text(), aborted]); // read the (small) answer: the connection is reused
      } catch {
        // an answer cut short still has its status
      }
      if (response.ok) return { kind: 'ok' };
      if (response.status === 408 || response.status === 429 || response.status >= 500) {
        return { kind: 'retry', status: response.status, afterMs: retryAfterMs(response.headers.get('retry-after')) };
      }
      return { kind: 'fatal', status: response.status, detail: collectorError(text) };
    } catch (cause) {
      // network error, timeout, or abort: say which without quoting anything
      const network = expired
        ? 'cut short by close()'
        : controller.signal.aborted
          ? `no answer within ${timeoutMs} ms`
          : why(cause);
      return { kind: 'retry', network };
    } finally {
      clearTimeout(timer);
      inFlight = undefined;
    }
  }

  /** The BeaconDeliveryError for a report given up on after `attempts` attempts ending with `last`. */
  function givenUp(last: Exclude<Outcome, { kind: 'ok' }>, attempts: number): BeaconDeliveryError {
    const tries = `after ${attempts} attempt${attempts === 1 ? '' : 's'}`;
    if (last.kind === 'fatal') {
      const said = last.detail === undefined ? '' : `: ${quoted(last.detail)}`;
      if (last.status === 401 || last.status === 403) {
        return error(
          'BEACON_UNAUTHORIZED',
          `the collector at ${shownUrl} answered ${last.status}${said}: the token is wrong or missing ` +
            "(httpSink `token`, the collector's KEYFLIP_COLLECTOR_TOKEN); no report is delivered",
          last.status,
        );
      }
      return error(
        'BEACON_REJECTED',
        `the collector at ${shownUrl} refused a report with ${last.status}${said}; check the collector URL and ` +
          'that both ends run compatible keyflip versions',
        last.status,
      );
    }
    if ('network' in last) {
      return error('BEACON_UNREACHABLE', `the collector at ${shownUrl} could not be reached ${tries}: ${last.network}`);
    }
    if (last.status === 429) {
      return error(
        'BEACON_REFUSED',
        `the collector at ${shownUrl} answered 429 ${tries}: it refuses new instances for now (its instance cap or ` +
          'memory budget); this process is not recorded',
        429,
      );
    }
    return error('BEACON_UNREACHABLE', `the collector at ${shownUrl} answered ${last.status} ${tries}`, last.status);
  }

  function pause(ms: number): Promise<void> {
    if (expired) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  async function deliver(item: Queued): Promise<void> {
    const body = JSON.stringify(item.report);
    for (let attempt = 1; ; attempt++) {
      const outcome = await post(body);
      if (outcome.kind === 'ok') {
        sent++;
        item.resolve();
        return;
      }
      if (outcome.kind === 'fatal' || attempt >= maxAttempts || expired) {
        failed++;
        item.reject(givenUp(outcome, attempt));
        return;
      }
      retries++;
      const backoff = Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (attempt - 1)) * jitterFactor(0.2);
      const afterMs = 'afterMs' in outcome ? outcome.afterMs : undefined;
      await pause(Math.min(MAX_BACKOFF_MS, Math.max(backoff, afterMs ?? 0)));
      if (expired) {
        failed++;
        item.reject(givenUp(outcome, attempt));
        return;
      }
    }
  }

  async function drain(): Promise<void> {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      if (expired) {
        drop(item, 'close() ran out of time');
        for (const rest of queue.splice(0)) drop(rest, 'close() ran out of time');
        return;
      }
      try {
        await deliver(item);
      } catch {
        failed++; // only a bug gets here; the queue goes on
        item.reject(error('BEACON_SINK_FAILED', `a report to ${shownUrl} could not be posted`));
      }
    }
  }

  return {
    name: 'httpSink',
    settlesItself: true,
    send(report: BeaconReport): Promise<void> {
      let item: Queued | undefined;
      const delivery = new Promise<void>((resolve, reject) => {
        item = { report, resolve, reject };
      });
      delivery.catch(() => undefined); // handled: a caller that ignores it never sees an unhandled rejection
      const queued = item as Queued;
      if (closing !== undefined && expired) {
        drop(queued, 'the sink is closed');
        return delivery;
      }
      if (queue.length >= maxQueue) {
        const oldest = queue.shift();
        if (oldest !== undefined)
          drop(oldest, `the queue was full (maxQueue ${maxQueue}) while the collector was slow`);
      }
      queue.push(queued);
      draining ??= drain()
        .catch(() => undefined)
        .finally(() => {
          draining = undefined;
        });
      return delivery;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const timer = setTimeout(() => {
          expired = true;
          inFlight?.abort();
          wake?.();
        }, closeTimeoutMs);
        timer.unref();
        // A report queued while the last drain was finishing starts a new one: wait until none is left.
        while (draining !== undefined) await draining;
        for (const rest of queue.splice(0)) drop(rest, 'close() ran out of time');
        expired = true; // later sends are dropped
        clearTimeout(timer);
      })();
      return closing;
    },
    stats(): HttpSinkStats {
      return { sent, failed, dropped, retries, queued: queue.length };
    },
  };
}

/** `{url}/v1/beacons`, from the collector's base URL. */
function beaconsUrl(url: unknown): string {
  if (typeof url !== 'string' || url === '') {
    throw new ConfigurationError(
      `httpSink: \`url\` is required: the collector's base URL (http://host:port), not ${describeValue(url)}`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigurationError(`httpSink: \`url\` is not a URL: ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigurationError(`httpSink: \`url\` must be http: or https:, not ${parsed.protocol}`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigurationError('httpSink: `url` must not hold credentials; pass the collector token as `token`');
  }
  parsed.pathname = `${parsed.pathname.replace(/\/+$/, '')}/v1/beacons`;
  parsed.hash = '';
  return parsed.href;
}

/** The URL as events show it: without query or fragment (a query may carry a credential). */
function withoutQuery(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** The collector's `{ "error": "…" }` answer, when it gave one (it says which field is wrong, never a value). */
function collectorError(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return isRecord(body) && typeof body.error === 'string' && body.error !== '' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** Why a fetch failed, as a system error code (`ECONNREFUSED`), never a message that could quote a URL. */
function why(cause: unknown): string {
  for (let c: unknown = cause, depth = 0; isRecordLike(c) && depth < 4; c = c.cause, depth++) {
    if (typeof c.code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(c.code)) return c.code;
  }
  return 'network error';
}

function isRecordLike(value: unknown): value is { code?: unknown; cause?: unknown } {
  return typeof value === 'object' && value !== null;
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
