/**
 * The REST surface's JSON: hand-written requests (fetch, as curl or another language's client would send them) in
 * lowerCamelCase and in the original proto field names, for every REST method of SecretManagerService that takes
 * a body or query parameters, nested fields included; what they did is read back through the REAL
 * `SecretManagerServiceClient` over gRPC and over REST (`fallback: true`).
 *
 * References:
 * - proto3 JSON mapping (https://protobuf.dev/programming-guides/json/): "Message field names are mapped to
 *   lowerCamelCase and become JSON object keys. […] Parsers accept both the lowerCamelCase name (or the one
 *   specified by the json_name option) and the original proto field name."
 * - The REST reference gives each method's body and query parameters (proto names in the URL templates):
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets (create: `secretId` query
 *   parameter, body a Secret; patch: `updateMask`; addVersion, disable/enable/destroy (body `etag`), setIamPolicy,
 *   testIamPermissions: JSON bodies; list: `pageSize`, `pageToken`, `filter`; getIamPolicy:
 *   `options.requestedPolicyVersion`; delete: `etag`).
 * - An unknown name, as Google's REST front end words it: `Invalid JSON payload received. Unknown name "x" at
 *   'secret': Cannot find field.` (INVALID_ARGUMENT, HTTP 400; google-gemini/gemini-cli#13972,
 *   decolua/9router#1876 for the top-level form without `at`); an unknown query parameter: `Unknown name "k":
 *   Cannot bind query parameter. Field 'k' could not be found in request message.` (a 400 recorded in demisto/content,
 *   Packs/GoogleChronicleBackstory/Integrations/GoogleChronicleBackstory/GoogleChronicleBackstory_test.py);
 *   a list for a field that is no list: `Proto field is not repeating, cannot start list.`
 *   (makenotion/notion-mcp-server#29); a body that is no object: `Unknown name "": Root element must be a message.`
 *   (google-wallet/rest-samples#22).
 * - A field named twice (both spellings): refused, as the protobuf conformance suite recommends
 *   (JsonInput.FieldNameDuplicateDifferentCasing1/2).
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/crc32c.js';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';

const P = 'keyflip-test';
const NUM = '123456789012';
const o = { retry: null, timeout: 5_000 } as const;
const KEY = 'projects/p/locations/us-central1/keyRings/kr/cryptoKeys/k';

type Form = 'camelCase' | 'snake_case';
type Json = Record<string, unknown>;
/** Map fields: their keys are data, never field names. */
const MAPS = new Set(['labels', 'annotations', 'versionAliases', 'tags']);
const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** `json` (written in lowerCamelCase) with every field name in the given form; map keys stay as they are. */
function inForm(form: Form, json: unknown): unknown {
  if (Array.isArray(json)) return json.map((v) => inForm(form, v));
  if (typeof json !== 'object' || json === null) return json;
  return Object.fromEntries(
    Object.entries(json).map(([k, v]) => [form === 'snake_case' ? snake(k) : k, MAPS.has(k) ? v : inForm(form, v)]),
  );
}

describe('REST JSON: lowerCamelCase and proto field names, every method with a body or query', () => {
  let emulator: SecretManagerEmulator;
  const clients: Record<'grpc' | 'rest', SecretManagerServiceClient> = {} as never;
  let n = 0;
  const fresh = (form: Form): string => `rest-json-${form === 'camelCase' ? 'camel' : 'snake'}-${++n}`;
  const secretPath = (id: string): string => `projects/${P}/secrets/${id}`;

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    clients.grpc = new SecretManagerServiceClient(emulator.clientOptions);
    clients.rest = new SecretManagerServiceClient(emulator.restClientOptions);
    await Promise.all([clients.grpc.initialize(), clients.rest.initialize()]);
  });
  afterAll(async () => {
    await clients.grpc?.close();
    await clients.rest?.close();
    await emulator?.close();
  });

  /** One hand-written REST call; the query's keys and the body's field names in `form`. */
  const call = async (form: Form, verb: string, path: string, query: Json = {}, body?: Json) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      const key = form === 'snake_case' ? k.split('.').map(snake).join('.') : k;
      for (const one of Array.isArray(v) ? v : [v]) q.append(key, String(one));
    }
    const url = `${emulator.restUrl}/v1/${path}${q.size > 0 ? `?${q}` : ''}`;
    const res = await fetch(url, {
      method: verb,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(inForm(form, body)) }),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };
  const errorOf = (answer: { json: Json }) => answer.json.error as { code: number; status: string; message: string };

  describe.each(['camelCase', 'snake_case'] as const)('%s', (form) => {
    it('CreateSecret (secretId query, nested Secret) → read back on both transports', async () => {
      const id = fresh(form);
      const next = new Date(Date.now() + 86_400_000).toISOString();
      const created = await call(
        form,
        'POST',
        `projects/${P}/secrets`,
        { secretId: id },
        {
          replication: {
            userManaged: { replicas: [{ location: 'us-east1', customerManagedEncryption: { kmsKeyName: KEY } }] },
          },
          labels: { team_name: 'core' }, // a map key with an underscore stays as it is
          annotations: { on_call: 'alice' },
          topics: [{ name: `projects/${P}/topics/rotations` }],
          rotation: { nextRotationTime: next, rotationPeriod: '7200s' },
          versionDestroyTtl: '86400s',
          expireTime: '2100-01-01T00:00:00Z',
        },
      );
      expect(created.status).toBe(200);
      expect(created.json.name).toBe(`projects/${NUM}/secrets/${id}`);
      for (const client of [clients.grpc, clients.rest]) {
        const [got] = await client.getSecret({ name: secretPath(id) }, o);
        expect(got.replication?.userManaged?.replicas?.[0]?.customerManagedEncryption?.kmsKeyName).toBe(KEY);
        expect(got.labels).toEqual({ team_name: 'core' });
        expect(got.annotations).toEqual({ on_call: 'alice' });
        expect(got.topics?.map((t) => t.name)).toEqual([`projects/${P}/topics/rotations`]);
        expect(Number(got.rotation?.rotationPeriod?.seconds)).toBe(7_200);
        expect(Number(got.rotation?.nextRotationTime?.seconds)).toBe(Math.floor(Date.parse(next) / 1000));
        expect(Number(got.versionDestroyTtl?.seconds)).toBe(86_400);
        expect(Number(got.expireTime?.seconds)).toBe(Date.parse('2100-01-01T00:00:00Z') / 1000);
      }
    });

    it('AddSecretVersion (payload.data_crc32c), UpdateSecret (updateMask, version_aliases)', async () => {
      const id = fresh(form);
      emulator.createSecret(id);
      const data = Buffer.from('value-1');
      const payload = { data: data.toString('base64'), dataCrc32c: String(crc32c(data)) };
      const added = await call(form, 'POST', `${secretPath(id)}:addVersion`, {}, { payload });
      expect(added.status).toBe(200);
      // the checksum was read, not dropped: the version says so, and a wrong one is refused
      const [version] = await clients.grpc.getSecretVersion({ name: `${secretPath(id)}/versions/1` }, o);
      expect(version.clientSpecifiedPayloadChecksum).toBe(true);
      const wrong = { payload: { ...payload, dataCrc32c: String((crc32c(data) + 1) >>> 0) } };
      const refused = await call(form, 'POST', `${secretPath(id)}:addVersion`, {}, wrong);
      expect(refused.status).toBe(400);
      expect(errorOf(refused).status).toBe('INVALID_ARGUMENT');

      const patched = await call(
        form,
        'PATCH',
        secretPath(id),
        { updateMask: form === 'snake_case' ? 'version_aliases,labels' : 'versionAliases,labels' },
        { versionAliases: { current: '1' }, labels: { env: 'prod' } },
      );
      expect(patched.status).toBe(200);
      for (const client of [clients.grpc, clients.rest]) {
        const [got] = await client.getSecret({ name: secretPath(id) }, o);
        expect(got.versionAliases).toEqual({ current: expect.anything() });
        expect(Number(got.versionAliases?.current)).toBe(1);
        expect(got.labels).toEqual({ env: 'prod' });
        const [accessed] = await client.accessSecretVersion({ name: `${secretPath(id)}/versions/current` }, o);
        expect(Buffer.from(accessed.payload?.data as Uint8Array).toString()).toBe('value-1');
      }
    });

    it('Disable / Enable / Destroy (body etag), DeleteSecret (etag query): the etag is read', async () => {
      const id = fresh(form);
      emulator.addVersion(id, 'v');
      const name = `${secretPath(id)}/versions/1`;
      const stale = { etag: '"0"' };
      for (const action of ['disable', 'enable', 'destroy']) {
        const answer = await call(form, 'POST', `${name}:${action}`, {}, stale);
        expect(answer.status).toBe(400);
        expect(errorOf(answer).status).toBe('FAILED_PRECONDITION');
      }
      const [current] = await clients.rest.getSecretVersion({ name }, o);
      const disabled = await call(form, 'POST', `${name}:disable`, {}, { etag: current.etag });
      expect(disabled.json.state).toBe('DISABLED');
      const enabled = await call(form, 'POST', `${name}:enable`, {}, { etag: disabled.json.etag });
      expect(enabled.json.state).toBe('ENABLED');
      const destroyed = await call(form, 'POST', `${name}:destroy`, {}, { etag: enabled.json.etag });
      expect(destroyed.json.state).toBe('DESTROYED');
      expect((await clients.grpc.getSecretVersion({ name }, o))[0].state).toBe('DESTROYED');

      expect((await call(form, 'DELETE', secretPath(id), stale)).status).toBe(400);
      const [secret] = await clients.grpc.getSecret({ name: secretPath(id) }, o);
      expect((await call(form, 'DELETE', secretPath(id), { etag: secret.etag })).status).toBe(200);
      const [left] = await clients.rest.listSecrets({ parent: `projects/${P}`, filter: `name:${id}` }, o);
      expect(left).toEqual([]);
    });

    it('ListSecrets / ListSecretVersions (pageSize, pageToken, filter query parameters)', async () => {
      const prefix = `list-${form === 'camelCase' ? 'camel' : 'snake'}`;
      for (const i of [1, 2, 3]) emulator.addVersion(`${prefix}-${i}`, `v${i}`);
      emulator.addVersion(`${prefix}-1`, 'again');
      const seen: string[] = [];
      let pageToken = '';
      for (let pages = 0; pages < 5; pages++) {
        const query: Json = { pageSize: 2, filter: `name:${prefix}-` };
        if (pageToken !== '') query.pageToken = pageToken;
        const page = await call(form, 'GET', `projects/${P}/secrets`, query);
        expect(page.status).toBe(200);
        const secrets = (page.json.secrets ?? []) as { name: string }[];
        expect(secrets.length).toBeLessThanOrEqual(2);
        seen.push(...secrets.map((s) => s.name.split('/').pop() as string));
        pageToken = String(page.json.nextPageToken ?? '');
        if (pageToken === '') break;
      }
      expect(seen.sort()).toEqual([`${prefix}-1`, `${prefix}-2`, `${prefix}-3`]);
      const versions = await call(form, 'GET', `${secretPath(`${prefix}-1`)}/versions`, { filter: 'state:ENABLED' });
      expect((versions.json.versions as unknown[]).length).toBe(2);
      const one = await call(form, 'GET', `${secretPath(`${prefix}-1`)}/versions`, { pageSize: 1 });
      expect((one.json.versions as unknown[]).length).toBe(1);
      expect(one.json.nextPageToken).toBeTruthy();
    });

    it('SetIamPolicy (policy.bindings[].condition), GetIamPolicy (options.requestedPolicyVersion), Test', async () => {
      const id = fresh(form);
      emulator.createSecret(id);
      const binding = {
        role: 'roles/secretmanager.secretAccessor',
        members: ['user:a@example.com'],
        condition: { title: 'until 2030', expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' },
      };
      const set = await call(
        form,
        'POST',
        `${secretPath(id)}:setIamPolicy`,
        {},
        { policy: { version: 3, bindings: [binding] } },
      );
      expect(set.status).toBe(200);
      expect(set.json.version).toBe(3);
      // version 3 must be asked for to read a conditional policy: the query parameter is read in both forms
      const v1 = await call(form, 'GET', `${secretPath(id)}:getIamPolicy`);
      expect(errorOf(v1).status).toBe('INVALID_ARGUMENT');
      const v3 = await call(form, 'GET', `${secretPath(id)}:getIamPolicy`, { 'options.requestedPolicyVersion': 3 });
      expect(v3.status).toBe(200);
      expect(v3.json.bindings).toEqual([
        expect.objectContaining({ condition: expect.objectContaining(binding.condition) }),
      ]);
      const [viaClient] = await clients.grpc.getIamPolicy(
        { resource: secretPath(id), options: { requestedPolicyVersion: 3 } },
        o,
      );
      expect(viaClient.bindings?.[0]?.condition?.expression).toBe(binding.condition.expression);
      const tested = await call(
        form,
        'POST',
        `${secretPath(id)}:testIamPermissions`,
        {},
        {
          permissions: ['secretmanager.versions.access'],
        },
      );
      expect(tested.json.permissions).toEqual(['secretmanager.versions.access']);
    });

    it('AccessSecretVersion and GetSecret: a regional secret by its path (no body, no query)', async () => {
      const id = fresh(form);
      emulator.addVersion(id, 'regional-value', { location: 'europe-west1' });
      const name = `projects/${P}/locations/europe-west1/secrets/${id}`;
      const got = await call(form, 'GET', name);
      expect(got.json.name).toBe(`projects/${NUM}/locations/europe-west1/secrets/${id}`);
      const accessed = await call(form, 'GET', `${name}/versions/latest:access`);
      expect(Buffer.from(String((accessed.json.payload as Json).data), 'base64').toString()).toBe('regional-value');
    });
  });

  it('an unknown name is refused in the REST front end’s words, with where it is (proto names)', async () => {
    const id = fresh('camelCase');
    const create = (secret: Json) =>
      fetch(`${emulator.restUrl}/v1/projects/${P}/secrets?secretId=${id}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(secret),
      }).then(async (r) => ({ status: r.status, json: (await r.json()) as Json }));
    const top = await create({ replication: { automatic: {} }, versionDestroyTTL: '1s' });
    expect(top.status).toBe(400);
    expect(errorOf(top)).toEqual({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: `Invalid JSON payload received. Unknown name "versionDestroyTTL" at 'secret': Cannot find field.`,
    });
    const nested = await create({ replication: { user_managed: { replicas: [{ location: 'x', kms: 'k' }] } } });
    expect(errorOf(nested).message).toBe(
      `Invalid JSON payload received. Unknown name "kms" at 'secret.replication.user_managed.replicas[0]': ` +
        'Cannot find field.',
    );
    // body "*": the request message itself, so no `at` at its top level
    emulator.createSecret(id);
    const add = await call('camelCase', 'POST', `${secretPath(id)}:addVersion`, {}, { payloads: {} });
    expect(errorOf(add).message).toBe('Invalid JSON payload received. Unknown name "payloads": Cannot find field.');
    // a query parameter the request does not have
    const list = await call('camelCase', 'GET', `projects/${P}/secrets`, { pageSise: 1 });
    expect(list.status).toBe(400);
    expect(errorOf(list).message).toBe(
      'Invalid JSON payload received. Unknown name "pageSise": Cannot bind query parameter. ' +
        "Field 'pageSise' could not be found in request message.",
    );
    // nested: the whole key, then the segment not found
    const nestedQuery = await call('camelCase', 'GET', `${secretPath(id)}:getIamPolicy`, {
      'options.requested_policy_versio': 3,
    });
    expect(errorOf(nestedQuery).message).toBe(
      'Invalid JSON payload received. Unknown name "options.requested_policy_versio": Cannot bind query parameter. ' +
        "Field 'requested_policy_versio' could not be found in request message.",
    );
    // a list where one value goes; a body that is no object
    const list1 = await create({ replication: { automatic: {} }, rotation: [] });
    expect(errorOf(list1).message).toBe(
      `Invalid JSON payload received. Unknown name "rotation" at 'secret': ` +
        'Proto field is not repeating, cannot start list.',
    );
    const rootless = await call('camelCase', 'POST', `${secretPath(id)}:addVersion`);
    const notObject = await fetch(`${emulator.restUrl}/v1/${secretPath(id)}:addVersion`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[]',
    });
    expect(rootless.status).toBe(400); // no body: no payload
    expect(((await notObject.json()) as { error: { message: string } }).error.message).toBe(
      'Invalid JSON payload received. Unknown name "": Root element must be a message.',
    );
    // one field under both of its names
    const twice = await create({ replication: { automatic: {} }, versionDestroyTtl: '1s', version_destroy_ttl: '2s' });
    expect(twice.status).toBe(400);
    expect(errorOf(twice).message).toContain('version_destroy_ttl');
    // nothing was created by the refused calls
    expect((await clients.rest.listSecrets({ parent: `projects/${P}`, filter: `name:${id}` }, o))[0]).toHaveLength(1);
  });
});
