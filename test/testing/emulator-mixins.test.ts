/**
 * The emulator's mixins and client plumbing, through the REAL `SecretManagerServiceClient` of
 * @google-cloud/secret-manager, over gRPC and over REST (`fallback: true`): the same cases for both.
 * - the client's auth answers getProjectId() on both transports;
 * - the Locations mixin (ListLocations, GetLocation):
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.locations/list
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.locations/get
 * - IAM on secrets:
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/getIamPolicy
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/setIamPolicy
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/testIamPermissions
 *   https://cloud.google.com/iam/docs/reference/rest/v1/Policy (version 0/1/3, conditions need 3, etag)
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { failure, type Mode } from './rpc-failure.js';

const P = 'keyflip-test';
const NUM = '123456789012';
const o = { retry: null, timeout: 5_000 } as const;
const S = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, ABORTED: 10 };

describe.each([['grpc'], ['rest']] as const)('emulator mixins over %s, through the real client', (mode: Mode) => {
  let emulator: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  let n = 0;
  const fresh = (): string => `${mode}-mixin-${++n}`;
  const secretPath = (id: string, project = P): string => `projects/${project}/secrets/${id}`;

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    client = new SecretManagerServiceClient(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions);
    await client.initialize();
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  it("getProjectId() answers the emulator's project (the client's auth), callback form too", async () => {
    expect(await client.getProjectId()).toBe(P);
    const viaCallback = await new Promise<string>((resolve, reject) =>
      client.getProjectId((error, id) => (error ? reject(error) : resolve(id as string))),
    );
    expect(viaCallback).toBe(P);
    // the project id it gives is one the emulator serves
    const id = fresh();
    emulator.addVersion(id, 'v1');
    const [secret] = await client.getSecret({ name: client.secretPath(await client.getProjectId(), id) }, o);
    expect(secret.name).toBe(`projects/${NUM}/secrets/${id}`);
  });

  /** Every location, through the client's one ListLocations entry point (listLocationsAsync follows the pages). */
  const listAll = async (request: { name: string; filter?: string; pageSize?: number }) => {
    const out: { name?: string | null; locationId?: string | null; displayName?: string | null }[] = [];
    for await (const location of client.listLocationsAsync(request)) out.push(location);
    return out;
  };

  it('ListLocations: global and the regions, paged with nextPageToken; filter by displayName/locationId', async () => {
    emulator.resetCalls();
    const all = await listAll({ name: `projects/${P}` });
    expect(emulator.calls('ListLocations')).toBe(1); // the default page holds them all
    const ids = all.map((l) => l.locationId);
    expect(ids).toContain('global');
    expect(ids).toContain('europe-west1');
    expect(ids).toContain('us-central1');
    expect(all.find((l) => l.locationId === 'europe-west1')).toEqual(
      expect.objectContaining({ name: `projects/${P}/locations/europe-west1`, displayName: 'Belgium' }),
    );
    // paging: pageSize bounds a page, nextPageToken leads to the next, the last page has none
    emulator.resetCalls();
    const paged = await listAll({ name: `projects/${P}`, pageSize: 4 });
    expect(paged.map((l) => l.locationId)).toEqual(ids);
    expect(emulator.calls('ListLocations')).toBe(Math.ceil(ids.length / 4));
    // AIP-160 filter, "displayName=tokyo" as the reference's example
    const tokyo = await listAll({ name: `projects/${P}`, filter: 'displayName=tokyo' });
    expect(tokyo.map((l) => l.locationId)).toEqual(['asia-northeast1']);
    const one = await listAll({ name: `projects/${P}`, filter: 'locationId="us-east1"' });
    expect(one.map((l) => l.name)).toEqual([`projects/${P}/locations/us-east1`]);
  });

  /** GetLocation's answer: the SDK types it as the Location, at runtime it is gax's usual [Location, …] tuple. */
  const getLocation = async (name: string) => {
    const answer = (await client.getLocation({ name })) as unknown;
    return (Array.isArray(answer) ? answer[0] : answer) as { name?: string | null; locationId?: string | null };
  };

  it('GetLocation: a served location; NOT_FOUND for another; PERMISSION_DENIED for another project', async () => {
    const location = await getLocation(`projects/${P}/locations/us-central1`);
    expect(location).toEqual(
      expect.objectContaining({ name: `projects/${P}/locations/us-central1`, locationId: 'us-central1' }),
    );
    const global = await getLocation(`projects/${P}/locations/global`);
    expect(global.locationId).toBe('global');
    expect((await failure(getLocation(`projects/${P}/locations/mars-north1`), mode)).code).toBe(S.NOT_FOUND);
    expect((await failure(getLocation('projects/other/locations/global'), mode)).code).toBe(S.PERMISSION_DENIED);
    expect((await failure(listAll({ name: 'projects/other' }), mode)).code).toBe(S.PERMISSION_DENIED);
  });

  it('GetIamPolicy: an empty policy for an existing secret without one; NOT_FOUND for a missing secret', async () => {
    const id = fresh();
    emulator.createSecret(id);
    const [policy] = await client.getIamPolicy({ resource: secretPath(id) }, o);
    expect(policy.bindings ?? []).toEqual([]);
    expect(Buffer.from(policy.etag as Uint8Array).toString('base64')).toBe('ACAB');
    expect((await failure(client.getIamPolicy({ resource: secretPath(fresh()) }, o), mode)).code).toBe(S.NOT_FOUND);
    expect((await failure(client.getIamPolicy({ resource: secretPath(id, 'other') }, o), mode)).code).toBe(
      S.PERMISSION_DENIED,
    );
    const bad = { resource: secretPath(id), options: { requestedPolicyVersion: 2 } };
    expect((await failure(client.getIamPolicy(bad, o), mode)).code).toBe(S.INVALID_ARGUMENT);
  });

  it('SetIamPolicy: bindings kept (by project id or number, global or regional); a new etag each time', async () => {
    const id = fresh();
    emulator.createSecret(id);
    const binding = {
      role: 'roles/secretmanager.secretAccessor',
      members: ['serviceAccount:app@x.iam.gserviceaccount.com'],
    };
    const [set] = await client.setIamPolicy({ resource: secretPath(id), policy: { bindings: [binding] } }, o);
    expect(set.version).toBe(1);
    expect(set.bindings).toEqual([expect.objectContaining(binding)]);
    const [got] = await client.getIamPolicy({ resource: secretPath(id, NUM) }, o);
    expect(got.bindings).toEqual([expect.objectContaining(binding)]);
    expect(Buffer.from(got.etag as Uint8Array)).toEqual(Buffer.from(set.etag as Uint8Array));
    // read-modify-write with the current etag works and changes the etag
    const [next] = await client.setIamPolicy(
      { resource: secretPath(id), policy: { bindings: [], etag: got.etag as Uint8Array } },
      o,
    );
    expect(next.bindings ?? []).toEqual([]);
    expect(Buffer.from(next.etag as Uint8Array)).not.toEqual(Buffer.from(set.etag as Uint8Array));
    // regional secret
    const regional = fresh();
    emulator.createSecret(regional, { location: 'europe-west1' });
    const resource = `projects/${P}/locations/europe-west1/secrets/${regional}`;
    await client.setIamPolicy({ resource, policy: { bindings: [binding] } }, o);
    expect((await client.getIamPolicy({ resource }, o))[0].bindings).toEqual([expect.objectContaining(binding)]);
    // the global secret of that ID does not exist
    expect((await failure(client.getIamPolicy({ resource: secretPath(regional) }, o), mode)).code).toBe(S.NOT_FOUND);
  });

  it('SetIamPolicy: a stale etag is ABORTED; no etag overwrites; missing secret NOT_FOUND', async () => {
    const id = fresh();
    emulator.createSecret(id);
    const binding = { role: 'roles/secretmanager.viewer', members: ['user:a@example.com'] };
    const [first] = await client.setIamPolicy({ resource: secretPath(id), policy: { bindings: [binding] } }, o);
    await client.setIamPolicy(
      { resource: secretPath(id), policy: { bindings: [binding], etag: first.etag as Uint8Array } },
      o,
    );
    const stale = { resource: secretPath(id), policy: { bindings: [], etag: first.etag as Uint8Array } };
    const aborted = await failure(client.setIamPolicy(stale, o), mode);
    expect(aborted.code).toBe(S.ABORTED);
    if (aborted.httpStatusCode !== undefined) expect(aborted.httpStatusCode).toBe(409);
    // the policy is unchanged; a write without an etag overwrites it
    expect((await client.getIamPolicy({ resource: secretPath(id) }, o))[0].bindings).toHaveLength(1);
    await client.setIamPolicy({ resource: secretPath(id), policy: { bindings: [] } }, o);
    expect((await client.getIamPolicy({ resource: secretPath(id) }, o))[0].bindings ?? []).toEqual([]);
    const missing = { resource: secretPath(fresh()), policy: { bindings: [binding] } };
    expect((await failure(client.setIamPolicy(missing, o), mode)).code).toBe(S.NOT_FOUND);
  });

  it('SetIamPolicy: version 3 with a condition; conditions need version 3 to be set and read', async () => {
    const id = fresh();
    emulator.createSecret(id);
    const conditional = {
      role: 'roles/secretmanager.secretAccessor',
      members: ['group:ops@example.com'],
      condition: { title: 'until 2030', expression: 'request.time < timestamp("2030-01-01T00:00:00Z")' },
    };
    const v1 = { resource: secretPath(id), policy: { version: 1, bindings: [conditional] } };
    expect((await failure(client.setIamPolicy(v1, o), mode)).code).toBe(S.INVALID_ARGUMENT);
    const v2 = { resource: secretPath(id), policy: { version: 2, bindings: [] } };
    expect((await failure(client.setIamPolicy(v2, o), mode)).code).toBe(S.INVALID_ARGUMENT);
    const [set] = await client.setIamPolicy(
      { resource: secretPath(id), policy: { version: 3, bindings: [conditional] } },
      o,
    );
    expect(set.version).toBe(3);
    expect(set.bindings?.[0]?.condition).toEqual(
      expect.objectContaining({ expression: conditional.condition.expression }),
    );
    expect((await failure(client.getIamPolicy({ resource: secretPath(id) }, o), mode)).code).toBe(S.INVALID_ARGUMENT);
    const [got] = await client.getIamPolicy({ resource: secretPath(id), options: { requestedPolicyVersion: 3 } }, o);
    expect(got.version).toBe(3);
    expect(got.bindings).toHaveLength(1);
    // a binding without members is refused
    const empty = {
      resource: secretPath(id),
      policy: { bindings: [{ role: 'roles/secretmanager.admin', members: [] }] },
    };
    expect((await failure(client.setIamPolicy(empty, o), mode)).code).toBe(S.INVALID_ARGUMENT);
  });

  it('a deleted and re-created secret starts with no policy', async () => {
    const id = fresh();
    emulator.createSecret(id);
    const binding = { role: 'roles/secretmanager.admin', members: ['user:a@example.com'] };
    await client.setIamPolicy({ resource: secretPath(id), policy: { bindings: [binding] } }, o);
    emulator.deleteSecret(id);
    expect((await failure(client.getIamPolicy({ resource: secretPath(id) }, o), mode)).code).toBe(S.NOT_FOUND);
    emulator.createSecret(id);
    expect((await client.getIamPolicy({ resource: secretPath(id) }, o))[0].bindings ?? []).toEqual([]);
  });

  it('TestIamPermissions: the permissions held; an empty set (not NOT_FOUND) for a missing secret', async () => {
    const id = fresh();
    emulator.createSecret(id);
    const permissions = ['secretmanager.versions.access', 'secretmanager.secrets.get'];
    const [held] = await client.testIamPermissions({ resource: secretPath(id), permissions }, o);
    expect(held.permissions).toEqual(permissions);
    const [none] = await client.testIamPermissions({ resource: secretPath(fresh()), permissions }, o);
    expect(none.permissions ?? []).toEqual([]);
    const wildcard = { resource: secretPath(id), permissions: ['secretmanager.*'] };
    expect((await failure(client.testIamPermissions(wildcard, o), mode)).code).toBe(S.INVALID_ARGUMENT);
  });

  it('failNext and calls() know the Locations methods and the IAM ones', async () => {
    emulator.resetCalls();
    emulator.failNext('GetLocation', S.NOT_FOUND);
    const name = `projects/${P}/locations/global`;
    expect((await failure(getLocation(name), mode)).code).toBe(S.NOT_FOUND);
    await getLocation(name);
    expect(emulator.calls('GetLocation')).toBe(2);
    const id = fresh();
    emulator.createSecret(id);
    await client.getIamPolicy({ resource: secretPath(id) }, o);
    expect(emulator.calls('GetIamPolicy')).toBe(1);
  });
});
