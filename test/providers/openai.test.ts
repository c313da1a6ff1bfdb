import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isKeyflipError } from '../../src/errors.js';
import { openProvider, type ProviderAdmin, ProviderError } from '../../src/providers/index.js';
import { OPENAI_USAGE_PATHS } from '../../src/providers/openai.js';
import { type Answer, recordingSleep, rejection, type ScriptedServer, startScriptedServer } from './scripted-server.js';

const ADMIN = 'sk-admin-Zq9TESTADMINKEYvalue0123456789abcdef';
const KEY_VALUE = 'sk-abcXYZSECRETVALUEdef';
const PROJECT = 'proj_abc';
const KEYS = `/organization/projects/${PROJECT}/api_keys`;
const ACCOUNTS = `/organization/projects/${PROJECT}/service_accounts`;
const NOW = Date.parse('2026-12-05T12:00:00Z');

/** The documented `ProjectApiKey` example (OpenAPI `list-project-api-keys`), with an id and hint of our choice. */
function apiKey(id: string, redacted: string, owner?: Record<string, unknown>): Record<string, unknown> {
  return {
    object: 'organization.project.api_key',
    redacted_value: redacted,
    name: 'My API Key',
    created_at: 1711471533,
    last_used_at: 1711471534,
    id,
    owner_project_access: 'active',
    owner: owner ?? {
      type: 'user',
      user: { id: 'user_abc', name: 'First Last', email: 'user@example.com', role: 'owner', created_at: 1711471533 },
    },
  };
}
const SVC_OWNER = {
  type: 'service_account',
  service_account: {
    id: 'svc_acct_abc',
    name: 'keyflip-OPENAI_API_KEY-20261205T120000',
    created_at: 1,
    role: 'member',
  },
};
function list(data: unknown[], hasMore = false): Answer {
  const ids = data.map((d) => (d as { id: string }).id);
  return { body: { object: 'list', data, first_id: ids[0], last_id: ids.at(-1), has_more: hasMore } };
}

let server: ScriptedServer;
let sleep: ReturnType<typeof recordingSleep>;
let admin: ProviderAdmin;
/** Every error and result of a test, searched for the admin key and the key value afterwards. */
const seen: unknown[] = [];

/** The documented `Project` example (OpenAPI `retrieve-project`). */
const PROJECT_BODY = {
  id: PROJECT,
  object: 'organization.project',
  name: 'Project example',
  created_at: 1711471533,
  archived_at: null,
  status: 'active',
};
const EMPTY_USAGE: Answer = { body: { object: 'page', data: [], has_more: false, next_page: null } };

beforeEach(async () => {
  server = await startScriptedServer('/v1');
  // The project exists, and every usage endpoint reports nothing unless a test says otherwise.
  server.on(`GET /organization/projects/${PROJECT}`, { body: PROJECT_BODY });
  for (const path of OPENAI_USAGE_PATHS) server.on(`GET ${path}`, EMPTY_USAGE);
  sleep = recordingSleep();
  admin = openProvider({
    provider: 'openai',
    adminKey: ADMIN,
    baseUrl: server.url,
    project: PROJECT,
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
  expect(isKeyflipError(error)).toBe(true);
  return error as unknown as ProviderError;
}

describe('openai: keys', () => {
  it('lists the project keys page by page, with the admin key as a bearer token', async () => {
    server.on(`GET ${KEYS}`, (req) =>
      req.query.get('after') === null
        ? list([apiKey('key_abc', 'sk-abc...def')], true)
        : list([apiKey('key_xyz', 'sk-xyz...uvw', SVC_OWNER)]),
    );
    const keys = await admin.listKeys();
    seen.push(keys);
    expect(keys).toEqual([
      {
        provider: 'openai',
        id: 'key_abc',
        name: 'My API Key',
        hint: 'sk-abc...def',
        createdAt: 1711471533_000,
        lastUsedAt: 1711471534_000,
        expiresAt: undefined,
        status: 'active',
        owner: { type: 'user', id: 'user_abc', name: 'First Last' },
        scope: PROJECT,
      },
      expect.objectContaining({
        id: 'key_xyz',
        owner: { type: 'service-account', id: 'svc_acct_abc', name: 'keyflip-OPENAI_API_KEY-20261205T120000' },
      }),
    ]);
    expect(server.requests.map((r) => [r.query.get('limit'), r.query.get('after')])).toEqual([
      ['100', null],
      ['100', 'key_abc'],
    ]);
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${ADMIN}`);
  });

  it('gets one key, and answers undefined for an id the provider does not know', async () => {
    server.on(`GET ${KEYS}/key_abc`, { body: { ...apiKey('key_abc', 'sk-abc...def'), last_used_at: null } });
    const key = await admin.getKey('key_abc');
    expect(key?.lastUsedAt).toBeUndefined();
    expect(key?.hint).toBe('sk-abc...def');
    expect(await admin.getKey('key_gone')).toBeUndefined();
  });

  it('refuses a key value passed where its id goes, without sending or quoting it', async () => {
    const error = await rejection(admin.getKey(KEY_VALUE));
    seen.push(error);
    expect(error.name).toBe('ConfigurationError');
    expect(server.requests).toHaveLength(0);
  });

  it('finds a key by its hint without sending the key; none or several matching is an error', async () => {
    server.on(`GET ${KEYS}`, list([apiKey('key_abc', 'sk-abc...def'), apiKey('key_other', 'sk-zzz...def')]));
    const found = await admin.findKey(KEY_VALUE);
    expect(found.id).toBe('key_abc');
    const notFound = await fails(admin.findKey('sk-nomatchvalue'));
    expect(notFound.code).toBe('PROVIDER_KEY_NOT_FOUND');
    expect(notFound.permanent).toBe(true);

    server.on(`GET ${KEYS}`, list([apiKey('key_abc', 'sk-abc...def'), apiKey('key_twin', 'sk-abc…def')]));
    const ambiguous = await fails(admin.findKey(KEY_VALUE));
    expect(ambiguous.code).toBe('PROVIDER_KEY_AMBIGUOUS');
    expect(ambiguous.message).toContain('key_abc, key_twin');
    for (const r of server.requests) expect(JSON.stringify(r)).not.toContain(KEY_VALUE);
  });
});

describe('openai: usage', () => {
  const bucket = (start: number, results: unknown[]) => ({
    object: 'bucket',
    start_time: start,
    end_time: start + 60,
    results,
  });
  const result = (keyId: string | null, requests: number, input: number, output: number) => ({
    object: 'organization.usage.completions.result',
    input_tokens: input,
    input_cached_tokens: 400,
    output_tokens: output,
    num_model_requests: requests,
    project_id: null,
    user_id: null,
    api_key_id: keyId,
    model: null,
    batch: null,
  });

  it('reads minute buckets up to a day, follows next_page, and adds completions and embeddings', async () => {
    const start = NOW / 1000 - 3600;
    server.on('GET /organization/usage/completions', (req) =>
      req.query.get('page') === null
        ? {
            body: {
              object: 'page',
              data: [bucket(start, [result('key_abc', 5, 1000, 500), result('key_other', 9, 9, 9)])],
              has_more: true,
              next_page: 'page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=',
            },
          }
        : {
            body: {
              object: 'page',
              data: [bucket(start + 60, [result('key_abc', 1, 10, 0)])],
              has_more: false,
              next_page: null,
            },
          },
    );
    server.on('GET /organization/usage/embeddings', {
      body: {
        object: 'page',
        data: [
          bucket(start, [
            {
              object: 'organization.usage.embeddings.result',
              input_tokens: 16,
              num_model_requests: 2,
              api_key_id: 'key_abc',
            },
          ]),
        ],
        has_more: false,
        next_page: null,
      },
    });
    const report = await admin.usage(['key_abc', 'key_idle'], { startMs: NOW - 3_600_000, endMs: NOW });
    seen.push(report);
    expect(report).toEqual({
      provider: 'openai',
      startMs: NOW - 3_600_000,
      endMs: NOW,
      coveredUntilMs: NOW - 900_000,
      keys: [
        {
          keyId: 'key_abc',
          requests: 8,
          tokens: 1526,
          used: true,
          buckets: [
            { startMs: start * 1000, endMs: (start + 60) * 1000, requests: 7, tokens: 1516 },
            { startMs: (start + 60) * 1000, endMs: (start + 120) * 1000, requests: 1, tokens: 10 },
          ],
        },
        { keyId: 'key_idle', requests: 0, tokens: 0, used: false, buckets: [] },
      ],
    });
    const first = server.requests[0];
    expect(first?.query.get('start_time')).toBe(String(start));
    expect(first?.query.get('end_time')).toBe(String(NOW / 1000));
    expect(first?.query.get('bucket_width')).toBe('1m');
    expect(first?.query.get('limit')).toBe('1440');
    expect(first?.query.getAll('api_key_ids')).toEqual(['key_abc', 'key_idle']);
    expect(first?.query.get('group_by')).toBe('api_key_id');
    expect(server.requests[1]?.query.get('page')).toBe('page_AAAAAGdGxdEiJdKOAAAAAGcqsYA=');
  });

  it('reads hour buckets for a longer range; coveredUntilMs is the range end once the lag has passed', async () => {
    const empty: Answer = { body: { object: 'page', data: [], has_more: false, next_page: null } };
    server.on('GET /organization/usage/completions', empty);
    server.on('GET /organization/usage/embeddings', empty);
    const range = { startMs: NOW - 3 * 86_400_000, endMs: NOW - 86_400_000 };
    const report = await admin.usage(['key_abc'], range);
    expect(report.coveredUntilMs).toBe(range.endMs);
    expect(server.requests[0]?.query.get('bucket_width')).toBe('1h');
    expect(server.requests[0]?.query.get('limit')).toBe('168');
  });

  it('asks nothing for no keys, and refuses a backwards range', async () => {
    const report = await admin.usage([], { startMs: NOW - 1000, endMs: NOW });
    expect(report.keys).toEqual([]);
    expect(server.requests).toHaveLength(0);
    expect((await rejection(admin.usage(['key_abc'], { startMs: NOW, endMs: NOW - 1 }))).name).toBe(
      'ConfigurationError',
    );
  });

  it('a next_page that repeats is a bad response, not an endless loop', async () => {
    server.on('GET /organization/usage/completions', {
      body: { object: 'page', data: [], has_more: true, next_page: 'p1' },
    });
    const error = await fails(admin.usage(['key_abc'], { startMs: NOW - 1000, endMs: NOW }));
    expect(error.code).toBe('PROVIDER_BAD_RESPONSE');
  });
});

describe('openai: revoke and mint', () => {
  it('deletes a user key through api_keys', async () => {
    server.on(`GET ${KEYS}/key_abc`, { body: apiKey('key_abc', 'sk-abc...def') });
    server.on(`DELETE ${KEYS}/key_abc`, {
      body: { object: 'organization.project.api_key.deleted', id: 'key_abc', deleted: true },
    });
    expect(await admin.revokeKey('key_abc')).toEqual({ keyId: 'key_abc', outcome: 'revoked', status: 'deleted' });
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${KEYS}/key_abc`,
      `DELETE ${KEYS}/key_abc`,
    ]);
  });

  it("revokes a service account's key by deleting its service account", async () => {
    server.on(`GET ${KEYS}/key_abc`, { body: apiKey('key_abc', 'sk-abc...def', SVC_OWNER) });
    server.on(`DELETE ${KEYS}/key_abc`, {
      status: 400,
      body: {
        error: {
          message: 'cannot delete a service account key',
          type: 'invalid_request_error',
          param: null,
          code: null,
        },
      },
    });
    server.on(`DELETE ${ACCOUNTS}/svc_acct_abc`, {
      body: { object: 'organization.project.service_account.deleted', id: 'svc_acct_abc', deleted: true },
    });
    expect(await admin.revokeKey('key_abc')).toEqual({
      keyId: 'key_abc',
      outcome: 'revoked',
      status: 'deleted',
      serviceAccountDeleted: 'svc_acct_abc',
    });
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'DELETE']);
    expect(server.requests[1]?.path).toBe(`${ACCOUNTS}/svc_acct_abc`);
  });

  it('is idempotent: a key already gone is `already`', async () => {
    expect(await admin.revokeKey('key_gone')).toEqual({ keyId: 'key_gone', outcome: 'already', status: 'deleted' });
  });

  it('mints a key through a new service account, with the hint the provider then shows', async () => {
    server.on(`POST ${ACCOUNTS}`, (req) => ({
      body: {
        object: 'organization.project.service_account',
        id: 'svc_acct_new',
        name: (JSON.parse(req.body) as { name: string }).name,
        role: 'member',
        created_at: 1711471533,
        api_key: {
          object: 'organization.project.service_account.api_key',
          value: KEY_VALUE,
          name: 'Secret Key',
          created_at: 1711471533,
          id: 'key_new',
        },
      },
    }));
    server.on(`GET ${KEYS}/key_new`, {
      body: apiKey('key_new', 'sk-abc...def', {
        type: 'service_account',
        service_account: { id: 'svc_acct_new', name: 'n' },
      }),
    });
    const minted = await admin.mintKey({ name: 'keyflip-OPENAI_API_KEY-20261205T120000' });
    expect(minted.value).toBe(KEY_VALUE);
    expect(minted.key).toMatchObject({
      id: 'key_new',
      hint: 'sk-abc...def',
      status: 'active',
      owner: { type: 'service-account', id: 'svc_acct_new', name: 'keyflip-OPENAI_API_KEY-20261205T120000' },
    });
    expect(JSON.parse(server.requests[0]?.body ?? '')).toEqual({ name: 'keyflip-OPENAI_API_KEY-20261205T120000' });
    expect(server.requests[0]?.headers['content-type']).toBe('application/json');
    seen.push(minted.key);
  });

  it('a mint that met a 5xx is not repeated (it may have happened); a 429 is', async () => {
    server.on(`POST ${ACCOUNTS}`, { status: 500, body: { error: { message: 'boom', type: 'server_error' } } });
    const error = await fails(admin.mintKey({ name: 'keyflip-X-1' }));
    expect(error.code).toBe('PROVIDER_UNAVAILABLE');
    expect(error.message).toMatch(/may or may not have been applied/);
    expect(server.requests).toHaveLength(1);

    server.on(`POST ${ACCOUNTS}`, [
      { status: 429, headers: { 'retry-after': '3' }, body: { error: { message: 'slow down', type: 'requests' } } },
      { status: 200, body: {} },
    ]);
    const bad = await fails(admin.mintKey({ name: 'keyflip-X-2' }));
    expect(bad.code).toBe('PROVIDER_BAD_RESPONSE'); // the second answer holds no key
    expect(sleep.waits).toEqual([3000]);
  });

  it('refuses an expiry (OpenAI service account keys take none) and an empty name', async () => {
    expect((await rejection(admin.mintKey({ name: 'n', expiresInSeconds: 60 }))).name).toBe('ConfigurationError');
    expect((await rejection(admin.mintKey({ name: ' ' }))).name).toBe('ConfigurationError');
    expect(server.requests).toHaveLength(0);
  });
});

describe('openai: errors and retries', () => {
  const echo = (status: number, type: string, code: string | null): Answer => ({
    status,
    // A provider that quotes the admin key back: it must not reach the message.
    body: { error: { message: `Incorrect API key provided: ${ADMIN}.`, type, param: null, code } },
  });

  it('401 is PROVIDER_UNAUTHORIZED, 403 PROVIDER_FORBIDDEN, another 4xx PROVIDER_BAD_RESPONSE: no retry', async () => {
    server.on(`GET ${KEYS}`, echo(401, 'invalid_request_error', 'invalid_api_key'));
    const unauthorized = await fails(admin.listKeys());
    expect(unauthorized).toMatchObject({ code: 'PROVIDER_UNAUTHORIZED', status: 401, providerCode: 'invalid_api_key' });
    expect(unauthorized.message).toContain('[admin key]');
    expect(unauthorized.permanent).toBe(true);

    server.on(`GET ${KEYS}`, echo(403, 'invalid_request_error', null));
    expect((await fails(admin.listKeys())).code).toBe('PROVIDER_FORBIDDEN');
    server.on(`GET ${KEYS}`, echo(400, 'invalid_request_error', null));
    expect((await fails(admin.listKeys())).code).toBe('PROVIDER_BAD_RESPONSE');
    expect(server.requests).toHaveLength(3);
    expect(sleep.waits).toEqual([]);
  });

  it('429 waits its retry-after; 5xx backs off exponentially; after the retries PROVIDER_UNAVAILABLE', async () => {
    server.on(`GET ${KEYS}`, [
      { status: 429, headers: { 'retry-after': '2' }, body: { error: { message: 'rate', type: 'requests' } } },
      { status: 429, body: { error: { message: 'rate', type: 'requests' } } },
      { status: 503, raw: 'upstream down', headers: { 'content-type': 'text/plain' } },
      list([apiKey('key_abc', 'sk-abc...def')]),
    ]);
    expect((await admin.listKeys()).map((k) => k.id)).toEqual(['key_abc']);
    expect(sleep.waits).toEqual([2000, 1000, 2000]);

    sleep.waits.length = 0;
    server.on(`GET ${KEYS}`, echo(500, 'server_error', null));
    const error = await fails(admin.listKeys());
    expect(error).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', status: 500 });
    expect(error.permanent).toBe(false);
    expect(error.message).toMatch(/after 5 attempts/);
    expect(sleep.waits).toEqual([500, 1000, 2000, 4000]);
  });

  it('a dropped connection and a hung request are retried, then PROVIDER_UNAVAILABLE', async () => {
    server.on(`GET ${KEYS}`, { drop: true });
    const dropped = await fails(admin.listKeys());
    expect(dropped.code).toBe('PROVIDER_UNAVAILABLE');
    expect(dropped.status).toBeUndefined();

    const hurried = openProvider({
      provider: 'openai',
      adminKey: ADMIN,
      baseUrl: server.url,
      project: PROJECT,
      retries: 0,
      timeoutMs: 50,
    });
    server.on(`GET ${KEYS}`, { hang: true });
    const hung = await fails(hurried.listKeys());
    expect(hung.code).toBe('PROVIDER_UNAVAILABLE');
    expect(hung.message).toMatch(/no answer within 50 ms/);
  });

  it('a 2xx that is not a JSON object, or a list without data, is PROVIDER_BAD_RESPONSE', async () => {
    server.on(`GET ${KEYS}`, { raw: '<html>proxy</html>' });
    expect((await fails(admin.listKeys())).code).toBe('PROVIDER_BAD_RESPONSE');
    server.on(`GET ${KEYS}`, { body: { object: 'list' } });
    expect((await fails(admin.listKeys())).code).toBe('PROVIDER_BAD_RESPONSE');
  });
});

describe('openProvider options', () => {
  it('refuses bad options without quoting the admin key', () => {
    const bad = [
      { provider: 'openai', adminKey: ADMIN },
      { provider: 'openai', adminKey: ADMIN, project: 'proj', workspace: 'w' },
      { provider: 'openai', adminKey: `${ADMIN}\n`, project: 'proj' },
      { provider: 'gemini', adminKey: ADMIN },
      { provider: 'openai', adminKey: ADMIN, project: 'proj', baseUrl: ADMIN },
      { provider: 'openai', adminKey: ADMIN, project: 'proj', retries: -1 },
      { provider: 'openai', adminKey: ADMIN, project: 'proj', lagMs: -5 },
      { provider: 'anthropic', adminKey: ADMIN, project: 'proj' },
    ];
    for (const options of bad) {
      let thrown: unknown;
      try {
        openProvider(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(options.provider)).toMatchObject({ name: 'ConfigurationError' });
      seen.push(thrown);
    }
  });

  it('takes the defaults of the contract', () => {
    const openai = openProvider({ provider: 'openai', adminKey: ADMIN, project: PROJECT });
    expect([openai.id, openai.canMint, openai.lagMs]).toEqual(['openai', true, 900_000]);
    const anthropic = openProvider({ provider: 'anthropic', adminKey: ADMIN });
    expect([anthropic.id, anthropic.canMint, anthropic.lagMs]).toEqual(['anthropic', false, 3_600_000]);
    expect(openProvider({ provider: 'openai', adminKey: ADMIN, project: PROJECT, lagMs: 0 }).lagMs).toBe(0);
  });
});
