import { isRecord, positiveMs } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { isHeaderValueSafe, joinUrl, type ProviderId, type ProviderPreset, resolvePreset } from './presets.js';

/** What a probe found out about a key. */
export type ProbeReason = 'alive' | 'invalid' | 'forbidden' | 'rate-limited' | 'no-quota' | 'unreachable';

/** The answer of {@link probeKey}. Never holds the key. */
export interface ProbeResult {
  /**
   * The provider accepted the key: `alive` (including a restricted key that may not list models) or
   * `rate-limited` (authenticated, throttled for now).
   */
  ok: boolean;
  /** The HTTP status; 0 when no answer came (network error, timeout). */
  status: number;
  /**
   * - `alive`: authenticated (2xx, or OpenAI's 401 "Missing scopes": a restricted key,
   *   `detail: 'missing-scopes'`)
   * - `invalid`: the key is unknown, revoked or malformed (401; Gemini 400 `API_KEY_INVALID`)
   * - `forbidden`: known but not allowed (403: a permission, a region, Gemini's "reported as leaked")
   * - `rate-limited`: 429 for requests or tokens per period
   * - `no-quota`: out of money: OpenAI 429 `insufficient_quota` / `credit_balance_exhausted`, OpenRouter 402,
   *   Anthropic 400 "credit balance is too low"
   * - `unreachable`: no verdict on the key: a network error, a timeout, a 5xx, or an answer that says
   *   nothing about the key (see `status`)
   */
  reason: ProbeReason;
  /** The provider's error code or type when it gave one (`invalid_api_key`, `API_KEY_INVALID`); never its message. */
  detail?: string;
}

/** Options of {@link probeKey}. */
export interface ProbeOptions {
  /**
   * Where the API is (a proxy, a mock provider's `url`; Azure OpenAI: your resource's classic base
   * `https://NAME.openai.azure.com/openai` or its v1 base `…/openai/v1`, probed without a dated `api-version`).
   * @default the preset's `baseUrl`
   */
  baseUrl?: string | undefined;
  /** The fetch the probe request goes through. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** How long to wait for the answer (milliseconds); then the probe answers `unreachable`. @default 10_000 */
  timeoutMs?: number | undefined;
  /** Aborts the probe (it then answers `unreachable`). @default none */
  signal?: AbortSignal | undefined;
}

/** A preset base URL that stands for the user's own resource (Azure OpenAI's `YOUR-RESOURCE`). */
const PLACEHOLDER = /\/\/YOUR-[A-Z-]+\./;

/** Bodies longer than this are not read further. */
const MAX_BODY = 64 * 1024;

/**
 * Checks a key with the provider's cheapest authenticated request (a model list or key info: no tokens
 * billed). Never throws for an answer or a network failure: those become a {@link ProbeResult}. The key is
 * sent only to the provider and appears in nothing this returns. A bad argument (an unknown provider, a key
 * that cannot be a header value, a bad option, Azure OpenAI without `baseUrl`) rejects with a `ConfigurationError`
 * that does not quote the key.
 *
 * @example await probeKey(providers.openai, newKey) // { ok: true, status: 200, reason: 'alive' }
 */
export async function probeKey(
  provider: ProviderPreset | ProviderId,
  key: string,
  options: ProbeOptions = {},
): Promise<ProbeResult> {
  const preset = resolvePreset(provider);
  if (typeof key !== 'string' || key === '' || !isHeaderValueSafe(key)) {
    throw new ConfigurationError(
      'probeKey: the key must be a non-empty string that fetch accepts in a header (no line break, NUL or other ' +
        'control character, nothing above U+00FF)',
    );
  }
  if (!isRecord(options)) throw new ConfigurationError('probeKey: options must be an object');
  // null is taken as "not given", as before.
  const baseUrl = options.baseUrl ?? preset.baseUrl;
  if (typeof baseUrl !== 'string') throw new ConfigurationError('probeKey: baseUrl must be a string');
  if (PLACEHOLDER.test(baseUrl))
    throw new ConfigurationError(
      `probeKey: ${preset.id} has no shared endpoint: pass your resource's URL as baseUrl ` +
        '(Azure OpenAI: https://NAME.openai.azure.com/openai, or …/openai/v1 for the v1 API)',
    );
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new ConfigurationError('probeKey: fetch must be a function');
  const callerSignal = options.signal ?? undefined;
  if (callerSignal !== undefined && !(callerSignal instanceof AbortSignal))
    throw new ConfigurationError('probeKey: signal must be an AbortSignal');
  const timeoutMs = positiveMs('probeKey: timeoutMs', options.timeoutMs ?? undefined, 10_000);
  const url = joinUrl(baseUrl, probePath(preset, baseUrl));
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = callerSignal ? AbortSignal.any([callerSignal, timeout]) : timeout;
  const headers: Record<string, string> = { accept: 'application/json', ...preset.probe.headers };
  headers[preset.header] = preset.scheme ? `${preset.scheme} ${key}` : key;
  let response: Response;
  try {
    response = await fetchImpl(url, { method: preset.probe.method, headers, signal, redirect: 'error' });
  } catch {
    return { ok: false, status: 0, reason: 'unreachable' };
  }
  const body = await readCapped(response);
  const result = classify(preset, response.status, body);
  if (result.detail?.includes(key)) delete result.detail; // a server echoing the key
  return result;
}

/** The preset's probe path for `baseUrl`: its `v1Path` when the base URL's path ends in `/v1`. */
function probePath(preset: ProviderPreset, baseUrl: string): string {
  const { path, v1Path } = preset.probe;
  if (v1Path === undefined) return path;
  let pathname: string;
  try {
    pathname = new URL(baseUrl).pathname;
  } catch {
    return path; // fetch reports the URL as unreachable
  }
  return /\/v1\/?$/.test(pathname) ? v1Path : path;
}

/** Reads at most {@link MAX_BODY} characters of a response; '' when it cannot be read. */
async function readCapped(response: Response): Promise<string> {
  if (!response.body) return '';
  try {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      if (text.length >= MAX_BODY) {
        await reader.cancel().catch(() => undefined);
        break;
      }
    }
    return text;
  } catch {
    return '';
  }
}

interface ErrorFacts {
  /** Codes, types, statuses and reasons found in the body. */
  readonly codes: string[];
  /** The provider's message (used for matching only, never returned). */
  readonly message: string;
}

function facts(body: string): ErrorFacts {
  const codes: string[] = [];
  let message = '';
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { codes, message: body };
  }
  const add = (value: unknown): void => {
    if (typeof value === 'string' && value !== '') codes.push(value);
  };
  const visit = (node: unknown, depth: number): void => {
    if (depth > 4 || typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    add(o.code);
    add(o.type);
    add(o.status);
    add(o.reason);
    if (typeof o.message === 'string' && message === '') message = o.message;
    if (typeof o.detail === 'string' && message === '') message = o.detail;
    visit(o.error, depth + 1);
    if (Array.isArray(o.details)) for (const d of o.details) visit(d, depth + 1);
  };
  visit(parsed, 0);
  return { codes, message };
}

const NO_QUOTA_CODES = new Set(['insufficient_quota', 'credit_balance_exhausted', 'billing_hard_limit_reached']);
const GENERIC_CODES = new Set(['error', 'invalid_request_error', 'requests', 'tokens']);

/** @internal Maps a probe's answer to a verdict. Exported for tests. */
export function classify(preset: ProviderPreset, status: number, body: string): ProbeResult {
  const { codes, message } = facts(body);
  const detail = codes.find((c) => !GENERIC_CODES.has(c) && /^[A-Za-z0-9_.:-]{1,80}$/.test(c) && !/^\d+$/.test(c));
  const result = (ok: boolean, reason: ProbeReason, d: string | undefined = detail): ProbeResult =>
    d === undefined ? { ok, status, reason } : { ok, status, reason, detail: d };

  if (status >= 200 && status < 300) return { ok: true, status, reason: 'alive' };
  if (status === 401) {
    // OpenAI: a restricted key that lacks a scope is alive; it just may not list models.
    if (preset.id === 'openai' && /missing scopes|insufficient permissions/i.test(message))
      return result(true, 'alive', 'missing-scopes');
    return result(false, 'invalid');
  }
  if (status === 400 && codes.includes('API_KEY_INVALID')) return result(false, 'invalid', 'API_KEY_INVALID');
  if (status === 402) return result(false, 'no-quota');
  if (status === 429 || status === 400) {
    const noQuota =
      codes.find((c) => NO_QUOTA_CODES.has(c)) ??
      (/credit balance is too low|no credits remaining/i.test(message) ? 'credit_balance' : undefined);
    if (noQuota !== undefined) return result(false, 'no-quota', noQuota);
    if (status === 429) return result(true, 'rate-limited');
  }
  if (status === 403) return result(false, 'forbidden');
  return result(false, 'unreachable');
}
