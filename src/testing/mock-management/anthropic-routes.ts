/**
 * Anthropic's Admin API, as far as keyflip uses it (checked against platform.claude.com's reference): the workspace
 * (retrieve), API keys (list with `status`/`workspace_id` filters, retrieve, update `name`/`status` — no create) and
 * the messages usage report (tokens only: no request count). Every request carries `anthropic-version`.
 */
import type { IncomingMessage } from 'node:http';
import { anthropicError, type MockAnswer } from './answer.js';
import type { ManagementContext } from './context.js';
import type { StoredKey } from './key-store.js';
import {
  enumParam,
  intParam,
  listParam,
  pageAfter,
  pageBefore,
  pageToken,
  QueryError,
  readPageToken,
  rfc3339,
  timeParam,
} from './query.js';
import { BUCKET_LIMITS, BUCKET_WIDTHS, type BucketWidth, type UsageGroupField } from './usage-log.js';

const PREFIX = '/v1/organizations/';
const STATUSES = ['active', 'inactive', 'archived', 'expired'] as const;
const GROUPS = ['api_key_id', 'workspace_id', 'model', 'service_tier', 'context_window'] as const;

/** Whether `path` (below the base URL) is one of Anthropic's Admin API paths. */
export function isAnthropicManagementPath(path: string): boolean {
  return path.startsWith(PREFIX);
}

/** The answer to one Admin API request (the admin key already checked). */
export function anthropicManagement(
  ctx: ManagementContext,
  req: IncomingMessage,
  path: string,
  url: URL,
  body: unknown,
  requestId: string,
): MockAnswer {
  if (req.headers['anthropic-version'] === undefined)
    return anthropicError(400, 'invalid_request_error', 'anthropic-version: header is required', requestId);
  try {
    return route(ctx, req.method ?? 'GET', path, url, body, requestId);
  } catch (error) {
    if (error instanceof QueryError) return anthropicError(400, 'invalid_request_error', error.message, requestId);
    throw error;
  }
}

function route(
  ctx: ManagementContext,
  method: string,
  path: string,
  url: URL,
  body: unknown,
  requestId: string,
): MockAnswer {
  if (path === '/v1/organizations/usage_report/messages' && method === 'GET') return usageReport(ctx, url);
  if (path === '/v1/organizations/api_keys' && method === 'GET') return listKeys(ctx, url);
  const workspace = /^\/v1\/organizations\/workspaces\/([^/]+)$/.exec(path);
  if (workspace && method === 'GET')
    return retrieveWorkspace(ctx, decodeURIComponent(workspace[1] as string), requestId);
  const match = /^\/v1\/organizations\/api_keys\/([^/]+)$/.exec(path);
  if (!match) return anthropicError(404, 'not_found_error', `Not found: ${path.slice(0, 200)}`, requestId);
  const id = decodeURIComponent(match[1] as string);
  const key = ctx.store.byId(id);
  if (key === undefined || key.state === 'deleted')
    return anthropicError(404, 'not_found_error', `API key not found: ${id.slice(0, 64)}`, requestId);
  if (method === 'GET') return { status: 200, body: apiKey(ctx, key) };
  if (method === 'POST') return update(ctx, key, body, requestId);
  return anthropicError(405, 'invalid_request_error', `Method ${method} not allowed`, requestId);
}

/** A `Workspace`, or the 404 for a workspace the organization does not have. */
function retrieveWorkspace(ctx: ManagementContext, id: string, requestId: string): MockAnswer {
  if (id !== ctx.workspace)
    return anthropicError(404, 'not_found_error', `Workspace not found: ${id.slice(0, 64)}`, requestId);
  return {
    status: 200,
    body: {
      type: 'workspace',
      id: ctx.workspace,
      name: 'keyflip mock workspace',
      created_at: '2026-01-01T00:00:00Z',
      archived_at: null,
      display_color: '#6C5BB9',
    },
  };
}

/** An `APIKey`. */
function apiKey(ctx: ManagementContext, key: StoredKey): unknown {
  return {
    type: 'api_key',
    id: key.id,
    name: key.name,
    created_at: new Date(key.createdAtMs).toISOString(),
    created_by: { id: ctx.userId, type: 'user' },
    partial_key_hint: key.hint,
    status: ctx.store.statusOf(key, ctx.now()),
    workspace_id: ctx.workspace,
    expires_at: key.expiresAtMs === undefined ? null : new Date(key.expiresAtMs).toISOString(),
  };
}

function listKeys(ctx: ManagementContext, url: URL): MockAnswer {
  const limit = Math.min(intParam(url, 'limit', 1, 1000, 20), ctx.pageSize);
  const status = url.searchParams.get('status');
  if (status !== null && !(STATUSES as readonly string[]).includes(status))
    throw new QueryError('status', `status: Input should be ${STATUSES.map((s) => `'${s}'`).join(', ')}`);
  const workspace = url.searchParams.get('workspace_id');
  const nowMs = ctx.now();
  const visible = (key: StoredKey): boolean =>
    key.state !== 'deleted' &&
    (status === null || ctx.store.statusOf(key, nowMs) === status) &&
    (workspace === null || workspace === ctx.workspace);
  const before = url.searchParams.get('before_id');
  const { page, hasMore } =
    before === null || before === ''
      ? pageAfter(ctx.store.all(), visible, url.searchParams.get('after_id'), limit, 'after_id')
      : pageBefore(ctx.store.all(), visible, before, limit);
  return {
    status: 200,
    body: {
      data: page.map((key) => apiKey(ctx, key)),
      first_id: page[0]?.id ?? null,
      last_id: page.at(-1)?.id ?? null,
      has_more: hasMore,
    },
  };
}

function update(ctx: ManagementContext, key: StoredKey, body: unknown, requestId: string): MockAnswer {
  const request = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const { name, status } = request;
  if (name !== undefined && (typeof name !== 'string' || name.length < 1 || name.length > 500))
    return anthropicError(400, 'invalid_request_error', 'name: String should have 1 to 500 characters', requestId);
  if (status !== undefined && status !== 'active' && status !== 'inactive' && status !== 'archived')
    return anthropicError(
      400,
      'invalid_request_error',
      "status: Input should be 'active', 'inactive' or 'archived'",
      requestId,
    );
  const current = ctx.store.statusOf(key, ctx.now());
  if (current === 'archived' && status !== undefined && status !== 'archived')
    return anthropicError(400, 'invalid_request_error', 'An archived API key cannot be changed.', requestId);
  if (current === 'expired' && status === 'active')
    return anthropicError(400, 'invalid_request_error', 'An expired API key cannot be activated.', requestId);
  if (typeof name === 'string') key.name = name;
  if (status === 'active' && current === 'inactive') {
    key.state = 'active';
    ctx.enable(key);
  } else if ((status === 'inactive' || status === 'archived') && current !== 'archived') {
    key.state = status;
    ctx.disable(key);
  }
  return { status: 200, body: apiKey(ctx, key) };
}

function usageReport(ctx: ManagementContext, url: URL): MockAnswer {
  const startMs = timeParam(url, 'starting_at', true) as number;
  const endMs = timeParam(url, 'ending_at', false);
  const width = enumParam<BucketWidth>(url, 'bucket_width', ['1m', '1h', '1d'], '1d');
  const widthMs = BUCKET_WIDTHS[width];
  const limit = Math.min(
    intParam(url, 'limit', 1, BUCKET_LIMITS[width].max, BUCKET_LIMITS[width].default),
    ctx.pageSize,
  );
  const groupBy = listParam(url, 'group_by');
  for (const field of groupBy) {
    if (!(GROUPS as readonly string[]).includes(field))
      throw new QueryError('group_by', `group_by: Input should be one of ${GROUPS.join(', ')}`);
  }
  const nowMs = ctx.now();
  const firstMs = readPageToken(url) ?? Math.floor(startMs / widthMs) * widthMs;
  // Buckets that end before `ending_at` (the reference's words), and none in the future.
  const lastEndMs = Math.min(endMs ?? Number.POSITIVE_INFINITY, Math.ceil(nowMs / widthMs) * widthMs);
  const remaining = Math.max(0, Math.floor((lastEndMs - firstMs) / widthMs));
  const count = Math.min(remaining, limit);
  const grouped = new Set<UsageGroupField>();
  if (groupBy.includes('api_key_id')) grouped.add('api_key_id');
  if (groupBy.includes('model')) grouped.add('model');
  const workspaces = listParam(url, 'workspace_ids');
  const inWorkspace = workspaces.length === 0 || workspaces.includes(ctx.workspace);
  const buckets = ctx.usage.buckets({
    firstMs,
    widthMs,
    count,
    visibleBeforeMs: nowMs - ctx.lagMs,
    keyIds: listParam(url, 'api_key_ids'),
    models: listParam(url, 'models'),
    groupBy: grouped,
  });
  const hasMore = remaining > count;
  return {
    status: 200,
    body: {
      data: buckets.map((bucket) => ({
        starting_at: rfc3339(bucket.startMs),
        ending_at: rfc3339(bucket.endMs),
        results: !inWorkspace
          ? []
          : bucket.groups.map((group) => ({
              api_key_id: group.keyId ?? null,
              workspace_id: groupBy.includes('workspace_id') ? ctx.workspace : null,
              model: group.model ?? null,
              service_tier: groupBy.includes('service_tier') ? 'standard' : null,
              context_window: groupBy.includes('context_window') ? '0-200k' : null,
              uncached_input_tokens: group.inputTokens,
              cache_creation: { ephemeral_1h_input_tokens: 0, ephemeral_5m_input_tokens: 0 },
              cache_read_input_tokens: 0,
              output_tokens: group.outputTokens,
              server_tool_use: { web_search_requests: 0 },
            })),
      })),
      has_more: hasMore,
      next_page: hasMore ? pageToken(firstMs + count * widthMs) : null,
    },
  };
}
