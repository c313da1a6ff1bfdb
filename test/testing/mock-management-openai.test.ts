import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { providers } from '../../src/clients/index.js';
import { ConfigurationError } from '../../src/errors.js';
import { startMockProvider } from '../../src/testing/index.js';
import { ADMIN_OPENAI, infer, openaiAdmin, startManaged, T0 } from './mock-management-helpers.js';

const KEYS = '/organization/projects/proj_keyflip/api_keys';
const ACCOUNTS = '/organization/projects/proj_keyflip/service_accounts';
const error = (json: Record<string, unknown>) => json.error as { message: string; type: string; code: unknown };

describe('mock OpenAI Administration API', () => {
  it('admin key auth: none or wrong → 401, an inference key → 403; the admin key is no inference key', async () => {
    const { mock } = await startManaged('openai', {}, ['sk-proj-inference-key-0123456789abcdef']);
    const none = await openaiAdmin(mock, 'GET', KEYS, { key: null });
    expect([none.status, error(none.json).message]).toEqual([401, expect.stringContaining("didn't provide")]);
    const wrong = await openaiAdmin(mock, 'GET', KEYS, { key: 'sk-admin-wrong-0123456789' });
    expect([wrong.status, error(wrong.json).code]).toEqual([401, 'invalid_api_key']);
    expect(wrong.text).not.toContain('sk-admin-wrong');
    const inference = await openaiAdmin(mock, 'GET', KEYS, { key: 'sk-proj-inference-key-0123456789abcdef' });
    expect([inference.status, error(inference.json).message]).toEqual([403, expect.stringContaining('Missing scopes')]);
    expect((await infer(mock, 'openai', ADMIN_OPENAI)).status).toBe(401);
    expect((await openaiAdmin(mock, 'GET', KEYS)).status).toBe(200);
  });

  it('mints through a service account: the key works, is listed with its owner, last_used_at follows use', async () => {
    const { mock, clock } = await startManaged('openai');
    const created = await openaiAdmin(mock, 'POST', ACCOUNTS, { body: { name: 'keyflip-OPENAI_API_KEY-x' } });
    expect(created.status).toBe(200);
    const account = created.json as { id: string; api_key: { id: string; value: string } };
    expect(account.id).toMatch(/^svc_acct_/);
    expect(account.api_key.id).toMatch(/^key_/);
    const { value } = account.api_key;
    const listed = await openaiAdmin(mock, 'GET', KEYS);
    const [key] = (listed.json as { data: Record<string, unknown>[] }).data;
    expect(key).toMatchObject({
      id: account.api_key.id,
      last_used_at: null,
      created_at: T0 / 1000,
      owner: { type: 'service_account', service_account: { id: account.id, name: 'keyflip-OPENAI_API_KEY-x' } },
    });
    const [head, tail] = String(key?.redacted_value).split('...') as [string, string];
    expect(value.startsWith(head) && value.endsWith(tail) && head.length + tail.length < value.length / 2).toBe(true);
    expect(listed.text).not.toContain(value);
    clock.ms = T0 + 90_000;
    expect((await infer(mock, 'openai', value)).status).toBe(200);
    const described = await openaiAdmin(mock, 'GET', `${KEYS}/${account.api_key.id}`);
    expect(described.json.last_used_at).toBe((T0 + 90_000) / 1000);
    expect(mock.keys()).toEqual([
      expect.objectContaining({ id: account.api_key.id, status: 'active', requests: 1, serviceAccountId: account.id }),
    ]);
    expect(mock.keyId(value)).toBe(account.api_key.id);
  });

  it("a service account's key is revoked by deleting the account (api_keys DELETE → 400); then 401", async () => {
    const { mock } = await startManaged('openai');
    const created = await openaiAdmin(mock, 'POST', ACCOUNTS, { body: { name: 'svc' } });
    const account = created.json as { id: string; api_key: { id: string; value: string } };
    const refused = await openaiAdmin(mock, 'DELETE', `${KEYS}/${account.api_key.id}`);
    expect([refused.status, error(refused.json).type]).toEqual([400, 'invalid_request_error']);
    expect((await infer(mock, 'openai', account.api_key.value)).status).toBe(200);
    const deleted = await openaiAdmin(mock, 'DELETE', `${ACCOUNTS}/${account.id}`);
    expect(deleted.json).toEqual({
      object: 'organization.project.service_account.deleted',
      id: account.id,
      deleted: true,
    });
    const after = await infer(mock, 'openai', account.api_key.value);
    expect([after.status, error(after.json).code]).toEqual([401, 'invalid_api_key']);
    expect((await openaiAdmin(mock, 'GET', `${KEYS}/${account.api_key.id}`)).status).toBe(404);
    expect((await openaiAdmin(mock, 'GET', `${ACCOUNTS}/${account.id}`)).status).toBe(404);
    expect((await openaiAdmin(mock, 'DELETE', `${ACCOUNTS}/${account.id}`)).status).toBe(404);
    expect((await openaiAdmin(mock, 'GET', KEYS)).json.data).toEqual([]);
    expect(mock.keys()[0]?.status).toBe('deleted');
  });

  it("a person's key (mock.mint) is deleted through api_keys; a second delete is 404", async () => {
    const { mock } = await startManaged('openai');
    const { id, value } = mock.mint('console key');
    expect(value.startsWith('sk-proj-')).toBe(true);
    expect((await infer(mock, 'openai', value)).status).toBe(200);
    const got = await openaiAdmin(mock, 'GET', `${KEYS}/${id}`);
    expect(got.json).toMatchObject({ name: 'console key', owner: { type: 'user' } });
    const deleted = await openaiAdmin(mock, 'DELETE', `${KEYS}/${id}`);
    expect(deleted.json).toEqual({ object: 'organization.project.api_key.deleted', id, deleted: true });
    expect((await infer(mock, 'openai', value)).status).toBe(401);
    expect((await openaiAdmin(mock, 'DELETE', `${KEYS}/${id}`)).status).toBe(404);
  });

  it('pages keys with limit/after (capped by pageSize) and lists the keys given at start', async () => {
    const { mock } = await startManaged('openai', { pageSize: 2 }, ['sk-proj-given-0123456789abcdefghij']);
    for (let i = 0; i < 4; i++) mock.mint(`k${i}`);
    const seen: string[] = [];
    let after: string | undefined;
    for (let pages = 1; ; pages++) {
      const page = await openaiAdmin(mock, 'GET', `${KEYS}?limit=100${after ? `&after=${after}` : ''}`);
      const body = page.json as { data: { id: string }[]; has_more: boolean; last_id: string; first_id: string };
      expect(body.data.length).toBeLessThanOrEqual(2);
      expect(body.first_id).toBe(body.data[0]?.id);
      seen.push(...body.data.map((k) => k.id));
      if (!body.has_more) {
        expect(pages).toBe(3);
        break;
      }
      after = body.last_id;
    }
    expect(seen).toEqual(mock.keys().map((k) => k.id));
    expect(mock.keyId('sk-proj-given-0123456789abcdefghij')).toBe(seen[0]);
    expect((await openaiAdmin(mock, 'GET', `${KEYS}?limit=101`)).status).toBe(400);
    expect((await openaiAdmin(mock, 'GET', `${KEYS}?after=key_nope`)).status).toBe(400);
  });

  it('usage: buckets from the requests it served, per key, hidden until the lag has passed', async () => {
    const { mock, clock } = await startManaged('openai', { lagMs: 15 * 60_000 });
    const a = mock.mint('a');
    const b = mock.mint('b');
    clock.ms = T0 + 5 * 60_000 + 1_000; // 07:05:01
    for (let i = 0; i < 3; i++) await infer(mock, 'openai', a.value);
    await infer(mock, 'openai', b.value);
    await fetch(`${mock.url}/models`, { headers: { authorization: `Bearer ${a.value}` } }); // no model request
    const query = (extra = '') =>
      `/organization/usage/completions?start_time=${T0 / 1000}&end_time=${T0 / 1000 + 3600}` +
      `&bucket_width=1m&group_by=api_key_id&limit=60${extra}`;
    const counted = (json: Record<string, unknown>) =>
      (json.data as { start_time: number; results: Record<string, unknown>[] }[]).flatMap((bucket) =>
        bucket.results.map((r) => ({ at: bucket.start_time, key: r.api_key_id, n: r.num_model_requests })),
      );
    clock.ms = T0 + 19 * 60_000; // 07:19: the 07:05:01 requests are still within the 15-minute lag
    const early = await openaiAdmin(mock, 'GET', query());
    expect(counted(early.json)).toEqual([]);
    expect((early.json.data as unknown[]).length).toBe(19); // buckets up to now, none in the future
    clock.ms = T0 + 21 * 60_000;
    const late = await openaiAdmin(mock, 'GET', query());
    expect(counted(late.json)).toEqual([
      { at: T0 / 1000 + 300, key: a.id, n: 3 },
      { at: T0 / 1000 + 300, key: b.id, n: 1 },
    ]);
    const onlyA = await openaiAdmin(mock, 'GET', query(`&api_key_ids=${a.id}`));
    const [result] = (onlyA.json.data as { results: Record<string, unknown>[] }[]).flatMap((x) => x.results);
    expect(result).toMatchObject({ api_key_id: a.id, num_model_requests: 3, input_tokens: 3, output_tokens: 3 });
    const ungrouped = await openaiAdmin(
      mock,
      'GET',
      `/organization/usage/completions?start_time=${T0 / 1000}&bucket_width=1h`,
    );
    const [hour] = ungrouped.json.data as { start_time: number; results: Record<string, unknown>[] }[];
    expect(hour?.start_time).toBe(T0 / 1000);
    expect(hour?.results).toEqual([expect.objectContaining({ api_key_id: null, num_model_requests: 4 })]);
    const embeddings = await openaiAdmin(mock, 'GET', `/organization/usage/embeddings?start_time=${T0 / 1000}`);
    expect((embeddings.json.data as { results: unknown[] }[]).flatMap((x) => x.results)).toEqual([]);
  });

  it('usage pages with limit/page: every bucket once, in order', async () => {
    const { mock, clock } = await startManaged('openai', { pageSize: 4 });
    const a = mock.mint();
    clock.ms = T0 + 9 * 60_000 + 500;
    await infer(mock, 'openai', a.value);
    clock.ms = T0 + 10 * 60_000;
    const starts: number[] = [];
    let page: string | null = null;
    let total = 0;
    do {
      const reply = await openaiAdmin(
        mock,
        'GET',
        `/organization/usage/completions?start_time=${T0 / 1000 + 30}&bucket_width=1m&limit=1440` +
          (page ? `&page=${page}` : ''),
      );
      const body = reply.json as { data: { start_time: number; results: { num_model_requests: number }[] }[] };
      expect(body.data.length).toBeLessThanOrEqual(4);
      for (const bucket of body.data) {
        starts.push(bucket.start_time);
        total += bucket.results.reduce((n, r) => n + r.num_model_requests, 0);
      }
      page = reply.json.next_page as string | null;
      expect(reply.json.has_more).toBe(page !== null);
    } while (page !== null);
    expect(starts).toEqual(Array.from({ length: 10 }, (_, i) => T0 / 1000 + 60 * i));
    expect(total).toBe(1);
  });

  it('refuses bad usage requests with the documented error shape', async () => {
    const { mock } = await startManaged('openai');
    const u = '/organization/usage/completions';
    for (const query of ['', '?start_time=x', `?start_time=${T0 / 1000}&bucket_width=2m`]) {
      const bad = await openaiAdmin(mock, 'GET', `${u}${query}`);
      expect([bad.status, Object.keys(error(bad.json)).sort()]).toEqual([400, ['code', 'message', 'param', 'type']]);
    }
    expect((await openaiAdmin(mock, 'GET', `${u}?start_time=1&bucket_width=1h&limit=169`)).status).toBe(400);
    expect((await openaiAdmin(mock, 'GET', `${u}?start_time=1&page=nope`)).status).toBe(400);
    expect((await openaiAdmin(mock, 'GET', `${u}?start_time=1&group_by=colour`)).status).toBe(400);
    expect((await openaiAdmin(mock, 'GET', '/organization/projects/proj_other/api_keys')).status).toBe(404);
    expect((await openaiAdmin(mock, 'GET', `${KEYS}/key_unknown`)).status).toBe(404);
    expect((await openaiAdmin(mock, 'POST', ACCOUNTS, { body: {} })).status).toBe(400);
    const unknown = await openaiAdmin(mock, 'GET', '/organization/nope');
    expect([unknown.status, error(unknown.json).message]).toEqual([404, 'Invalid URL (GET /organization/nope)']);
    expect((await openaiAdmin(mock, 'PUT', KEYS)).status).toBe(405);
  });

  it('shows neither a key nor an admin key; the management paths are 404 without the option', async () => {
    const { mock } = await startManaged('openai', {}, ['sk-proj-given-0123456789abcdefghij']);
    const minted = mock.mint();
    const created = await openaiAdmin(mock, 'POST', ACCOUNTS, { body: { name: 'n' } });
    const value = (created.json as { api_key: { value: string } }).api_key.value;
    const shown = [inspect(mock, { showHidden: true, depth: 10, getters: true }), JSON.stringify(mock), String(mock)];
    shown.push(JSON.stringify(mock.keys()), (await openaiAdmin(mock, 'GET', KEYS)).text);
    for (const secret of [ADMIN_OPENAI, minted.value, value, 'sk-proj-given-0123456789abcdefghij'])
      expect(shown.join('\n')).not.toContain(secret);
    const plain = await startMockProvider({ preset: providers.openai });
    try {
      const reply = await fetch(`${plain.url}${KEYS}`, { headers: { authorization: `Bearer ${ADMIN_OPENAI}` } });
      expect(reply.status).toBe(404);
      expect(() => plain.mint()).toThrow(ConfigurationError);
      expect(() => plain.keys()).toThrow(ConfigurationError);
    } finally {
      await plain.close();
    }
  });

  it('rejects bad management options', async () => {
    const start = (management: unknown, preset: 'openai' | 'gemini' = 'openai') =>
      startMockProvider({ preset: providers[preset], management: management as never });
    await expect(start({ adminKeys: [] })).rejects.toThrow(ConfigurationError);
    await expect(start({ adminKeys: [''] })).rejects.toThrow(ConfigurationError);
    await expect(start({ adminKeys: ['a'], lagMs: -1 })).rejects.toThrow(/lagMs/);
    await expect(start({ adminKeys: ['a'], pageSize: 0 })).rejects.toThrow(/pageSize/);
    await expect(start({ adminKeys: ['a'], project: 'a/b' })).rejects.toThrow(/project/);
    await expect(start({ adminKeys: ['a'], now: 5 })).rejects.toThrow(/now/);
    await expect(start({ adminKeys: ['a'] }, 'gemini')).rejects.toThrow(/openai and anthropic/);
    const { mock } = await startManaged('openai');
    expect(() => mock.mint({ name: '' })).toThrow(ConfigurationError);
    expect(() => mock.mint({ createdAtMs: Number.NaN })).toThrow(ConfigurationError);
  });
});
