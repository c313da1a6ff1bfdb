/**
 * The one HTTP client of the management APIs: JSON over `fetch`, a timeout per attempt, 429 (after its
 * `retry-after`) and 5xx retried with exponential backoff through an injectable sleep, and every failure mapped to a
 * {@link ProviderError} whose message holds no key and never the admin key.
 */
import { isRecord } from '../check.js';
import { ProviderError, type ProviderErrorCode } from './provider-error.js';
import { scrubSecrets } from './scrub.js';
import type { ManagedProviderId } from './types.js';

/** @internal How a management API client is set up. */
export interface HttpSettings {
  readonly provider: ManagedProviderId;
  /** `OpenAI`, `Anthropic`: how messages name the provider. */
  readonly label: string;
  readonly baseUrl: string;
  /** Headers of every request (the admin key's among them). */
  readonly headers: Readonly<Record<string, string>>;
  /** The admin key: scrubbed from anything the provider says before it reaches a message. */
  readonly adminKey: string;
  readonly fetch: typeof fetch;
  /** Retries after the first attempt. */
  readonly retries: number;
  readonly retryBaseMs: number;
  readonly timeoutMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** The clock a `retry-after` date is read against, ms since the epoch. */
  readonly now: () => number;
}

/** @internal One request. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Relative to the base URL, without its query. */
  readonly path: string;
  /** Query parameters, in order; a name may repeat (`api_key_ids=a&api_key_ids=b`). */
  readonly query?: ReadonlyArray<readonly [string, string]> | undefined;
  /** A JSON body. */
  readonly body?: unknown;
  /**
   * Whether repeating the request is harmless: a 5xx or a lost answer is then retried. A request that is not (a
   * mint) is retried only on 429, which the provider answers before doing anything.
   * @default true for GET and DELETE, false for POST
   */
  readonly idempotent?: boolean | undefined;
  /**
   * Answer `undefined` on 404 instead of throwing (the caller tells a missing key from a missing project).
   * @default false
   */
  readonly notFoundIsUndefined?: boolean | undefined;
  /** The code a 404 throws when it is not answered `undefined`. @default 'PROVIDER_BAD_RESPONSE' */
  readonly notFoundCode?: ProviderErrorCode | undefined;
}

/** The longest wait keyflip honours from a `retry-after` header, ms. */
export const MAX_RETRY_AFTER_MS = 120_000;

/** @internal A JSON client for one provider's management API. */
export interface HttpClient {
  /** The parsed JSON answer (an object), or `undefined` on 404 with `notFoundIsUndefined`. */
  request(req: HttpRequest): Promise<Record<string, unknown> | undefined>;
}

/** @internal */
export function createHttpClient(settings: HttpSettings): HttpClient {
  const fail = (code: ProviderErrorCode, message: string, status?: number, providerCode?: string, cause?: unknown) =>
    new ProviderError(code, scrubSecrets(`${settings.label} management API: ${message}`, settings.adminKey), {
      provider: settings.provider,
      status,
      providerCode,
      cause,
    });

  async function request(req: HttpRequest): Promise<Record<string, unknown> | undefined> {
    const url = buildUrl(settings.baseUrl, req.path, req.query);
    const what = `${req.method} ${req.path}`;
    const idempotent = req.idempotent ?? req.method !== 'POST';
    const headers: Record<string, string> = { accept: 'application/json', ...settings.headers };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    let last = '';
    for (let attempt = 0; ; attempt++) {
      const canRetry = attempt < settings.retries;
      const backoffMs = settings.retryBaseMs * 2 ** attempt;
      let response: Response;
      let text: string;
      try {
        const init: RequestInit = { method: req.method, headers, redirect: 'error' };
        init.signal = AbortSignal.timeout(settings.timeoutMs);
        if (body !== undefined) init.body = body;
        response = await settings.fetch(url, init);
        text = await response.text();
      } catch (error) {
        const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
        last = timedOut ? `no answer within ${settings.timeoutMs} ms` : 'the request failed (network)';
        if (!idempotent) {
          throw fail('PROVIDER_UNAVAILABLE', `${what}: ${last}; it may or may not have been applied`);
        }
        if (canRetry) {
          await settings.sleep(backoffMs);
          continue;
        }
        throw fail('PROVIDER_UNAVAILABLE', `${what}: ${last}, after ${attempt + 1} attempts`);
      }
      const status = response.status;
      if (status >= 200 && status < 300) return parseObject(text, what, status, fail);
      const facts = errorFacts(text);
      const { message } = facts;
      // A code the provider echoed a key into is dropped, not shown.
      const providerCode =
        facts.code !== undefined && scrubSecrets(facts.code, settings.adminKey) === facts.code ? facts.code : undefined;
      // Scrubbed before it is cut short: a key cut in half is no longer recognisable.
      const said = describeAnswer(status, providerCode, message && scrubSecrets(message, settings.adminKey));
      if (status === 429 || status >= 500) {
        last = said;
        const retryable = status === 429 || idempotent;
        if (retryable && canRetry) {
          const retryAfterMs =
            status === 429 ? parseRetryAfter(response.headers.get('retry-after'), settings.now()) : undefined;
          await settings.sleep(retryAfterMs ?? backoffMs);
          continue;
        }
        const tries = retryable ? `, after ${attempt + 1} attempts` : '; it may or may not have been applied';
        throw fail('PROVIDER_UNAVAILABLE', `${what} answered ${last}${tries}`, status, providerCode);
      }
      if (status === 401) {
        throw fail(
          'PROVIDER_UNAUTHORIZED',
          `${what} answered ${said}: the admin key was refused`,
          status,
          providerCode,
        );
      }
      if (status === 403) {
        throw fail(
          'PROVIDER_FORBIDDEN',
          `${what} answered ${said}: the admin key lacks the permission (or is not an admin key)`,
          status,
          providerCode,
        );
      }
      if (status === 404) {
        if (req.notFoundIsUndefined === true) return undefined;
        throw fail(req.notFoundCode ?? 'PROVIDER_BAD_RESPONSE', `${what} answered ${said}`, status, providerCode);
      }
      throw fail('PROVIDER_BAD_RESPONSE', `${what} answered ${said}`, status, providerCode);
    }
  }

  return { request };
}

/** The base URL, the path and the query. */
function buildUrl(baseUrl: string, path: string, query: HttpRequest['query']): string {
  const base = baseUrl.endsWith('/') ? baseUrl.slice(0, -1) : baseUrl;
  const search = new URLSearchParams();
  for (const [name, value] of query ?? []) search.append(name, value);
  const qs = search.toString();
  return `${base}${path}${qs === '' ? '' : `?${qs}`}`;
}

function parseObject(
  text: string,
  what: string,
  status: number,
  fail: (code: ProviderErrorCode, message: string, status?: number) => ProviderError,
): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw fail('PROVIDER_BAD_RESPONSE', `${what} answered ${status} with a body that is not JSON`, status);
  }
  if (!isRecord(parsed)) throw fail('PROVIDER_BAD_RESPONSE', `${what} answered ${status} with no JSON object`, status);
  return parsed;
}

/**
 * The provider's error type or code and message: OpenAI `{error:{message,type,code}}`, Anthropic
 * `{type:'error', error:{type,message}}`.
 */
function errorFacts(text: string): { code: string | undefined; message: string | undefined } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { code: undefined, message: undefined };
  }
  const error = isRecord(parsed) && isRecord(parsed.error) ? parsed.error : undefined;
  if (!error) return { code: undefined, message: undefined };
  const pick = (v: unknown): string | undefined =>
    typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,80}$/.test(v) ? v : undefined;
  const code = pick(error.code) ?? pick(error.type);
  const message = typeof error.message === 'string' && error.message !== '' ? error.message : undefined;
  return { code, message };
}

/** `401 (invalid_api_key: "Incorrect API key …")`: status, the provider's code and its message, cut short. */
function describeAnswer(status: number, code: string | undefined, message: string | undefined): string {
  const parts: string[] = [];
  if (code !== undefined) parts.push(code);
  if (message !== undefined) {
    const short = message.length > 200 ? `${message.slice(0, 200)}…` : message;
    parts.push(JSON.stringify(short));
  }
  return parts.length === 0 ? String(status) : `${status} (${parts.join(': ')})`;
}

/**
 * A `retry-after` header in ms: seconds (`"30"`) or an HTTP date; at most {@link MAX_RETRY_AFTER_MS}; `undefined`
 * when absent or unreadable. A date in the past is 0.
 */
export function parseRetryAfter(header: string | null, nowMs: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+(?:\.\d+)?$/.test(trimmed)) return Math.min(Number(trimmed) * 1000, MAX_RETRY_AFTER_MS);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, date - nowMs), MAX_RETRY_AFTER_MS);
}
