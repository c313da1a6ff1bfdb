/**
 * Beacon sinks: where the reports of `createResolver({ beacon })` go. `logSink` prints one JSON line per
 * report; `httpSink` posts them to a collector (`keyflip collector`, `startCollectorServer`).
 */
import { jitterFactor } from '../clock.js';
import { describeValue, isRecord, positiveMs, wholeNumber } from '../check.js';
import { ConfigurationError } from '../errors.js';
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
    send(report: BeaconReport): void {
      write(JSON.stringify(report));
    },
  };
}

// ---- httpSink ------------------------------------------------------------------------------------------

/** Options of {@link httpSink}. */
export interface HttpSinkOptions {
  /**
   * The collector's base URL, the same one `keyflip verify --collector` takes (`http://127.0.0.1:4318`);
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
   * Attempts per report, the first included: network errors, timeouts, 408, 429 and 5xx are retried.
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
  send(report: BeaconReport): void;
  /** Delivers what is queued, within `closeTimeoutMs`; then drops the rest. Never rejects. */
  close(): Promise<void>;
  stats(): HttpSinkStats;
}

const MAX_BACKOFF_MS = 30_000;

type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'fatal' }
  | { readonly kind: 'retry'; readonly afterMs?: number | undefined };

/**
 * A sink that POSTs each report as JSON to `{url}/v1/beacons`, with `Authorization: Bearer <token>` when a
 * token is given. `send` only queues (the app never waits on the network); one request at a time drains the
 * queue, each within `timeoutMs`, retried on network errors, timeouts, 408, 429 (honouring `Retry-After`)
 * and 5xx with jittered exponential backoff up to `maxAttempts`. The queue holds at most `maxQueue` reports:
 * when full, the oldest is dropped and counted. Nothing it does rejects or throws into the app, and it
 * prints nothing (neither the token nor a report); `stats()` says what happened.
 *
 * @example
 * const sink = httpSink({ url: 'http://collector:4318', token: process.env.KEYFLIP_COLLECTOR_TOKEN });
 * createResolver({ sources, beacon: usageBeacon({ service: 'checkout-api', sink }) });
 */
export function httpSink(options: HttpSinkOptions): HttpSink {
  if (!isRecord(options)) throw new ConfigurationError('httpSink(options) needs an options object with `url`');
  const endpoint = beaconsUrl(options.url);
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

  const queue: BeaconReport[] = [];
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

  async function post(body: string): Promise<Outcome> {
    const controller = new AbortController();
    inFlight = controller;
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    timer.unref();
    try {
      const response = await doFetch(endpoint, {
        method: 'POST',
        headers,
        body,
        signal: controller.signal,
        redirect: 'error',
      });
      try {
        await response.arrayBuffer(); // read the (small) answer so the connection can be reused
      } catch {
        // an answer cut short still has its status
      }
      if (response.ok) return { kind: 'ok' };
      if (response.status === 408 || response.status === 429 || response.status >= 500) {
        return { kind: 'retry', afterMs: retryAfterMs(response.headers.get('retry-after')) };
      }
      return { kind: 'fatal' };
    } catch {
      return { kind: 'retry' }; // network error, timeout, or abort
    } finally {
      clearTimeout(timer);
      inFlight = undefined;
    }
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

  async function deliver(report: BeaconReport): Promise<void> {
    const body = JSON.stringify(report);
    for (let attempt = 1; ; attempt++) {
      const outcome = await post(body);
      if (outcome.kind === 'ok') {
        sent++;
        return;
      }
      if (outcome.kind === 'fatal' || attempt >= maxAttempts || expired) {
        failed++;
        return;
      }
      retries++;
      const backoff = Math.min(MAX_BACKOFF_MS, backoffMs * 2 ** (attempt - 1)) * jitterFactor(0.2);
      await pause(Math.min(MAX_BACKOFF_MS, Math.max(backoff, outcome.afterMs ?? 0)));
      if (expired) {
        failed++;
        return;
      }
    }
  }

  async function drain(): Promise<void> {
    for (let report = queue.shift(); report !== undefined; report = queue.shift()) {
      if (expired) {
        dropped += 1 + queue.length;
        queue.length = 0;
        return;
      }
      try {
        await deliver(report);
      } catch {
        failed++; // only a bug gets here; the queue goes on
      }
    }
  }

  return {
    send(report: BeaconReport): void {
      if (closing !== undefined && expired) {
        dropped++;
        return;
      }
      if (queue.length >= maxQueue) {
        queue.shift();
        dropped++;
      }
      queue.push(report);
      draining ??= drain()
        .catch(() => undefined)
        .finally(() => {
          draining = undefined;
        });
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
        if (queue.length > 0) {
          dropped += queue.length;
          queue.length = 0;
        }
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

// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this pattern is for
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

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

/** `Retry-After` in seconds or as an HTTP date, in milliseconds; undefined when absent or unreadable. */
function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
