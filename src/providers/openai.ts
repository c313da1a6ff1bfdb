/**
 * OpenAI's management API (admin key, `Authorization: Bearer`): project API keys, minting through a project service
 * account (one per key), and the usage grouped by key of every usage endpoint that can group by key.
 */
import { isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { matchesHint } from './hint.js';
import type { HttpClient, HttpRequest } from './http.js';
import { ProviderError } from './provider-error.js';
import type {
  MintedKey,
  MintKeyOptions,
  ProviderAdmin,
  ProviderKey,
  ProviderKeyOwner,
  ProviderUsageReport,
  RevokeKeyResult,
} from './types.js';
import { bucketFor, checkUsageArgs, count, MAX_PAGES, UsageTally } from './usage-range.js';

/** @internal */
export interface OpenAiSettings {
  readonly http: HttpClient;
  readonly project: string;
  readonly lagMs: number;
  readonly now: () => number;
}

const PAGE = 100;
/**
 * @internal Every usage endpoint of OpenAI's spec that takes `api_key_ids` and `group_by=api_key_id`: a key used
 * only for moderations, images, audio, file search or web search is in use too. (Code interpreter sessions and vector
 * stores cannot be grouped by key.)
 */
export const OPENAI_USAGE_PATHS = [
  '/organization/usage/completions',
  '/organization/usage/embeddings',
  '/organization/usage/moderations',
  '/organization/usage/images',
  '/organization/usage/audio_speeches',
  '/organization/usage/audio_transcriptions',
  '/organization/usage/file_search_calls',
  '/organization/usage/web_search_calls',
] as const;
/** The fields of a usage result that count requests (a web search result has both: the larger is taken). */
const REQUEST_FIELDS = ['num_model_requests', 'num_requests'] as const;
/** The token totals of a usage result (the other `*_tokens` fields are parts of these). */
const TOKEN_FIELDS = ['input_tokens', 'output_tokens'] as const;

/** @internal */
export function openAiAdmin(settings: OpenAiSettings): ProviderAdmin {
  const { http, project } = settings;
  const base = `/organization/projects/${encodeURIComponent(project)}`;
  const keyPath = (id: string) => `${base}/api_keys/${encodeURIComponent(checkId(id))}`;
  const bad = (message: string) =>
    new ProviderError('PROVIDER_BAD_RESPONSE', `OpenAI management API: ${message}`, { provider: 'openai' });

  /** Throws `PROVIDER_SCOPE_NOT_FOUND` when the project does not exist (its own 404). */
  async function checkProject(): Promise<void> {
    const found = await http.request({ method: 'GET', path: base, notFoundIsUndefined: true });
    if (found !== undefined) return;
    throw new ProviderError(
      'PROVIDER_SCOPE_NOT_FOUND',
      `OpenAI: there is no project ${project} (GET ${base} answered 404): check the project id, and the base URL`,
      { provider: 'openai', status: 404 },
    );
  }

  /**
   * A request below the project. OpenAI answers 404 both for an unknown key and for an unknown project: on a 404
   * the project is checked, so a wrong project is an error (`PROVIDER_SCOPE_NOT_FOUND`), never a key "already gone".
   * `undefined` only when the project exists and the thing asked about does not.
   */
  async function inProject(req: HttpRequest): Promise<Record<string, unknown> | undefined> {
    const body = await http.request({ ...req, notFoundIsUndefined: true });
    if (body === undefined) await checkProject();
    return body;
  }

  const toKey = (raw: unknown): ProviderKey => {
    if (!isRecord(raw) || typeof raw.id !== 'string' || raw.id === '') throw bad('a listed API key has no id');
    return {
      provider: 'openai',
      id: raw.id,
      name: str(raw.name),
      hint: str(raw.redacted_value),
      createdAt: seconds(raw.created_at),
      lastUsedAt: seconds(raw.last_used_at),
      expiresAt: undefined,
      status: 'active',
      owner: owner(raw.owner),
      scope: project,
    };
  };

  async function listKeys(): Promise<ProviderKey[]> {
    const keys: ProviderKey[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: Array<[string, string]> = [
        ['limit', String(PAGE)],
        ['owner_project_access', 'any'],
      ];
      if (after !== undefined) query.push(['after', after]);
      const body = await inProject({ method: 'GET', path: `${base}/api_keys`, query });
      if (body === undefined) throw bad(`GET ${base}/api_keys answered 404 though the project exists`);
      if (!Array.isArray(body.data)) throw bad(`GET ${base}/api_keys answered no \`data\` list`);
      keys.push(...body.data.map(toKey));
      if (body.has_more !== true) return keys;
      const next = str(body.last_id) ?? keys.at(-1)?.id;
      if (next === undefined || next === after) throw bad(`GET ${base}/api_keys has more pages but no cursor`);
      after = next;
    }
    throw bad(`GET ${base}/api_keys answered more than ${MAX_PAGES} pages`);
  }

  async function getKey(id: string): Promise<ProviderKey | undefined> {
    const body = await inProject({ method: 'GET', path: keyPath(id) });
    return body === undefined ? undefined : toKey(body);
  }

  async function findKey(value: string): Promise<ProviderKey> {
    if (typeof value !== 'string' || value === '') throw new ConfigurationError('findKey: the key must be a string');
    const matches = (await listKeys()).filter((k) => matchesHint(value, k.hint));
    return oneMatch('openai', 'OpenAI', `project ${project}`, matches);
  }

  async function usage(keyIds: readonly string[], range: { startMs: number; endMs: number }) {
    checkUsageArgs(keyIds, range);
    const tally = new UsageTally(keyIds, true);
    const coveredUntilMs = Math.min(range.endMs, settings.now() - settings.lagMs);
    if (keyIds.length > 0) {
      const { width, limit } = bucketFor(range);
      for (const path of OPENAI_USAGE_PATHS) {
        let page: string | undefined;
        for (let n = 0; ; n++) {
          if (n >= MAX_PAGES) throw bad(`GET ${path} answered more than ${MAX_PAGES} pages`);
          const query: Array<[string, string]> = [
            ['start_time', String(Math.floor(range.startMs / 1000))],
            ['end_time', String(Math.ceil(range.endMs / 1000))],
            ['bucket_width', width],
            ...keyIds.map((id): [string, string] => ['api_key_ids', id]),
            ['group_by', 'api_key_id'],
            ['limit', String(limit)],
          ];
          if (page !== undefined) query.push(['page', page]);
          const body = await http.request({ method: 'GET', path, query });
          if (!body || !Array.isArray(body.data)) throw bad(`GET ${path} answered no \`data\` list`);
          for (const bucket of body.data) {
            if (!isRecord(bucket) || !Array.isArray(bucket.results)) continue;
            const startMs = count(bucket.start_time) * 1000;
            const endMs = count(bucket.end_time) * 1000;
            for (const r of bucket.results) {
              if (!isRecord(r)) continue;
              const requests = Math.max(...REQUEST_FIELDS.map((f) => count(r[f])));
              const tokens = TOKEN_FIELDS.reduce((sum, f) => sum + count(r[f]), 0);
              tally.add(r.api_key_id, startMs, endMs, requests, tokens, otherCounts(r));
            }
          }
          if (body.has_more !== true) break;
          const next = str(body.next_page);
          if (next === undefined || next === page) throw bad(`GET ${path} has more pages but no \`next_page\``);
          page = next;
        }
      }
    }
    return tally.report('openai', range, coveredUntilMs) satisfies ProviderUsageReport;
  }

  async function revokeKey(id: string): Promise<RevokeKeyResult> {
    const key = await getKey(id);
    if (key === undefined) return { keyId: id, outcome: 'already', status: 'deleted' };
    if (key.owner.type === 'service-account' && key.owner.id !== undefined) {
      // OpenAI refuses (400) to delete a service account's key through api_keys: the account goes, with its key.
      const path = `${base}/service_accounts/${encodeURIComponent(key.owner.id)}`;
      const body = await inProject({ method: 'DELETE', path });
      if (body === undefined) return { keyId: id, outcome: 'already', status: 'deleted' };
      return { keyId: id, outcome: 'revoked', status: 'deleted', serviceAccountDeleted: key.owner.id };
    }
    const body = await inProject({ method: 'DELETE', path: keyPath(id) });
    return { keyId: id, outcome: body === undefined ? 'already' : 'revoked', status: 'deleted' };
  }

  async function mintKey(options: MintKeyOptions): Promise<MintedKey> {
    if (!isRecord(options) || typeof options.name !== 'string' || options.name.trim() === '') {
      throw new ConfigurationError('mintKey: name must be a non-empty string');
    }
    if (options.expiresInSeconds !== undefined) {
      throw new ConfigurationError(
        'mintKey: OpenAI keys minted through a service account take no expiry ' +
          '(expiresInSeconds is for providers that do)',
      );
    }
    const path = `${base}/service_accounts`;
    const body = await inProject({ method: 'POST', path, body: { name: options.name } });
    if (body === undefined) throw bad(`POST ${path} answered 404 though the project exists`);
    const account = body;
    const apiKey = isRecord(account.api_key) ? account.api_key : undefined;
    const value = apiKey ? str(apiKey.value) : undefined;
    const keyId = apiKey ? str(apiKey.id) : undefined;
    const accountId = str(account.id);
    if (apiKey === undefined || value === undefined || keyId === undefined || accountId === undefined) {
      throw bad(`POST ${path} answered no service account with an API key (its id, the key's id and value)`);
    }
    const minted: ProviderKey = {
      provider: 'openai',
      id: keyId,
      name: str(apiKey.name),
      hint: undefined,
      createdAt: seconds(apiKey.created_at) ?? seconds(account.created_at),
      lastUsedAt: undefined,
      expiresAt: undefined,
      status: 'active',
      owner: { type: 'service-account', id: accountId, name: str(account.name) ?? options.name },
      scope: project,
    };
    // The provider's own description adds the hint; the key is minted already, so a failure here changes nothing.
    let described: ProviderKey | undefined;
    try {
      described = await getKey(keyId);
    } catch {
      described = undefined;
    }
    return {
      key: described ? { ...minted, hint: described.hint, name: described.name ?? minted.name } : minted,
      value,
    };
  }

  return {
    id: 'openai',
    canMint: true,
    lagMs: settings.lagMs,
    scope: project,
    listKeys,
    getKey,
    findKey,
    usage,
    revokeKey,
    mintKey,
  };
}

/** @internal The one key matching a hint, or a `PROVIDER_KEY_NOT_FOUND` / `PROVIDER_KEY_AMBIGUOUS` error. */
export function oneMatch(
  provider: 'openai' | 'anthropic',
  label: string,
  where: string,
  matches: readonly ProviderKey[],
): ProviderKey {
  const [only] = matches;
  if (matches.length === 1 && only) return only;
  if (matches.length === 0) {
    throw new ProviderError(
      'PROVIDER_KEY_NOT_FOUND',
      `${label}: no key in ${where} has a hint that matches the key (is it from another project, workspace or ` +
        'organization, or already revoked?)',
      { provider },
    );
  }
  throw new ProviderError(
    'PROVIDER_KEY_AMBIGUOUS',
    `${label}: ${matches.length} keys in ${where} have a hint that matches the key ` +
      `(${matches.map((k) => k.id).join(', ')}): which one it is cannot be told from the hint`,
    { provider },
  );
}

function owner(raw: unknown): ProviderKeyOwner {
  if (!isRecord(raw)) return { type: 'unknown' };
  const type = raw.type === 'user' ? 'user' : raw.type === 'service_account' ? 'service-account' : 'unknown';
  const who = type === 'user' ? raw.user : type === 'service-account' ? raw.service_account : undefined;
  if (!isRecord(who)) return { type };
  return { type, id: str(who.id), name: str(who.name) };
}

/**
 * Every other count of a usage result (images, audio characters and seconds, cached or per-modality tokens…): any
 * positive number in a result is use of the key, whatever the endpoint calls it.
 */
function otherCounts(r: Record<string, unknown>): number {
  let sum = 0;
  for (const [name, value] of Object.entries(r)) {
    if (!(REQUEST_FIELDS as readonly string[]).includes(name) && !(TOKEN_FIELDS as readonly string[]).includes(name)) {
      sum += count(value);
    }
  }
  return sum;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Unix seconds → ms since the epoch; `undefined` for null or anything else. */
function seconds(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value * 1000 : undefined;
}

/** @internal A key id as an argument: a non-empty string. */
export function checkId(id: unknown): string {
  if (typeof id !== 'string' || id === '' || id.length > 200) {
    throw new ConfigurationError('the key id must be a non-empty string (the id at the provider, not the key)');
  }
  // A key passed where its id goes would be sent in a URL: refused, and not quoted.
  if (/^sk-/.test(id)) throw new ConfigurationError('the key id looks like a key: pass its id at the provider');
  return id;
}
