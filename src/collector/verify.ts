/**
 * Step 4 of the rotation playbook: "verify zero traffic on the old key". Asks a {@link UsageSource}
 * (the collector in process or over HTTP, or Prometheus) which instances reported the retired
 * fingerprint (or version) of a secret within a window.
 */
import { isFingerprint } from '../fingerprint.js';
import type { FingerprintUsage, SecretUsage, UsageInstance, UsageSource } from './types.js';

/** Anything that answers the usage question, synchronously (a `Collector`) or not (a `UsageSource`). */
export interface UsageAnswerer {
  usage(secret: string, options: { windowMs: number }): SecretUsage | Promise<SecretUsage>;
}

export interface VerifyOptions {
  source: UsageSource | UsageAnswerer;
  secret: string;
  /** The retired key: its fingerprint (`kf_…`, from `keyflip fingerprint`) or its provider version (`1`). */
  retired: string;
  /** How far back to look, in ms (the playbook's default is one hour). */
  windowMs: number;
}

/** An instance that reported the retired key within the window (or, by version, a key of unknown version). */
export interface VerifyOffender extends UsageInstance {
  readonly fingerprint: string;
  readonly version?: string | undefined;
}

/**
 * - `clear`: instances reported the secret within the window, none of them the retired key. The only `ok`.
 * - `in-use`: at least one instance reported the retired key within the window.
 * - `no-beacons`: no instance reported the secret at all within the window. Not a proof of zero traffic:
 *   the processes may run without a beacon, or their reports may not reach the collector.
 * - `version-unknown`: `retired` is a version, and some instances reported a fingerprint without a version
 *   (an `env:` or `file:` candidate): they may hold that version. Verify by fingerprint instead.
 */
export type VerifyReason = 'clear' | 'in-use' | 'no-beacons' | 'version-unknown';

export interface VerifyResult {
  readonly ok: boolean;
  readonly reason: VerifyReason;
  /** One sentence saying why, for people. */
  readonly message: string;
  readonly secret: string;
  readonly retired: string;
  readonly matchedBy: 'fingerprint' | 'version';
  readonly windowMs: number;
  /** When the source answered (ms since the epoch, its clock). */
  readonly at: number;
  /** Instances that reported the secret at all within the window. */
  readonly instancesSeen: number;
  /** Instances on the retired key (with `version-unknown`: those on a key of unknown version). */
  readonly offenders: readonly VerifyOffender[];
  /** Every fingerprint reported within the window, with how many instances held it. */
  readonly inUse: readonly { fingerprint: string; version?: string | undefined; instances: number; uses: number }[];
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/**
 * Decides whether the retired key of `secret` is out of use. `ok` only when at least one instance reported
 * the secret within the window (no beacons is not proof) and none of them reported the retired key.
 *
 * A fingerprint counts as soon as an instance lists it, even with 0 uses in the window: a process that
 * holds the old key will use it on its next request, so it is an offender until it picks up the new one.
 *
 * By version, a fingerprint reported without a version (an `env:` or `file:` source) might be that
 * version: its instances make the answer `version-unknown`, not `ok`.
 */
export async function verifyRetired(options: VerifyOptions): Promise<VerifyResult> {
  const { source, secret, retired, windowMs } = options;
  if (typeof secret !== 'string' || secret.length === 0)
    throw new RangeError('verifyRetired: secret must be a non-empty name');
  if (typeof retired !== 'string' || retired.length === 0)
    throw new RangeError('verifyRetired: retired must be a fingerprint (kf_…) or a version');
  if (retired.startsWith('kf_') && !isFingerprint(retired)) {
    throw new RangeError(
      'verifyRetired: retired starts with kf_ but is not a fingerprint (kf_ + 12 lowercase hex digits)',
    );
  }
  if (typeof windowMs !== 'number' || !(windowMs > 0) || !Number.isFinite(windowMs))
    throw new RangeError('verifyRetired: windowMs must be a positive number');
  const matchedBy = isFingerprint(retired) ? 'fingerprint' : 'version';
  const usage = await source.usage(secret, { windowMs });

  const offenders: VerifyOffender[] = [];
  const unknown: VerifyOffender[] = [];
  const toOffenders = (f: FingerprintUsage, into: VerifyOffender[]): void => {
    for (const instance of f.instances)
      into.push(
        f.version === undefined
          ? { ...instance, fingerprint: f.fingerprint }
          : { ...instance, fingerprint: f.fingerprint, version: f.version },
      );
  };
  for (const f of usage.fingerprints) {
    if (matchedBy === 'fingerprint' ? f.fingerprint === retired : f.version === retired) toOffenders(f, offenders);
    else if (matchedBy === 'version' && f.version === undefined) toOffenders(f, unknown);
  }
  const byRecency = (a: VerifyOffender, b: VerifyOffender): number =>
    b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  offenders.sort(byRecency);
  unknown.sort(byRecency);

  const key = matchedBy === 'fingerprint' ? retired : `version ${retired}`;
  const span = formatWindow(windowMs);
  let reason: VerifyReason;
  let message: string;
  if (usage.instancesSeen === 0) {
    reason = 'no-beacons';
    message = `no instance reported ${secret} in the window (the last ${span}): no beacons is not proof of zero traffic`;
  } else if (offenders.length > 0) {
    reason = 'in-use';
    message = `${plural(offenders.length, 'instance')} reported ${secret} ${key} in the last ${span}`;
  } else if (unknown.length > 0) {
    reason = 'version-unknown';
    message = `${plural(unknown.length, 'instance')} reported ${secret} without a version in the last ${span}: they may hold ${key}; verify by fingerprint`;
  } else {
    reason = 'clear';
    message = `no instance reported ${secret} ${key} in the last ${span} (${plural(usage.instancesSeen, 'instance')} reported the secret)`;
  }
  return {
    ok: reason === 'clear',
    reason,
    message,
    secret,
    retired,
    matchedBy,
    windowMs,
    at: usage.at,
    instancesSeen: usage.instancesSeen,
    offenders: reason === 'version-unknown' ? unknown : offenders,
    inUse: usage.fingerprints.map((f) =>
      f.version === undefined
        ? { fingerprint: f.fingerprint, instances: f.instances.length, uses: f.uses }
        : { fingerprint: f.fingerprint, version: f.version, instances: f.instances.length, uses: f.uses },
    ),
  };
}

function formatWindow(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1_000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Why a {@link collectorUsageSource} could not answer. */
export class UsageSourceError extends Error {
  override name = 'UsageSourceError';
  constructor(
    readonly code: 'UNREACHABLE' | 'UNAUTHORIZED' | 'HTTP_STATUS' | 'BAD_RESPONSE',
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

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

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks the shape of a `GET /v1/usage` answer; returns what is wrong, or undefined. */
export function secretUsageProblem(value: unknown): string | undefined {
  if (!isObject(value)) return 'not a JSON object';
  if (typeof value.secret !== 'string') return 'secret is not a string';
  if (!isNum(value.windowMs) || !isNum(value.at) || !isNum(value.instancesSeen))
    return 'windowMs, at or instancesSeen is not a number';
  if (!Array.isArray(value.fingerprints)) return 'fingerprints is not an array';
  for (const [i, f] of value.fingerprints.entries()) {
    if (
      !isObject(f) ||
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
        !isObject(inst) ||
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
 * A {@link UsageSource} that asks a collector over HTTP (`GET {url}/v1/usage`). Throws
 * {@link UsageSourceError}: `UNREACHABLE` (network, timeout), `UNAUTHORIZED` (401), `HTTP_STATUS` (any
 * other non-2xx, with the collector's `error`), `BAD_RESPONSE` (not a SecretUsage).
 */
export function collectorUsageSource(options: CollectorUsageSourceOptions): UsageSource {
  let base: URL;
  try {
    base = new URL(options.url.endsWith('/') ? options.url : `${options.url}/`);
  } catch {
    throw new RangeError('collectorUsageSource: url is not a valid URL');
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new RangeError('collectorUsageSource: url must be http: or https:');
  if (base.username !== '' || base.password !== '')
    throw new RangeError('collectorUsageSource: url must not hold credentials; pass token');
  const doFetch = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.timeoutMs ?? 10_000;
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
        const error = isObject(body) && typeof body.error === 'string' ? `: ${short(body.error)}` : '';
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
