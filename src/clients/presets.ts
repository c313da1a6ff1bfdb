/**
 * What keyflip knows about each LLM provider's API: where it lives, how it takes a key, the cheapest
 * authenticated request (the probe), and what a dead key looks like. Plain data; no SDK is imported.
 */
import { describeValue, isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';

/** An auth header: its name and, when the value is `SCHEME key`, the scheme. */
export interface AuthHeader {
  /** The header name, lower case: `authorization`, `x-api-key`, `x-goog-api-key`. */
  readonly header: string;
  /** `Bearer` for `Authorization: Bearer <key>`; absent when the header holds the bare key. */
  readonly scheme?: string | undefined;
}

/**
 * A response that means "this key is dead": `status`, and, when given, a string the body must contain
 * (Gemini answers a bad key with 400 `API_KEY_INVALID`, while other 400s are about the request).
 */
export interface DeadKeyRule {
  /** The HTTP status of the answer. */
  readonly status: number;
  /** A string the body must contain as well. @default none (the status alone) */
  readonly bodyIncludes?: string | undefined;
}

/** The ids of the built-in presets. */
export type ProviderId =
  | 'openai'
  | 'anthropic'
  | 'groq'
  | 'gemini'
  | 'mistral'
  | 'openrouter'
  | 'together'
  | 'azure-openai';

/** One provider. Pass it to `authFetch`, `probeKey` and `startMockProvider`. */
export interface ProviderPreset extends AuthHeader {
  /** `openai`, `anthropic`, … (a custom preset may use any id). */
  readonly id: ProviderId | (string & {});
  /** The provider's name for people: `OpenAI`. */
  readonly label: string;
  /** The base URL its official SDK takes (`baseURL`): paths below are relative to it. */
  readonly baseUrl: string;
  /**
   * Other auth headers the API accepts. `authFetch` sets every one of these the request already carries
   * (Anthropic's SDK ≥ 1.0 sends `Authorization: Bearer`, the raw API takes `x-api-key`), and the main
   * `header` when the request carries none of them. A placeholder key is never left behind.
   */
  readonly alternates?: readonly AuthHeader[] | undefined;
  /** The environment variable its SDK reads the key from. */
  readonly envVar: string;
  /** The cheapest authenticated request: no tokens billed. */
  readonly probe: {
    /** Always `GET`. */
    readonly method: 'GET';
    /** Relative to `baseUrl`, with its query. */
    readonly path: string;
    /** Headers the request needs besides the key (`anthropic-version`). */
    readonly headers?: Readonly<Record<string, string>> | undefined;
    /**
     * The path used instead of `path` when the base URL is the provider's v1 API (its path ends in `/v1`):
     * Azure OpenAI's v1 API takes no dated `api-version`. @default `path`
     */
    readonly v1Path?: string | undefined;
  };
  /** The chat endpoint (relative to `baseUrl`; `{model}` stands for a model name); the mock provider answers it. */
  readonly chat: {
    /** Always `POST`. */
    readonly method: 'POST';
    /** Relative to `baseUrl` (`/chat/completions`). */
    readonly path: string;
  };
  /** The answers that mean the key is dead: `authFetch` refreshes the secret on them. */
  readonly deadKey: readonly DeadKeyRule[];
  /** The ids of the key formats (see `KEY_FORMATS`) its keys have; empty when keys have no recognisable shape. */
  readonly keyFormats: readonly string[];
}

const BEARER = 'Bearer';

function preset(p: ProviderPreset): ProviderPreset {
  return Object.freeze({
    ...p,
    probe: Object.freeze({
      ...p.probe,
      ...(p.probe.headers ? { headers: Object.freeze({ ...p.probe.headers }) } : {}),
    }),
    chat: Object.freeze({ ...p.chat }),
    deadKey: Object.freeze(p.deadKey.map((r) => Object.freeze({ ...r }))),
    keyFormats: Object.freeze([...p.keyFormats]),
    ...(p.alternates ? { alternates: Object.freeze(p.alternates.map((a) => Object.freeze({ ...a }))) } : {}),
  });
}

/** OpenAI: `Authorization: Bearer sk-…`; a dead key is 401 `invalid_api_key`. */
export const openai: ProviderPreset = preset({
  id: 'openai',
  label: 'OpenAI',
  baseUrl: 'https://api.openai.com/v1',
  header: 'authorization',
  scheme: BEARER,
  envVar: 'OPENAI_API_KEY',
  probe: { method: 'GET', path: '/models' },
  chat: { method: 'POST', path: '/chat/completions' },
  deadKey: [{ status: 401 }],
  keyFormats: ['openai'],
});

/**
 * Anthropic: the raw API takes `x-api-key` (with `anthropic-version`); the SDK ≥ 1.0 sends
 * `Authorization: Bearer`. A dead key is 401 `authentication_error`.
 */
export const anthropic: ProviderPreset = preset({
  id: 'anthropic',
  label: 'Anthropic',
  baseUrl: 'https://api.anthropic.com',
  header: 'x-api-key',
  alternates: [{ header: 'authorization', scheme: BEARER }],
  envVar: 'ANTHROPIC_API_KEY',
  probe: { method: 'GET', path: '/v1/models', headers: { 'anthropic-version': '2023-06-01' } },
  chat: { method: 'POST', path: '/v1/messages' },
  deadKey: [{ status: 401 }],
  keyFormats: ['anthropic', 'anthropic-admin'],
});

/** Groq: OpenAI-compatible under `/openai/v1`; `Authorization: Bearer gsk_…`; a dead key is 401. */
export const groq: ProviderPreset = preset({
  id: 'groq',
  label: 'Groq',
  baseUrl: 'https://api.groq.com',
  header: 'authorization',
  scheme: BEARER,
  envVar: 'GROQ_API_KEY',
  probe: { method: 'GET', path: '/openai/v1/models' },
  chat: { method: 'POST', path: '/openai/v1/chat/completions' },
  deadKey: [{ status: 401 }],
  keyFormats: ['groq'],
});

/**
 * Google Gemini API: `x-goog-api-key`. A bad key is **400** `API_KEY_INVALID` (not 401); a blocked key
 * (reported as leaked) is 403 `PERMISSION_DENIED`; `AQ.` auth keys can get 401 on some paths.
 */
export const gemini: ProviderPreset = preset({
  id: 'gemini',
  label: 'Google Gemini',
  baseUrl: 'https://generativelanguage.googleapis.com',
  header: 'x-goog-api-key',
  envVar: 'GEMINI_API_KEY',
  probe: { method: 'GET', path: '/v1beta/models?pageSize=1' },
  chat: { method: 'POST', path: '/v1beta/models/{model}:generateContent' },
  deadKey: [{ status: 400, bodyIncludes: 'API_KEY_INVALID' }, { status: 401 }, { status: 403 }],
  keyFormats: ['gemini'],
});

/** Mistral: `Authorization: Bearer`; keys have no prefix; a dead key is 401. */
export const mistral: ProviderPreset = preset({
  id: 'mistral',
  label: 'Mistral',
  baseUrl: 'https://api.mistral.ai',
  header: 'authorization',
  scheme: BEARER,
  envVar: 'MISTRAL_API_KEY',
  probe: { method: 'GET', path: '/v1/models' },
  chat: { method: 'POST', path: '/v1/chat/completions' },
  deadKey: [{ status: 401 }],
  keyFormats: ['mistral'],
});

/**
 * OpenRouter: `Authorization: Bearer sk-or-v1-…`. The probe is `GET /key` (the model list needs no key,
 * so it proves nothing). A dead key is 401; 402 means no credits (the key itself is alive).
 */
export const openrouter: ProviderPreset = preset({
  id: 'openrouter',
  label: 'OpenRouter',
  baseUrl: 'https://openrouter.ai/api/v1',
  header: 'authorization',
  scheme: BEARER,
  envVar: 'OPENROUTER_API_KEY',
  probe: { method: 'GET', path: '/key' },
  chat: { method: 'POST', path: '/chat/completions' },
  deadKey: [{ status: 401 }],
  keyFormats: ['openrouter'],
});

/** Together AI: `Authorization: Bearer tgp_v1_…`; the probe is `GET /whoami`; a dead key is 401. */
export const together: ProviderPreset = preset({
  id: 'together',
  label: 'Together AI',
  baseUrl: 'https://api.together.ai/v1',
  header: 'authorization',
  scheme: BEARER,
  envVar: 'TOGETHER_API_KEY',
  probe: { method: 'GET', path: '/whoami' },
  chat: { method: 'POST', path: '/chat/completions' },
  deadKey: [{ status: 401 }],
  keyFormats: ['together'],
});

/**
 * Azure OpenAI (an Azure OpenAI or Foundry resource): the bare key in `api-key`; the v1 API
 * (`{resource}/openai/v1/…`) also takes it as `Authorization: Bearer`, so `openai`'s `OpenAI` client works there
 * ("ApiKeyAuth … api-key header" and "ApiKeyAuth_ … authorization header",
 * https://learn.microsoft.com/en-us/rest/api/microsoft-foundry/azureopenai/models;
 * https://learn.microsoft.com/en-us/azure/foundry/openai/api-version-lifecycle).
 *
 * `baseUrl` is a placeholder: pass your resource's as `probeKey`'s `baseUrl`, either the classic base
 * `https://NAME.openai.azure.com/openai` (what `AzureOpenAI` builds from `endpoint`) or the v1 base
 * `https://NAME.openai.azure.com/openai/v1` (what `OpenAI`'s `baseURL` is on Azure). Chat goes to a deployment
 * (`/deployments/{deployment}/chat/completions?api-version=…`) or to the v1 path `/v1/chat/completions`. The probe
 * is Models - List: on the classic base `GET /models?api-version=2024-10-21`, the dated version being required
 * there (https://learn.microsoft.com/en-us/rest/api/azureopenai/models/list); on the v1 base `GET /models` with
 * no `api-version`, which the v1 API does not need (it takes only `v1` or `preview`, `v1` by default;
 * https://learn.microsoft.com/en-us/rest/api/microsoft-foundry/azureopenai/models).
 * A wrong key is 401 `{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API
 * endpoint. …"}}`; note that the same answer comes for a key sent to another resource.
 *
 * Keys only: a client that authenticates with Microsoft Entra ID (`azureADTokenProvider`) sends its token in
 * `Authorization`, which `authFetch` with this preset would replace by the key; do not wrap such a client.
 */
export const azureOpenai: ProviderPreset = preset({
  id: 'azure-openai',
  label: 'Azure OpenAI',
  baseUrl: 'https://YOUR-RESOURCE.openai.azure.com/openai',
  header: 'api-key',
  alternates: [{ header: 'authorization', scheme: BEARER }],
  envVar: 'AZURE_OPENAI_API_KEY',
  probe: { method: 'GET', path: '/models?api-version=2024-10-21', v1Path: '/models' },
  chat: { method: 'POST', path: '/deployments/{model}/chat/completions?api-version=2024-10-21' },
  deadKey: [{ status: 401 }],
  keyFormats: ['azure-openai', 'azure-openai-legacy'],
});

/** Every built-in preset, by id. */
export const providers: Readonly<Record<ProviderId, ProviderPreset>> = Object.freeze({
  openai,
  anthropic,
  groq,
  gemini,
  mistral,
  openrouter,
  together,
  'azure-openai': azureOpenai,
});

/**
 * A preset by id, or the preset itself. Throws a `ConfigurationError` naming the known ids for an unknown one
 * (a long string, perhaps a key passed in the wrong place, is described by its length, never quoted).
 */
export function resolvePreset(preset: ProviderPreset | ProviderId): ProviderPreset {
  if (typeof preset === 'string') {
    const found = Object.hasOwn(providers, preset) ? providers[preset] : undefined;
    if (!found) {
      throw new ConfigurationError(
        `unknown provider ${describeValue(preset)}; known: ${Object.keys(providers).join(', ')}`,
      );
    }
    return found;
  }
  if (!isRecord(preset) || typeof preset.header !== 'string') {
    throw new ConfigurationError('expected a provider preset (providers.openai, …) or { header, scheme? }');
  }
  return preset;
}

/**
 * Whether `value` can be sent as an HTTP header value by `fetch`: no NUL, line break or other control character
 * but tab, and nothing above U+00FF (fetch's own error for one would quote the character and its index).
 */
export function isHeaderValueSafe(value: string): boolean {
  return !/[^\t\x20-\x7e\x80-\xff]/.test(value);
}

/** Joins a base URL and a path relative to it (`https://x/v1` + `/models` → `https://x/v1/models`). */
export function joinUrl(baseUrl: string, path: string): string {
  // A base URL may carry a query (`…/openai/v1?api-version=preview`): the path goes before it, and the two queries
  // are joined (the path's parameters first; a base parameter the path also sets is left out).
  const [baseBare = '', baseQuery = ''] = splitQuery(baseUrl);
  const [pathBare = '', pathQuery = ''] = splitQuery(path);
  const base = baseBare.endsWith('/') ? baseBare.slice(0, -1) : baseBare;
  const query = new URLSearchParams(pathQuery);
  for (const [name, value] of new URLSearchParams(baseQuery)) if (!query.has(name)) query.append(name, value);
  const search = query.toString();
  return `${base}${pathBare.startsWith('/') ? pathBare : `/${pathBare}`}${search === '' ? '' : `?${search}`}`;
}

function splitQuery(url: string): [string, string] {
  const at = url.indexOf('?');
  return at === -1 ? [url, ''] : [url.slice(0, at), url.slice(at + 1)];
}
