/**
 * A usage source that asks a collector over HTTP: `GET {url}/v1/usage?secret=NAME&window=Nms`, with the
 * token as a Bearer header, checking that the answer is a usage report before anyone relies on it.
 */
import { isRecord, positiveMs } from '../check.js';
import { ConfigurationError } from '../errors.js';
import type { SecretUsage, UsageSource } from './types.js';
import { UsageSourceError } from './usage-source-error.js';

export interface CollectorUsageSourceOptions {
  /** The collector's base URL (`http://127.0.0.1:4318`, or with a path prefix behind a proxy). */
  url: string;
  /** Sent as `Authorization: Bearer <token>`. The CLI reads it from KEYFLIP_COLLECTOR_TOKEN. */
  token?: string | undefined;
  /** @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** @default 10_000 */
  timeoutMs?: number | undefined;
}

/** The base URL for messages (without a query). */
function shown(url: URL): string {
  return `${url.origin}${url.pathname.replace(/\/$/, '')}`;
}

function short(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks the shape of a `GET /v1/usage` answer; returns what is wrong, or undefined. */
export function secretUsageProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not a JSON object';
  if (typeof value.secret !== 'string') return 'secret is not a string';
  if (!isNum(value.windowMs) || !isNum(value.at) || !isNum(value.instancesSeen))
    return 'windowMs, at or instancesSeen is not a number';
  if (!Array.isArray(value.fingerprints)) return 'fingerprints is not an array';
  for (const [i, f] of value.fingerprints.entries()) {
    if (
      !isRecord(f) ||
      typeof f.fingerprint !== 'string' ||
      !isNum(f.uses) ||
      !isNum(f.lastSeen) ||
      !Array.isArray(f.instances)
    ) {
      return `fingerprints[${i}] is not a fingerprint's usage`;
    }
    if (f.version !== undefined && typeof f.version !== 'string') return `fingerprints[${i}].version is not a string`;
    for (const [j, inst] of f.instances.entries()) {
      if (
        !isRecord(inst) ||
        typeof inst.id !== 'string' ||
        typeof inst.service !== 'string' ||
        typeof inst.host !== 'string' ||
        !isNum(inst.pid) ||
        !isNum(inst.lastSeen) ||
        !isNum(inst.uses)
      ) {
        return `fingerprints[${i}].instances[${j}] is not an instance`;
      }
    }
  }
  return undefined;
}

/**
 * A {@link UsageSource} that asks a collector over HTTP (`GET {url}/v1/usage`). Its `usage` rejects with a
 * {@link UsageSourceError}: `UNREACHABLE` (network, timeout), `UNAUTHORIZED` (401), `HTTP_STATUS` (any
 * other non-2xx, with the collector's `error`), `BAD_RESPONSE` (not a SecretUsage). Throws a
 * `ConfigurationError` for a URL it cannot use (not http(s), with credentials) or a bad `timeoutMs`.
 */
export function collectorUsageSource(options: CollectorUsageSourceOptions): UsageSource {
  let base: URL;
  try {
    base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  } catch {
    throw new ConfigurationError('collectorUsageSource: url is not a valid URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new ConfigurationError('collectorUsageSource: url must be http: or https:');
  if (base.username !== '' || base.password !== '')
    throw new ConfigurationError('collectorUsageSource: url must not hold credentials; pass token');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = positiveMs('collectorUsageSource: timeoutMs', options.timeoutMs, 10_000);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token !== undefined && options.token !== '') headers.authorization = `Bearer ${options.token}`;
  return {
    async usage(secret: string, { windowMs }: { windowMs: number }): Promise<SecretUsage> {
      const url = new URL('v1/usage', base);
      url.searchParams.set('secret', secret);
      url.searchParams.set('window', `${Math.round(windowMs)}ms`);
      let response: Response;
      try {
        response = await doFetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
        const why =
          (error as Error).name === 'TimeoutError'
            ? `no answer within ${timeoutMs} ms`
            : typeof cause?.code === 'string'
              ? cause.code
              : typeof cause?.message === 'string'
                ? cause.message
                : (error as Error).message;
        throw new UsageSourceError(
          'UNREACHABLE',
          `the collector at ${shown(base)} is unreachable (${short(String(why), 120)})`,
        );
      }
      if (response.status === 401) {
        await response.body?.cancel().catch(() => undefined);
        throw new UsageSourceError(
          'UNAUTHORIZED',
          `the collector at ${shown(base)} refused the request (401): set KEYFLIP_COLLECTOR_TOKEN to its token`,
          401,
        );
      }
      let text: string;
      try {
        text = await response.text();
      } catch {
        throw new UsageSourceError('UNREACHABLE', `the collector at ${shown(base)} closed the connection mid-answer`);
      }
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      if (!response.ok) {
        const error = isRecord(body) && typeof body.error === 'string' ? `: ${short(body.error)}` : '';
        throw new UsageSourceError(
          'HTTP_STATUS',
          `the collector at ${shown(base)} answered ${response.status}${error}`,
          response.status,
        );
      }
      const problem = body === undefined ? 'not JSON' : secretUsageProblem(body);
      if (problem !== undefined)
        throw new UsageSourceError(
          'BAD_RESPONSE',
          `the collector at ${shown(base)} gave an answer that is not a usage report (${problem})`,
        );
      return body as SecretUsage;
    },
  };
}
