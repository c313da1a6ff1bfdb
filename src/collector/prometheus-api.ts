/**
 * The little of Prometheus's HTTP API that `prometheusUsageSource` uses: instant queries (`/api/v1/query`), range
 * queries (`/api/v1/query_range`), and the server's retention (`/api/v1/status/runtimeinfo`, Prometheus only).
 * Every failure of a query is a {@link UsageSourceError} whose message names the URL, the HTTP status,
 * Prometheus's own error and the query.
 */
import { isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { UsageSourceError } from './usage-source-error.js';

/** Where and how to ask (see `PrometheusUsageSourceOptions`). */
export interface PrometheusApiOptions {
  url: string;
  fetch: typeof fetch;
  timeoutMs: number;
  headers?: Readonly<Record<string, string>> | undefined;
}

/** One series of an instant vector: its labels and `[time in s, value]`. */
export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** One series of a range vector or a range query: its labels and `[time in s, value]` pairs. */
export interface MatrixSeries {
  metric: Record<string, string>;
  values: [number, string][];
}

/** A Prometheus-compatible HTTP API. Times are ms since the epoch. */
export interface PrometheusApi {
  /** The base URL for messages, without credentials. */
  readonly display: string;
  /** An instant query whose answer must be a vector. */
  vector(promql: string, time: number): Promise<VectorSample[]>;
  /** An instant query whose answer must be a matrix (a range-vector selector: raw samples). */
  matrix(promql: string, time: number): Promise<MatrixSeries[]>;
  /** A range query from `start` to `end` at `stepMs`. */
  range(promql: string, start: number, end: number, stepMs: number): Promise<MatrixSeries[]>;
  /**
   * How long the server keeps samples, ms, from `/api/v1/status/runtimeinfo` (`storageRetention`); undefined when
   * it does not say (not Prometheus, a size-only retention, an error: nothing is thrown).
   */
  retentionMs(): Promise<number | undefined>;
}

/** Creates the client. Throws a `ConfigurationError` for a URL that is not http(s). */
export function prometheusApi(options: PrometheusApiOptions): PrometheusApi {
  const { base, display, auth } = parseBaseUrl(options.url);
  const { fetch: fetchImpl, timeoutMs } = options;
  const headers: Record<string, string> = {
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
    ...(auth ? { authorization: auth } : {}),
    ...options.headers,
  };

  async function post(
    path: string,
    params: Record<string, string>,
  ): Promise<{ resultType: string; result: unknown[] }> {
    const promql = params.query ?? '';
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(new URL(path, base), {
        method: 'POST',
        headers,
        body: new URLSearchParams(params),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      const timedOut = cause instanceof Error && (cause.name === 'TimeoutError' || cause.name === 'AbortError');
      throw new UsageSourceError(
        'UNREACHABLE',
        timedOut
          ? `Prometheus at ${display} did not answer within ${timeoutMs} ms`
          : `Prometheus at ${display} is unreachable: ${describe(cause)}`,
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const answer = isRecord(parsed) ? parsed : undefined;
    if (!response.ok || answer?.status !== 'success') {
      const reason =
        answer && typeof answer.error === 'string'
          ? `${typeof answer.errorType === 'string' ? `${answer.errorType}: ` : ''}${answer.error}`
          : answer
            ? 'status is not "success"'
            : `not a Prometheus API answer: ${JSON.stringify(text.slice(0, 120))}`;
      const code =
        response.status === 401 || response.status === 403
          ? 'UNAUTHORIZED'
          : response.ok
            ? 'BAD_RESPONSE'
            : 'HTTP_STATUS';
      throw new UsageSourceError(
        code,
        `Prometheus at ${display} answered HTTP ${response.status} to ${promql}: ${reason}`,
        response.status,
      );
    }
    const data = answer.data;
    if (!isRecord(data) || typeof data.resultType !== 'string' || !Array.isArray(data.result)) {
      throw new UsageSourceError(
        'BAD_RESPONSE',
        `Prometheus at ${display} answered without data.resultType/data.result to ${promql}`,
      );
    }
    return { resultType: data.resultType, result: data.result };
  }

  const seconds = (ms: number): string => (ms / 1000).toFixed(3);

  async function series(path: string, params: Record<string, string>): Promise<MatrixSeries[]> {
    const { resultType, result } = await post(path, params);
    if (resultType !== 'matrix') throw unexpected(display, params.query ?? '', 'matrix', resultType);
    return result.filter((r): r is MatrixSeries => isRecord(r) && isRecord(r.metric) && Array.isArray(r.values));
  }

  return {
    display,
    async vector(promql, time) {
      const { resultType, result } = await post('api/v1/query', { query: promql, time: seconds(time) });
      if (resultType !== 'vector') throw unexpected(display, promql, 'vector', resultType);
      return result.filter(
        (r): r is VectorSample => isRecord(r) && isRecord(r.metric) && Array.isArray(r.value) && r.value.length === 2,
      );
    },
    matrix(promql, time) {
      return series('api/v1/query', { query: promql, time: seconds(time) });
    },
    range(promql, start, end, stepMs) {
      return series('api/v1/query_range', {
        query: promql,
        start: seconds(start),
        end: seconds(end),
        step: seconds(stepMs),
      });
    },
    async retentionMs() {
      try {
        const response = await fetchImpl(new URL('api/v1/status/runtimeinfo', base), {
          headers: { accept: 'application/json', ...(auth ? { authorization: auth } : {}), ...options.headers },
          signal: AbortSignal.timeout(timeoutMs),
        });
        const answer: unknown = response.ok ? await response.json() : undefined;
        const retention = isRecord(answer) && isRecord(answer.data) ? answer.data.storageRetention : undefined;
        return typeof retention === 'string' ? retentionOf(retention) : undefined;
      } catch {
        return undefined;
      }
    },
  };
}

/** Prometheus's duration units (`model.Duration`), ms. */
const PROM_UNITS: Readonly<Record<string, number>> = {
  y: 365 * 86_400_000,
  w: 7 * 86_400_000,
  d: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
};

/**
 * The time part of a `storageRetention` (`15d`, `1h30m`, `15d or 10GiB`), ms; undefined for a size-only one
 * (`10GiB`) or anything else.
 */
export function retentionOf(text: string): number | undefined {
  for (const part of text.split(/\s+or\s+/)) {
    if (!/^(?:\d+(?:ms|[ywdhms]))+$/.test(part.trim())) continue;
    let ms = 0;
    for (const [, amount, unit] of part.trim().matchAll(/(\d+)(ms|[ywdhms])/g))
      ms += Number(amount) * (PROM_UNITS[unit ?? ''] ?? Number.NaN);
    if (Number.isFinite(ms) && ms > 0) return ms;
  }
  return undefined;
}

/** A PromQL double-quoted string literal (Go escapes), safe for any label value. */
export function promString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || (code >= 0xd800 && code <= 0xdfff))
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

function parseBaseUrl(url: string): { base: URL; display: string; auth: string | undefined } {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new ConfigurationError(`prometheusUsageSource: url must be an http(s) URL, not ${JSON.stringify(url)}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new ConfigurationError(`prometheusUsageSource: url must be an http(s) URL, not ${JSON.stringify(url)}`);
  }
  // fetch refuses URLs with credentials: they become a basic Authorization header.
  const credentials = `${decodeURIComponent(base.username)}:${decodeURIComponent(base.password)}`;
  const auth = base.username || base.password ? `Basic ${Buffer.from(credentials).toString('base64')}` : undefined;
  base.username = '';
  base.password = '';
  base.search = '';
  base.hash = '';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const display = base.href.replace(/\/$/, '');
  return { base, display, auth };
}

function unexpected(display: string, promql: string, want: string, got: string): UsageSourceError {
  return new UsageSourceError(
    'BAD_RESPONSE',
    `Prometheus at ${display} answered a ${got}, not a ${want}, to ${promql}`,
  );
}

function describe(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const inner = (cause as { cause?: unknown }).cause;
  const code = isRecord(inner) && typeof inner.code === 'string' ? inner.code : undefined;
  const innerMessage = inner instanceof Error ? inner.message : undefined;
  return [cause.message, code && !innerMessage?.includes(code) ? code : undefined, innerMessage]
    .filter(Boolean)
    .join(': ');
}
