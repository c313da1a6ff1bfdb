import { describeValue, isRecord } from '../check.js';
import { ConfigurationError, isKeyflipError } from '../errors.js';
import type { SecretHandle } from '../index.js';
import { assertSecretHandle } from './handle-argument.js';
import {
  type AuthHeader,
  type DeadKeyRule,
  isHeaderValueSafe,
  type ProviderId,
  type ProviderPreset,
  resolvePreset,
} from './presets.js';

/** A provider that is not a preset: its auth header, and optionally what a dead key looks like. */
export interface CustomAuth extends AuthHeader {
  /**
   * Other auth headers the API accepts; set when the request carries them (see `ProviderPreset.alternates`).
   * @default []
   */
  readonly alternates?: readonly AuthHeader[] | undefined;
  /** The answers that mean the key is dead. @default [{ status: 401 }] */
  readonly deadKey?: readonly DeadKeyRule[] | undefined;
}

/** Options of {@link authFetch}. */
export interface AuthFetchOptions {
  /**
   * The `fetch` to wrap.
   * @default globalThis.fetch, looked up on each request (so a test's interceptor installed later is used)
   */
  fetch?: typeof fetch | undefined;
  /**
   * After a dead-key answer forced a refresh that left the key unchanged, further dead-key answers for that
   * same key do not force another refresh for this long (milliseconds), so a dead key under load does not
   * turn every request into a secret-manager call. Concurrent dead-key answers always share one refresh.
   * @default 1_000
   */
  refreshCooldownMs?: number | undefined;
  /**
   * The largest `Request` body (bytes) copied into memory so that it can be sent again (see {@link authFetch}).
   * A larger one is sent as it comes (what was read so far, then the rest of its stream) and is not retried.
   * `0` copies none.
   * @default 16 MiB (16_777_216)
   */
  maxBodyCopyBytes?: number | undefined;
}

/** The default {@link AuthFetchOptions.maxBodyCopyBytes}: 16 MiB. */
const MAX_BODY_COPY = 16 * 1024 * 1024;

type FetchInput = Parameters<typeof fetch>[0];
type FetchInit = NonNullable<Parameters<typeof fetch>[1]>;
type HeadersSource = FetchInit['headers'];

interface Auth {
  /** Lower-case names: the primary header first, then the alternates. */
  readonly headers: readonly string[];
  /** What goes before the key in each (`Bearer `, or '' for a bare key). */
  readonly prefixes: readonly string[];
  /** Lower-case name → its bit (1 << index in `headers`). */
  readonly bits: ReadonlyMap<string, number>;
  /** Dead-key rules by status. */
  readonly dead: ReadonlyMap<number, readonly DeadKeyRule[]>;
}

/** The forced-refresh state of one secret, shared by every authFetch wrapping it. */
interface RefreshState {
  inflight: Promise<void> | undefined;
  /** The fingerprint a forced refresh last ended on, and when. */
  checkedFp: string | undefined;
  checkedAt: number;
}

const states = new WeakMap<SecretHandle<string>, RefreshState>();

/**
 * A `fetch` that sets the provider's auth header from the secret's current value on every request, for
 * LLM SDKs built with a custom `fetch`:
 * `new OpenAI({ apiKey: 'unused', fetch: authFetch(key, providers.openai) })`.
 *
 * - **Sets, never appends**, whatever shape the caller passes: `(url, init)` with a `Headers` object, a plain
 *   object or an array of pairs, or a `Request` with no init. Your `init` and `Headers` are not modified.
 * - **Counts one use** per request (and per retry), as `handle.value` does: the usage beacon sees the traffic.
 * - **Heals a dead key at once**: on a dead-key answer (401; Gemini 400 `API_KEY_INVALID` or 403) it forces one
 *   refresh of the secret (concurrent answers share it) and, if the key changed and the body can be sent again
 *   (no body, a string, bytes, `URLSearchParams`, `Blob`, `FormData`; not a stream), retries exactly once.
 *   Otherwise the dead-key response is returned as it came, so the SDK reports it. It never loops.
 * - **A `Request` with a body** (what Mistral's `HTTPClient` hands its fetcher): a `Request`'s body is always a
 *   stream, so the rule goes by its `content-type`. A JSON (`application/json`, `…+json`), `text/*` or
 *   `application/x-www-form-urlencoded` body is read into memory before the request is sent and sent as those
 *   bytes, so it can be sent again (and followed through a same-origin 307/308). Memory: one copy of the body,
 *   at most `maxBodyCopyBytes` (16 MiB by default), held only while the request runs and released when the
 *   response is returned, retried or not. A body larger than that is sent as it comes (the bytes read so far,
 *   then the rest of its stream) and, like any other body (a binary or multipart upload, a body with no content
 *   type), is not retried: the caller gets the dead-key answer, and the next request goes out on the new key.
 *   Since the copy is taken before sending, a JSON or text body that a stream produces slowly is sent once it
 *   ends (or passes the limit), not as it is produced. The read follows the request's signal (the init's, else
 *   the `Request`'s): an abort rejects at once with the signal's reason, as `fetch` does, and cancels the body.
 * - **Never sends the key to another origin**: a redirect to the request's own origin (scheme, host, port) is
 *   followed here, with the auth header set again on each hop (at most 20 hops, as `fetch` does); a redirect to
 *   any other origin is returned to the caller as it came (status 3xx and its `location`), unfollowed. A caller's
 *   own `redirect: 'manual'` or `'error'` is passed to `fetch` unchanged. A same-origin 307/308, which must send
 *   the body again, is returned unfollowed when the body was not copied (an upload in a `Request`, a stream, a
 *   body over the limit), where a plain `fetch` would follow it for a `Request` built from bytes or `FormData`:
 *   following it would need a copy of every upload. Pass an upload as `(url, { body: formData })` to have it
 *   followed (and retried); a 301/302/303 that turns the request into a `GET` is always followed.
 * - `provider` is a preset (`providers.openai`), a preset id (`'openai'`) or a custom `{ header, scheme? }`.
 * - Never logs, and its errors never hold the key. A bad argument throws a `ConfigurationError` at once; a key
 *   that `fetch` refuses in a header (a line break, NUL or other control character, a character above U+00FF)
 *   rejects the request with a `ConfigurationError` naming the secret, never quoting the value; a
 *   secret that cannot be served rejects the request with its keyflip error (`SecretRevokedError`, …); the
 *   wrapped fetch's own errors (network, abort) pass through unchanged, as the SDK expects them.
 */
export function authFetch(
  secret: SecretHandle<string>,
  provider: ProviderPreset | ProviderId | CustomAuth,
  options: AuthFetchOptions = {},
): typeof fetch {
  assertSecretHandle('authFetch', secret);
  const auth = normalizeAuth(provider);
  if (!isRecord(options)) throw new ConfigurationError('authFetch: options must be an object');
  const cooldownMs = options.refreshCooldownMs ?? 1_000;
  if (typeof cooldownMs !== 'number' || !(cooldownMs >= 0)) {
    throw new ConfigurationError(
      `authFetch: refreshCooldownMs must be a number of milliseconds ≥ 0, not ${describeValue(cooldownMs)}`,
    );
  }
  const maxCopy = options.maxBodyCopyBytes ?? MAX_BODY_COPY;
  if (typeof maxCopy !== 'number' || !(maxCopy >= 0)) {
    throw new ConfigurationError(
      `authFetch: maxBodyCopyBytes must be a number of bytes ≥ 0, not ${describeValue(maxCopy)}`,
    );
  }
  const inner = options.fetch;
  if (inner !== undefined && typeof inner !== 'function')
    throw new ConfigurationError(`authFetch: options.fetch must be a function, not ${describeValue(inner)}`);
  let checkedFp: string | undefined;

  /** The value as a header value; checked once per fingerprint (fetch's own error would quote it). */
  const keyOf = (value: unknown, fp: string | undefined): string => {
    if (fp === checkedFp && fp !== undefined) return value as string;
    if (typeof value !== 'string') {
      throw new ConfigurationError(
        `secret ${secret.name} does not hold a string; authFetch needs the key as a string`,
        'INVALID_OPTIONS',
        { secret: secret.name },
      );
    }
    if (value === '' || !isHeaderValueSafe(value)) {
      throw new ConfigurationError(
        `secret ${secret.name} (${fp ?? 'unresolved'}) is empty or holds a character that fetch refuses in a ` +
          'header (a line break, NUL or other control character, or one above U+00FF), so it cannot be sent',
        'INVALID_OPTIONS',
        { secret: secret.name },
      );
    }
    checkedFp = fp;
    return value;
  };

  const send = (input: FetchInput, init: FetchInit | undefined, key: string): Promise<Response> =>
    sendFollowingSameOrigin((inner as typeof fetch | undefined) ?? globalThis.fetch, input, init, auth, key);

  return async function keyflipAuthFetch(input: FetchInput, given?: FetchInit): Promise<Response> {
    // A Request whose body is text: its bytes, so it can be sent again (a local: gone once this returns).
    const init =
      isRequest(input) && isReplayableRequest(input, given) ? await withBodyCopy(input, given, maxCopy) : given;
    const read = readKey(secret);
    const value = typeof read === 'string' ? read : await read; // no extra tick when the value is there
    const sentFp = secret.info?.fingerprint;
    const key = keyOf(value, sentFp);
    const response = await send(input, init, key);
    const rules = auth.dead.get(response.status);
    if (rules === undefined || !(await matchesDead(response, rules))) return response;

    // A dead key. If it rotated meanwhile, the new one is used at once; else one (shared) refresh.
    if (secret.info?.fingerprint === sentFp) await forceRefresh(secret, sentFp, cooldownMs);
    const currentFp = secret.info?.fingerprint;
    if (currentFp === undefined || currentFp === sentFp || !canResend(input, init)) return response;
    let next: string;
    try {
      next = keyOf(secret.value, currentFp);
    } catch {
      return response; // revoked meanwhile: the caller gets the provider's answer
    }
    discard(response);
    return send(input, init, next);
  };
}

function readKey(secret: SecretHandle<string>): string | Promise<string> {
  try {
    return secret.value;
  } catch (error) {
    // Before the first resolution, wait for it (as `get()` does) instead of failing the request.
    if (isKeyflipError(error) && error.code === 'NOT_READY') return secret.get();
    throw error;
  }
}

/** One forced refresh per secret at a time; none for a fingerprint a forced refresh just confirmed. */
function forceRefresh(secret: SecretHandle<string>, sentFp: string | undefined, cooldownMs: number): Promise<void> {
  const state = refreshStateOf(secret);
  if (state.inflight) return state.inflight;
  if (state.checkedFp === sentFp && Date.now() - state.checkedAt < cooldownMs) return Promise.resolve();
  const run = secret.refresh().then(
    () => undefined,
    () => undefined, // the resolver reports its own failures through its error event
  );
  state.inflight = run.finally(() => {
    state.inflight = undefined;
    state.checkedFp = secret.info?.fingerprint;
    state.checkedAt = Date.now();
  });
  return state.inflight;
}

function refreshStateOf(secret: SecretHandle<string>): RefreshState {
  let state = states.get(secret);
  if (state === undefined) {
    state = { inflight: undefined, checkedFp: undefined, checkedAt: 0 };
    states.set(secret, state);
  }
  return state;
}

async function matchesDead(response: Response, rules: readonly DeadKeyRule[]): Promise<boolean> {
  let body: string | undefined;
  for (const rule of rules) {
    if (rule.bodyIncludes === undefined) return true;
    if (body === undefined) {
      try {
        body = await response.clone().text();
      } catch {
        body = '';
      }
    }
    if (body.includes(rule.bodyIncludes)) return true;
  }
  return false;
}

/** Whether the request can be sent a second time: its body is not a stream that the first send consumed. */
function canResend(input: FetchInput, init: FetchInit | undefined): boolean {
  if (init !== undefined && init.body !== undefined) return isReplayableBody(init.body);
  if (isRequest(input)) return input.body === null; // a Request's body is a stream
  return true;
}

/** Content types whose body {@link authFetch} copies to send it again: JSON, text, form-urlencoded. */
const REPLAYABLE_CONTENT_TYPE =
  /^\s*(?:application\/(?:[\w.-]+\+)?json|text\/[\w.+-]+|application\/x-www-form-urlencoded)\s*(?:;|$)/i;

/** A `Request` with an unread body of a {@link REPLAYABLE_CONTENT_TYPE}, and no body in `init` to replace it. */
function isReplayableRequest(input: Request, init: FetchInit | undefined): boolean {
  if (input.body === null || input.bodyUsed || (init !== undefined && init.body !== undefined)) return false;
  const type = contentTypeOf(init?.headers ?? input.headers);
  return type !== undefined && REPLAYABLE_CONTENT_TYPE.test(type);
}

/** The `content-type` in headers of any shape, read without validating them (fetch does that, later). */
function contentTypeOf(headers: HeadersSource): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (headers instanceof Headers) return headers.get('content-type') ?? undefined;
  if (Array.isArray(headers) || typeof (headers as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
    for (const pair of headers as Iterable<readonly [string, string]>) {
      if (String(pair[0]).toLowerCase() === 'content-type') return String(pair[1]);
    }
    return undefined;
  }
  const record = headers as Record<string, string>;
  for (const name in record) {
    if (Object.hasOwn(record, name) && name.toLowerCase() === 'content-type') return String(record[name]);
  }
  return undefined;
}

/**
 * `init` with the Request's body read into bytes (which `fetch` takes instead of the Request's own stream), or,
 * past `limit` bytes, with a stream of what was read and then the rest (sent as it comes, not replayable).
 * The read follows the request's signal as `fetch` would: an abort rejects at once with the signal's reason and
 * cancels the body.
 */
async function withBodyCopy(input: Request, init: FetchInit | undefined, limit: number): Promise<FetchInit> {
  const signal = init?.signal !== undefined ? init.signal : input.signal;
  signal?.throwIfAborted();
  const reader = (input.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let onAbort: (() => void) | undefined;
  const aborted =
    signal === null || signal === undefined
      ? undefined
      : new Promise<never>((_, reject) => {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        });
  try {
    for (;;) {
      const next = aborted === undefined ? await reader.read() : await Promise.race([reader.read(), aborted]);
      if (next.done) break;
      chunks.push(next.value);
      size += next.value.byteLength;
      if (size > limit) return { ...init, body: replaying(chunks, reader), duplex: 'half' } as FetchInit;
    }
  } catch (error) {
    reader.cancel(error).catch(() => undefined);
    throw error;
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
  }
  return { ...init, body: concat(chunks, size) };
}

/** The bytes of `chunks`, in one array. */
function concat(chunks: readonly Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** A stream of `chunks` (each let go once sent), then of what `reader` still has. */
function replaying(chunks: Uint8Array[], reader: ReadableStreamDefaultReader<Uint8Array>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const first = chunks.shift();
      if (first !== undefined) return controller.enqueue(first);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

function isReplayableBody(body: unknown): boolean {
  return (
    body === null ||
    body === undefined ||
    typeof body === 'string' ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) ||
    body instanceof URLSearchParams ||
    body instanceof Blob ||
    body instanceof FormData
  );
}

function isRequest(input: unknown): input is Request {
  return typeof Request !== 'undefined' && input instanceof Request;
}

function discard(response: Response): void {
  response.body?.cancel().catch(() => undefined);
}

function normalizeAuth(given: ProviderPreset | ProviderId | CustomAuth): Auth {
  const provider = typeof given === 'string' ? resolvePreset(given) : given;
  if (!isAuthHeader(provider)) {
    throw new ConfigurationError(
      'authFetch: the provider must be a preset (providers.openai, …) or { header, scheme? }',
    );
  }
  const alternates = provider.alternates ?? [];
  if (!Array.isArray(alternates) || !alternates.every(isAuthHeader)) {
    throw new ConfigurationError("authFetch: the provider's alternates must be an array of { header, scheme? }");
  }
  const deadKey = provider.deadKey ?? [{ status: 401 }];
  if (!Array.isArray(deadKey) || !deadKey.every(isDeadKeyRule)) {
    throw new ConfigurationError("authFetch: the provider's deadKey must be an array of { status, bodyIncludes? }");
  }
  const all: AuthHeader[] = [{ header: provider.header.toLowerCase(), scheme: provider.scheme }];
  for (const alt of alternates) {
    const header = alt.header.toLowerCase();
    if (!all.some((a) => a.header === header)) all.push({ header, scheme: alt.scheme });
  }
  const dead = new Map<number, DeadKeyRule[]>();
  for (const rule of deadKey) {
    const list = dead.get(rule.status) ?? [];
    list.push(rule);
    dead.set(rule.status, list);
  }
  return {
    headers: all.map((a) => a.header),
    prefixes: all.map((a) => (a.scheme ? `${a.scheme} ` : '')),
    bits: new Map(all.map((a, i) => [a.header, 1 << i])),
    dead,
  };
}

/** An object with a non-empty string `header`: the shape a provider and each of its alternates must have. */
function isAuthHeader(value: unknown): value is AuthHeader {
  return isRecord(value) && typeof value.header === 'string' && value.header.trim() !== '';
}

/** `{ status, bodyIncludes? }` with a whole-number status. */
function isDeadKeyRule(value: unknown): value is DeadKeyRule {
  return (
    isRecord(value) &&
    Number.isInteger(value.status) &&
    (value.bodyIncludes === undefined || typeof value.bodyIncludes === 'string')
  );
}

/**
 * The init to send: the caller's init with its headers (or the Request's, when there is no init) copied
 * into a new plain object (or array of pairs) in which every auth header the request carried is set to the
 * key (the main one when it carried none). The caller's objects are not modified. (A plain object, not a new
 * `Headers`: building one costs more than the header setting itself, and fetch converts either.)
 */
function withAuth(input: FetchInput, init: FetchInit | undefined, auth: Auth, key: string): FetchInit {
  const source: HeadersSource =
    init?.headers !== undefined ? init.headers : isRequest(input) ? input.headers : undefined;
  const copy: Copy = { out: {}, bits: auth.bits, present: 0 };
  let pairs: [string, string][] | undefined;
  if (source === undefined || source === null) {
    // nothing to copy
  } else if (source instanceof Headers) {
    source.forEach(copyEntry, copy);
  } else if (Array.isArray(source) || typeof (source as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function') {
    // pairs, or any iterable of them (a Map, another implementation's Headers): names in any case
    pairs = [];
    for (const pair of source as Iterable<readonly [string, string]>) {
      const name = String(pair[0]);
      const bit = auth.bits.get(name.toLowerCase());
      if (bit === undefined) pairs.push([name, pair[1]]);
      else copy.present |= bit;
    }
  } else {
    const record = source as Record<string, string>;
    for (const name in record) {
      if (!Object.hasOwn(record, name)) continue;
      const bit = auth.bits.get(name.toLowerCase());
      if (bit === undefined) copy.out[name] = record[name] as string;
      else copy.present |= bit;
    }
  }
  const present = copy.present === 0 ? 1 : copy.present; // none carried: the main header
  for (let i = 0; i < auth.headers.length; i++) {
    if ((present & (1 << i)) === 0) continue;
    const value = (auth.prefixes[i] as string) + key;
    if (pairs) pairs.push([auth.headers[i] as string, value]);
    else copy.out[auth.headers[i] as string] = value;
  }
  const headers = pairs ?? copy.out;
  return init === undefined ? { headers } : { ...init, headers };
}

interface Copy {
  readonly out: Record<string, string>;
  readonly bits: ReadonlyMap<string, number>;
  present: number;
}

/** `Headers.forEach` callback (names come lower case); `this` is the {@link Copy}, so no closure per request. */
function copyEntry(this: Copy, value: string, name: string): void {
  const bit = this.bits.get(name);
  if (bit === undefined) this.out[name] = value;
  else this.present |= bit;
}

/** Statuses `fetch` follows as redirects. */
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** The most redirects followed for one request, as `fetch` does. */
const MAX_REDIRECTS = 20;
/** Headers that describe a body: dropped with the body when a redirect turns the request into a GET. */
const BODY_HEADERS: ReadonlySet<string> = new Set([
  'content-encoding',
  'content-language',
  'content-location',
  'content-type',
  'content-length',
]);

/**
 * Sends the request with the auth headers set, with `redirect: 'manual'`; follows a redirect only to the
 * request's own origin (setting the headers again), and returns one to any other origin unfollowed, so the key
 * never reaches another origin. A caller's explicit `'manual'` or `'error'` is left to `fetch`.
 */
async function sendFollowingSameOrigin(
  fetchImpl: typeof fetch,
  input: FetchInput,
  init: FetchInit | undefined,
  auth: Auth,
  key: string,
): Promise<Response> {
  const mode = init?.redirect ?? (isRequest(input) ? input.redirect : 'follow');
  if (mode !== 'follow') return fetchImpl(input, withAuth(input, init, auth, key));
  let currentInput = input;
  let currentInit: FetchInit | undefined = init;
  let origin: string | undefined; // parsed on the first redirect only: most requests have none
  for (let hop = 0; ; hop++) {
    const sent = withAuth(currentInput, currentInit, auth, key); // a new object: ours to change
    sent.redirect = 'manual';
    const response = await fetchImpl(currentInput, sent);
    if (!REDIRECT_STATUSES.has(response.status) || hop >= MAX_REDIRECTS) return response;
    origin ??= originOf(input);
    if (origin === undefined) return response;
    const next = nextHop(response, currentInput, currentInit, origin);
    if (next === undefined) return response;
    discard(response);
    currentInput = next.url;
    currentInit = next.init;
  }
}

/** The origin of the request's URL, or `undefined` when it has none that can be parsed. */
function originOf(input: FetchInput): string | undefined {
  try {
    return new URL(isRequest(input) ? input.url : String(input)).origin;
  } catch {
    return undefined;
  }
}

/**
 * Where a redirect leads, when it is to `origin` and can be followed (its body, if kept, can be sent again):
 * the next URL and the init for it (method and body as `fetch` would change them). `undefined` otherwise.
 */
function nextHop(
  response: Response,
  input: FetchInput,
  init: FetchInit | undefined,
  origin: string,
): { url: string; init: FetchInit } | undefined {
  const location = response.headers.get('location');
  if (location === null) return undefined;
  let url: URL;
  try {
    url = new URL(location, isRequest(input) ? input.url : String(input));
  } catch {
    return undefined;
  }
  if (url.origin !== origin) return undefined; // another origin: the caller decides, the key stays here
  const request = isRequest(input) ? input : undefined;
  const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
  const headers = init?.headers ?? request?.headers;
  const base: FetchInit = {
    ...(request === undefined ? {} : { method: request.method, signal: request.signal }),
    ...init,
    ...(headers === undefined ? {} : { headers }),
  };
  const toGet =
    (response.status === 303 && method !== 'GET' && method !== 'HEAD') ||
    ((response.status === 301 || response.status === 302) && method === 'POST');
  if (toGet) {
    return { url: url.href, init: { ...base, method: 'GET', body: null, headers: withoutBodyHeaders(base.headers) } };
  }
  if (!canResend(input, init)) return undefined; // a stream body was consumed: the caller gets the redirect
  const body = init?.body !== undefined ? init.body : null;
  return { url: url.href, init: { ...base, body } };
}

/** The headers without those that describe a body, as a list of pairs. */
function withoutBodyHeaders(headers: HeadersSource): [string, string][] {
  return [...new Headers(headers ?? undefined)].filter(([name]) => !BODY_HEADERS.has(name));
}
