/**
 * OpenAI's Administration API, as far as keyflip uses it (checked against OpenAI's OpenAPI spec): the project
 * (retrieve), project API keys (list, retrieve, delete — a service account's key cannot be deleted this way), project
 * service accounts (create with their key, list, retrieve, delete — which deletes their keys), and every usage
 * endpoint that groups by key (the mock serves chat only: every other one reports no use).
 */
import { randomToken } from './ids.js';
import { type MockAnswer, openaiError } from './answer.js';
import type { ManagementContext } from './context.js';
import type { ServiceAccount, StoredKey } from './key-store.js';
import {
  enumParam,
  intParam,
  listParam,
  pageAfter,
  pageToken,
  QueryError,
  readPageToken,
  requiredInt,
} from './query.js';
import { BUCKET_LIMITS, BUCKET_WIDTHS, type BucketWidth, type UsageGroupField } from './usage-log.js';

const PREFIX = '/organization/';
/** Each usage endpoint that takes `api_key_ids`, with the `group_by` values its spec lists. */
const USAGE_GROUPS = {
  completions: ['project_id', 'user_id', 'api_key_id', 'model', 'batch', 'service_tier'],
  embeddings: ['project_id', 'user_id', 'api_key_id', 'model'],
  moderations: ['project_id', 'user_id', 'api_key_id', 'model'],
  images: ['project_id', 'user_id', 'api_key_id', 'model', 'size', 'source'],
  audio_speeches: ['project_id', 'user_id', 'api_key_id', 'model'],
  audio_transcriptions: ['project_id', 'user_id', 'api_key_id', 'model'],
  file_search_calls: ['project_id', 'user_id', 'api_key_id', 'vector_store_id'],
  web_search_calls: ['project_id', 'user_id', 'api_key_id', 'model', 'context_level'],
} as const satisfies Record<string, readonly string[]>;
/** A usage endpoint the mock serves: `/organization/usage/<kind>`. */
type UsageKind = keyof typeof USAGE_GROUPS;
const seconds = (ms: number): number => Math.floor(ms / 1000);

/** Whether `path` (below the base URL) is one of OpenAI's management paths. */
export function isOpenaiManagementPath(path: string): boolean {
  return path.startsWith(PREFIX);
}

/** The answer to one management request (the admin key already checked). */
export function openaiManagement(ctx: ManagementContext, method: string, path: string, url: URL, body: unknown) {
  try {
    return route(ctx, method, path, url, body);
  } catch (error) {
    if (error instanceof QueryError) return openaiError(400, error.message, 'invalid_request_error', error.param);
    throw error;
  }
}

function route(ctx: ManagementContext, method: string, path: string, url: URL, body: unknown): MockAnswer {
  const usage = /^\/organization\/usage\/([a-z_]+)$/.exec(path);
  if (usage && method === 'GET' && Object.hasOwn(USAGE_GROUPS, usage[1] as string))
    return usageReport(ctx, url, usage[1] as UsageKind);
  const projectOnly = /^\/organization\/projects\/([^/]+)$/.exec(path);
  if (projectOnly && method === 'GET') return retrieveProject(ctx, decodeURIComponent(projectOnly[1] as string));
  const match = /^\/organization\/projects\/([^/]+)\/(api_keys|service_accounts)(?:\/([^/]+))?$/.exec(path);
  if (!match) return openaiError(404, `Invalid URL (${method} ${path.slice(0, 200)})`);
  const [, project, kind, id] = match as unknown as [string, string, string, string | undefined];
  if (decodeURIComponent(project) !== ctx.project)
    return openaiError(404, `No such project: ${decodeURIComponent(project).slice(0, 64)}`);
  if (kind === 'api_keys') {
    if (id === undefined && method === 'GET') return listKeys(ctx, url);
    if (id !== undefined && method === 'GET') return withKey(ctx, id, (key) => ok(apiKey(ctx, key)));
    if (id !== undefined && method === 'DELETE') return withKey(ctx, id, (key) => deleteKey(ctx, key));
  } else {
    if (id === undefined && method === 'GET') return listAccounts(ctx, url);
    if (id === undefined && method === 'POST') return createAccount(ctx, body);
    if (id !== undefined && method === 'GET') return withAccount(ctx, id, (a) => ok(serviceAccount(a)));
    if (id !== undefined && method === 'DELETE') return withAccount(ctx, id, (a) => deleteAccount(ctx, a));
  }
  return openaiError(405, `Method ${method} not allowed on ${path.slice(0, 200)}`);
}

const ok = (body: unknown): MockAnswer => ({ status: 200, body });

/** A `Project`, or the 404 OpenAI answers for a project the organization does not have. */
function retrieveProject(ctx: ManagementContext, id: string): MockAnswer {
  if (id !== ctx.project) return openaiError(404, `No such project: ${id.slice(0, 64)}`);
  return ok({
    id: ctx.project,
    object: 'organization.project',
    name: 'keyflip mock project',
    created_at: 1_700_000_000,
    archived_at: null,
    status: 'active',
  });
}

function withKey(ctx: ManagementContext, id: string, then: (key: StoredKey) => MockAnswer): MockAnswer {
  const key = ctx.store.byId(decodeURIComponent(id));
  if (key === undefined || key.state === 'deleted')
    return openaiError(404, `No such API key: ${decodeURIComponent(id).slice(0, 64)}`);
  return then(key);
}

function withAccount(ctx: ManagementContext, id: string, then: (account: ServiceAccount) => MockAnswer): MockAnswer {
  const account = ctx.store.serviceAccount(decodeURIComponent(id));
  if (account === undefined || account.deleted)
    return openaiError(404, `No such service account: ${decodeURIComponent(id).slice(0, 64)}`);
  return then(account);
}

/** A `ProjectApiKey`. */
function apiKey(ctx: ManagementContext, key: StoredKey): unknown {
  const account = key.serviceAccountId === undefined ? undefined : ctx.store.serviceAccount(key.serviceAccountId);
  const owner =
    account === undefined
      ? {
          type: 'user',
          user: {
            id: ctx.userId,
            name: 'Mock User',
            email: 'mock-user@example.com',
            role: 'owner',
            created_at: 1_700_000_000,
          },
        }
      : {
          type: 'service_account',
          service_account: {
            id: account.id,
            name: account.name,
            created_at: seconds(account.createdAtMs),
            role: 'member',
          },
        };
  return {
    object: 'organization.project.api_key',
    redacted_value: key.hint,
    name: key.name,
    created_at: seconds(key.createdAtMs),
    last_used_at: key.lastUsedAtMs === undefined ? null : seconds(key.lastUsedAtMs),
    id: key.id,
    owner_project_access: 'active',
    owner,
  };
}

function listKeys(ctx: ManagementContext, url: URL): MockAnswer {
  const limit = Math.min(intParam(url, 'limit', 1, 100, 20), ctx.pageSize);
  enumParam(url, 'owner_project_access', ['active', 'inactive', 'any'], 'any'); // every owner here has access
  const after = url.searchParams.get('after');
  const { page, hasMore } = pageAfter(ctx.store.all(), (k) => k.state !== 'deleted', after, limit, 'after');
  return ok({
    object: 'list',
    data: page.map((key) => apiKey(ctx, key)),
    first_id: page[0]?.id ?? null,
    last_id: page.at(-1)?.id ?? null,
    has_more: hasMore,
  });
}

function deleteKey(ctx: ManagementContext, key: StoredKey): MockAnswer {
  if (key.serviceAccountId !== undefined)
    return openaiError(
      400,
      'API keys owned by a service account cannot be deleted: delete the service account instead.',
      'invalid_request_error',
      'api_key_id',
    );
  key.state = 'deleted';
  ctx.disable(key);
  return ok({ object: 'organization.project.api_key.deleted', id: key.id, deleted: true });
}

/** A `ProjectServiceAccount`. */
function serviceAccount(account: ServiceAccount): unknown {
  return {
    object: 'organization.project.service_account',
    id: account.id,
    name: account.name,
    role: 'member',
    created_at: seconds(account.createdAtMs),
  };
}

function listAccounts(ctx: ManagementContext, url: URL): MockAnswer {
  const limit = Math.min(intParam(url, 'limit', 1, 100, 20), ctx.pageSize);
  const after = url.searchParams.get('after');
  const { page, hasMore } = pageAfter(ctx.store.serviceAccounts(), (a) => !a.deleted, after, limit, 'after');
  return ok({
    object: 'list',
    data: page.map(serviceAccount),
    first_id: page[0]?.id ?? null,
    last_id: page.at(-1)?.id ?? null,
    has_more: hasMore,
  });
}

function createAccount(ctx: ManagementContext, body: unknown): MockAnswer {
  const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  if (typeof request.name !== 'string' || request.name.trim() === '')
    return openaiError(400, "Missing required parameter: 'name'.", 'invalid_request_error', 'name');
  const nowMs = ctx.now();
  const account = ctx.store.addServiceAccount(request.name, nowMs);
  if (request.create_service_account_only === true)
    return ok({ ...(serviceAccount(account) as object), role: 'none', api_key: null });
  const value = `sk-svcacct-${randomToken(64)}`;
  const key = ctx.store.add({
    digest: ctx.digest(value),
    value,
    name: 'Secret Key',
    createdAtMs: nowMs,
    serviceAccountId: account.id,
  });
  account.keyIds.push(key.id);
  ctx.enable(key);
  return ok({
    ...(serviceAccount(account) as object),
    api_key: {
      object: 'organization.project.service_account.api_key',
      value,
      name: key.name,
      created_at: seconds(key.createdAtMs),
      id: key.id,
    },
  });
}

function deleteAccount(ctx: ManagementContext, account: ServiceAccount): MockAnswer {
  account.deleted = true;
  for (const id of account.keyIds) {
    const key = ctx.store.byId(id);
    if (key === undefined) continue;
    key.state = 'deleted';
    ctx.disable(key);
  }
  return ok({ object: 'organization.project.service_account.deleted', id: account.id, deleted: true });
}

function usageReport(ctx: ManagementContext, url: URL, kind: UsageKind): MockAnswer {
  const startS = requiredInt(url, 'start_time');
  const nowMs = ctx.now();
  const endRaw = url.searchParams.get('end_time');
  const endMs = endRaw === null || endRaw === '' ? nowMs : requiredInt(url, 'end_time') * 1000;
  const width = enumParam<BucketWidth>(url, 'bucket_width', ['1m', '1h', '1d'], '1d');
  const widthMs = BUCKET_WIDTHS[width];
  const limit = Math.min(
    intParam(url, 'limit', 1, BUCKET_LIMITS[width].max, BUCKET_LIMITS[width].default),
    ctx.pageSize,
  );
  const groupBy = listParam(url, 'group_by');
  const groups: readonly string[] = USAGE_GROUPS[kind];
  for (const field of groupBy) {
    if (!groups.includes(field))
      throw new QueryError('group_by', `Invalid 'group_by': expected a list of ${groups.join(', ')}.`);
  }
  const firstMs = readPageToken(url) ?? Math.floor((startS * 1000) / widthMs) * widthMs;
  const lastMs = Math.min(endMs, nowMs); // buckets that start before the end of the range, and not in the future
  const remaining = Math.max(0, Math.ceil((lastMs - firstMs) / widthMs));
  const count = Math.min(remaining, limit);
  const grouped = new Set<UsageGroupField>();
  if (groupBy.includes('api_key_id')) grouped.add('api_key_id');
  if (groupBy.includes('model')) grouped.add('model');
  const buckets = ctx.usage.buckets({
    firstMs,
    widthMs,
    count,
    visibleBeforeMs: nowMs - ctx.lagMs,
    keyIds: listParam(url, 'api_key_ids'),
    models: listParam(url, 'models'),
    groupBy: grouped,
  });
  const projects = listParam(url, 'project_ids');
  const inProject = projects.length === 0 || projects.includes(ctx.project);
  const hasMore = remaining > count;
  return ok({
    object: 'page',
    data: buckets.map((bucket) => ({
      object: 'bucket',
      start_time: seconds(bucket.startMs),
      end_time: seconds(bucket.endMs),
      results:
        kind !== 'completions' || !inProject // the mock serves chat only
          ? []
          : bucket.groups.map((group) => ({
              object: 'organization.usage.completions.result',
              input_tokens: group.inputTokens,
              output_tokens: group.outputTokens,
              input_cached_tokens: 0,
              input_audio_tokens: 0,
              output_audio_tokens: 0,
              num_model_requests: group.requests,
              project_id: groupBy.includes('project_id') ? ctx.project : null,
              user_id: null,
              api_key_id: group.keyId ?? null,
              model: group.model ?? null,
              batch: groupBy.includes('batch') ? false : null,
              service_tier: groupBy.includes('service_tier') ? 'default' : null,
            })),
    })),
    has_more: hasMore,
    next_page: hasMore ? pageToken(firstMs + count * widthMs) : null,
  });
}
