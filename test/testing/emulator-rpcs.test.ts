/**
 * Every RPC the Node client exposes (@google-cloud/secret-manager 6.3 and 7.x expose the same ones: the v1
 * SecretManagerService's 17 and the Locations mixin's 2), through the REAL `SecretManagerServiceClient`, over
 * gRPC and over REST (`fallback: true`), for global secrets (`projects/P/secrets/S`) and regional ones
 * (`projects/P/locations/L/secrets/S`, named with the client's own path templates). docs/emulator.md's fidelity
 * table names these tests: keep the two in step.
 *
 * References (docs corpus):
 * - Lists: ListSecretsResponse.secrets "The list of Secrets sorted in reverse by createTime (newest first)";
 *   ListSecretVersionsResponse.versions "The list of SecretVersions sorted in reverse by createTime (newest
 *   first)". https://cloud.google.com/secret-manager/docs/reference/rest/v1/ListSecretsResponse and
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/ListSecretVersionsResponse
 * - UpdateSecret (projects.secrets.patch / projects.locations.secrets.patch): updateMask "Required. Specifies the
 *   fields to be updated." https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/patch
 *   `*`: "Update masks must support a special value `*`, meaning full replacement (the equivalent of `PUT`)"
 *   (https://google.aip.dev/134); output-only fields named through a wildcard are ignored; map keys in a mask are
 *   a "may" (https://google.aip.dev/161). Secret Manager documents no map-key path; its own samples
 *   (GoogleCloudPlatform/java-docs-samples#9401) change one label by sending the whole map under `labels`.
 * - EnableManagedRotation: "Enables the managed rotation feature for a Secret. This method can only be triggered
 *   once for a secret. ... This method will add a secret version and update the password in Cloud SQL."
 *   RotateSecret: "This can only be triggered after Managed rotation has been enabled." (the protos' comments, and
 *   the googleapis Dart package's ProjectsLocationsSecretsResource.enableManagedRotation page on pub.dev).
 *   The emulator has no Cloud SQL: both answer UNIMPLEMENTED in the service's wording, "Operation is not
 *   implemented, or supported, or enabled." (quoted from production in googleapis/python-run#66).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SecretManagerServiceClient, v1beta2 } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { failure, type Mode } from './rpc-failure.js';

const P = 'keyflip-test';
const NUM = '123456789012';
const LOC = 'europe-west1';
const o = { retry: null, timeout: 5_000 } as const;
const page = { ...o, autoPaginate: false } as const;
const S = {
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
};
const UNIMPLEMENTED_TEXT = 'Operation is not implemented, or supported, or enabled.';
const automatic = { replication: { automatic: {} } };
const text = (data: unknown): string => Buffer.from(data as Uint8Array).toString('utf8');
const idOf = (name: unknown): string => String(name).split('/').pop() as string;

/**
 * The RPCs this file tests, by the proto's names. The first test checks it against the installed client's own
 * list (its gapic_metadata.json, both transports), so an RPC a new client release adds fails here until it is
 * tested and given a row in docs/emulator.md.
 */
const TESTED = [
  'CreateSecret',
  'GetSecret',
  'UpdateSecret',
  'DeleteSecret',
  'ListSecrets',
  'AddSecretVersion',
  'GetSecretVersion',
  'AccessSecretVersion',
  'ListSecretVersions',
  'EnableSecretVersion',
  'DisableSecretVersion',
  'DestroySecretVersion',
  'GetIamPolicy',
  'SetIamPolicy',
  'TestIamPermissions',
  'EnableManagedRotation',
  'RotateSecret',
];

it("the RPCs tested here are the installed client's, on both transports", () => {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('@google-cloud/secret-manager/package.json'));
  type Metadata = { services: Record<string, { clients: Record<string, { rpcs: Record<string, unknown> }> }> };
  const read = (version: string): Metadata =>
    JSON.parse(readFileSync(join(root, 'build', 'src', version, 'gapic_metadata.json'), 'utf8')) as Metadata;
  const service = read('v1').services.SecretManagerService;
  expect(service).toBeDefined();
  for (const [transport, client] of Object.entries(service?.clients ?? {})) {
    expect(Object.keys(client.rpcs).sort(), transport).toEqual([...TESTED].sort());
  }
  // v1beta2: v1's RPCs but managed rotation, served by the same store (the last test of each transport)
  for (const [transport, client] of Object.entries(read('v1beta2').services.SecretManagerService?.clients ?? {})) {
    const beta = Object.keys(client.rpcs).sort();
    expect(beta, transport).toEqual(TESTED.filter((r) => r !== 'EnableManagedRotation' && r !== 'RotateSecret').sort());
  }
  // the mixin: the client's Locations methods
  const proto = SecretManagerServiceClient.prototype as unknown as Record<string, unknown>;
  expect(typeof proto.getLocation).toBe('function');
  expect(typeof proto.listLocationsAsync).toBe('function');
});

describe.each([['grpc'], ['rest']] as const)('every RPC over %s, through the real client', (mode: Mode) => {
  let emulator: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  let n = 0;

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    client = new SecretManagerServiceClient(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions);
    await client.initialize();
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  /** A global or a regional scope: where secrets are created, and how the client's path templates name them. */
  interface Scope {
    label: string;
    location: string | undefined;
  }
  const scopes: Scope[] = [
    { label: 'global', location: undefined },
    { label: `regional (${LOC})`, location: LOC },
  ];

  describe.each(scopes)('$label secrets', ({ location }) => {
    const fresh = (): string => `rpc-${mode}-${location ?? 'g'}-${++n}`;
    const parent = (project = P): string =>
      location ? `projects/${project}/locations/${location}` : client.projectPath(project);
    const secretPath = (id: string, project = P): string =>
      location ? client.projectLocationSecretsPath(project, location, id) : client.projectSecretsPath(project, id);
    const versionPath = (id: string, v: string, project = P): string =>
      location
        ? client.projectLocationSecretSecretVersionPath(project, location, id, v)
        : client.projectSecretSecretVersionPath(project, id, v);
    /** The name the service answers with: the project NUMBER, the location kept. */
    const returned = (id: string): string =>
      location ? `projects/${NUM}/locations/${location}/secrets/${id}` : `projects/${NUM}/secrets/${id}`;
    /** A regional secret has no replication; a global one requires it. */
    const secretBody = (extra: object = {}): object => (location ? { ...extra } : { ...automatic, ...extra });
    const create = async (id: string, extra: object = {}) =>
      (await client.createSecret({ parent: parent(), secretId: id, secret: secretBody(extra) }, o))[0];
    const add = async (id: string, value: string) =>
      (await client.addSecretVersion({ parent: secretPath(id), payload: { data: Buffer.from(value) } }, o))[0];
    const opts = location ? { location } : {};

    it('CreateSecret: the name with the project number (and location); ALREADY_EXISTS; another project', async () => {
      const id = fresh();
      const created = await create(id, { labels: { team: 'core' } });
      expect(created.name).toBe(returned(id));
      expect(created.labels).toEqual({ team: 'core' });
      expect((await failure(create(id), mode)).code).toBe(S.ALREADY_EXISTS);
      const elsewhere = client.createSecret({ parent: parent('other'), secretId: fresh(), secret: secretBody() }, o);
      expect((await failure(elsewhere, mode)).code).toBe(S.PERMISSION_DENIED);
      if (!location) {
        // a global secret needs replication
        const bare = client.createSecret({ parent: parent(), secretId: fresh(), secret: {} }, o);
        expect((await failure(bare, mode)).code).toBe(S.INVALID_ARGUMENT);
      }
    });

    it('GetSecret: by project id or number; global and regional secrets of one ID are apart', async () => {
      const id = fresh();
      const created = await create(id);
      expect((await client.getSecret({ name: secretPath(id) }, o))[0]).toEqual(created);
      expect((await client.getSecret({ name: secretPath(id, NUM) }, o))[0]).toEqual(created);
      const other = location ? client.projectSecretsPath(P, id) : client.projectLocationSecretsPath(P, LOC, id);
      expect((await failure(client.getSecret({ name: other }, o), mode)).code).toBe(S.NOT_FOUND);
    });

    it('UpdateSecret: a mask path replaces that field only; a stale etag FAILED_PRECONDITION', async () => {
      const id = fresh();
      const created = await create(id, { labels: { a: '1' }, annotations: { note: 'x' } });
      const [updated] = await client.updateSecret(
        { secret: { name: secretPath(id), labels: { b: '2' } }, updateMask: { paths: ['labels'] } },
        o,
      );
      expect(updated.labels).toEqual({ b: '2' }); // the whole map, replaced
      expect(updated.annotations).toEqual({ note: 'x' }); // not in the mask: untouched
      expect(updated.etag).not.toBe(created.etag);
      const stale = {
        secret: { name: secretPath(id), etag: created.etag as string, labels: {} },
        updateMask: { paths: ['labels'] },
      };
      expect((await failure(client.updateSecret(stale, o), mode)).code).toBe(S.FAILED_PRECONDITION);
    });

    it("UpdateSecret: '*' replaces every updatable field; read and sent back with '*': a no-op", async () => {
      const id = fresh();
      const topics = [{ name: `projects/${P}/topics/rotations` }];
      const next = { seconds: Math.floor(Date.now() / 1000) + 7_200 };
      await create(id, {
        labels: { a: '1' },
        annotations: { note: 'x' },
        topics,
        rotation: { nextRotationTime: next, rotationPeriod: { seconds: 3_600 } },
        versionDestroyTtl: { seconds: 86_400 },
      });
      await add(id, 'one');
      await client.updateSecret(
        {
          secret: { name: secretPath(id), versionAliases: { current: 1 } },
          updateMask: { paths: ['version_aliases'] },
        },
        o,
      );
      // read-modify-write with '*': the Secret as read goes back unchanged (AIP-161 read-write consistency)
      const [read] = await client.getSecret({ name: secretPath(id) }, o);
      const [same] = await client.updateSecret({ secret: read, updateMask: { paths: ['*'] } }, o);
      expect({ ...same, etag: read.etag }).toEqual(read);
      expect(same.etag).not.toBe(read.etag);
      // full replacement: what is not given is cleared; output-only and immutable fields are kept
      const [replaced] = await client.updateSecret(
        { secret: { name: secretPath(id), labels: { b: '2' } }, updateMask: { paths: ['*'] } },
        o,
      );
      expect(replaced.name).toBe(returned(id));
      expect(replaced.labels).toEqual({ b: '2' });
      expect(replaced.annotations ?? {}).toEqual({});
      expect(replaced.versionAliases ?? {}).toEqual({});
      expect(replaced.topics ?? []).toEqual([]);
      expect(replaced.rotation ?? null).toBeNull();
      expect(replaced.versionDestroyTtl ?? null).toBeNull();
      expect(replaced.createTime).toEqual(read.createTime);
      if (!location) expect(replaced.replication?.automatic).toBeTruthy();
      // '*' still validates what it sets: a rotation without topics is refused
      const bad = {
        secret: { name: secretPath(id), rotation: { nextRotationTime: next } },
        updateMask: { paths: ['*'] },
      };
      expect((await failure(client.updateSecret(bad, o), mode)).code).toBe(S.INVALID_ARGUMENT);
    });

    it('UpdateSecret: map-key paths (labels.KEY) are refused, INVALID_ARGUMENT; nothing changes', async () => {
      const id = fresh();
      await create(id, { labels: { a: '1' } });
      for (const path of ['labels.b', 'annotations.note', 'version_aliases.current']) {
        const request = { secret: { name: secretPath(id), labels: { b: '2' } }, updateMask: { paths: [path] } };
        const refused = await failure(client.updateSecret(request, o), mode);
        expect(refused.code).toBe(S.INVALID_ARGUMENT);
        expect(refused.text).toBe(`Invalid update_mask path [${path}].`);
      }
      expect((await client.getSecret({ name: secretPath(id) }, o))[0].labels).toEqual({ a: '1' });
    });

    it('DeleteSecret: gone with its versions; a stale etag FAILED_PRECONDITION; NOT_FOUND after', async () => {
      const id = fresh();
      const created = await create(id);
      await add(id, 'v');
      await client.updateSecret(
        { secret: { name: secretPath(id), labels: { x: 'y' } }, updateMask: { paths: ['labels'] } },
        o,
      );
      const stale = client.deleteSecret({ name: secretPath(id), etag: created.etag as string }, o);
      expect((await failure(stale, mode)).code).toBe(S.FAILED_PRECONDITION);
      await client.deleteSecret({ name: secretPath(id) }, o);
      expect((await failure(client.getSecret({ name: secretPath(id) }, o), mode)).code).toBe(S.NOT_FOUND);
      const access = client.accessSecretVersion({ name: versionPath(id, 'latest') }, o);
      expect((await failure(access, mode)).code).toBe(S.NOT_FOUND);
      expect((await failure(client.deleteSecret({ name: secretPath(id) }, o), mode)).code).toBe(S.NOT_FOUND);
    });

    it('ListSecrets: sorted in reverse by createTime (newest first), paged; the scope only', async () => {
      const suite = fresh();
      const ids = [`${suite}-a`, `${suite}-b`, `${suite}-c`];
      for (const id of ids) await create(id, { labels: { suite } });
      const filter = `labels.suite=${suite}`;
      const [all] = await client.listSecrets({ parent: parent(), filter }, page);
      expect(all.map((s) => s.name)).toEqual([...ids].reverse().map(returned));
      const [first, nextRequest, raw] = await client.listSecrets({ parent: parent(), filter, pageSize: 2 }, page);
      expect(first.map((s) => idOf(s.name))).toEqual([ids[2], ids[1]]);
      expect(raw?.nextPageToken).toBeTruthy();
      const [second] = await client.listSecrets({ ...nextRequest, parent: parent(), filter }, page);
      expect(second.map((s) => idOf(s.name))).toEqual([ids[0]]);
      // the other scope does not hold them
      const otherParent = location ? client.projectPath(P) : `projects/${P}/locations/${LOC}`;
      expect((await client.listSecrets({ parent: otherParent, filter }, page))[0]).toEqual([]);
      const elsewhere = client.listSecrets({ parent: parent('other') }, page);
      expect((await failure(elsewhere, mode)).code).toBe(S.PERMISSION_DENIED);
    });

    it('AddSecretVersion: numbered from 1; NOT_FOUND for a missing secret', async () => {
      const id = fresh();
      await create(id);
      expect((await add(id, 'one')).name).toBe(`${returned(id)}/versions/1`);
      const two = await add(id, 'two');
      expect(two.name).toBe(`${returned(id)}/versions/2`);
      expect(two.state).toBe('ENABLED');
      expect((await failure(add(fresh(), 'x'), mode)).code).toBe(S.NOT_FOUND);
    });

    it('GetSecretVersion: by number, latest, an alias; NOT_FOUND for a missing version', async () => {
      const id = fresh();
      await create(id);
      await add(id, 'one');
      await add(id, 'two');
      emulator.setAlias(id, 'stable', '1', opts);
      const get = async (v: string) => (await client.getSecretVersion({ name: versionPath(id, v) }, o))[0];
      expect((await get('2')).name).toBe(`${returned(id)}/versions/2`);
      expect((await get('latest')).name).toBe(`${returned(id)}/versions/2`);
      expect((await get('stable')).name).toBe(`${returned(id)}/versions/1`);
      expect((await failure(get('9'), mode)).code).toBe(S.NOT_FOUND);
    });

    it('AccessSecretVersion: the data and its CRC32C; a DISABLED version FAILED_PRECONDITION', async () => {
      const id = fresh();
      await create(id);
      await add(id, 'payload');
      const [got] = await client.accessSecretVersion({ name: versionPath(id, 'latest') }, o);
      expect(got.name).toBe(`${returned(id)}/versions/1`);
      expect(text(got.payload?.data)).toBe('payload');
      expect(got.payload?.dataCrc32c).toBeTruthy();
      emulator.disableVersion(id, '1', opts);
      const disabled = await failure(client.accessSecretVersion({ name: versionPath(id, '1') }, o), mode);
      expect(disabled).toEqual(
        expect.objectContaining({
          code: S.FAILED_PRECONDITION,
          text: `Secret Version [${returned(id)}/versions/1] is in DISABLED state.`,
        }),
      );
    });

    it('ListSecretVersions: sorted in reverse by createTime (newest first), paged, with totalSize', async () => {
      const id = fresh();
      await create(id);
      for (const v of ['one', 'two', 'three']) await add(id, v);
      const [all, , raw] = await client.listSecretVersions({ parent: secretPath(id) }, page);
      expect(all.map((v) => idOf(v.name))).toEqual(['3', '2', '1']);
      expect(raw?.totalSize).toBe(3);
      const [first, nextRequest] = await client.listSecretVersions({ parent: secretPath(id), pageSize: 2 }, page);
      expect(first.map((v) => idOf(v.name))).toEqual(['3', '2']);
      const [second] = await client.listSecretVersions({ ...nextRequest, parent: secretPath(id) }, page);
      expect(second.map((v) => idOf(v.name))).toEqual(['1']);
      const missing = client.listSecretVersions({ parent: secretPath(fresh()) }, page);
      expect((await failure(missing, mode)).code).toBe(S.NOT_FOUND);
    });

    it('Disable / Enable / DestroySecretVersion: the state, a new etag each time; a stale etag refused', async () => {
      const id = fresh();
      await create(id);
      const added = await add(id, 'v');
      const name = versionPath(id, '1');
      const [disabled] = await client.disableSecretVersion({ name }, o);
      expect(disabled.state).toBe('DISABLED');
      expect(disabled.etag).not.toBe(added.etag);
      const [enabled] = await client.enableSecretVersion({ name }, o);
      expect(enabled.state).toBe('ENABLED');
      const stale = client.destroySecretVersion({ name, etag: disabled.etag as string }, o);
      expect((await failure(stale, mode)).code).toBe(S.FAILED_PRECONDITION);
      const [destroyed] = await client.destroySecretVersion({ name, etag: enabled.etag as string }, o);
      expect(destroyed.state).toBe('DESTROYED');
      expect(destroyed.destroyTime).toBeTruthy();
      expect((await failure(client.enableSecretVersion({ name }, o), mode)).code).toBe(S.FAILED_PRECONDITION);
    });

    it('Get / Set / TestIamPermissions on the secret', async () => {
      const id = fresh();
      await create(id);
      const resource = secretPath(id);
      const [empty] = await client.getIamPolicy({ resource }, o);
      expect(empty.bindings ?? []).toEqual([]);
      const binding = { role: 'roles/secretmanager.secretAccessor', members: ['user:a@example.com'] };
      await client.setIamPolicy({ resource, policy: { bindings: [binding] } }, o);
      const [got] = await client.getIamPolicy({ resource: secretPath(id, NUM) }, o);
      expect(got.bindings).toEqual([expect.objectContaining(binding)]);
      const permissions = ['secretmanager.versions.access'];
      expect((await client.testIamPermissions({ resource, permissions }, o))[0].permissions).toEqual(permissions);
      const [none] = await client.testIamPermissions({ resource: secretPath(fresh()), permissions }, o);
      expect(none.permissions ?? []).toEqual([]);
    });

    it('EnableManagedRotation and RotateSecret: UNIMPLEMENTED in the service wording, nothing changes', async () => {
      const id = fresh();
      await create(id);
      const credentials = { instanceId: `${P}:db`, username: 'app' };
      const enable = client.enableManagedRotation(
        { parent: secretPath(id), cloudSqlSingleUserCredentials: credentials },
        o,
      );
      const rotate = client.rotateSecret({ parent: secretPath(id) }, o);
      for (const call of [enable, rotate]) {
        const refused = await failure(call, mode);
        expect(refused.code).toBe(S.UNIMPLEMENTED);
        expect(refused.text).toBe(UNIMPLEMENTED_TEXT);
        if (refused.httpStatusCode !== undefined) expect(refused.httpStatusCode).toBe(501);
      }
      const [versions] = await client.listSecretVersions({ parent: secretPath(id) }, page);
      expect(versions).toEqual([]);
    });
  });

  it('ListLocations / GetLocation: global and the regions regional secrets live in', async () => {
    const locations: string[] = [];
    for await (const l of client.listLocationsAsync({ name: client.projectPath(P) }))
      locations.push(String(l.locationId));
    expect(locations).toContain('global');
    expect(locations).toContain(LOC);
    const answer = (await client.getLocation({ name: `projects/${P}/locations/${LOC}` })) as unknown;
    const location = (Array.isArray(answer) ? answer[0] : answer) as { name?: string; locationId?: string };
    expect(location).toEqual(expect.objectContaining({ name: `projects/${P}/locations/${LOC}`, locationId: LOC }));
  });

  it("v1beta2 (the package's v1beta2.SecretManagerServiceClient): the same store, global and regional", async () => {
    const beta = new v1beta2.SecretManagerServiceClient(
      mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions,
    );
    try {
      const id = `rpc-${mode}-beta-${++n}`;
      const [created] = await beta.createSecret({ parent: `projects/${P}`, secretId: id, secret: automatic }, o);
      expect(created.name).toBe(`projects/${NUM}/secrets/${id}`);
      await beta.addSecretVersion({ parent: `projects/${P}/secrets/${id}`, payload: { data: Buffer.from('b') } }, o);
      // one store: what v1beta2 wrote, v1 reads
      const [got] = await client.accessSecretVersion({ name: `projects/${P}/secrets/${id}/versions/latest` }, o);
      expect(text(got.payload?.data)).toBe('b');
      const regional = `projects/${P}/locations/${LOC}`;
      await beta.createSecret({ parent: regional, secretId: id, secret: {} }, o);
      const [versions] = await beta.listSecretVersions({ parent: `${regional}/secrets/${id}` }, page);
      expect(versions).toEqual([]);
      const missing = beta.getSecret({ name: `projects/${P}/secrets/${id}-missing` }, o);
      expect((await failure(missing, mode)).code).toBe(S.NOT_FOUND);
    } finally {
      await beta.close();
    }
  });
});
