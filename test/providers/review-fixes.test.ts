/**
 * The review's defects, each held down: a wrong OpenAI project is an error (never a key "already" revoked), usage is
 * read from every endpoint that groups by key, and what a provider echoes is scrubbed of the admin key (cut short or
 * in another case) and of any key.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openProvider, type ProviderAdmin, ProviderError } from '../../src/providers/index.js';
import { OPENAI_USAGE_PATHS } from '../../src/providers/openai.js';
import { looksLikeKey, scrubSecrets } from '../../src/providers/scrub.js';
import { startMockProvider } from '../../src/testing/index.js';
import { type Answer, recordingSleep, rejection, type ScriptedServer, startScriptedServer } from './scripted-server.js';

const ADMIN = 'sk-admin-Zq9TESTADMINKEYvalue0123456789abcdef';
const PROJECT = 'proj_abc';
const NOW = Date.parse('2026-12-05T12:00:00Z');
/** An OpenAI-format project key (the core's key formats recognise it). */
const OPENAI_KEY = `sk-proj-${'A1b2C3d4E5f6G7h8'}T3BlbkFJ${'Z9y8X7w6V5u4T3s2'}`;

let server: ScriptedServer;
let admin: ProviderAdmin;
const seen: unknown[] = [];

beforeEach(async () => {
  server = await startScriptedServer('/v1');
  admin = openProvider({
    provider: 'openai',
    adminKey: ADMIN,
    baseUrl: server.url,
    project: PROJECT,
    now: () => NOW,
    lagMs: 0,
    sleep: recordingSleep().sleep,
  });
});
afterEach(async () => {
  await server.close();
  const text = seen.map((s) => (s instanceof Error ? `${s.message} ${String(s.stack)}` : JSON.stringify(s))).join('\n');
  for (const secret of [ADMIN, ADMIN.slice(0, 20), ADMIN.slice(-20), ADMIN.toLowerCase(), OPENAI_KEY]) {
    expect(text).not.toContain(secret);
  }
  seen.length = 0;
});

async function fails(promise: Promise<unknown>): Promise<ProviderError> {
  const error = await rejection(promise);
  seen.push(error);
  expect(error).toBeInstanceOf(ProviderError);
  return error as unknown as ProviderError;
}

const noSuchProject: Answer = {
  status: 404,
  body: { error: { message: `No such project: ${PROJECT}`, type: 'invalid_request_error', param: null, code: null } },
};

describe('openai: a wrong project', () => {
  it('revoking a key is PROVIDER_SCOPE_NOT_FOUND naming the project, never `already`', async () => {
    server.on(`GET /organization/projects/${PROJECT}/api_keys/key_abc`, noSuchProject);
    server.on(`GET /organization/projects/${PROJECT}`, noSuchProject);
    const error = await fails(admin.revokeKey('key_abc'));
    expect(error.code).toBe('PROVIDER_SCOPE_NOT_FOUND');
    expect(error.permanent).toBe(true);
    expect(error.message).toContain(`no project ${PROJECT}`);
    expect(server.requests.map((r) => r.method)).toEqual(['GET', 'GET']); // nothing deleted
    expect((await fails(admin.getKey('key_abc'))).code).toBe('PROVIDER_SCOPE_NOT_FOUND');
  });

  it('listing or finding keys is PROVIDER_SCOPE_NOT_FOUND, not PROVIDER_KEY_NOT_FOUND', async () => {
    server.on(`GET /organization/projects/${PROJECT}/api_keys`, noSuchProject);
    server.on(`GET /organization/projects/${PROJECT}`, noSuchProject);
    expect((await fails(admin.findKey(OPENAI_KEY))).code).toBe('PROVIDER_SCOPE_NOT_FOUND');
    expect((await fails(admin.listKeys())).code).toBe('PROVIDER_SCOPE_NOT_FOUND');
  });

  it('a key unknown in a project that exists is still `already` (checked through the project)', async () => {
    server.on(`GET /organization/projects/${PROJECT}/api_keys/key_gone`, {
      status: 404,
      body: { error: { message: 'No such API key: key_gone', type: 'invalid_request_error', param: null, code: null } },
    });
    server.on(`GET /organization/projects/${PROJECT}`, { body: { id: PROJECT, object: 'organization.project' } });
    expect(await admin.revokeKey('key_gone')).toEqual({ keyId: 'key_gone', outcome: 'already', status: 'deleted' });
  });

  it('a project check the admin key may not make is an error too, not `already`', async () => {
    server.on(`GET /organization/projects/${PROJECT}`, {
      status: 403,
      body: { error: { message: 'Missing scopes', type: 'invalid_request_error', param: null, code: null } },
    });
    expect((await fails(admin.revokeKey('key_abc'))).code).toBe('PROVIDER_FORBIDDEN');
  });

  it('against the mock: a wrong project is refused, the key stays valid; the right one revokes it', async () => {
    const mock = await startMockProvider({ preset: 'openai', keys: [], management: { adminKeys: [ADMIN] } });
    try {
      const key = mock.mint({ name: 'console' });
      const wrong = openProvider({ provider: 'openai', adminKey: ADMIN, baseUrl: mock.url, project: 'proj_other' });
      const error = await fails(wrong.revokeKey(key.id));
      expect(error.code).toBe('PROVIDER_SCOPE_NOT_FOUND');
      expect(error.message).toContain('proj_other');
      expect(mock.keys().find((k) => k.id === key.id)?.status).toBe('active');
      const right = openProvider({ provider: 'openai', adminKey: ADMIN, baseUrl: mock.url, project: 'proj_keyflip' });
      expect(await right.revokeKey(key.id)).toMatchObject({ outcome: 'revoked' });
      expect(await right.revokeKey(key.id)).toMatchObject({ outcome: 'already' });
    } finally {
      await mock.close();
    }
  });

  it('scope is the project (OpenAI) or the workspace (Anthropic, when given)', () => {
    expect(admin.scope).toBe(PROJECT);
    expect(openProvider({ provider: 'anthropic', adminKey: ADMIN, workspace: 'wrkspc_01' }).scope).toBe('wrkspc_01');
    expect(openProvider({ provider: 'anthropic', adminKey: ADMIN }).scope).toBeUndefined();
  });
});

describe('anthropic: a wrong workspace', () => {
  it('is PROVIDER_SCOPE_NOT_FOUND naming the workspace (get, find, revoke); a real one keeps its meaning', async () => {
    const anthropic = await startScriptedServer();
    try {
      const scoped = openProvider({
        provider: 'anthropic',
        adminKey: ADMIN,
        baseUrl: anthropic.url,
        workspace: 'wrkspc_typo',
        sleep: recordingSleep().sleep,
      });
      const missing: Answer = {
        status: 404,
        body: { type: 'error', error: { type: 'not_found_error', message: 'Workspace not found' } },
      };
      anthropic.on('GET /v1/organizations/workspaces/wrkspc_typo', missing);
      anthropic.on('GET /v1/organizations/api_keys', {
        body: { data: [], first_id: null, last_id: null, has_more: false },
      });
      const calls = [() => scoped.getKey('apikey_01'), () => scoped.revokeKey('apikey_01'), () => scoped.findKey('x')];
      for (const call of calls) {
        const error = await fails(call());
        expect(error.code).toBe('PROVIDER_SCOPE_NOT_FOUND');
        expect(error.message).toContain('no workspace wrkspc_typo');
      }
      expect(anthropic.requests.filter((r) => r.method === 'POST')).toEqual([]);
      anthropic.on('GET /v1/organizations/workspaces/wrkspc_typo', { body: { type: 'workspace', id: 'wrkspc_typo' } });
      expect(await scoped.getKey('apikey_01')).toBeUndefined();
      expect((await fails(scoped.findKey(OPENAI_KEY))).code).toBe('PROVIDER_KEY_NOT_FOUND');
    } finally {
      await anthropic.close();
    }
  });

  it('against the mock: a wrong workspace is refused and the key stays active', async () => {
    const mock = await startMockProvider({ preset: 'anthropic', keys: [], management: { adminKeys: [ADMIN] } });
    try {
      const key = mock.mint({ name: 'console' });
      const wrong = openProvider({ provider: 'anthropic', adminKey: ADMIN, baseUrl: mock.url, workspace: 'wrkspc_x' });
      expect((await fails(wrong.revokeKey(key.id))).code).toBe('PROVIDER_SCOPE_NOT_FOUND');
      expect((await fails(wrong.findKey(key.value))).code).toBe('PROVIDER_SCOPE_NOT_FOUND');
      expect(mock.keys().find((k) => k.id === key.id)?.status).toBe('active');
      const right = openProvider({
        provider: 'anthropic',
        adminKey: ADMIN,
        baseUrl: mock.url,
        workspace: 'wrkspc_keyflip',
      });
      expect(await right.revokeKey(key.id)).toMatchObject({ outcome: 'revoked', status: 'inactive' });
    } finally {
      await mock.close();
    }
  });
});

describe('openai: usage from every endpoint that groups by key', () => {
  const page = (results: unknown[]): Answer => ({
    body: {
      object: 'page',
      data: [{ object: 'bucket', start_time: NOW / 1000 - 600, end_time: NOW / 1000 - 540, results }],
      has_more: false,
      next_page: null,
    },
  });
  /** The spec's example result of each endpoint (num_model_requests etc.), for key_old. */
  const examples: Record<string, Record<string, unknown>> = {
    moderations: { object: 'organization.usage.moderations.result', input_tokens: 20, num_model_requests: 2 },
    images: { object: 'organization.usage.images.result', images: 2, num_model_requests: 2, size: '1024x1024' },
    audio_speeches: { object: 'organization.usage.audio_speeches.result', characters: 45, num_model_requests: 1 },
    audio_transcriptions: {
      object: 'organization.usage.audio_transcriptions.result',
      seconds: 10,
      num_model_requests: 1,
    },
    file_search_calls: { object: 'organization.usage.file_searches.result', num_requests: 2, vector_store_id: 'vs' },
    web_search_calls: { object: 'organization.usage.web_searches.result', num_model_requests: 2, num_requests: 3 },
  };

  it('reads the eight endpoints the spec lets group by api_key_id', () => {
    expect(OPENAI_USAGE_PATHS.map((p) => p.split('/').pop())).toEqual([
      'completions',
      'embeddings',
      'moderations',
      'images',
      'audio_speeches',
      'audio_transcriptions',
      'file_search_calls',
      'web_search_calls',
    ]);
  });

  it.each(Object.entries(examples))('a key used only for %s is in use', async (endpoint, example) => {
    for (const path of OPENAI_USAGE_PATHS) server.on(`GET ${path}`, page([]));
    server.on(`GET /organization/usage/${endpoint}`, page([{ ...example, api_key_id: 'key_old' }]));
    const report = await admin.usage(['key_old', 'key_idle'], { startMs: NOW - 3_600_000, endMs: NOW });
    expect(report.keys[0]?.used).toBe(true);
    expect(report.keys[0]?.requests).toBe(
      Math.max(Number(example.num_model_requests ?? 0), Number(example.num_requests ?? 0)),
    );
    expect(report.keys[0]?.buckets).toHaveLength(1);
    expect(report.keys[1]).toMatchObject({ used: false, requests: 0 });
    const asked = server.requests.filter((r) => r.path.startsWith('/organization/usage/'));
    expect(asked.map((r) => r.path)).toEqual([...OPENAI_USAGE_PATHS]);
    for (const r of asked) {
      expect(r.query.getAll('api_key_ids')).toEqual(['key_old', 'key_idle']);
      expect(r.query.get('group_by')).toBe('api_key_id');
    }
  });

  it('any positive count is use, even with no request or token counted', async () => {
    for (const path of OPENAI_USAGE_PATHS) server.on(`GET ${path}`, page([]));
    server.on(
      'GET /organization/usage/images',
      page([{ object: 'organization.usage.images.result', images: 1, num_model_requests: 0, api_key_id: 'key_old' }]),
    );
    const report = await admin.usage(['key_old'], { startMs: NOW - 3_600_000, endMs: NOW });
    expect(report.keys[0]).toMatchObject({ used: true, requests: 0, tokens: 0 });
  });

  it('against the mock: every endpoint answers, and chat use shows once', async () => {
    const mock = await startMockProvider({ preset: 'openai', keys: [], management: { adminKeys: [ADMIN] } });
    try {
      const key = mock.mint({ name: 'console' });
      const res = await fetch(`${mock.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.value}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
      });
      await res.text();
      const real = openProvider({ provider: 'openai', adminKey: ADMIN, baseUrl: mock.url, project: 'proj_keyflip' });
      const now = Date.now();
      const report = await real.usage([key.id], { startMs: now - 3_600_000, endMs: now + 60_000 });
      expect(report.keys[0]).toMatchObject({ used: true, requests: 1 });
    } finally {
      await mock.close();
    }
  });
});

describe('scrubbing what the provider says', () => {
  it('removes the admin key cut short or in another case, and every key', () => {
    const said = `Incorrect API key provided: ${ADMIN.slice(0, 40)}. And ${ADMIN.toLowerCase()} or ${OPENAI_KEY}`;
    const clean = scrubSecrets(said, ADMIN);
    expect(clean).not.toContain(ADMIN.slice(0, 40));
    expect(clean.toLowerCase()).not.toContain(ADMIN.slice(10, 18).toLowerCase());
    expect(clean).not.toContain(OPENAI_KEY);
    expect(clean).toContain('[admin key]');
    expect(clean).toContain('[redacted openai key]');
    expect(scrubSecrets('a run: TESTADMI, a shorter one: TESTADM', ADMIN)).toBe(
      'a run: [admin key], a shorter one: TESTADM',
    );
    expect(scrubSecrets('a hint sk-abc...def stays', ADMIN)).toBe('a hint sk-abc...def stays');
    expect(scrubSecrets('an unknown sk-svcacct-QWERTYUIOPasdfghjk goes', ADMIN)).toBe('an unknown [redacted key] goes');
  });

  it('an echoing provider: no part of the admin key in the message, a key-bearing code dropped', async () => {
    server.on(`GET /organization/projects/${PROJECT}/api_keys`, {
      status: 401,
      body: {
        error: {
          message: `Incorrect API key provided: ${ADMIN.slice(0, 40)}. And ${ADMIN.toLowerCase()}`,
          type: 'invalid_request_error',
          code: ADMIN,
        },
      },
    });
    const error = await fails(admin.listKeys());
    expect(error.code).toBe('PROVIDER_UNAUTHORIZED');
    expect(error.providerCode).toBeUndefined();
    expect(error.message).toContain('401 ("Incorrect API key provided: [admin key]. And [admin key]")');
    expect(error.message.toLowerCase()).not.toContain(ADMIN.slice(9, 17).toLowerCase());
  });

  it('a key-like project or workspace is refused without being quoted', () => {
    const cases = [
      { provider: 'openai', project: 'sk-proj-LEAKME9Zq8Xv3Lm9' },
      { provider: 'openai', project: OPENAI_KEY },
      { provider: 'openai', project: ADMIN.replace(/-/g, '_') },
      { provider: 'openai', project: `proj_${ADMIN.slice(9, 30)}` },
      { provider: 'anthropic', workspace: 'sk-ant-api03-LEAKME' },
      { provider: 'anthropic', workspace: OPENAI_KEY },
    ];
    for (const options of cases) {
      let thrown: unknown;
      try {
        openProvider({ adminKey: ADMIN, ...options } as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toMatchObject({ name: 'ConfigurationError', message: expect.stringMatching(/looks like a key/) });
      const value = options.project ?? options.workspace ?? '';
      expect((thrown as Error).message).not.toContain(value.slice(0, 12));
    }
    expect(looksLikeKey('proj_abc', ADMIN)).toBe(false);
    expect(looksLikeKey('wrkspc_01JwQvzr7rXLA5AGx3HKfFUJ', ADMIN)).toBe(false);
  });
});
