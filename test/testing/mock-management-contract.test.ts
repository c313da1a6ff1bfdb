/**
 * Contract tests: every request the mock's management API takes and every answer it gives, held to the shapes the
 * providers document, vendored in test/testing/fixtures (OpenAI: its OpenAPI spec; Anthropic: its API reference).
 * Answers are checked strictly: a field the reference does not document fails.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { anthropicAdmin, infer, openaiAdmin, type Reply, startManaged, T0 } from './mock-management-helpers.js';
import { schemaErrors } from './schema-check.js';

interface Operation {
  method: string;
  path: string;
  query: { name: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: string;
  response: string;
}
interface Fixture {
  operations: Operation[];
  schemas: Record<string, Record<string, unknown>>;
}
const load = (name: string): Fixture =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}-management.json`, import.meta.url), 'utf8')) as Fixture;
const openai = load('openai');
const anthropic = load('anthropic');

/** Asserts `reply` is the operation's documented answer (2xx) or the provider's documented error body. */
function conforms(fixture: Fixture, method: string, template: string, reply: Reply): void {
  const operation = fixture.operations.find((op) => op.method === method && op.path === template);
  if (operation === undefined) throw new Error(`no vendored operation ${method} ${template}`);
  const schema = reply.status < 300 ? operation.response : 'ErrorResponse';
  const errors = schemaErrors({ $ref: `#/components/schemas/${schema}` }, reply.json, fixture.schemas);
  expect(errors, `${method} ${template} → ${reply.status} (${schema})`).toEqual([]);
}

/** A valid value for a documented query parameter. */
function sample(name: string, schema: Record<string, unknown>, ids: Record<string, string>): string[] {
  if (ids[name] !== undefined) return [ids[name]];
  if (name === 'limit') return ['2'];
  if (name === 'page') return [];
  if (Array.isArray(schema.enum)) return [String(schema.enum[0])];
  if (schema.type === 'array') {
    const items = schema.items as Record<string, unknown>;
    return Array.isArray(items.enum) ? [String(items.enum[0])] : ['x'];
  }
  if (schema.type === 'integer') return [String(T0 / 1000)];
  if (schema.type === 'boolean') return ['false'];
  if (schema.format === 'date-time') return [new Date(T0).toISOString()];
  return [];
}

describe('mock management API contract', () => {
  it('the checker is strict: an undocumented field, a missing one or a wrong type fails', () => {
    const key = {
      object: 'organization.project.api_key',
      redacted_value: 'sk-abc...def',
      name: 'n',
      created_at: 1,
      last_used_at: null,
      id: 'key_abc',
      owner_project_access: 'active',
      owner: { type: 'user', user: { id: 'u', email: 'e', name: 'n', created_at: 1, role: 'owner' } },
    };
    const ref = { $ref: '#/components/schemas/ProjectApiKey' };
    expect(schemaErrors(ref, key, openai.schemas)).toEqual([]);
    expect(schemaErrors(ref, { ...key, value: 'sk-…' }, openai.schemas)).toEqual(['$: undocumented property value']);
    expect(schemaErrors(ref, { ...key, id: undefined }, openai.schemas)).toHaveLength(1);
    expect(schemaErrors(ref, { ...key, last_used_at: '2026' }, openai.schemas)).toHaveLength(1);
    const anthropicKey = { $ref: '#/components/schemas/APIKey' };
    expect(schemaErrors(anthropicKey, { type: 'api_key', created_at: 'yesterday' }, anthropic.schemas).length).toBe(7);
  });

  it('OpenAI: every answer matches the OpenAPI schemas, errors the ErrorResponse', async () => {
    const { mock, clock } = await startManaged('openai', { lagMs: 60_000, pageSize: 1 });
    const P = '/organization/projects/{project_id}';
    const at = (path: string) => path.replace('{project_id}', 'proj_keyflip');
    const check = async (method: string, template: string, path: string, body?: unknown) => {
      const reply = await openaiAdmin(mock, method, at(path), body === undefined ? {} : { body });
      conforms(openai, method, template, reply);
      return reply;
    };
    const console = mock.mint('console');
    const requestBody = { name: 'keyflip-OPENAI_API_KEY-20261205T070000' };
    expect(schemaErrors({ $ref: '#/ProjectServiceAccountCreateRequest' }, requestBody, openai.schemas)).toEqual([]);
    const created = await check('POST', `${P}/service_accounts`, `${P}/service_accounts`, requestBody);
    const account = created.json as { id: string; api_key: { id: string; value: string } };
    await infer(mock, 'openai', account.api_key.value);
    await infer(mock, 'openai', console.value);
    clock.ms = T0 + 3 * 60_000;
    await check('GET', `${P}/api_keys`, `${P}/api_keys`);
    await check('GET', `${P}/api_keys`, `${P}/api_keys?limit=5&after=${console.id}`);
    await check('GET', `${P}/api_keys/{api_key_id}`, `${P}/api_keys/${account.api_key.id}`);
    await check('GET', `${P}/api_keys/{api_key_id}`, `${P}/api_keys/${console.id}`);
    await check('GET', `${P}/service_accounts`, `${P}/service_accounts`);
    await check('GET', `${P}/service_accounts/{service_account_id}`, `${P}/service_accounts/${account.id}`);
    const usage = `/organization/usage/completions?start_time=${T0 / 1000}&bucket_width=1m`;
    const keyed = `start_time=${T0 / 1000}&bucket_width=1m&api_key_ids=${account.api_key.id}&group_by=api_key_id`;
    const groups = '&group_by=api_key_id&group_by=model&group_by=project_id&group_by=batch&group_by=service_tier';
    const grouped = await check('GET', '/organization/usage/completions', `${usage}${groups}&limit=3`);
    expect(JSON.stringify(grouped.json)).toContain(account.api_key.id);
    await check('GET', '/organization/usage/completions', `${usage}&page=${grouped.json.next_page}`);
    await check('GET', '/organization/usage/embeddings', `/organization/usage/embeddings?start_time=${T0 / 1000}`);
    // Every other usage endpoint that groups by key: the mock serves chat only, so they report no use.
    for (const kind of ['moderations', 'images', 'audio_speeches', 'audio_transcriptions', 'file_search_calls']) {
      const other = await check('GET', `/organization/usage/${kind}`, `/organization/usage/${kind}?${keyed}`);
      expect(other.status).toBe(200);
      expect(JSON.stringify(other.json)).not.toContain(account.api_key.id);
    }
    await check('GET', '/organization/usage/web_search_calls', `/organization/usage/web_search_calls?${keyed}`);
    await check('GET', '/organization/usage/images', `/organization/usage/images?${keyed}&group_by=batch`); // 400
    const project = await check('GET', P, P);
    expect(project.json).toMatchObject({ id: 'proj_keyflip', object: 'organization.project' });
    const missing = await openaiAdmin(mock, 'GET', '/organization/projects/proj_other');
    expect([missing.status, missing.json]).toEqual([
      404,
      { error: expect.objectContaining({ message: expect.any(String) }) },
    ]);
    conforms(openai, 'GET', P, missing);
    const inOther = await openaiAdmin(mock, 'GET', `/organization/projects/proj_other/api_keys/${console.id}`);
    expect(inOther.status).toBe(404);
    conforms(openai, 'GET', `${P}/api_keys/{api_key_id}`, inOther);
    await check('DELETE', `${P}/api_keys/{api_key_id}`, `${P}/api_keys/${account.api_key.id}`); // 400
    await check('DELETE', `${P}/api_keys/{api_key_id}`, `${P}/api_keys/${console.id}`);
    await check('DELETE', `${P}/service_accounts/{service_account_id}`, `${P}/service_accounts/${account.id}`);
    await check('GET', `${P}/api_keys/{api_key_id}`, `${P}/api_keys/${console.id}`); // 404
    await check('GET', '/organization/usage/completions', '/organization/usage/completions'); // 400
    const wrong = await openaiAdmin(mock, 'GET', at(`${P}/api_keys`), { key: 'sk-admin-nope-0123456789' });
    conforms(openai, 'GET', `${P}/api_keys`, wrong);
    const inference = await openaiAdmin(mock, 'GET', at(`${P}/api_keys`), { key: mock.mint().value });
    expect(inference.status).toBe(403);
    conforms(openai, 'GET', `${P}/api_keys`, inference);
  });

  it('Anthropic: every answer matches the reference, errors the error shape', async () => {
    const { mock, clock } = await startManaged('anthropic', { lagMs: 60_000, pageSize: 1 });
    const check = async (method: string, template: string, path: string, body?: unknown, version = true) => {
      const reply = await anthropicAdmin(mock, method, path, { ...(body === undefined ? {} : { body }), version });
      conforms(anthropic, method, template, reply);
      return reply;
    };
    const one = mock.mint({ name: 'one', expiresAtMs: T0 + 86_400_000 });
    const two = mock.mint('two');
    await infer(mock, 'anthropic', one.value);
    clock.ms = T0 + 3 * 60_000;
    const K = '/v1/organizations/api_keys';
    const U = '/v1/organizations/usage_report/messages';
    await check('GET', K, K);
    await check('GET', K, `${K}?limit=1000&after_id=${one.id}&status=active&workspace_id=wrkspc_keyflip`);
    await check('GET', `${K}/{api_key_id}`, `${K}/${one.id}`);
    for (const status of ['inactive', 'active', 'archived']) {
      const body = { status, name: `two ${status}` };
      expect(schemaErrors({ $ref: '#/UpdateAPIKeyRequest' }, body, anthropic.schemas)).toEqual([]);
      await check('POST', `${K}/{api_key_id}`, `${K}/${two.id}`, body);
    }
    await check('POST', `${K}/{api_key_id}`, `${K}/${two.id}`, { status: 'active' }); // 400: archived
    const groups = 'group_by[]=api_key_id&group_by[]=workspace_id&group_by[]=model&group_by[]=service_tier';
    const report = await check('GET', U, `${U}?starting_at=2026-12-05T07:00:00Z&bucket_width=1m&limit=2&${groups}`);
    expect(JSON.stringify(report.json)).toContain(one.id);
    await check('GET', U, `${U}?starting_at=2026-12-05T07:00:00Z&bucket_width=1m&page=${report.json.next_page}`);
    await check('GET', U, U); // 400
    await check('GET', `${K}/{api_key_id}`, `${K}/apikey_01unknown`); // 404
    const W = '/v1/organizations/workspaces/{workspace_id}';
    await check('GET', W, '/v1/organizations/workspaces/wrkspc_keyflip');
    expect((await check('GET', W, '/v1/organizations/workspaces/wrkspc_other')).status).toBe(404);
    await check('GET', K, K, undefined, false); // 400: no anthropic-version
    const wrong = await anthropicAdmin(mock, 'GET', K, { key: 'sk-ant-admin01-nope' });
    conforms(anthropic, 'GET', K, wrong);
    const inference = await anthropicAdmin(mock, 'GET', K, { key: one.value });
    expect(inference.status).toBe(403);
    conforms(anthropic, 'GET', K, inference);
  });

  it.each([
    ['openai', openai],
    ['anthropic', anthropic],
  ] as const)(
    '%s: takes every documented query parameter, and refuses a request without a required one',
    async (family, fixture) => {
      const { mock } = await startManaged(family);
      const minted = mock.mint();
      const account =
        family === 'openai'
          ? ((
              await openaiAdmin(mock, 'POST', '/organization/projects/proj_keyflip/service_accounts', {
                body: { name: 'x' },
              })
            ).json as { id: string })
          : undefined;
      const ids: Record<string, string> = {
        project_id: 'proj_keyflip',
        api_key_id: minted.id,
        service_account_id: account?.id ?? '',
        after: minted.id,
        after_id: minted.id,
        before_id: minted.id,
        workspace_id: 'wrkspc_keyflip',
        bucket_width: '1h',
      };
      const call = (method: string, path: string) =>
        family === 'openai' ? openaiAdmin(mock, method, path) : anthropicAdmin(mock, method, path);
      for (const op of fixture.operations.filter((o) => o.method === 'GET')) {
        const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? name);
        const search = new URLSearchParams();
        ids.after = op.path.endsWith('/service_accounts') ? (account?.id ?? '') : minted.id;
        for (const param of op.query)
          for (const value of sample(param.name, param.schema, ids)) search.append(param.name, value);
        const full = await call('GET', `${path}?${search}`);
        expect([op.path, full.status, full.text.slice(0, 200)]).toEqual([op.path, 200, expect.any(String)]);
        for (const required of op.query.filter((p) => p.required)) {
          search.delete(required.name);
          const missing = await call('GET', `${path}?${search}`);
          expect([op.path, required.name, missing.status]).toEqual([op.path, required.name, 400]);
          conforms(fixture, 'GET', op.path, missing);
        }
      }
    },
  );
});
