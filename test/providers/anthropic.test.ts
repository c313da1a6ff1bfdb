import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openProvider, type ProviderAdmin, ProviderError } from '../../src/providers/index.js';
import { type Answer, recordingSleep, rejection, type ScriptedServer, startScriptedServer } from './scripted-server.js';

const ADMIN = 'sk-ant-admin01-TESTADMINKEYvalue0123456789abcdefABCDEF';
const KEY_VALUE = 'sk-ant-api03-R2DSECRETSECRETSECRETigAA';
const KEYS = '/v1/organizations/api_keys';
const USAGE = '/v1/organizations/usage_report/messages';
const NOW = Date.parse('2026-12-05T12:00:00Z');

/** The documented `APIKey` example (platform.claude.com, List API Keys), with an id, hint and status of our choice. */
function apiKey(
  id: string,
  hint: string,
  status = 'active',
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    id,
    created_at: '2024-10-30T23:58:27.427722Z',
    created_by: { id: 'user_01WCz1FkmYMm4gnmykNKUu3Q', type: 'user' },
    name: 'Developer Key',
    partial_key_hint: hint,
    status,
    type: 'api_key',
    workspace_id: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
    expires_at: null,
    ...extra,
  };
}
function list(data: Record<string, unknown>[], hasMore = false): Answer {
  return { body: { data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: hasMore } };
}
const anthropicError = (status: number, type: string, message: string): Answer => ({
  status,
  body: { type: 'error', error: { type, message } },
});

let server: ScriptedServer;
let sleep: ReturnType<typeof recordingSleep>;
let admin: ProviderAdmin;
const seen: unknown[] = [];

beforeEach(async () => {
  server = await startScriptedServer();
  sleep = recordingSleep();
  admin = openProvider({
    provider: 'anthropic',
    adminKey: ADMIN,
    baseUrl: server.url,
    now: () => NOW,
    sleep: sleep.sleep,
  });
});
afterEach(async () => {
  await server.close();
  const text = seen.map((s) => (s instanceof Error ? `${s.message} ${String(s.stack)}` : JSON.stringify(s))).join('\n');
  expect(text).not.toContain(ADMIN);
  expect(text).not.toContain(KEY_VALUE);
  seen.length = 0;
});

async function fails(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await rejection(promise);
  seen.push(error);
  expect(error).toBeInstanceOf(ProviderError);
  return error as unknown as ProviderError;
}

describe('anthropic: keys', () => {
  it('lists keys page by page (after_id), with x-api-key and anthropic-version', async () => {
    server.on(`GET ${KEYS}`, (req) =>
      req.query.get('after_id') === null
        ? list([apiKey('apikey_01Rj2N8SVvo6BePZj99NhmiT', 'sk-ant-api03-R2D...igAA')], true)
        : list([apiKey('apikey_02', 'sk-ant-api03-Zzz...zzzz', 'archived', { expires_at: '2027-01-01T00:00:00Z' })]),
    );
    const keys = await admin.listKeys();
    seen.push(keys);
    expect(keys).toEqual([
      {
        provider: 'anthropic',
        id: 'apikey_01Rj2N8SVvo6BePZj99NhmiT',
        name: 'Developer Key',
        hint: 'sk-ant-api03-R2D...igAA',
        createdAt: Date.parse('2024-10-30T23:58:27.427722Z'),
        lastUsedAt: undefined,
        expiresAt: undefined,
        status: 'active',
        owner: { type: 'user', id: 'user_01WCz1FkmYMm4gnmykNKUu3Q', name: undefined },
        scope: 'wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ',
      },
      expect.objectContaining({ id: 'apikey_02', status: 'archived', expiresAt: Date.parse('2027-01-01T00:00:00Z') }),
    ]);
    expect(server.requests.map((r) => [r.query.get('limit'), r.query.get('after_id')])).toEqual([
      ['1000', null],
      ['1000', 'apikey_01Rj2N8SVvo6BePZj99NhmiT'],
    ]);
    expect(server.requests[0]?.headers['x-api-key']).toBe(ADMIN);
    expect(server.requests[0]?.headers['anthropic-version']).toBe('2023-06-01');
    expect(server.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('with a workspace: lists only its keys, and a key of another workspace is unknown', async () => {
    const scoped = openProvider({
      provider: 'anthropic',
      adminKey: ADMIN,
      baseUrl: server.url,
      workspace: 'wrkspc_other',
    });
    server.on(`GET ${KEYS}`, list([]));
    server.on(`GET ${KEYS}/apikey_01`, { body: apiKey('apikey_01', 'sk-ant-api03-R2D...igAA') });
    server.on('GET /v1/organizations/workspaces/wrkspc_other', {
      body: {
        type: 'workspace',
        id: 'wrkspc_other',
        name: 'Workspace Name',
        created_at: '2024-10-30T23:58:27.427722Z',
        archived_at: null,
        display_color: '#6C5BB9',
      },
    });
    expect(await scoped.listKeys()).toEqual([]);
    expect(server.requests[0]?.query.get('workspace_id')).toBe('wrkspc_other');
    expect(await scoped.getKey('apikey_01')).toBeUndefined();
  });

  it('finds a key by its partial_key_hint; none or several is an error', async () => {
    server.on(
      `GET ${KEYS}`,
      list([apiKey('apikey_01', 'sk-ant-api03-R2D...igAA'), apiKey('apikey_02', 'sk-ant-api03-Abc...igAA')]),
    );
    expect((await admin.findKey(KEY_VALUE)).id).toBe('apikey_01');
    expect((await fails(admin.findKey('sk-ant-api03-nothing'))).code).toBe('PROVIDER_KEY_NOT_FOUND');
    server.on(
      `GET ${KEYS}`,
      list([apiKey('apikey_01', 'sk-ant-api03-R2D...igAA'), apiKey('apikey_03', 'sk-ant-***igAA')]),
    );
    expect((await fails(admin.findKey(KEY_VALUE))).code).toBe('PROVIDER_KEY_AMBIGUOUS');
    for (const r of server.requests) expect(JSON.stringify(r)).not.toContain(KEY_VALUE);
  });
});

describe('anthropic: usage', () => {
  const row = (keyId: string, extra: Record<string, unknown> = {}) => ({
    api_key_id: keyId,
    workspace_id: null,
    model: null,
    service_tier: null,
    context_window: null,
    uncached_input_tokens: 100,
    cache_read_input_tokens: 20,
    cache_creation: { ephemeral_5m_input_tokens: 3, ephemeral_1h_input_tokens: 4 },
    output_tokens: 50,
    server_tool_use: { web_search_requests: 7 },
    ...extra,
  });

  it('reads minute buckets in RFC 3339 with bracketed arrays, sums every token count, follows next_page', async () => {
    server.on(`GET ${USAGE}`, (req) =>
      req.query.get('page') === null
        ? {
            body: {
              data: [
                { starting_at: '2026-12-05T11:00:00Z', ending_at: '2026-12-05T11:01:00Z', results: [row('apikey_01')] },
              ],
              has_more: true,
              next_page: 'page_MjAyNS0wNS0xNFQwMDowMDowMFo=',
            },
          }
        : {
            body: {
              data: [
                {
                  starting_at: '2026-12-05T11:05:00Z',
                  ending_at: '2026-12-05T11:06:00Z',
                  // The flat spelling of the cache-creation counts is counted too.
                  results: [row('apikey_01', { cache_creation: undefined, cache_creation_5m_input_tokens: 1 })],
                },
              ],
              has_more: false,
              next_page: null,
            },
          },
    );
    const report = await admin.usage(['apikey_01'], { startMs: NOW - 3_600_000, endMs: NOW });
    seen.push(report);
    expect(report.coveredUntilMs).toBe(NOW - 3_600_000);
    expect(report.keys).toEqual([
      {
        keyId: 'apikey_01',
        requests: undefined,
        tokens: 177 + 171,
        used: true,
        buckets: [
          {
            startMs: Date.parse('2026-12-05T11:00:00Z'),
            endMs: Date.parse('2026-12-05T11:01:00Z'),
            requests: undefined,
            tokens: 177,
          },
          {
            startMs: Date.parse('2026-12-05T11:05:00Z'),
            endMs: Date.parse('2026-12-05T11:06:00Z'),
            requests: undefined,
            tokens: 171,
          },
        ],
      },
    ]);
    const first = server.requests[0];
    expect(first?.query.get('starting_at')).toBe('2026-12-05T11:00:00.000Z');
    expect(first?.query.get('ending_at')).toBe('2026-12-05T12:00:00.000Z');
    expect(first?.query.get('bucket_width')).toBe('1m');
    expect(first?.query.getAll('api_key_ids[]')).toEqual(['apikey_01']);
    expect(first?.query.getAll('group_by[]')).toEqual(['api_key_id']);
    expect(server.requests[1]?.query.get('page')).toBe('page_MjAyNS0wNS0xNFQwMDowMDowMFo=');
  });
  it('covers no further than the last whole bucket: Anthropic leaves out the partial bucket at ending_at', async () => {
    const zeroLag = openProvider({
      provider: 'anthropic',
      adminKey: ADMIN,
      baseUrl: server.url,
      lagMs: 0,
      now: () => NOW + 30_000,
      sleep: sleep.sleep,
    });
    server.on('GET /v1/organizations/usage_report/messages', { body: { data: [], has_more: false, next_page: null } });
    const report = await zeroLag.usage(['apikey_01'], { startMs: NOW - 600_000, endMs: NOW + 30_000 });
    seen.push(report);
    // Half a minute into the bucket that starts at NOW: that bucket is not reported yet, so nothing after NOW is.
    expect(report.coveredUntilMs).toBe(NOW);
    expect(report.keys[0]?.used).toBe(false);
  });
});

describe('anthropic: revoke, mint, errors', () => {
  it('revokes by making the key inactive, or archives it; a key already off is `already`', async () => {
    server.on(`GET ${KEYS}/apikey_01`, { body: apiKey('apikey_01', 'sk-ant-api03-R2D...igAA') });
    server.on(`POST ${KEYS}/apikey_01`, (req) => ({
      body: apiKey('apikey_01', 'sk-ant-api03-R2D...igAA', (JSON.parse(req.body) as { status: string }).status),
    }));
    expect(await admin.revokeKey('apikey_01')).toEqual({ keyId: 'apikey_01', outcome: 'revoked', status: 'inactive' });
    expect(JSON.parse(server.requests[1]?.body ?? '')).toEqual({ status: 'inactive' });
    expect(await admin.revokeKey('apikey_01', { archive: true })).toEqual({
      keyId: 'apikey_01',
      outcome: 'revoked',
      status: 'archived',
    });
    expect(JSON.parse(server.requests[3]?.body ?? '')).toEqual({ status: 'archived' });

    server.on(`GET ${KEYS}/apikey_01`, { body: apiKey('apikey_01', 'sk-ant-api03-R2D...igAA', 'inactive') });
    expect(await admin.revokeKey('apikey_01')).toEqual({ keyId: 'apikey_01', outcome: 'already', status: 'inactive' });
    server.on(`GET ${KEYS}/apikey_01`, { body: apiKey('apikey_01', 'sk-ant-api03-R2D...igAA', 'archived') });
    expect(await admin.revokeKey('apikey_01')).toMatchObject({ outcome: 'already', status: 'archived' });
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
  });

  it('an unknown key id is PROVIDER_KEY_NOT_FOUND', async () => {
    server.on(`GET ${KEYS}/apikey_gone`, anthropicError(404, 'not_found_error', 'API key not found'));
    expect((await fails(admin.revokeKey('apikey_gone'))).code).toBe('PROVIDER_KEY_NOT_FOUND');
  });

  it('cannot mint', async () => {
    expect(admin.canMint).toBe(false);
    const error = await fails(admin.mintKey({ name: 'keyflip-X' }));
    expect(error.code).toBe('PROVIDER_CANNOT_MINT');
    expect(server.requests).toHaveLength(0);
  });

  it('maps the documented error types; 529 overloaded is retried', async () => {
    server.on(`GET ${KEYS}`, anthropicError(401, 'authentication_error', `invalid x-api-key ${ADMIN}`));
    const unauthorized = await fails(admin.listKeys());
    expect(unauthorized).toMatchObject({ code: 'PROVIDER_UNAUTHORIZED', providerCode: 'authentication_error' });
    server.on(`GET ${KEYS}`, anthropicError(403, 'permission_error', 'not an admin key'));
    expect((await fails(admin.listKeys())).code).toBe('PROVIDER_FORBIDDEN');

    server.on(`GET ${KEYS}`, [
      anthropicError(529, 'overloaded_error', 'Overloaded'),
      { ...anthropicError(429, 'rate_limit_error', 'slow down'), headers: { 'retry-after': '7' } },
      list([]),
    ]);
    expect(await admin.listKeys()).toEqual([]);
    expect(sleep.waits).toEqual([500, 7000]);
    server.on(`GET ${KEYS}`, anthropicError(500, 'api_error', 'Internal server error'));
    const unavailable = await fails(admin.listKeys());
    expect(unavailable).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', status: 500, providerCode: 'api_error' });
  });
});
