/**
 * Anthropic's Admin API (`x-api-key: sk-ant-admin01-…`, `anthropic-version`): API keys (list, get, and a status
 * update: `inactive` or `archived`) and the messages usage report grouped by key (tokens only). Keys cannot be
 * minted through the API.
 */
import { isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { matchesHint } from './hint.js';
import type { HttpClient } from './http.js';
import { checkId, oneMatch } from './openai.js';
import { ProviderError } from './provider-error.js';
import type {
  MintedKey,
  ProviderAdmin,
  ProviderKey,
  ProviderKeyStatus,
  RevokeKeyOptions,
  RevokeKeyResult,
} from './types.js';
import { bucketFor, checkUsageArgs, count, MAX_PAGES, UsageTally } from './usage-range.js';

/** @internal */
export interface AnthropicSettings {
  readonly http: HttpClient;
  readonly workspace: string | undefined;
  readonly lagMs: number;
  readonly now: () => number;
}

const PAGE = 1000;
const KEYS = '/v1/organizations/api_keys';
const USAGE = '/v1/organizations/usage_report/messages';
const STATUSES: ReadonlySet<string> = new Set(['active', 'inactive', 'archived', 'expired']);

/** @internal */
export function anthropicAdmin(settings: AnthropicSettings): ProviderAdmin {
  const { http, workspace } = settings;
  const where = workspace === undefined ? 'the organization' : `workspace ${workspace}`;
  const bad = (message: string) =>
    new ProviderError('PROVIDER_BAD_RESPONSE', `Anthropic management API: ${message}`, { provider: 'anthropic' });
  const keyPath = (id: string) => `${KEYS}/${encodeURIComponent(checkId(id))}`;

  /**
   * With a workspace: throws `PROVIDER_SCOPE_NOT_FOUND` when it does not exist, so a key not found there is told
   * apart from a workspace that is not there (a typo lists no keys at all).
   */
  async function checkWorkspace(): Promise<void> {
    if (workspace === undefined) return;
    const path = `/v1/organizations/workspaces/${encodeURIComponent(workspace)}`;
    const found = await http.request({ method: 'GET', path, notFoundIsUndefined: true });
    if (found !== undefined) return;
    throw new ProviderError(
      'PROVIDER_SCOPE_NOT_FOUND',
      `Anthropic: there is no workspace ${workspace} (GET ${path} answered 404): check the workspace id`,
      { provider: 'anthropic', status: 404 },
    );
  }

  const toKey = (raw: unknown): ProviderKey => {
    if (!isRecord(raw) || typeof raw.id !== 'string' || raw.id === '') throw bad('a listed API key has no id');
    const createdBy = isRecord(raw.created_by) ? raw.created_by : undefined;
    const status = typeof raw.status === 'string' && STATUSES.has(raw.status) ? raw.status : undefined;
    if (status === undefined) throw bad(`API key ${raw.id} has no known status`);
    return {
      provider: 'anthropic',
      id: raw.id,
      name: str(raw.name),
      hint: str(raw.partial_key_hint),
      createdAt: rfc3339(raw.created_at),
      lastUsedAt: undefined,
      expiresAt: rfc3339(raw.expires_at),
      status: status as ProviderKeyStatus,
      owner: {
        type:
          createdBy?.type === 'user' ? 'user' : createdBy?.type === 'service_account' ? 'service-account' : 'unknown',
        id: str(createdBy?.id),
        name: undefined,
      },
      scope: str(raw.workspace_id),
    };
  };

  async function listKeys(): Promise<ProviderKey[]> {
    const keys: ProviderKey[] = [];
    let after: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const query: Array<[string, string]> = [['limit', String(PAGE)]];
      if (workspace !== undefined) query.push(['workspace_id', workspace]);
      if (after !== undefined) query.push(['after_id', after]);
      const body = await http.request({ method: 'GET', path: KEYS, query });
      if (!body || !Array.isArray(body.data)) throw bad(`GET ${KEYS} answered no \`data\` list`);
      keys.push(...body.data.map(toKey));
      if (body.has_more !== true) return keys;
      const next = str(body.last_id) ?? keys.at(-1)?.id;
      if (next === undefined || next === after) throw bad(`GET ${KEYS} has more pages but no cursor`);
      after = next;
    }
    throw bad(`GET ${KEYS} answered more than ${MAX_PAGES} pages`);
  }

  async function getKey(id: string): Promise<ProviderKey | undefined> {
    const body = await http.request({ method: 'GET', path: keyPath(id), notFoundIsUndefined: true });
    const key = body === undefined ? undefined : toKey(body);
    // A key of another workspace is not one this admin manages.
    if (key !== undefined && (workspace === undefined || key.scope === workspace)) return key;
    await checkWorkspace();
    return undefined;
  }

  async function findKey(value: string): Promise<ProviderKey> {
    if (typeof value !== 'string' || value === '') throw new ConfigurationError('findKey: the key must be a string');
    const matches = (await listKeys()).filter((k) => matchesHint(value, k.hint));
    if (matches.length === 0) await checkWorkspace();
    return oneMatch('anthropic', 'Anthropic', where, matches);
  }

  async function usage(keyIds: readonly string[], range: { startMs: number; endMs: number }) {
    checkUsageArgs(keyIds, range);
    const tally = new UsageTally(keyIds, false);
    const { width, widthMs, limit } = bucketFor(range);
    // Anthropic returns only the buckets that end by `ending_at`: use in the last, partial bucket is not reported,
    // so the data covers no further than the last whole bucket before `endMs`.
    const lastWholeBucketEnd = Math.floor(range.endMs / widthMs) * widthMs;
    const coveredUntilMs = Math.min(range.endMs, lastWholeBucketEnd, settings.now() - settings.lagMs);
    if (keyIds.length > 0) {
      let page: string | undefined;
      for (let n = 0; ; n++) {
        if (n >= MAX_PAGES) throw bad(`GET ${USAGE} answered more than ${MAX_PAGES} pages`);
        const query: Array<[string, string]> = [
          ['starting_at', new Date(range.startMs).toISOString()],
          ['ending_at', new Date(range.endMs).toISOString()],
          ['bucket_width', width],
          ...keyIds.map((id): [string, string] => ['api_key_ids[]', id]),
          ['group_by[]', 'api_key_id'],
          ['limit', String(limit)],
        ];
        if (page !== undefined) query.push(['page', page]);
        const body = await http.request({ method: 'GET', path: USAGE, query });
        if (!body || !Array.isArray(body.data)) throw bad(`GET ${USAGE} answered no \`data\` list`);
        for (const bucket of body.data) {
          if (!isRecord(bucket) || !Array.isArray(bucket.results)) continue;
          const startMs = rfc3339(bucket.starting_at);
          const endMs = rfc3339(bucket.ending_at);
          if (startMs === undefined || endMs === undefined) throw bad(`GET ${USAGE} answered a bucket with no times`);
          for (const r of bucket.results) {
            if (isRecord(r)) tally.add(r.api_key_id, startMs, endMs, 0, tokensOf(r));
          }
        }
        if (body.has_more !== true) break;
        const next = str(body.next_page);
        if (next === undefined || next === page) throw bad(`GET ${USAGE} has more pages but no \`next_page\``);
        page = next;
      }
    }
    return tally.report('anthropic', range, coveredUntilMs);
  }

  async function revokeKey(id: string, options: RevokeKeyOptions = {}): Promise<RevokeKeyResult> {
    if (!isRecord(options)) throw new ConfigurationError('revokeKey: options must be an object');
    const archive = options.archive === true;
    const key = await getKey(id);
    if (key === undefined) {
      throw new ProviderError('PROVIDER_KEY_NOT_FOUND', `Anthropic: no API key ${id} in ${where}`, {
        provider: 'anthropic',
      });
    }
    const target: ProviderKeyStatus = archive ? 'archived' : 'inactive';
    if (key.status === 'archived' || key.status === 'expired' || key.status === target) {
      return { keyId: id, outcome: 'already', status: key.status };
    }
    const body = await http.request({
      method: 'POST',
      path: keyPath(id),
      body: { status: target },
      idempotent: true,
      notFoundCode: 'PROVIDER_KEY_NOT_FOUND',
    });
    const after = body === undefined ? undefined : toKey(body);
    if (after !== undefined && after.status !== target) {
      throw bad(`POST ${keyPath(id)} answered status ${after.status}, not ${target}`);
    }
    return { keyId: id, outcome: 'revoked', status: target };
  }

  async function mintKey(): Promise<MintedKey> {
    throw new ProviderError(
      'PROVIDER_CANNOT_MINT',
      'Anthropic: the Admin API cannot create API keys; create the key in the Console and stage it from a file',
      { provider: 'anthropic' },
    );
  }

  return {
    id: 'anthropic',
    canMint: false,
    lagMs: settings.lagMs,
    scope: workspace,
    listKeys,
    getKey,
    findKey,
    usage,
    revokeKey,
    mintKey,
  };
}

/**
 * Every token count of a usage result: `uncached_input_tokens`, `cache_read_input_tokens`, the cache-creation
 * counts (nested under `cache_creation`, or flat) and `output_tokens`: any number field named `*_tokens`.
 */
function tokensOf(r: Record<string, unknown>, depth = 0): number {
  let sum = 0;
  for (const [name, value] of Object.entries(r)) {
    if (name.endsWith('_tokens')) sum += count(value);
    else if (depth < 2 && isRecord(value) && name.startsWith('cache_')) sum += tokensOf(value, depth + 1);
  }
  return sum;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An RFC 3339 time → ms since the epoch; `undefined` for null or anything unreadable. */
function rfc3339(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}
