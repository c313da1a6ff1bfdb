import { describeValue, isRecord, positiveMs, wholeNumber } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { anthropicAdmin } from './anthropic.js';
import { createHttpClient } from './http.js';
import { openAiAdmin } from './openai.js';
import { looksLikeKey } from './scrub.js';
import { MANAGED_PROVIDERS, type ManagedProviderId, type ProviderAdmin } from './types.js';

/** Options of {@link openProvider}. */
export interface OpenProviderOptions {
  /** The provider whose management API to open: `openai` or `anthropic`. */
  provider: ManagedProviderId;
  /**
   * The admin key (OpenAI `sk-admin-…`, Anthropic `sk-ant-admin01-…`); read it with `readAdminKey`, never from argv.
   * It is sent to the provider only and appears in no error.
   */
  adminKey: string;
  /**
   * Where the management API is (a proxy, a mock provider's `url`).
   * @default the preset's base URL: `https://api.openai.com/v1`, `https://api.anthropic.com`
   */
  baseUrl?: string | undefined;
  /**
   * The OpenAI project whose keys to manage (`proj_abc`): required for `openai`, refused for `anthropic`.
   * @default none
   */
  project?: string | undefined;
  /** Anthropic: manage only the keys of this workspace (`wrkspc_…`); refused for `openai`. @default every workspace */
  workspace?: string | undefined;
  /**
   * How far behind real time the provider's usage data may be, ms: usage after now − lagMs proves nothing.
   * @default 900000 (15 minutes) for openai, 3600000 (1 hour) for anthropic
   */
  lagMs?: number | undefined;
  /** The fetch every request goes through. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** The clock, ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
  /** How many times a request that met a 429, a 5xx or no answer is retried after the first attempt. @default 4 */
  retries?: number | undefined;
  /** The first retry's wait, ms; each next one doubles it (a 429's `retry-after` wins when given). @default 500 */
  retryBaseMs?: number | undefined;
  /** How long one attempt waits for an answer, ms. @default 30000 */
  timeoutMs?: number | undefined;
  /** Waits between retries (tests inject one that does not wait). @default a timer */
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

/** The management API's base URL of each provider (the inference presets' `baseUrl`). */
export const PROVIDER_BASE_URLS: Readonly<Record<ManagedProviderId, string>> = Object.freeze({
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
});

/** The default `lagMs` of each provider. */
export const PROVIDER_LAG_MS: Readonly<Record<ManagedProviderId, number>> = Object.freeze({
  openai: 900_000,
  anthropic: 3_600_000,
});

/** The `anthropic-version` header keyflip sends. */
export const ANTHROPIC_VERSION = '2023-06-01';

/**
 * Opens a provider's management API with an admin key. Makes no request; each method does.
 * A bad option throws a `ConfigurationError` (the admin key is described, never quoted).
 *
 * @example
 * const admin = openProvider({ provider: 'openai', adminKey: await readAdminKey(), project: 'proj_abc' });
 * const key = await admin.findKey(process.env.OPENAI_API_KEY ?? '');
 */
export function openProvider(options: OpenProviderOptions): ProviderAdmin {
  if (!isRecord(options)) throw new ConfigurationError('openProvider: options must be an object');
  const provider = options.provider;
  if (!(MANAGED_PROVIDERS as readonly unknown[]).includes(provider)) {
    throw new ConfigurationError(
      `openProvider: provider must be one of ${MANAGED_PROVIDERS.join(', ')}, not ${describeValue(provider)}`,
    );
  }
  const adminKey = options.adminKey;
  if (typeof adminKey !== 'string' || adminKey.trim() === '' || /[\0\r\n]/.test(adminKey)) {
    throw new ConfigurationError('openProvider: adminKey must be a non-empty string without line breaks');
  }
  const baseUrl = options.baseUrl ?? PROVIDER_BASE_URLS[provider];
  if (typeof baseUrl !== 'string' || !/^https?:\/\/[^\s]+$/.test(baseUrl)) {
    throw new ConfigurationError(`openProvider: baseUrl must be an http(s) URL, not ${describeValue(baseUrl)}`);
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new ConfigurationError('openProvider: fetch must be a function');
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new ConfigurationError('openProvider: now must be a function');
  const sleep = options.sleep ?? defaultSleep;
  if (typeof sleep !== 'function') throw new ConfigurationError('openProvider: sleep must be a function');
  const lagMs = options.lagMs === 0 ? 0 : positiveMs('openProvider: lagMs', options.lagMs, PROVIDER_LAG_MS[provider]);
  const retries = wholeNumber('openProvider: retries', options.retries, 4, 0);
  const retryBaseMs = positiveMs('openProvider: retryBaseMs', options.retryBaseMs, 500);
  const timeoutMs = positiveMs('openProvider: timeoutMs', options.timeoutMs, 30_000);
  const common = { provider, baseUrl, adminKey, fetch: fetchImpl, retries, retryBaseMs, timeoutMs, sleep, now };

  if (provider === 'openai') {
    const project = options.project;
    if (typeof project === 'string' && looksLikeKey(project, adminKey)) {
      throw new ConfigurationError(
        'openProvider: project looks like a key, not an OpenAI project id (proj_…): pass the project id',
      );
    }
    if (typeof project !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(project)) {
      throw new ConfigurationError(
        `openProvider: project (the OpenAI project id, proj_…) is required for openai, not ${describeId(project)}`,
      );
    }
    if (options.workspace !== undefined) {
      throw new ConfigurationError('openProvider: workspace is for anthropic; openai keys live in a project');
    }
    const http = createHttpClient({
      ...common,
      label: 'OpenAI',
      headers: { authorization: `Bearer ${adminKey}` },
    });
    return openAiAdmin({ http, project, lagMs, now });
  }
  if (options.project !== undefined) {
    throw new ConfigurationError('openProvider: project is for openai; anthropic keys live in workspaces');
  }
  const workspace = options.workspace;
  if (typeof workspace === 'string' && looksLikeKey(workspace, adminKey)) {
    throw new ConfigurationError(
      'openProvider: workspace looks like a key, not an Anthropic workspace id (wrkspc_…): pass the workspace id',
    );
  }
  if (workspace !== undefined && (typeof workspace !== 'string' || !/^[A-Za-z0-9_-]{1,100}$/.test(workspace))) {
    throw new ConfigurationError(`openProvider: workspace must be a workspace id, not ${describeId(workspace)}`);
  }
  const http = createHttpClient({
    ...common,
    label: 'Anthropic',
    headers: { 'x-api-key': adminKey, 'anthropic-version': ANTHROPIC_VERSION },
  });
  return anthropicAdmin({ http, workspace, lagMs, now });
}

/** A bad project or workspace option, described: quoted only when it is a short, plain id. */
function describeId(value: unknown): string {
  return typeof value === 'string' && !/^[A-Za-z0-9_-]{1,40}$/.test(value)
    ? `a string of ${value.length} characters`
    : describeValue(value);
}

function defaultSleep(ms: number): Promise<void> {
  // Not unref'd: a CLI waiting out a retry-after must not exit in the middle.
  return new Promise((resolve) => setTimeout(resolve, ms));
}
