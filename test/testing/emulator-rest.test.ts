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
import { GrpcCode, grpcCodeOf } from '../../src/sources/gcp-names.js';
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

/**
 * What the REST surface answers to requests it cannot take (review 17, defects 2, 7, 8, 12): an HTTP status in
 * Google's JSON error shape, never a reset socket, a 500 or a value that was sent.
 * - A body JSON cannot parse: `Invalid JSON payload received. Unexpected token.` (the front end's words, quoted in
 *   googlecodelabs/feedback#299 and seejohnrun/easy_translate#59); the front end goes on with the text around the
 *   error, which the emulator leaves out: the body may carry a secret.
 * - `bytes` and 64-bit integers in proto3 JSON (https://protobuf.dev/programming-guides/json/): bytes are "standard
 *   base64 encoding with paddings. Either standard or URL-safe base64 encoding with/without paddings are accepted";
 *   integers are numbers or strings ("Empty strings are invalid"). A value that does not fit: `Invalid value at
 *   'payload.data' (TYPE_BYTES), Base64 decoding failed …` (google-gemini/gemini-cli#8003), without the value.
 * - A URL or headers too long: 414 (the front end's `The requested URL … is too large to process.`,
 *   tardate/jquery.addtocalendar#3) / 431, a bad percent-escape 400 (`Your client has issued a malformed or
 *   illegal request.`, the front end's 400 page); the 414/431 wording and limits are the emulator's own.
 */
describe('REST: requests the surface cannot take get an HTTP answer, never the value sent', () => {
  let emulator: SecretManagerEmulator;
  const clients: Record<'grpc' | 'rest', SecretManagerServiceClient> = {} as never;
  const SECRET = 'db-password-Sup3rS3cret';
  const B64 = Buffer.from(SECRET).toString('base64');

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    emulator.createSecret('edge');
    clients.grpc = new SecretManagerServiceClient(emulator.clientOptions);
    clients.rest = new SecretManagerServiceClient(emulator.restClientOptions);
    await Promise.all([clients.grpc.initialize(), clients.rest.initialize()]);
  });
  afterAll(async () => {
    await clients.grpc?.close();
    await clients.rest?.close();
    await emulator?.close();
  });

  const send = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(`${emulator.restUrl}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.headers as Record<string, string> | undefined) },
    });
    const text = await res.text();
    return { status: res.status, text, error: (JSON.parse(text) as { error: Json }).error };
  };
  const addVersion = (body: string) => send(`/v1/projects/${P}/secrets/edge:addVersion`, { method: 'POST', body });
  /** Every 6-character piece of `value`: none may be in an error. */
  const leaks = (text: string, value: string): string[] => {
    const found: string[] = [];
    for (let i = 0; i + 6 <= value.length; i++)
      if (text.includes(value.slice(i, i + 6))) found.push(value.slice(i, i + 6));
    return found;
  };
  const versionCount = async (): Promise<number[]> =>
    Promise.all(
      [clients.grpc, clients.rest].map(
        async (c) => (await c.listSecretVersions({ parent: `projects/${P}/secrets/edge` }, o))[0].length,
      ),
    );

  it('a malformed JSON body: the front end’s words, no piece of the body in the error', async () => {
    const before = await versionCount();
    for (const body of [
      `{"payload":{"data":'${B64}'}}`,
      `{"payload":{"data":${SECRET}}}`,
      `{"payload":{"data":"${B64}"} ${SECRET}}`,
      `{"payload":{"data":"${B64}"}}}`,
      `{${SECRET}:1}`,
    ]) {
      const answer = await addVersion(body);
      expect(answer.status).toBe(400);
      expect(answer.error).toEqual({
        code: 400,
        status: 'INVALID_ARGUMENT',
        message: 'Invalid JSON payload received. Unexpected token.',
      });
      expect(leaks(answer.text, SECRET)).toEqual([]);
      expect(leaks(answer.text, B64)).toEqual([]);
    }
    const cut = await addVersion(`{"payload":{"data":"${B64}`);
    expect(cut.error.message).toBe('Invalid JSON payload received. Unexpected end of string.');
    expect(leaks(cut.text, B64)).toEqual([]);
    expect(await versionCount()).toEqual(before);
  });

  it('bytes must be base64 and int64 an integer (INVALID_ARGUMENT, the value not quoted)', async () => {
    const before = await versionCount();
    const bad = await addVersion(JSON.stringify({ payload: { data: `${SECRET} !!` } }));
    expect(bad.status).toBe(400);
    expect(bad.error).toEqual({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: "Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed.",
    });
    expect(leaks(bad.text, SECRET)).toEqual([]);
    for (const data of ['a', 'ab=c', 'abc==', '====']) {
      expect((await addVersion(JSON.stringify({ payload: { data } }))).status).toBe(400);
    }
    const crc = await addVersion(JSON.stringify({ payload: { data: B64, dataCrc32c: SECRET } }));
    expect(crc.status).toBe(400);
    expect(crc.error.status).toBe('INVALID_ARGUMENT');
    expect(crc.error.message).toBe("Invalid value at 'payload.data_crc32c' (TYPE_INT64), not an integer.");
    expect(leaks(crc.text, SECRET)).toEqual([]);
    for (const dataCrc32c of ['', '12ab', 1.5, true]) {
      expect((await addVersion(JSON.stringify({ payload: { data: B64, dataCrc32c } }))).status).toBe(400);
    }
    expect(await versionCount()).toEqual(before); // nothing stored by the refused calls
    // what proto3 JSON accepts still goes through: URL-safe base64 without padding, the checksum as a number
    const bytes = Buffer.from([0xfb, 0xff, 0xfe, 0x01]);
    const ok = await addVersion(
      JSON.stringify({ payload: { data: bytes.toString('base64url'), dataCrc32c: crc32c(bytes) } }),
    );
    expect(ok.status).toBe(200);
    for (const client of [clients.grpc, clients.rest]) {
      const [got] = await client.accessSecretVersion({ name: `projects/${P}/secrets/edge/versions/latest` }, o);
      expect(Buffer.from(got.payload?.data as Uint8Array)).toEqual(bytes);
    }
  });

  it('a bad percent-escape in the path is 400, page_size=abc is INVALID_ARGUMENT', async () => {
    const badEscape = await send(`/v1/projects/${P}/secrets/%E0%A4%A`);
    expect(badEscape.status).toBe(400);
    expect(badEscape.error).toEqual({
      code: 400,
      status: 'INVALID_ARGUMENT',
      message: 'Your client has issued a malformed or illegal request.',
    });
    for (const key of ['page_size', 'pageSize']) {
      const list = await send(`/v1/projects/${P}/secrets?${key}=abc`);
      expect(list.status).toBe(400);
      expect(list.error).toEqual({
        code: 400,
        status: 'INVALID_ARGUMENT',
        message: "Invalid value at 'page_size' (TYPE_INT32), not an integer.",
      });
    }
    for (const size of ['1.5', '', '99999999999']) {
      expect((await send(`/v1/projects/${P}/secrets?pageSize=${size}`)).status).toBe(400);
    }
    expect((await send(`/v1/projects/${P}/secrets?pageSize=1e1`)).status).toBe(200); // exponent notation: allowed
  });

  it('a URL or headers too long: 414 / 431 in the JSON error shape, not a reset socket', async () => {
    const longUrl = await send(`/v1/projects/${P}/secrets?filter=${'a'.repeat(100_000)}`);
    expect(longUrl.status).toBe(414);
    // Google's front end answers these with an HTML page; the JSON `status` is the code Google's client derives
    // from the HTTP status (google-gax: any 4xx it does not map is FAILED_PRECONDITION), not INVALID_ARGUMENT (400)
    expect(longUrl.error).toEqual({
      code: 414,
      status: 'FAILED_PRECONDITION',
      message: 'The requested URL is too large to process (more than 16384 bytes).',
    });
    const longHeader = await send(`/v1/projects/${P}/secrets`, { headers: { 'x-long': 'b'.repeat(20_000) } });
    expect(longHeader.status).toBe(431);
    expect(longHeader.error).toEqual({
      code: 431,
      status: 'FAILED_PRECONDITION',
      message: 'Request header fields too large (more than 16384 bytes).',
    });
    // past the HTTP parser's own limit too (it refuses the request before the handler sees it)
    const parserUrl = await send(`/v1/projects/${P}/secrets?filter=${'a'.repeat(2_000_000)}`);
    expect(parserUrl.status).toBe(414);
    expect(parserUrl.error.status).toBe('FAILED_PRECONDITION');
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, 'c'.repeat(10_000)]));
    const manyHeaders = await send(`/v1/projects/${P}/secrets`, { headers: many });
    expect(manyHeaders.status).toBe(431);
    expect(manyHeaders.error.status).toBe('FAILED_PRECONDITION');
    // through the REAL client: a filter too long for a URL is an error with the 414, not ECONNRESET
    const deep = `${'('.repeat(20_000)}name:a${')'.repeat(20_000)}`;
    const error = await clients.rest.listSecrets({ parent: `projects/${P}`, filter: deep }, o).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    expect(error?.message).toContain('The requested URL is too large to process');
    expect(grpcCodeOf(error)).toBe(GrpcCode.FAILED_PRECONDITION); // what the body says is what the client reads
    expect((await clients.rest.getSecret({ name: `projects/${P}/secrets/edge` }, o))[0].name).toContain('edge');
  });

  it('a body field in the query is refused (body "*": no query field at all); system parameters pass', async () => {
    const before = await versionCount();
    const edge = `/v1/projects/${P}/secrets/edge`;
    const data = encodeURIComponent(B64);
    // google/api/http.proto: with `body: "*"` "it is not possible to have HTTP parameters"
    for (const [query, body, field] of [
      [`payload.data=${data}`, '{}', 'payload'],
      [`payload.data=${data}`, JSON.stringify({ payload: { data: 'aGk=' } }), 'payload'], // no silent "body wins"
      [`payload.data_crc32c=1`, JSON.stringify({ payload: { data: 'aGk=' } }), 'payload'],
      [`parent=projects/${P}/secrets/other`, JSON.stringify({ payload: { data: 'aGk=' } }), 'parent'],
    ] as const) {
      const answer = await send(`${edge}:addVersion?${query}`, { method: 'POST', body });
      expect(answer.status).toBe(400);
      expect(answer.error.status).toBe('INVALID_ARGUMENT');
      expect(answer.error.message).toBe(
        `Invalid JSON payload received. Unknown name "${query.split('=')[0]}": Cannot bind query parameter. ` +
          `Field '${field}' is bound by the request body (body: "*"), not by a query parameter.`,
      );
      expect(leaks(answer.text, B64)).toEqual([]);
    }
    const iam = await send(`${edge}:setIamPolicy?policy.version=3`, { method: 'POST', body: '{"policy":{}}' });
    expect(iam.error.message).toContain("Field 'policy' is bound by the request body");
    expect(await versionCount()).toEqual(before);
    // `body: "secret"`: the secret's fields come from the body, the other fields (secret_id) from the query
    for (const key of ['secret.labels.env', 'secret.ttl', 'secret']) {
      const answer = await send(`/v1/projects/${P}/secrets?secretId=from-query&${key}=x`, {
        method: 'POST',
        body: JSON.stringify({ replication: { automatic: {} } }),
      });
      expect(answer.status).toBe(400);
      expect(answer.error.message).toContain(`Unknown name "${key}": Cannot bind query parameter. Field 'secret'`);
    }
    const patch = await send(`${edge}?updateMask=labels&secret.labels.env=x`, { method: 'PATCH', body: '{}' });
    expect(patch.error.message).toContain("Field 'secret' is bound by the request body");
    // the system parameters every Google REST API takes (https://cloud.google.com/apis/docs/system-parameters)
    const system = [
      '$alt=json%3Benum-encoding%3Dint',
      'alt=json',
      'key=k',
      'fields=name',
      '$fields=name',
      'prettyPrint=false',
      '$prettyPrint=false',
      'access_token=t',
      'callback=cb',
      '$callback=cb',
      'quotaUser=u',
      'upload_protocol=raw',
      'uploadType=media',
      '$.xgafv=2',
      'xgafv=2',
    ].join('&');
    const ok = await send(`${edge}:addVersion?${system}`, { method: 'POST', body: '{"payload":{"data":"aGk="}}' });
    expect(ok.status).toBe(200);
    const created = await send(`/v1/projects/${P}/secrets?secretId=from-query&${system}`, {
      method: 'POST',
      body: JSON.stringify({ replication: { automatic: {} } }),
    });
    expect(created.status).toBe(200);
    expect((await versionCount()).map((n, i) => n - (before[i] as number))).toEqual([1, 1]);
  });

  it('a value of the wrong JSON type is refused where it is, in the front end’s form, never quoted', async () => {
    let tries = 0;
    const create = (secret: unknown) =>
      send(`/v1/projects/${P}/secrets?secretId=mistyped-${++tries}`, { method: 'POST', body: JSON.stringify(secret) });
    const auto = { replication: { automatic: {} } };
    const SM = 'type.googleapis.com/google.cloud.secretmanager.v1';
    for (const [answer, message] of [
      // a map given a string was iterated as one (`Invalid label key [0]`)
      [await create({ ...auto, labels: SECRET }), `Invalid value at 'secret.labels' (${SM}.Secret.LabelsEntry).`],
      [await create({ ...auto, annotations: [SECRET] }), undefined], // a list: `Proto field is not repeating`
      [
        await create({ ...auto, versionAliases: 7 }),
        `Invalid value at 'secret.version_aliases' (${SM}.Secret.VersionAliasesEntry).`,
      ],
      [
        await create({ ...auto, labels: { a: { x: SECRET } } }),
        "Invalid value at 'secret.labels[a]' (TYPE_STRING), not a string.",
      ],
      [await create({ replication: 5 }), `Invalid value at 'secret.replication' (${SM}.Replication).`],
      [await create({ ...auto, rotation: SECRET }), `Invalid value at 'secret.rotation' (${SM}.Rotation).`],
      [
        await create({ ...auto, topics: SECRET }),
        `Invalid value at 'secret.topics' (${SM}.Topic), a list is expected.`,
      ],
      [await create({ ...auto, topics: [SECRET] }), `Invalid value at 'secret.topics[0]' (${SM}.Topic).`],
      [await create({ ...auto, etag: { x: SECRET } }), "Invalid value at 'secret.etag' (TYPE_STRING), not a string."],
      [await create(SECRET), `Invalid value at 'secret' (${SM}.Secret).`], // body "secret" given a string
      [await addVersion(JSON.stringify({ payload: SECRET })), `Invalid value at 'payload' (${SM}.SecretPayload).`],
      [
        await send(`/v1/projects/${P}/secrets/edge:testIamPermissions`, {
          method: 'POST',
          body: JSON.stringify({ permissions: [{ x: SECRET }] }),
        }),
        "Invalid value at 'permissions[0]' (TYPE_STRING), not a string.",
      ],
      [
        await send(`/v1/projects/${P}/secrets/edge:setIamPolicy`, {
          method: 'POST',
          body: JSON.stringify({ policy: { auditConfigs: [{ service: 's', auditLogConfigs: [{ logType: {} }] }] } }),
        }),
        "Invalid value at 'policy.audit_configs[0].audit_log_configs[0].log_type' " +
          '(type.googleapis.com/google.iam.v1.AuditLogConfig.LogType).',
      ],
    ] as const) {
      expect(answer.status).toBe(400);
      expect(answer.error.status).toBe('INVALID_ARGUMENT');
      if (message !== undefined) expect(answer.error.message).toBe(message);
      expect(leaks(answer.text, SECRET)).toEqual([]);
    }
    const [left] = await clients.grpc.listSecrets({ parent: `projects/${P}`, filter: 'name:mistyped' }, o);
    expect(left).toEqual([]);
    // the right types still go through, null included (a field's default)
    const ok = await create({ ...auto, labels: { a: 'b' }, topics: [], annotations: null, etag: '' });
    expect(ok.status).toBe(200);
    // `""` is what the Node client sends for a body field it has nothing in: the field left out, as null is
    for (const empty of ['', null]) {
      expect((await create(empty)).error.message).toBe('Field [secret.replication] is required.');
    }
    const [viaClient] = await clients.rest.createSecret({ parent: `projects/${P}`, secretId: 'no-body' }, o).then(
      () => ['created'],
      (e: Error) => [e.message],
    );
    expect(viaClient).toContain('Field [secret.replication] is required.');
  });
});
