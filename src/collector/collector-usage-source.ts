/**
 * A usage source that asks a collector over HTTP: `GET {url}/v1/usage?secret=NAME&window=Nms`, with the
 * token as a Bearer header, checking that the answer is a usage report before anyone relies on it.
 */
import { isRecord, positiveMs } from '../check.js';
import { ConfigurationError } from '../errors.js';
import type { SecretUsage, UsageSource } from './types.js';
import { UsageSourceError } from './usage-source-error.js';

/** Options of {@link collectorUsageSource}. */
export interface CollectorUsageSourceOptions {
  /** The collector's base URL (`http://127.0.0.1:7391`, or with a path prefix behind a proxy). */
  url: string;
  /**
   * Sent as `Authorization: Bearer <token>`. The CLI reads it from KEYFLIP_COLLECTOR_TOKEN.
   * @default none (no Authorization header)
   */
  token?: string | undefined;
  /** The fetch the requests go through. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** The deadline of each request, in milliseconds. @default 10_000 */
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

/** Checks the fields an instance of a usage answer may carry; returns what is wrong, or undefined. */
function instanceProblem(inst: unknown): string | undefined {
  if (
    !isRecord(inst) ||
    typeof inst.id !== 'string' ||
    typeof inst.service !== 'string' ||
    typeof inst.host !== 'string' ||
    !isNum(inst.pid) ||
    !isNum(inst.lastSeen) ||
    !isNum(inst.uses)
  ) {
    return 'is not an instance';
  }
  if (inst.environment !== undefined && typeof inst.environment !== 'string') return '.environment is not a string';
  if (inst.current !== undefined && typeof inst.current !== 'boolean') return '.current is not a boolean';
  if (inst.firstSeen !== undefined && !isNum(inst.firstSeen)) return '.firstSeen is not a number';
  if (inst.intervalMs !== undefined && !(isNum(inst.intervalMs) && inst.intervalMs > 0))
    return '.intervalMs is not a positive number';
  if (inst.candidate !== undefined && typeof inst.candidate !== 'string') return '.candidate is not a string';
  return undefined;
}

/** Checks a `coverage` object; returns what is wrong, or undefined. */
function coverageProblem(coverage: unknown): string | undefined {
  if (!isRecord(coverage)) return 'coverage is not an object';
  if (coverage.observedSince !== undefined && !isNum(coverage.observedSince))
    return 'coverage.observedSince is not a number';
  if (coverage.maxIntervalMs !== undefined && !(isNum(coverage.maxIntervalMs) && coverage.maxIntervalMs > 0))
    return 'coverage.maxIntervalMs is not a positive number';
  if (!Array.isArray(coverage.dropped)) return 'coverage.dropped is not an array';
  for (const [i, d] of coverage.dropped.entries()) {
    if (!isRecord(d) || typeof d.reason !== 'string' || !isNum(d.from) || !isNum(d.to) || !isNum(d.count))
      return `coverage.dropped[${i}] is not dropped evidence`;
  }
  if (!Array.isArray(coverage.gaps) || !coverage.gaps.every((g) => typeof g === 'string'))
    return 'coverage.gaps is not an array of strings';
  return undefined;
}

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
      const problem = instanceProblem(inst);
      if (problem !== undefined)
        return `fingerprints[${i}].instances[${j}]${problem.startsWith('.') ? '' : ' '}${problem}`;
    }
  }
  if (value.coverage !== undefined) return coverageProblem(value.coverage);
  return undefined;
}

type Json = Record<string, unknown>;
/** `{ [name]: value }` when the value is there; `{}` when it is absent (JSON has no undefined). */
const some = <K extends string>(name: K, value: unknown): Partial<Record<K, unknown>> =>
  value === undefined ? {} : ({ [name]: value } as Record<K, unknown>);

/**
 * The usage answer rebuilt from a body {@link secretUsageProblem} accepted: the fields of {@link SecretUsage} only,
 * each optional one absent (not undefined) when the collector did not send it.
 */
function secretUsageOf(body: Json): SecretUsage {
  const fingerprints = (body.fingerprints as Json[]).map((f) => ({
    fingerprint: f.fingerprint,
    ...some('version', f.version),
    instances: (f.instances as Json[]).map((i) => ({
      id: i.id,
      service: i.service,
      ...some('environment', i.environment),
      host: i.host,
      pid: i.pid,
      lastSeen: i.lastSeen,
      uses: i.uses,
      ...some('current', i.current),
      ...some('firstSeen', i.firstSeen),
      ...some('intervalMs', i.intervalMs),
      ...some('candidate', i.candidate),
    })),
    uses: f.uses,
    lastSeen: f.lastSeen,
  }));
  const coverage = body.coverage as Json | undefined;
  return {
    secret: body.secret,
    windowMs: body.windowMs,
    at: body.at,
    instancesSeen: body.instancesSeen,
    fingerprints,
    ...(coverage === undefined
      ? {}
      : {
          coverage: {
            observedSince: coverage.observedSince,
            dropped: (coverage.dropped as Json[]).map((d) => ({
              reason: d.reason,
              from: d.from,
              to: d.to,
              count: d.count,
            })),
            maxIntervalMs: coverage.maxIntervalMs,
            gaps: [...(coverage.gaps as string[])],
          },
        }),
  } as SecretUsage;
}

/**
 * A {@link UsageSource} that asks a collector over HTTP (`GET {url}/v1/usage`). Its `usage` rejects with a
 * {@link UsageSourceError}: `UNREACHABLE` (network, timeout), `UNAUTHORIZED` (401), `HTTP_STATUS` (any
 * other non-2xx, with the collector's `error`), `BAD_RESPONSE` (not a SecretUsage: every field it reads, `coverage`
 * and the instances' `current`, `firstSeen`, `intervalMs` and `candidate` included, is checked; an absent optional
 * field stays absent, and one the collector added beyond these is not passed on). Throws a
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
    description: `the collector at ${shown(base)}`,
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
      return secretUsageOf(body as Json);
    },
  };
}
