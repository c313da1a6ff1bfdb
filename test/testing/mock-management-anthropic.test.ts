import { describe, expect, it } from 'vitest';
import { ADMIN_ANTHROPIC, anthropicAdmin, infer, startManaged, T0 } from './mock-management-helpers.js';

const KEYS = '/v1/organizations/api_keys';
const USAGE = '/v1/organizations/usage_report/messages';
const error = (json: Record<string, unknown>) => json.error as { type: string; message: string };

describe('mock Anthropic Admin API', () => {
  it('admin key auth: none/wrong → 401, an inference key → 403, anthropic-version required', async () => {
    const inference = 'sk-ant-api03-inference-0123456789abcdefghijklmnop-AA';
    const { mock } = await startManaged('anthropic', {}, [inference]);
    const none = await anthropicAdmin(mock, 'GET', KEYS, { key: null });
    expect([none.status, none.json.type, error(none.json).type]).toEqual([401, 'error', 'authentication_error']);
    const wrong = await anthropicAdmin(mock, 'GET', KEYS, { key: 'sk-ant-admin01-wrong' });
    expect([wrong.status, error(wrong.json).type, wrong.text.includes('sk-ant-admin01-wrong')]).toEqual([
      401,
      'authentication_error',
      false,
    ]);
    const asAdmin = await anthropicAdmin(mock, 'GET', KEYS, { key: inference });
    expect([asAdmin.status, error(asAdmin.json).type]).toEqual([403, 'permission_error']);
    const noVersion = await anthropicAdmin(mock, 'GET', KEYS, { version: false });
    expect([noVersion.status, error(noVersion.json).type]).toEqual([400, 'invalid_request_error']);
    expect((await infer(mock, 'anthropic', ADMIN_ANTHROPIC)).status).toBe(401);
    expect((await anthropicAdmin(mock, 'GET', KEYS)).status).toBe(200);
  });

  it('lists and describes keys (hint, created_by, workspace, status); no create endpoint', async () => {
    const { mock } = await startManaged('anthropic', { workspace: 'wrkspc_test' });
    const { id, value } = mock.mint({ name: 'prod', expiresAtMs: T0 + 86_400_000 });
    expect(value.startsWith('sk-ant-api03-') && value.endsWith('AA')).toBe(true);
    const got = await anthropicAdmin(mock, 'GET', `${KEYS}/${id}`);
    expect(got.json).toEqual({
      type: 'api_key',
      id,
      name: 'prod',
      created_at: new Date(T0).toISOString(),
      created_by: { id: expect.stringMatching(/^user_/), type: 'user' },
      partial_key_hint: `${value.slice(0, 16)}...${value.slice(-4)}`,
      status: 'active',
      workspace_id: 'wrkspc_test',
      expires_at: new Date(T0 + 86_400_000).toISOString(),
    });
    expect(id).toMatch(/^apikey_01/);
    expect((await anthropicAdmin(mock, 'POST', KEYS, { body: { name: 'x' } })).status).toBe(404);
    expect((await anthropicAdmin(mock, 'GET', `${KEYS}/apikey_01nope`)).json.error).toMatchObject({
      type: 'not_found_error',
    });
  });

  it('inactive refuses the key (401) and is reversible; archived is for good; expired keys get 401', async () => {
    const { mock, clock } = await startManaged('anthropic');
    const { id, value } = mock.mint();
    expect((await infer(mock, 'anthropic', value)).status).toBe(200);
    const off = await anthropicAdmin(mock, 'POST', `${KEYS}/${id}`, { body: { status: 'inactive' } });
    expect([off.status, off.json.status]).toEqual([200, 'inactive']);
    const refused = await infer(mock, 'anthropic', value);
    expect([refused.status, error(refused.json).type]).toEqual([401, 'authentication_error']);
    const inactive = await anthropicAdmin(mock, 'GET', `${KEYS}?status=inactive`);
    expect((inactive.json.data as { id: string }[]).map((k) => k.id)).toEqual([id]);
    await anthropicAdmin(mock, 'POST', `${KEYS}/${id}`, { body: { status: 'active' } });
    expect((await infer(mock, 'anthropic', value)).status).toBe(200);
    const archived = await anthropicAdmin(mock, 'POST', `${KEYS}/${id}`, { body: { status: 'archived' } });
    expect(archived.json.status).toBe('archived');
    expect((await infer(mock, 'anthropic', value)).status).toBe(401);
    expect((await anthropicAdmin(mock, 'POST', `${KEYS}/${id}`, { body: { status: 'active' } })).status).toBe(400);
    expect((await anthropicAdmin(mock, 'POST', `${KEYS}/${id}`, { body: { status: 'deleted' } })).status).toBe(400);
    const expiring = mock.mint({ expiresAtMs: T0 + 60_000 });
    expect((await infer(mock, 'anthropic', expiring.value)).status).toBe(200);
    clock.ms = T0 + 60_000;
    expect((await infer(mock, 'anthropic', expiring.value)).status).toBe(401);
    expect((await anthropicAdmin(mock, 'GET', `${KEYS}/${expiring.id}`)).json.status).toBe('expired');
  });

  it('pages keys with limit/after_id/before_id', async () => {
    const { mock } = await startManaged('anthropic', { pageSize: 2 });
    const ids = Array.from({ length: 5 }, (_, i) => mock.mint(`k${i}`).id);
    const seen: string[] = [];
    let after = '';
    for (;;) {
      const page = await anthropicAdmin(mock, 'GET', `${KEYS}?limit=1000${after ? `&after_id=${after}` : ''}`);
      const body = page.json as { data: { id: string }[]; has_more: boolean; last_id: string };
      seen.push(...body.data.map((k) => k.id));
      if (!body.has_more) break;
      after = body.last_id;
    }
    expect(seen).toEqual(ids);
    const before = await anthropicAdmin(mock, 'GET', `${KEYS}?before_id=${ids[4]}`);
    expect((before.json.data as { id: string }[]).map((k) => k.id)).toEqual([ids[2], ids[3]]);
    expect((await anthropicAdmin(mock, 'GET', `${KEYS}?limit=0`)).status).toBe(400);
    expect((await anthropicAdmin(mock, 'GET', `${KEYS}?status=gone`)).status).toBe(400);
  });

  it('usage report: tokens only, per key, hidden until the lag has passed, buckets that end by ending_at', async () => {
    const { mock, clock } = await startManaged('anthropic', { lagMs: 3_600_000 });
    const a = mock.mint('a');
    const b = mock.mint('b');
    clock.ms = T0 + 10 * 60_000;
    await infer(mock, 'anthropic', a.value);
    await infer(mock, 'anthropic', a.value);
    await infer(mock, 'anthropic', b.value);
    const query =
      `${USAGE}?starting_at=${new Date(T0).toISOString()}&ending_at=${new Date(T0 + 3 * 3_600_000).toISOString()}` +
      '&bucket_width=1h&group_by[]=api_key_id';
    const results = (json: Record<string, unknown>) =>
      (json.data as { starting_at: string; results: Record<string, unknown>[] }[]).flatMap((bucket) =>
        bucket.results.map((r): Record<string, unknown> => ({ at: bucket.starting_at, ...r })),
      );
    clock.ms = T0 + 60 * 60_000;
    expect(results((await anthropicAdmin(mock, 'GET', query)).json)).toEqual([]);
    clock.ms = T0 + 71 * 60_000;
    const report = await anthropicAdmin(mock, 'GET', query);
    expect((report.json.data as unknown[]).length).toBe(2); // 07:00 and 08:00 (now is 08:11): none in the future
    const rows = results(report.json);
    expect(rows).toEqual([
      expect.objectContaining({ at: '2026-12-05T07:00:00Z', api_key_id: a.id, uncached_input_tokens: 2 }),
      expect.objectContaining({ at: '2026-12-05T07:00:00Z', api_key_id: b.id, output_tokens: 1 }),
    ]);
    expect(rows.every((r) => !('num_model_requests' in r) && !('requests' in r))).toBe(true);
    const onlyB = await anthropicAdmin(mock, 'GET', `${query}&api_key_ids[]=${b.id}`);
    expect(results(onlyB.json).map((r) => r.api_key_id)).toEqual([b.id]);
    // ending_at inside a bucket: that bucket does not end before it, so it is left out.
    const cut = `${USAGE}?starting_at=${new Date(T0).toISOString()}&ending_at=2026-12-05T07:30:00Z&bucket_width=1h`;
    expect((await anthropicAdmin(mock, 'GET', cut)).json.data).toEqual([]);
  });

  it('usage pages with limit/page; bad parameters get 400 invalid_request_error', async () => {
    const { mock, clock } = await startManaged('anthropic');
    clock.ms = T0 + 5 * 60_000;
    const starts: string[] = [];
    let page: string | null = null;
    do {
      const reply = await anthropicAdmin(
        mock,
        'GET',
        `${USAGE}?starting_at=2026-12-05T07:00:00Z&bucket_width=1m&limit=2${page ? `&page=${page}` : ''}`,
      );
      starts.push(...(reply.json.data as { starting_at: string }[]).map((b) => b.starting_at));
      page = reply.json.next_page as string | null;
    } while (page !== null);
    expect(starts).toEqual(['00', '01', '02', '03', '04'].map((m) => `2026-12-05T07:${m}:00Z`));
    for (const bad of ['', '?starting_at=yesterday', '?starting_at=2026-12-05T07:00:00Z&bucket_width=1w']) {
      const reply = await anthropicAdmin(mock, 'GET', `${USAGE}${bad}`);
      expect([reply.status, error(reply.json).type]).toEqual([400, 'invalid_request_error']);
    }
    expect((await anthropicAdmin(mock, 'GET', `${USAGE}?starting_at=2026-12-05T07:00:00Z&limit=32`)).status).toBe(400);
  });
});
