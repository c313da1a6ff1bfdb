import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { type ProviderId, type ProviderPreset, resolvePreset } from '../clients/presets.js';
import {
  createMockManagement,
  type MockManagedKey,
  type MockManagement,
  type MockManagementOptions,
  type MockMintedKey,
  type MockMintOptions,
} from './mock-management/index.js';
import { responseEvents, responseObject } from './mock-provider-responses.js';
import { type Family, familyOf, router } from './mock-provider-routes.js';
import { chatStream, geminiChunks, geminiStream, MOCK_TEXT, sendSse, streamRequest } from './mock-provider-sse.js';

/**
 * How the mock provider treats a key it accepts:
 * - `alive`: every request succeeds
 * - `restricted`: OpenAI's restricted key without the model-read scope: the probe gets 401 "Missing scopes",
 *   chat succeeds (other providers: same as `alive`)
 * - `rate-limited`, `no-quota`, `forbidden`: every request gets the provider's 429 / quota / 403 answer
 */
export type MockKeyState = 'alive' | 'restricted' | 'rate-limited' | 'no-quota' | 'forbidden';

/** Options of {@link startMockProvider}. */
export interface MockProviderOptions {
  /** The provider to imitate: a preset (`providers.openai`) or its id. */
  preset: ProviderPreset | ProviderId;
  /** The keys accepted from the start (state `alive`). @default none (add them with `accept`) */
  keys?: readonly string[] | undefined;
  /** The address it listens on (on a free port). @default '127.0.0.1' */
  host?: string | undefined;
  /**
   * Also serve the provider's management API (OpenAI and Anthropic presets only) under the same base URL: admin
   * keys, keys minted / listed / revoked, `last_used_at`, usage buckets from the requests it served.
   * @default not served (its paths get the provider's 404)
   */
  management?: MockManagementOptions | undefined;
}

/** A running mock provider. */
export interface MockProvider {
  /** The base URL to give the SDK (`baseURL`) or `probeKey` (`baseUrl`): the preset's base path on this server. */
  readonly url: string;
  /** The preset it imitates. */
  readonly preset: ProviderPreset;
  /** Accepts a key from now on (again, after a revoke), in the given state. */
  accept(key: string, state?: MockKeyState): void;
  /** Stops accepting a key: its next request gets the provider's invalid-key answer. */
  revoke(key: string): void;
  /** How many requests to the probe, chat or Responses endpoints carried this key (accepted or not). */
  requestsFor(key: string): number;
  /** How many requests it answered in all (including unauthenticated and unknown routes). */
  readonly requests: number;
  /**
   * Makes a key as if in the provider's console (a person's key; name, or `{ name, createdAtMs, expiresAtMs }`),
   * accepted on inference. Needs the `management` option.
   */
  mint(options?: string | MockMintOptions): MockMintedKey;
  /** Every key the management API knows (deleted ones too), oldest first: metadata only. Needs `management`. */
  keys(): MockManagedKey[];
  /** The provider's id of a key the management API knows; `undefined` when it does not. Needs `management`. */
  keyId(key: string): string | undefined;
  /** Stops the server and frees its port. */
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const MAX_BODY = 10 * 1024 * 1024;

/**
 * Starts a local HTTP server on 127.0.0.1 (a free port) that imitates one provider's API for tests: it
 * answers the preset's probe request and its chat endpoint, accepts only its live keys (`accept` / `revoke`
 * at run time), answers everything else with the provider's real error bodies (401 `invalid_api_key`,
 * Gemini's 400 `API_KEY_INVALID`, 429 `insufficient_quota`, …), and counts requests per key.
 *
 * Chat answers the text `ok` (1 input and 1 output token). With `stream: true` in the body it streams server-sent
 * events in the provider's shape (OpenAI-compatible chunks and `[DONE]`, honouring `stream_options.include_usage`;
 * Anthropic's `message_start` … `message_stop`); Gemini streams on `:streamGenerateContent?alt=sse`. The OpenAI
 * preset (and custom OpenAI-compatible ones) also answer the Responses API, `POST {url}/responses`, streamed or not.
 * Azure OpenAI answers on `/deployments/{deployment}/chat/completions` and on the v1 paths (`/v1/chat/completions`,
 * `/v1/responses`, `/v1/models`); `AzureOpenAI` takes the mock's origin as `endpoint`.
 *
 * With `management` (OpenAI and Anthropic), it also serves the provider's management API under the same base URL
 * (`mock-management/`): admin keys, keys minted / listed / revoked (a revoked key gets the invalid-key answer),
 * `last_used_at`, and usage buckets built from the requests it served, after a configurable reporting lag.
 *
 * Keys are held only as HMAC digests under a random per-server key; the server never prints anything.
 * A request carrying two different credentials (say a placeholder in `x-api-key` and the key in
 * `Authorization`) is refused as an invalid key, so a client that leaves a placeholder behind is caught.
 *
 * @example
 * const mock = await startMockProvider({ preset: providers.openai, keys: ['sk-test-1'] });
 * const client = new OpenAI({ apiKey: 'unused', baseURL: mock.url, fetch: authFetch(key, providers.openai) });
 */
export async function startMockProvider(options: MockProviderOptions): Promise<MockProvider> {
  if (!isRecord(options)) throw new ConfigurationError('startMockProvider: options { preset, keys? } are required');
  const preset = resolvePreset(options.preset);
  const family = familyOf(preset);
  const hmacKey = randomBytes(32);
  const digest = (key: string): string => createHmac('sha256', hmacKey).update(key).digest('base64url');
  const live = new Map<string, MockKeyState>();
  const counts = new Map<string, number>();
  let requests = 0;
  let sequence = 0;

  const checkKey = (key: unknown): string => {
    if (typeof key !== 'string' || key === '')
      throw new ConfigurationError('startMockProvider: a key must be a non-empty string');
    return key;
  };
  const management: MockManagement | undefined =
    options.management === undefined
      ? undefined
      : createMockManagement(family, options.management, {
          digest,
          isLive: (d) => live.has(d),
          enable: (d) => live.set(d, 'alive'),
          disable: (d) => live.delete(d),
        });
  const needManagement = (method: string): MockManagement => {
    if (management === undefined)
      throw new ConfigurationError(`mock.${method}: start the mock with the \`management\` option`);
    return management;
  };
  for (const key of options.keys ?? []) {
    live.set(digest(checkKey(key)), 'alive');
    management?.register(key);
  }

  const base = new URL(preset.baseUrl).pathname.replace(/\/+$/, '');
  const routeOf = router(family, preset, base);
  const authHeaders = [
    { header: preset.header.toLowerCase(), scheme: preset.scheme },
    ...(preset.alternates ?? []).map((a) => ({ header: a.header.toLowerCase(), scheme: a.scheme })),
  ];

  /** Every credential the request carries (scheme removed), and whether one came with the wrong scheme. */
  const credentials = (req: IncomingMessage, url: URL, azureV1: boolean): { keys: string[]; malformed: boolean } => {
    const found = new Set<string>();
    let malformed = false;
    // Azure documents the key in `Authorization: Bearer` for its v1 API only; elsewhere that header holds an
    // Entra ID token, so a key there is refused.
    const azureLegacy = family === 'azure-openai' && !azureV1;
    for (const { header, scheme } of authHeaders) {
      for (const raw of req.headersDistinct[header] ?? []) {
        const value = raw.trim();
        if (azureLegacy && header === 'authorization') {
          found.add(value.replace(/^bearer\s+/i, ''));
          malformed = true;
          continue;
        }
        if (scheme === undefined) found.add(value);
        else if (value.toLowerCase().startsWith(`${scheme.toLowerCase()} `))
          found.add(value.slice(scheme.length + 1).trim());
        else {
          found.add(value); // counted under what was sent, and refused
          malformed = true;
        }
      }
    }
    if (family === 'gemini') {
      const key = url.searchParams.get('key');
      if (key) found.add(key);
    }
    return { keys: [...found], malformed };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    requests++;
    const id = `${family}-mock-${++sequence}`;
    const url = new URL(req.url ?? '/', 'http://mock.invalid');
    const body = await readBody(req);
    const route = routeOf(req.method, url.pathname);
    if (body === undefined)
      return send(res, {
        status: 413,
        body: { error: { message: 'Request body too large', type: 'invalid_request_error' } },
      });
    const below = url.pathname.startsWith(base) ? url.pathname.slice(base.length) : undefined;
    if (route === undefined && below !== undefined && management?.handles(below)) {
      let json: unknown;
      try {
        json = body.length === 0 ? undefined : JSON.parse(body.toString('utf8'));
      } catch {
        return send(res, badJson(family, id));
      }
      const answer = management.handle(req, below, url, json, `req_${id}`);
      return send(res, { ...answer, headers: { ...requestIdHeader(family, id), ...answer.headers } });
    }
    if (route === undefined) return send(res, notFound(family, url.pathname));
    const azureV1 = family === 'azure-openai' && url.pathname.startsWith(`${base}/v1/`);
    if (family === 'azure-openai') {
      const refused = azureApiVersion(azureV1, url.searchParams.get('api-version'));
      if (refused === 'not-found') return send(res, notFound(family, url.pathname));
      if (refused === 'unsupported')
        return send(res, {
          status: 400,
          headers: requestIdHeader(family, id),
          body: azureError('BadRequest', 'API version not supported'),
        });
    }

    const { keys, malformed } = credentials(req, url, azureV1);
    for (const k of keys) {
      const d = digest(k);
      counts.set(d, (counts.get(d) ?? 0) + 1);
    }
    // Exactly one credential, in the right form; two different ones (a placeholder left behind) are refused.
    const key = keys.length === 1 && !malformed ? keys[0] : undefined;
    const keyDigest = key === undefined ? undefined : digest(key);
    // A key the management API switched off (deleted, inactive, archived, expired) gets the invalid-key answer.
    const state = keyDigest === undefined || management?.refuses(keyDigest) ? undefined : live.get(keyDigest);
    if (state === undefined)
      return send(res, invalidKey(family, keys.length === 0 ? undefined : (keys[0] as string), id));
    if (state === 'forbidden') return send(res, forbidden(family, id));
    if (state === 'rate-limited') return send(res, rateLimited(family, id));
    if (state === 'no-quota') return send(res, noQuota(family, id));
    if (state === 'restricted' && family === 'openai' && route.kind === 'probe') return send(res, missingScopes(id));
    if (route.kind === 'probe') {
      management?.served(keyDigest as string, 'probe', '', { input: 0, output: 0 });
      return send(res, probeOk(family, id));
    }
    let parsed: unknown;
    try {
      parsed = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, badJson(family, id));
    }
    const model =
      typeof (parsed as { model?: unknown }).model === 'string'
        ? (parsed as { model: string }).model
        : (route.model ?? 'mock-model');
    // Streamed or not, every answer carries 1 input and 1 output token (chatOk's `usage`, the streams' usage).
    management?.served(keyDigest as string, 'chat', model, { input: 1, output: 1 });
    const headers = requestIdHeader(family, id);
    const streamed = isRecord(parsed) && parsed.stream === true;
    const createdAt = Math.floor(Date.now() / 1000);
    if (route.kind === 'responses') {
      if (streamed) return sendSse(res, headers, responseEvents(id, model, createdAt));
      return send(res, { status: 200, headers, body: responseObject(id, model, createdAt, 'completed') });
    }
    if (route.geminiStream) {
      if (url.searchParams.get('alt') === 'sse') return sendSse(res, headers, geminiStream(model), true);
      return send(res, { status: 200, headers, body: geminiChunks(model) });
    }
    if (streamed && family !== 'gemini')
      return sendSse(res, headers, chatStream(family, id, model, streamRequest(parsed)));
    return send(res, chatOk(family, id, model));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent)
        send(res, { status: 500, body: { error: { message: 'mock provider failure', type: 'server_error' } } });
      else res.destroy();
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    // A host that is not an address of this machine: the `host` option cannot be used.
    const failed = (cause: NodeJS.ErrnoException): void => {
      const message = `startMockProvider: cannot listen on ${host}: ${cause.code ?? cause.message}`;
      reject(new ConfigurationError(message, 'INVALID_OPTIONS', { cause }));
    };
    server.once('error', failed);
    server.listen(0, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;

  return {
    url: origin + base,
    preset,
    accept(key: string, state: MockKeyState = 'alive'): void {
      live.set(digest(checkKey(key)), state);
      management?.register(key);
    },
    revoke(key: string): void {
      live.delete(digest(checkKey(key)));
    },
    requestsFor(key: string): number {
      return counts.get(digest(checkKey(key))) ?? 0;
    },
    get requests() {
      return requests;
    },
    mint(mintOptions?: string | MockMintOptions): MockMintedKey {
      return needManagement('mint').mint(mintOptions);
    },
    keys(): MockManagedKey[] {
      return needManagement('keys').keys();
    },
    keyId(key: string): string | undefined {
      return needManagement('keyId').keyId(checkKey(key));
    },
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
    toString(): string {
      return `[keyflip mock provider ${preset.id} ${origin}]`;
    },
    toJSON(): object {
      return { preset: preset.id, url: origin + base, keys: live.size, requests };
    },
  } as MockProvider;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooBig = false;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY) tooBig = true;
    else chunks.push(buffer);
  }
  return tooBig ? undefined : Buffer.concat(chunks);
}

function send(res: ServerResponse, answer: Answer): void {
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...answer.headers,
  });
  res.end(text);
}

/** OpenAI shows a masked key in its message; this shows no more than the first 3 and last 4 characters. */
function masked(key: string | undefined): string {
  if (key === undefined) return '';
  if (key.length < 20) return '*'.repeat(Math.min(key.length, 8));
  return `${key.slice(0, 3)}${'*'.repeat(12)}${key.slice(-4)}`;
}

function openaiStyleError(message: string, type: string, code: string | null): unknown {
  return { error: { message, type, param: null, code } };
}

function googleError(code: number, status: string, message: string, reason: string, extra: unknown[] = []): unknown {
  return {
    error: {
      code,
      message,
      status,
      details: [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason,
          domain: 'googleapis.com',
          metadata: { service: 'generativelanguage.googleapis.com' },
        },
        ...extra,
      ],
    },
  };
}

/**
 * Azure AI services' answer to a wrong key (or a key sent to another resource): 401 with `code: "401"`
 * (the Cognitive Services gateway's text, as quoted on rapidapi.com:
 * microsoft-azure-org-microsoft-cognitive-services/api/microsoft-computer-vision3/discussions/41112,
 * and in Azure OpenAI users' reports).
 */
const AZURE_ACCESS_DENIED =
  'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an ' +
  'active subscription and use a correct regional API endpoint for your resource.';

/** The `api-version` values Azure's v1 API takes (or none): `v1` and `preview`, never a dated one. */
const AZURE_V1_API_VERSIONS = new Set(['v1', 'preview']);
const AZURE_DATED_API_VERSION = /^\d{4}-\d{2}-\d{2}(?:-preview)?$/;

/**
 * How Azure answers a request's `api-version`: the dated API (`/openai/deployments/…`, `/openai/models`) needs a dated
 * one; without it (or with `v1`/`preview`, which only the v1 API knows): 404 "Resource not found"
 * (MicrosoftDocs/azure-docs#114602; openai/openai-python#2766). The v1 API (`/openai/v1/…`) takes none, `v1` or
 * `preview`; a dated one gets 400 `{"error":{"code":"BadRequest","message":"API version not supported"}}` (the
 * answer users of the v1 path quote, e.g. hotovo/aider-desk#460).
 */
function azureApiVersion(v1: boolean, version: string | null): 'not-found' | 'unsupported' | undefined {
  if (v1) return version === null || AZURE_V1_API_VERSIONS.has(version) ? undefined : 'unsupported';
  return version !== null && AZURE_DATED_API_VERSION.test(version) ? undefined : 'not-found';
}

function azureError(code: string, message: string): unknown {
  return { error: { code, message } };
}

function anthropicError(type: string, message: string, id: string): unknown {
  return { type: 'error', error: { type, message }, request_id: `req_${id}` };
}

function requestIdHeader(family: Family, id: string): Record<string, string> {
  if (family === 'anthropic') return { 'request-id': `req_${id}` };
  if (family === 'gemini') return {};
  if (family === 'azure-openai') return { 'apim-request-id': id, 'x-request-id': id };
  return { 'x-request-id': `req_${id}` };
}

function invalidKey(family: Family, key: string | undefined, id: string): Answer {
  const headers = requestIdHeader(family, id);
  switch (family) {
    case 'anthropic':
      return { status: 401, headers, body: anthropicError('authentication_error', 'invalid x-api-key', id) };
    case 'gemini':
      return {
        status: 400,
        body: googleError(
          400,
          'INVALID_ARGUMENT',
          'API key not valid. Please pass a valid API key.',
          'API_KEY_INVALID',
        ),
      };
    case 'groq':
      return {
        status: 401,
        headers,
        body: { error: { message: 'Invalid API Key', type: 'invalid_request_error', code: 'invalid_api_key' } },
      };
    case 'mistral':
      return { status: 401, headers, body: { message: 'Unauthorized', request_id: id } };
    case 'azure-openai':
      return { status: 401, headers, body: azureError('401', AZURE_ACCESS_DENIED) };
    case 'openrouter':
      return {
        status: 401,
        headers,
        body: {
          error: { code: 401, message: 'Invalid credentials (OAuth session expired, disabled/invalid API key)' },
        },
      };
    case 'together':
      return {
        status: 401,
        headers,
        body: openaiStyleError(
          'Invalid API key provided. You can find your API key at https://api.together.xyz/settings/api-keys.',
          'invalid_request_error',
          'invalid_api_key',
        ),
      };
    case 'openai':
      return {
        status: 401,
        headers,
        body:
          key === undefined
            ? openaiStyleError(
                "You didn't provide an API key. You need to provide your API key in an Authorization header " +
                  'using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).',
                'invalid_request_error',
                null,
              )
            : openaiStyleError(
                `Incorrect API key provided: ${masked(key)}. ` +
                  'You can find your API key at https://platform.openai.com/account/api-keys.',
                'invalid_request_error',
                'invalid_api_key',
              ),
      };
  }
}

function missingScopes(id: string): Answer {
  return {
    status: 401,
    headers: { 'x-request-id': `req_${id}` },
    body: openaiStyleError(
      'You have insufficient permissions for this operation. Missing scopes: api.model.read. ' +
        'Check that you have the correct role in your organization (Reader, Writer, Owner) and project ' +
        "(Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
      'invalid_request_error',
      null,
    ),
  };
}

function forbidden(family: Family, id: string): Answer {
  const headers = requestIdHeader(family, id);
  switch (family) {
    case 'anthropic':
      return {
        status: 403,
        headers,
        body: anthropicError(
          'permission_error',
          'Your API key does not have permission to use the specified resource.',
          id,
        ),
      };
    case 'gemini':
      return {
        status: 403,
        body: googleError(
          403,
          'PERMISSION_DENIED',
          'Your API key was reported as leaked. Please use another API key.',
          'API_KEY_SERVICE_BLOCKED',
        ),
      };
    case 'openrouter':
      return {
        status: 403,
        headers,
        body: { error: { code: 403, message: 'Key is disabled or not allowed to use this resource' } },
      };
    case 'mistral':
      return { status: 403, headers, body: { message: 'Forbidden', request_id: id } };
    case 'azure-openai':
      return { status: 403, headers, body: azureError('403', 'Access denied due to Virtual Network/Firewall rules.') };
    default:
      return {
        status: 403,
        headers,
        body: {
          error: {
            code: 'unsupported_country_region_territory',
            message: 'Country, region, or territory not supported',
            param: null,
            type: 'request_forbidden',
          },
        },
      };
  }
}

function rateLimited(family: Family, id: string): Answer {
  const headers = requestIdHeader(family, id);
  switch (family) {
    case 'anthropic':
      return {
        status: 429,
        headers: {
          ...headers,
          'retry-after': '20',
          'anthropic-ratelimit-requests-limit': '50',
          'anthropic-ratelimit-requests-remaining': '0',
        },
        body: anthropicError(
          'rate_limit_error',
          'This request would exceed the rate limit for your organization of 50 requests per minute.',
          id,
        ),
      };
    case 'gemini':
      return {
        status: 429,
        body: {
          error: {
            code: 429,
            message: 'You exceeded your current quota, please check your plan and billing details.',
            status: 'RESOURCE_EXHAUSTED',
            details: [
              {
                '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
                violations: [
                  {
                    quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
                    quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier',
                  },
                ],
              },
              { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '27s' },
            ],
          },
        },
      };
    case 'mistral':
      return {
        status: 429,
        headers: { ...headers, 'retry-after': '20' },
        body: { message: 'Requests rate limit exceeded', request_id: id },
      };
    case 'azure-openai':
      return {
        status: 429,
        headers: { ...headers, 'retry-after': '20', 'x-ratelimit-remaining-requests': '0' },
        body: azureError(
          '429',
          'Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded ' +
            'call rate limit of your current OpenAI S0 pricing tier. Please retry after 20 seconds.',
        ),
      };
    case 'openrouter':
      return {
        status: 429,
        headers: { ...headers, 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '0' },
        body: { error: { code: 429, message: 'Rate limit exceeded' } },
      };
    default:
      return {
        status: 429,
        headers: {
          ...headers,
          'retry-after': '20',
          'x-ratelimit-limit-requests': '30',
          'x-ratelimit-remaining-requests': '0',
          'x-ratelimit-reset-requests': '20s',
        },
        body: openaiStyleError(
          'Rate limit reached for requests per min (RPM): Limit 30, Used 30, Requested 1. Please try again in 20s.',
          'requests',
          'rate_limit_exceeded',
        ),
      };
  }
}

/** Gemini and Azure (billed through the subscription) do not tell a spent quota from a rate limit: the same 429. */
function noQuota(family: Family, id: string): Answer {
  const headers = requestIdHeader(family, id);
  switch (family) {
    case 'anthropic':
      return {
        status: 400,
        headers,
        body: anthropicError(
          'invalid_request_error',
          'Your credit balance is too low to access the Anthropic API. ' +
            'Please go to Plans & Billing to upgrade or purchase credits.',
          id,
        ),
      };
    case 'gemini':
    case 'azure-openai':
      return rateLimited(family, id);
    case 'openrouter':
      return {
        status: 402,
        headers,
        body: {
          error: {
            code: 402,
            message: 'Insufficient credits. Add more using https://openrouter.ai/settings/credits',
            metadata: { limit_source: 'openrouter_credits' },
          },
        },
      };
    default:
      return {
        status: 429,
        headers,
        body: openaiStyleError(
          'You exceeded your current quota, please check your plan and billing details.',
          'insufficient_quota',
          'insufficient_quota',
        ),
      };
  }
}

function notFound(family: Family, path: string): Answer {
  const safePath = path.length > 200 ? `${path.slice(0, 200)}…` : path;
  if (family === 'anthropic')
    return { status: 404, body: anthropicError('not_found_error', `Not found: ${safePath}`, 'none') };
  if (family === 'gemini')
    return { status: 404, body: { error: { code: 404, message: `Not found: ${safePath}`, status: 'NOT_FOUND' } } };
  if (family === 'azure-openai') return { status: 404, body: azureError('404', 'Resource not found') };
  return { status: 404, body: openaiStyleError(`Invalid URL (${safePath})`, 'invalid_request_error', null) };
}

function badJson(family: Family, id: string): Answer {
  if (family === 'anthropic')
    return { status: 400, body: anthropicError('invalid_request_error', 'The request body is not valid JSON.', id) };
  if (family === 'gemini')
    return {
      status: 400,
      body: { error: { code: 400, message: 'Invalid JSON payload received.', status: 'INVALID_ARGUMENT' } },
    };
  return {
    status: 400,
    body: openaiStyleError('We could not parse the JSON body of your request.', 'invalid_request_error', null),
  };
}

function probeOk(family: Family, id: string): Answer {
  const headers = requestIdHeader(family, id);
  const created = 1_700_000_000;
  switch (family) {
    case 'anthropic':
      return {
        status: 200,
        headers,
        body: {
          data: [
            { type: 'model', id: 'claude-mock-1', display_name: 'Claude Mock', created_at: '2026-01-01T00:00:00Z' },
          ],
          has_more: false,
          first_id: 'claude-mock-1',
          last_id: 'claude-mock-1',
        },
      };
    case 'gemini':
      return {
        status: 200,
        body: {
          models: [
            { name: 'models/gemini-mock', displayName: 'Gemini Mock', supportedGenerationMethods: ['generateContent'] },
          ],
          nextPageToken: 'mock-next',
        },
      };
    case 'openrouter':
      return {
        status: 200,
        headers,
        body: {
          data: { label: 'keyflip mock key', usage: 0, limit: null, limit_remaining: null, is_free_tier: false },
        },
      };
    case 'together':
      return {
        status: 200,
        headers,
        body: { api_key_id: 'key-mock', project_id: 'proj-mock', organization_id: 'org-mock' },
      };
    case 'azure-openai':
      // Models - List (https://learn.microsoft.com/en-us/rest/api/azureopenai/models/list)
      return {
        status: 200,
        headers,
        body: {
          object: 'list',
          data: [
            {
              id: 'gpt-4o-mini',
              object: 'model',
              created_at: created,
              status: 'succeeded',
              lifecycle_status: 'generally-available',
              capabilities: { fine_tune: false, inference: true, completion: false, chat_completion: true },
            },
          ],
        },
      };
    default:
      return {
        status: 200,
        headers,
        body: { object: 'list', data: [{ id: `${family}-mock-model`, object: 'model', created, owned_by: 'system' }] },
      };
  }
}

function chatOk(family: Family, id: string, model: string): Answer {
  const headers = requestIdHeader(family, id);
  if (family === 'anthropic') {
    return {
      status: 200,
      headers,
      body: {
        id: `msg_${id}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text: MOCK_TEXT }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    };
  }
  if (family === 'gemini') {
    return {
      status: 200,
      body: {
        candidates: [{ content: { parts: [{ text: MOCK_TEXT }], role: 'model' }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
        modelVersion: model,
      },
    };
  }
  return {
    status: 200,
    headers,
    body: {
      id: `chatcmpl-${id}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model,
      choices: [
        { index: 0, message: { role: 'assistant', content: MOCK_TEXT }, logprobs: null, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
    },
  };
}
