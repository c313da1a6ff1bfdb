/**
 * The Secret Manager emulator, driven through the REAL `SecretManagerServiceClient` of
 * @google-cloud/secret-manager, over gRPC and over REST (`fallback: true`): the same cases for both.
 */
import { createServer as createNetServer } from 'node:net';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { crc32c } from '../../src/crc32c.js';
import { ConfigurationError } from '../../src/errors.js';
import { EmulatorAdminError, type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { failure, type Mode, REST_HAS_NO_DEADLINE_OR_RETRY } from './rpc-failure.js';

const P = 'keyflip-test';
const NUM = '123456789012';
/** No client retry, a bounded deadline: an injected UNAVAILABLE answers at once (research §7). */
const o = { retry: null, timeout: 5_000 } as const;
const page = { ...o, autoPaginate: false } as const;
const ETAG_MISMATCH =
  "The etag provided in the request does not match the resource's current etag. " +
  'Please retry the whole read-modify-write with exponential backoff.';

const S = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
};

function clientFor(emulator: SecretManagerEmulator, mode: Mode, extra: object = {}): SecretManagerServiceClient {
  return new SecretManagerServiceClient({
    ...(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions),
    ...extra,
  });
}

const text = (data: unknown): string => Buffer.from(data as Uint8Array).toString('utf8');
const versionOf = (name: unknown): string => String(name).split('/').pop() as string;

describe.each([['grpc'], ['rest']] as const)('the emulator over %s, through the real client', (mode) => {
  let emulator: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  let n = 0;
  /** A secret ID no other test uses. */
  const fresh = (): string => `${mode}-secret-${++n}`;
  const secretPath = (id: string, project = P): string => `projects/${project}/secrets/${id}`;
  const versionPath = (id: string, version: string, project = P): string =>
    `${secretPath(id, project)}/versions/${version}`;
  const automatic = { replication: { automatic: {} } };

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    client = clientFor(emulator, mode);
    await client.initialize();
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  const create = async (id: string, secret: object = automatic) =>
    (await client.createSecret({ parent: `projects/${P}`, secretId: id, secret }, o))[0];
  const add = async (id: string, value: string | Uint8Array, dataCrc32c?: number | string) => {
    const data = typeof value === 'string' ? Buffer.from(value) : value;
    return (
      await client.addSecretVersion(
        { parent: secretPath(id), payload: dataCrc32c === undefined ? { data } : { data, dataCrc32c } },
        o,
      )
    )[0];
  };
  const access = async (name: string) => (await client.accessSecretVersion({ name }, o))[0];

  it('CreateSecret / GetSecret: project NUMBER in names; labels, annotations, replication; quoted etag', async () => {
    const id = fresh();
    const created = await create(id, { ...automatic, labels: { team: 'core' }, annotations: { 'owner.io': 'ops' } });
    expect(created.name).toBe(`projects/${NUM}/secrets/${id}`);
    expect(created.etag).toMatch(/^"[0-9a-f]+"$/);
    expect(created.labels).toEqual({ team: 'core' });
    expect(created.annotations).toEqual({ 'owner.io': 'ops' });
    expect(created.replication?.automatic).toBeTruthy();
    expect(Math.abs(Number(created.createTime?.seconds) - Date.now() / 1000)).toBeLessThan(60);

    const [byId] = await client.getSecret({ name: secretPath(id) }, o);
    const [byNumber] = await client.getSecret({ name: secretPath(id, NUM) }, o);
    expect(byId).toEqual(created);
    expect(byNumber).toEqual(created);

    expect(await failure(create(id), mode)).toEqual(
      expect.objectContaining({
        code: S.ALREADY_EXISTS,
        text: `Secret [projects/${NUM}/secrets/${id}] already exists.`,
      }),
    );
    // a global secret needs replication
    expect((await failure(create(fresh(), {}), mode)).code).toBe(S.INVALID_ARGUMENT);
    expect((await failure(create('not ok!'), mode)).code).toBe(S.INVALID_ARGUMENT);
    const tooMany = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v']));
    for (const secret of [
      { ...automatic, labels: { Upper: 'x' } },
      { ...automatic, labels: tooMany },
      { ...automatic, annotations: { big: 'x'.repeat(16_400) } },
      { ...automatic, versionAliases: { current: 1 } },
    ]) {
      expect((await failure(create(fresh(), secret), mode)).code).toBe(S.INVALID_ARGUMENT);
    }
    expect(await failure(client.getSecret({ name: secretPath('never-created') }, o), mode)).toEqual(
      expect.objectContaining({ code: S.NOT_FOUND, text: `Secret [projects/${NUM}/secrets/never-created] not found.` }),
    );
  });

  it('Add / AccessSecretVersion: numbered versions, the bytes back, a matching decimal dataCrc32c', async () => {
    const id = fresh();
    await create(id);
    const binary = new Uint8Array([0, 255, 1, 254, 10, 13]);
    const v1 = await add(id, 'first', crc32c(Buffer.from('first')));
    const v2 = await add(id, binary);
    expect(v1.name).toBe(`projects/${NUM}/secrets/${id}/versions/1`);
    expect(v2.name).toBe(`projects/${NUM}/secrets/${id}/versions/2`);
    expect(v1.state).toBe('ENABLED');
    expect(v1.clientSpecifiedPayloadChecksum).toBe(true);
    expect(v2.clientSpecifiedPayloadChecksum).toBe(false);
    expect(v1.etag).toMatch(/^"[0-9a-f]+"$/);

    const one = await access(versionPath(id, '1'));
    expect(one.name).toBe(`projects/${NUM}/secrets/${id}/versions/1`);
    expect(text(one.payload?.data)).toBe('first');
    expect(one.payload?.dataCrc32c).toBe(String(crc32c(Buffer.from('first'))));

    const latest = await access(versionPath(id, 'latest'));
    expect(latest.name).toBe(`projects/${NUM}/secrets/${id}/versions/2`);
    expect(new Uint8Array(latest.payload?.data as Uint8Array)).toEqual(binary);
    expect(Number(latest.payload?.dataCrc32c)).toBe(crc32c(binary));
  });

  it('`latest` is the newest version whatever its state: a disabled or destroyed one fails, no fallback', async () => {
    const id = fresh();
    await create(id);
    await add(id, 'one');
    await add(id, 'two');
    await client.disableSecretVersion({ name: versionPath(id, '2') }, o);

    expect(await failure(access(versionPath(id, 'latest')), mode)).toEqual(
      expect.objectContaining({
        code: S.FAILED_PRECONDITION,
        text: `Secret Version [projects/${NUM}/secrets/${id}/versions/2] is in DISABLED state.`,
      }),
    );
    expect(text((await access(versionPath(id, '1'))).payload?.data)).toBe('one');
    const [meta] = await client.getSecretVersion({ name: versionPath(id, 'latest') }, o);
    expect(meta.name).toBe(`projects/${NUM}/secrets/${id}/versions/2`);
    expect(meta.state).toBe('DISABLED');

    await client.destroySecretVersion({ name: versionPath(id, '2') }, o);
    expect(await failure(access(versionPath(id, 'latest')), mode)).toEqual(
      expect.objectContaining({
        code: S.FAILED_PRECONDITION,
        text: `Secret Version [projects/${NUM}/secrets/${id}/versions/2] is in DESTROYED state.`,
      }),
    );
    const [destroyed] = await client.getSecretVersion({ name: versionPath(id, '2') }, o);
    expect(destroyed.state).toBe('DESTROYED');
    expect(Number(destroyed.destroyTime?.seconds)).toBeGreaterThan(0);
  });

  it('NOT_FOUND: no secret, no versions, no such version or alias; INVALID_ARGUMENT: a malformed version', async () => {
    expect(await failure(access(versionPath('no-such-secret', 'latest')), mode)).toEqual(
      expect.objectContaining({
        code: S.NOT_FOUND,
        text: `Secret [projects/${NUM}/secrets/no-such-secret] not found or has no versions.`,
      }),
    );
    const id = fresh();
    await create(id);
    expect(await failure(access(versionPath(id, 'latest')), mode)).toEqual(
      expect.objectContaining({
        code: S.NOT_FOUND,
        text: `Secret [projects/${NUM}/secrets/${id}] not found or has no versions.`,
      }),
    );
    await add(id, 'one');
    expect(await failure(access(versionPath(id, '7')), mode)).toEqual(
      expect.objectContaining({
        code: S.NOT_FOUND,
        text: `Secret Version [projects/${NUM}/secrets/${id}/versions/7] not found.`,
      }),
    );
    expect((await failure(access(versionPath(id, 'nosuchalias')), mode)).code).toBe(S.NOT_FOUND);
    expect((await failure(client.getSecretVersion({ name: versionPath(id, '7') }, o), mode)).code).toBe(S.NOT_FOUND);
    expect(await failure(access(versionPath(id, 'b@d')), mode)).toEqual(
      expect.objectContaining({ code: S.INVALID_ARGUMENT, text: 'Invalid resource field value in the request.' }),
    );
  });

  it('Enable/Disable/Destroy: states, a new etag per change (no-ops too), etag checks; DESTROYED stays', async () => {
    const id = fresh();
    await create(id);
    const added = await add(id, 'one');
    const name = versionPath(id, '1');
    const [disabled] = await client.disableSecretVersion({ name }, o);
    expect(disabled.state).toBe('DISABLED');
    expect(disabled.etag).not.toBe(added.etag);
    const [again] = await client.disableSecretVersion({ name }, o);
    expect(again.state).toBe('DISABLED');
    expect(again.etag).not.toBe(disabled.etag);

    expect(await failure(client.enableSecretVersion({ name, etag: disabled.etag as string }, o), mode)).toEqual(
      expect.objectContaining({ code: S.FAILED_PRECONDITION, text: ETAG_MISMATCH }),
    );
    const [enabled] = await client.enableSecretVersion({ name, etag: again.etag as string }, o);
    expect(enabled.state).toBe('ENABLED');
    expect(text((await access(name)).payload?.data)).toBe('one');

    const [destroyed] = await client.destroySecretVersion({ name }, o);
    expect(destroyed.state).toBe('DESTROYED');
    expect(destroyed.destroyTime).toBeTruthy();
    expect((await failure(client.enableSecretVersion({ name }, o), mode)).code).toBe(S.FAILED_PRECONDITION);
    expect((await failure(client.disableSecretVersion({ name }, o), mode)).code).toBe(S.FAILED_PRECONDITION);
    expect((await failure(access(name), mode)).code).toBe(S.FAILED_PRECONDITION);
    // `latest` and aliases resolve in Get/Access only, not for state changes.
    expect((await failure(client.disableSecretVersion({ name: versionPath(id, 'latest') }, o), mode)).code).toBe(
      S.INVALID_ARGUMENT,
    );
  });

  it('UpdateSecret honours update_mask; its etag changes on update, not on AddSecretVersion', async () => {
    const id = fresh();
    const created = await create(id, { ...automatic, labels: { a: '1' }, annotations: { note: 'x' } });
    await add(id, 'one');
    const [afterAdd] = await client.getSecret({ name: secretPath(id) }, o);
    expect(afterAdd.etag).toBe(created.etag);

    const [updated] = await client.updateSecret(
      {
        secret: { name: secretPath(id), labels: { b: '2' }, annotations: { other: 'y' } },
        updateMask: { paths: ['labels'] },
      },
      o,
    );
    expect(updated.labels).toEqual({ b: '2' });
    expect(updated.annotations).toEqual({ note: 'x' }); // not in the mask: unchanged
    expect(updated.etag).not.toBe(created.etag);
    expect(updated.name).toBe(`projects/${NUM}/secrets/${id}`);

    const [cleared] = await client.updateSecret(
      { secret: { name: secretPath(id) }, updateMask: { paths: ['annotations'] } },
      o,
    );
    expect(cleared.annotations).toEqual({}); // in the mask and absent: cleared
    expect(cleared.labels).toEqual({ b: '2' });

    for (const paths of [[], ['bogus_field'], ['replication']]) {
      expect(
        (
          await failure(
            client.updateSecret({ secret: { name: secretPath(id), labels: { c: '3' } }, updateMask: { paths } }, o),
            mode,
          )
        ).code,
      ).toBe(S.INVALID_ARGUMENT);
    }
    const [unchanged] = await client.getSecret({ name: secretPath(id) }, o);
    expect(unchanged.labels).toEqual({ b: '2' });
  });

  it('aliases: versions/ALIAS resolves through version_aliases for Get and Access; bad ones are refused', async () => {
    const id = fresh();
    await create(id);
    for (const value of ['one', 'two', 'three']) await add(id, value);
    const [secret] = await client.updateSecret(
      {
        secret: { name: secretPath(id), versionAliases: { current: 2, next: '3' } },
        updateMask: { paths: ['version_aliases'] },
      },
      o,
    );
    expect(secret.versionAliases).toEqual({ current: '2', next: '3' });

    const current = await access(versionPath(id, 'current'));
    expect(current.name).toBe(`projects/${NUM}/secrets/${id}/versions/2`);
    expect(text(current.payload?.data)).toBe('two');
    expect((await client.getSecretVersion({ name: versionPath(id, 'next') }, o))[0].name).toBe(
      `projects/${NUM}/secrets/${id}/versions/3`,
    );

    await client.updateSecret(
      { secret: { name: secretPath(id), versionAliases: { current: 3 } }, updateMask: { paths: ['version_aliases'] } },
      o,
    );
    expect(text((await access(versionPath(id, 'current'))).payload?.data)).toBe('three');
    // the mask replaced the whole map
    expect((await failure(access(versionPath(id, 'next')), mode)).code).toBe(S.NOT_FOUND);

    await client.disableSecretVersion({ name: versionPath(id, '3') }, o);
    expect((await failure(access(versionPath(id, 'current')), mode)).text).toContain(
      `/secrets/${id}/versions/3] is in DISABLED state.`,
    );

    const fiftyOne = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`a${i}`, 1]));
    for (const versionAliases of [{ current: 9 }, { latest: 1 }, { NEW: 1 }, { '1abc': 1 }, fiftyOne]) {
      const bad = await failure(
        client.updateSecret(
          { secret: { name: secretPath(id), versionAliases }, updateMask: { paths: ['version_aliases'] } },
          o,
        ),
        mode,
      );
      expect(bad.code).toBe(S.INVALID_ARGUMENT);
    }
  });

  it('etag mismatch on Update/DeleteSecret: FAILED_PRECONDITION, production wording; the right one works', async () => {
    const id = fresh();
    const created = await create(id);
    const stale = '"00000000000001"';
    expect(
      await failure(
        client.updateSecret(
          { secret: { name: secretPath(id), etag: stale, labels: { x: 'y' } }, updateMask: { paths: ['labels'] } },
          o,
        ),
        mode,
      ),
    ).toEqual(expect.objectContaining({ code: S.FAILED_PRECONDITION, text: ETAG_MISMATCH }));
    const [updated] = await client.updateSecret(
      {
        secret: { name: secretPath(id), etag: created.etag as string, labels: { x: 'y' } },
        updateMask: { paths: ['labels'] },
      },
      o,
    );
    expect(updated.labels).toEqual({ x: 'y' });
    expect(await failure(client.deleteSecret({ name: secretPath(id), etag: created.etag as string }, o), mode)).toEqual(
      expect.objectContaining({ code: S.FAILED_PRECONDITION, text: ETAG_MISMATCH }),
    );
    await client.deleteSecret({ name: secretPath(id), etag: updated.etag as string }, o);
    expect((await failure(client.getSecret({ name: secretPath(id) }, o), mode)).code).toBe(S.NOT_FOUND);
  });

  it('DeleteSecret removes the secret with its versions; the ID can be created again from version 1', async () => {
    const id = fresh();
    await create(id);
    await add(id, 'one');
    await add(id, 'two');
    await client.deleteSecret({ name: secretPath(id) }, o);
    expect((await failure(access(versionPath(id, 'latest')), mode)).code).toBe(S.NOT_FOUND);
    expect((await failure(client.deleteSecret({ name: secretPath(id) }, o), mode)).code).toBe(S.NOT_FOUND);
    await create(id);
    expect((await add(id, 'again')).name).toBe(`projects/${NUM}/secrets/${id}/versions/1`);
  });

  it('ListSecrets: newest first, filters, pagination with a total size; regional secrets listed apart', async () => {
    const suite = `list-${mode}`;
    const ids = [fresh(), fresh(), fresh()];
    for (const id of ids) await create(id, { ...automatic, labels: { suite } });
    await client.createSecret(
      { parent: `projects/${P}/locations/europe-west1`, secretId: `${suite}-regional`, secret: { labels: { suite } } },
      o,
    );

    const [all] = await client.listSecrets({ parent: `projects/${P}`, filter: `labels.suite=${suite}` }, page);
    expect(all.map((s) => s.name)).toEqual([...ids].reverse().map((id) => `projects/${NUM}/secrets/${id}`));

    const [first, next, raw] = await client.listSecrets(
      { parent: `projects/${P}`, filter: `labels.suite=${suite}`, pageSize: 2 },
      page,
    );
    expect(first.map((s) => s.name)).toEqual(all.slice(0, 2).map((s) => s.name));
    // ListSecretsResponse: "The total number of Secrets but 0 when the ListSecretsRequest.filter field is set."
    expect(raw?.totalSize).toBe(0);
    expect(next?.pageToken).toBeTruthy();
    const [second, last] = await client.listSecrets(
      { parent: `projects/${P}`, filter: `labels.suite=${suite}`, pageSize: 2, pageToken: next?.pageToken as string },
      page,
    );
    expect(second.map((s) => s.name)).toEqual(all.slice(2).map((s) => s.name));
    expect(last).toBeNull();

    const [byName] = await client.listSecrets(
      { parent: `projects/${P}`, filter: `name:${ids[1]} AND labels.suite:*` },
      page,
    );
    expect(byName.map((s) => s.name)).toEqual([`projects/${NUM}/secrets/${ids[1]}`]);
    const [negated] = await client.listSecrets(
      { parent: `projects/${P}`, filter: `labels.suite=${suite} -name:${ids[1]}` },
      page,
    );
    expect(negated).toHaveLength(2);

    const [regional] = await client.listSecrets(
      { parent: `projects/${P}/locations/europe-west1`, filter: `labels.suite=${suite}` },
      page,
    );
    expect(regional.map((s) => s.name)).toEqual([`projects/${NUM}/locations/europe-west1/secrets/${suite}-regional`]);

    // OR is part of the documented grammar (test/testing/emulator-filter.test.ts has the rest of it).
    const [either] = await client.listSecrets(
      { parent: `projects/${P}`, filter: `labels.suite=${suite} OR labels.suite=none-${suite}` },
      page,
    );
    expect(either.length).toBeGreaterThan(0);
    expect(either.every((s) => s.labels?.suite === suite)).toBe(true);
  });

  it('ListSecretVersions: newest first, every state listed, a state filter, pagination', async () => {
    const id = fresh();
    await create(id);
    for (const value of ['one', 'two', 'three']) await add(id, value);
    await client.destroySecretVersion({ name: versionPath(id, '1') }, o);
    await client.disableSecretVersion({ name: versionPath(id, '2') }, o);

    const [versions, , raw] = await client.listSecretVersions({ parent: secretPath(id) }, page);
    expect(versions.map((v) => `${versionOf(v.name)} ${v.state}`)).toEqual(['3 ENABLED', '2 DISABLED', '1 DESTROYED']);
    expect(raw?.totalSize).toBe(3);
    const [enabled] = await client.listSecretVersions({ parent: secretPath(id), filter: 'state:ENABLED' }, page);
    expect(enabled.map((v) => versionOf(v.name))).toEqual(['3']);
    const [notEnabled] = await client.listSecretVersions({ parent: secretPath(id), filter: 'NOT state:ENABLED' }, page);
    expect(notEnabled.map((v) => versionOf(v.name))).toEqual(['2', '1']);

    const [firstPage, next] = await client.listSecretVersions({ parent: secretPath(id), pageSize: 2 }, page);
    expect(firstPage.map((v) => versionOf(v.name))).toEqual(['3', '2']);
    const [secondPage] = await client.listSecretVersions(
      { parent: secretPath(id), pageSize: 2, pageToken: next?.pageToken as string },
      page,
    );
    expect(secondPage.map((v) => versionOf(v.name))).toEqual(['1']);

    expect(await failure(client.listSecretVersions({ parent: secretPath('no-such-secret') }, page), mode)).toEqual(
      expect.objectContaining({
        code: S.NOT_FOUND,
        text: `Secret [projects/${NUM}/secrets/no-such-secret] not found.`,
      }),
    );
  });

  it('CRC32C on add: a wrong one is INVALID_ARGUMENT and adds nothing; right (number or string) works', async () => {
    const id = fresh();
    await create(id);
    const data = Buffer.from('checked value');
    const right = crc32c(data);
    expect((await failure(add(id, data, (right + 1) % 2 ** 32), mode)).code).toBe(S.INVALID_ARGUMENT);
    const [none] = await client.listSecretVersions({ parent: secretPath(id) }, page);
    expect(none).toEqual([]);
    expect((await add(id, data, right)).name).toMatch(/\/versions\/1$/);
    expect((await add(id, data, String(right))).name).toMatch(/\/versions\/2$/);
  });

  it('the 64 KiB limit: 65 536 bytes are accepted, 65 537 are INVALID_ARGUMENT', async () => {
    const id = fresh();
    await create(id);
    const max = Buffer.alloc(65_536, 7);
    await add(id, max);
    expect((await access(versionPath(id, 'latest'))).payload?.data?.length).toBe(65_536);
    expect(await failure(add(id, Buffer.alloc(65_537, 7)), mode)).toEqual(
      expect.objectContaining({
        code: S.INVALID_ARGUMENT,
        text: 'Secret payload data length must be at most [65536] bytes.',
      }),
    );
    const [versions] = await client.listSecretVersions({ parent: secretPath(id) }, page);
    expect(versions).toHaveLength(1);
  });

  it('project ID or number: the same secrets; another project: PERMISSION_DENIED "(or it may not exist)"', async () => {
    const id = fresh();
    emulator.addVersion(id, 'value');
    expect((await access(versionPath(id, 'latest', P))).name).toBe(`projects/${NUM}/secrets/${id}/versions/1`);
    expect((await access(versionPath(id, 'latest', NUM))).name).toBe(`projects/${NUM}/secrets/${id}/versions/1`);
    expect(await failure(access(versionPath(id, 'latest', 'someone-else')), mode)).toEqual(
      expect.objectContaining({
        code: S.PERMISSION_DENIED,
        text:
          "Permission 'secretmanager.versions.access' denied for resource " +
          `'projects/someone-else/secrets/${id}/versions/latest' (or it may not exist).`,
      }),
    );
  });

  it('regional secrets through locations/L: apart from global ones, the location kept in every name', async () => {
    const id = fresh();
    const parent = `projects/${P}/locations/us-east1`;
    const [secret] = await client.createSecret({ parent, secretId: id, secret: {} }, o); // regional: no replication
    expect(secret.name).toBe(`projects/${NUM}/locations/us-east1/secrets/${id}`);
    const [version] = await client.addSecretVersion(
      { parent: `${parent}/secrets/${id}`, payload: { data: Buffer.from('regional') } },
      o,
    );
    expect(version.name).toBe(`projects/${NUM}/locations/us-east1/secrets/${id}/versions/1`);
    const got = await access(`${parent}/secrets/${id}/versions/latest`);
    expect(got.name).toBe(`projects/${NUM}/locations/us-east1/secrets/${id}/versions/1`);
    expect(text(got.payload?.data)).toBe('regional');
    // the global one does not exist
    expect((await failure(access(versionPath(id, 'latest')), mode)).code).toBe(S.NOT_FOUND);

    emulator.addVersion(id, 'by admin', { location: 'us-east1' });
    emulator.setAlias(id, 'current', '1', { location: 'us-east1' });
    expect(text((await access(`${parent}/secrets/${id}/versions/latest`)).payload?.data)).toBe('by admin');
    expect(text((await access(`${parent}/secrets/${id}/versions/current`)).payload?.data)).toBe('regional');
    emulator.disableVersion(id, '2', { location: 'us-east1' });
    expect((await failure(access(`${parent}/secrets/${id}/versions/latest`), mode)).code).toBe(S.FAILED_PRECONDITION);
  });

  it('version_destroy_ttl: DISABLED with a scheduled time, DESTROYED once it passes; enabling cancels it', async () => {
    const id = fresh();
    await create(id, { ...automatic, versionDestroyTtl: { seconds: 86_400 } });
    await add(id, 'one');
    await add(id, 'two');
    const [pending] = await client.destroySecretVersion({ name: versionPath(id, '1') }, o);
    expect(pending.state).toBe('DISABLED');
    const scheduled = Number(pending.scheduledDestroyTime?.seconds);
    expect(Math.abs(scheduled - (Date.now() / 1000 + 86_400))).toBeLessThan(60);
    expect((await failure(access(versionPath(id, '1')), mode)).text).toContain('is in DISABLED state.');
    await client.destroySecretVersion({ name: versionPath(id, '2') }, o);
    await client.enableSecretVersion({ name: versionPath(id, '2') }, o); // cancels the scheduled destruction

    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 86_401_000 }); // a day later, as far as Date knows
    try {
      const [one] = await client.getSecretVersion({ name: versionPath(id, '1') }, o);
      expect(one.state).toBe('DESTROYED');
      expect(one.destroyTime).toBeTruthy();
      expect((await failure(access(versionPath(id, '1')), mode)).text).toContain('is in DESTROYED state.');
      const [two] = await client.getSecretVersion({ name: versionPath(id, '2') }, o);
      expect(two.state).toBe('ENABLED');
      expect(two.scheduledDestroyTime).toBeFalsy();
      expect(text((await access(versionPath(id, '2'))).payload?.data)).toBe('two');
    } finally {
      vi.useRealTimers();
    }
  });

  it('ttl / expire_time: the secret and its versions are gone once it expires', async () => {
    const id = fresh();
    const created = await create(id, { ...automatic, ttl: { seconds: 3_600 } });
    expect(Math.abs(Number(created.expireTime?.seconds) - (Date.now() / 1000 + 3_600))).toBeLessThan(60);
    await add(id, 'short-lived');
    expect(text((await access(versionPath(id, 'latest'))).payload?.data)).toBe('short-lived');
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 3_601_000 });
    try {
      expect((await failure(client.getSecret({ name: secretPath(id) }, o), mode)).code).toBe(S.NOT_FOUND);
      expect((await failure(access(versionPath(id, 'latest')), mode)).code).toBe(S.NOT_FOUND);
      const [listed] = await client.listSecrets({ parent: `projects/${P}`, filter: `name:${id}` }, page);
      expect(listed).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('admin helpers act at once, are not counted, and follow the same rules', async () => {
    emulator.resetCalls();
    const id = fresh();
    expect(emulator.addVersion(id, 'one')).toBe('1'); // creates the secret
    expect(emulator.addVersion(id, new Uint8Array([104, 105]))).toBe('2');
    expect(emulator.addVersion(id, 'three', { state: 'DISABLED' })).toBe('3');
    expect((await failure(access(versionPath(id, 'latest')), mode)).code).toBe(S.FAILED_PRECONDITION);
    expect(text((await access(versionPath(id, '2'))).payload?.data)).toBe('hi');

    emulator.setAlias(id, 'current', '1');
    expect(text((await access(versionPath(id, 'current'))).payload?.data)).toBe('one');
    emulator.setAlias(id, 'current', 'latest');
    expect((await client.getSecret({ name: secretPath(id) }, o))[0].versionAliases).toEqual({ current: '3' });
    emulator.setAlias(id, 'current', undefined);
    expect((await failure(access(versionPath(id, 'current')), mode)).code).toBe(S.NOT_FOUND);

    emulator.enableVersion(id, '3');
    expect(text((await access(versionPath(id, 'latest'))).payload?.data)).toBe('three');
    emulator.disableVersion(id, 'latest');
    expect((await failure(access(versionPath(id, 'latest')), mode)).text).toContain('is in DISABLED state.');
    emulator.destroyVersion(id, '3');
    expect((await failure(access(versionPath(id, 'latest')), mode)).text).toContain('is in DESTROYED state.');
    expect(() => emulator.enableVersion(id, '3')).toThrow(/DESTROYED/);

    const other = fresh();
    emulator.createSecret(other, { labels: { kind: 'admin' }, annotations: { why: 'test' } });
    const [got] = await client.getSecret({ name: secretPath(other) }, o);
    expect(got.labels).toEqual({ kind: 'admin' });
    expect(got.annotations).toEqual({ why: 'test' });
    // Where the RPC would fail, a helper throws an EmulatorAdminError (a ConfigurationError) with the RPC's status.
    expect(() => emulator.createSecret(other)).toThrow(EmulatorAdminError);
    expect(() => emulator.createSecret(other)).toThrow(ConfigurationError);
    expect(() => emulator.createSecret(other)).toThrow(
      expect.objectContaining({
        code: 'INVALID_OPTIONS',
        grpcCode: S.ALREADY_EXISTS,
        grpcStatus: 'ALREADY_EXISTS',
        message: `Secret [projects/${NUM}/secrets/${other}] already exists.`,
      }),
    );
    expect(() => emulator.addVersion(other, Buffer.alloc(65_537))).toThrow(/65536/);
    emulator.deleteSecret(other);
    expect((await failure(client.getSecret({ name: secretPath(other) }, o), mode)).code).toBe(S.NOT_FOUND);
    expect(() => emulator.deleteSecret(other)).toThrow(expect.objectContaining({ grpcCode: S.NOT_FOUND }));
    expect(() => emulator.createSecret('not ok!')).toThrow(expect.objectContaining({ grpcCode: S.INVALID_ARGUMENT }));

    expect(emulator.calls()).toBe(10); // the client's calls above, none of the admin helpers'
  });

  it('the IAM methods answer as documented (an empty policy for a secret without one), and are counted', async () => {
    emulator.resetCalls();
    const id = fresh();
    emulator.createSecret(id);
    const [policy] = await client.getIamPolicy({ resource: secretPath(id) }, o);
    expect(policy.bindings ?? []).toEqual([]);
    expect(emulator.calls('GetIamPolicy')).toBe(1);
  });

  describe('faults and counters (a fresh emulator each)', () => {
    let faulty: SecretManagerEmulator;
    let c: SecretManagerServiceClient;
    const name = `projects/${P}/secrets/k/versions/latest`;

    beforeEach(async () => {
      faulty = await startSecretManagerEmulator();
      faulty.addVersion('k', 'value');
      c = clientFor(faulty, mode);
    });
    afterEach(async () => {
      await c.close();
      await faulty.close();
    });

    it('failNext: the next N calls of a method fail with the code (REST: its HTTP status), then succeed', async () => {
      faulty.failNext('AccessSecretVersion', S.UNAVAILABLE, 2);
      const first = await failure(c.accessSecretVersion({ name }, o), mode);
      expect(first.code).toBe(S.UNAVAILABLE);
      expect(first.text).toContain('Injected fault: UNAVAILABLE on AccessSecretVersion');
      if (mode === 'rest') expect(first.httpStatusCode).toBe(503);
      expect((await c.getSecretVersion({ name }, o))[0].state).toBe('ENABLED'); // another method: unaffected
      expect((await failure(c.accessSecretVersion({ name }, o), mode)).code).toBe(S.UNAVAILABLE);
      expect(text((await c.accessSecretVersion({ name }, o))[0].payload?.data)).toBe('value');

      // every code comes back as itself, over either transport
      for (let code = 1; code <= 16; code++) faulty.failNext('AccessSecretVersion', code);
      const seen: number[] = [];
      for (let code = 1; code <= 16; code++) seen.push((await failure(c.accessSecretVersion({ name }, o), mode)).code);
      expect(seen).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      expect(faulty.calls('AccessSecretVersion')).toBe(19);
    });

    it("failNext(UNAVAILABLE, 2) with the client's own retry (fast config): retried twice, then served", async () => {
      const fast = clientFor(faulty, mode, {
        clientConfig: {
          interfaces: {
            'google.cloud.secretmanager.v1.SecretManagerService': {
              retry_params: {
                fast: {
                  initial_retry_delay_millis: 5,
                  retry_delay_multiplier: 1,
                  max_retry_delay_millis: 5,
                  initial_rpc_timeout_millis: 2_000,
                  rpc_timeout_multiplier: 1,
                  max_rpc_timeout_millis: 2_000,
                  total_timeout_millis: 5_000,
                },
              },
              methods: {
                AccessSecretVersion: {
                  timeout_millis: 2_000,
                  retry_codes_name: 'resource_exhausted_unavailable',
                  retry_params_name: 'fast',
                },
              },
            },
          },
        },
      });
      try {
        faulty.failNext('AccessSecretVersion', S.UNAVAILABLE, 2);
        if (mode === 'rest' && REST_HAS_NO_DEADLINE_OR_RETRY) {
          // SDK 6 over REST (google-gax 5) never retries: its error carries the HTTP status (503), which is not
          // in the retry codes (gRPC codes). SDK 7 (google-gax 6) does. The emulator's part is the same: one
          // call, the injected UNAVAILABLE, and the second fault still armed for the next call.
          expect((await failure(fast.accessSecretVersion({ name }), mode)).code).toBe(S.UNAVAILABLE);
          expect(faulty.calls('AccessSecretVersion')).toBe(1);
          expect((await failure(fast.accessSecretVersion({ name }), mode)).code).toBe(S.UNAVAILABLE);
          expect(text((await fast.accessSecretVersion({ name }))[0].payload?.data)).toBe('value');
          expect(faulty.calls('AccessSecretVersion')).toBe(3);
          return;
        }
        const [res] = await fast.accessSecretVersion({ name });
        expect(text(res.payload?.data)).toBe('value');
        expect(faulty.calls('AccessSecretVersion')).toBe(3);
      } finally {
        await fast.close();
      }
    });

    it('setLatency delays all calls or a method (the two add up); a shorter deadline: DEADLINE_EXCEEDED', async () => {
      await c.accessSecretVersion({ name }, o); // connection and stub set up
      const timed = async (call: () => Promise<unknown>): Promise<number> => {
        const start = performance.now();
        await call();
        return performance.now() - start;
      };
      // A delay is measured from below only (a slow machine makes a call slower, never faster). A call that
      // must NOT be delayed meets a latency of ten minutes: delayed, it would fail its 5 s deadline (`o`).
      faulty.setLatency(60, 'AccessSecretVersion');
      expect(await timed(() => c.accessSecretVersion({ name }, o))).toBeGreaterThanOrEqual(58);
      faulty.setLatency(600_000, 'AccessSecretVersion');
      await c.getSecretVersion({ name }, o); // another method: not delayed
      faulty.setLatency(60, 'AccessSecretVersion');
      faulty.setLatency(40);
      expect(await timed(() => c.getSecretVersion({ name }, o))).toBeGreaterThanOrEqual(38);
      expect(await timed(() => c.accessSecretVersion({ name }, o))).toBeGreaterThanOrEqual(98);
      faulty.setLatency(600_000);
      faulty.setLatency(600_000, 'AccessSecretVersion');
      faulty.setLatency(0);
      faulty.setLatency(0, 'AccessSecretVersion');
      await c.accessSecretVersion({ name }, o); // both removed: not delayed

      if (mode === 'rest' && REST_HAS_NO_DEADLINE_OR_RETRY) {
        // SDK 6 over REST (google-gax 5) never applies the call's deadline (its REST stub reads the deadline
        // argument as metadata): the call waits out the latency and is served. SDK 7 (google-gax 6) applies it.
        faulty.setLatency(300, 'AccessSecretVersion');
        const start = performance.now();
        const [served] = await c.accessSecretVersion({ name }, { retry: null, timeout: 50 });
        expect(text(served.payload?.data)).toBe('value');
        expect(performance.now() - start).toBeGreaterThanOrEqual(298);
        return;
      }
      faulty.setLatency(5_000, 'AccessSecretVersion');
      const start = performance.now();
      const late = await failure(c.accessSecretVersion({ name }, { retry: null, timeout: 50 }), mode);
      expect(late.code).toBe(S.DEADLINE_EXCEEDED);
      expect(performance.now() - start).toBeLessThan(1_000);
    });

    it('corruptNextChecksum: the next successful access has a wrong data_crc32c; a failed one is not it', async () => {
      const right = String(crc32c(Buffer.from('value')));
      faulty.failNext('AccessSecretVersion', S.UNAVAILABLE);
      faulty.corruptNextChecksum(2);
      expect((await failure(c.accessSecretVersion({ name }, o), mode)).code).toBe(S.UNAVAILABLE);
      for (let i = 0; i < 2; i++) {
        const [bad] = await c.accessSecretVersion({ name }, o);
        expect(text(bad.payload?.data)).toBe('value');
        expect(bad.payload?.dataCrc32c).not.toBe(right);
      }
      expect((await c.accessSecretVersion({ name }, o))[0].payload?.dataCrc32c).toBe(right);
    });

    it('calls(): per method over the wire, or all; failed calls counted, admin helpers not; resetCalls()', async () => {
      expect(faulty.calls()).toBe(0);
      for (let i = 0; i < 3; i++) await c.accessSecretVersion({ name }, o);
      await c.getSecretVersion({ name }, o);
      await c.listSecretVersions({ parent: `projects/${P}/secrets/k` }, page);
      await failure(c.accessSecretVersion({ name: `projects/${P}/secrets/missing/versions/1` }, o), mode);
      faulty.addVersion('k', 'more');
      faulty.disableVersion('k', '1');
      expect(faulty.calls('AccessSecretVersion')).toBe(4);
      expect(faulty.calls('GetSecretVersion')).toBe(1);
      expect(faulty.calls('ListSecretVersions')).toBe(1);
      expect(faulty.calls('GetSecret')).toBe(0);
      expect(faulty.calls()).toBe(6);
      faulty.resetCalls();
      expect(faulty.calls()).toBe(0);
      expect(faulty.calls('AccessSecretVersion')).toBe(0);
    });

    it('close() frees both ports at once, even with a call in flight, which fails', async () => {
      await c.accessSecretVersion({ name }, o);
      faulty.resetCalls();
      faulty.setLatency(30_000, 'AccessSecretVersion');
      const inFlight = failure(c.accessSecretVersion({ name }, { retry: null, timeout: 20_000 }), mode);
      // The call has reached the emulator (bounded: fails after 5 s).
      await vi.waitFor(() => expect(faulty.calls('AccessSecretVersion')).toBe(1), { timeout: 5_000, interval: 2 });
      const start = performance.now();
      await faulty.close();
      await faulty.close(); // idempotent
      expect(performance.now() - start).toBeLessThan(1_000);
      const ended = await inFlight;
      expect(ended.code).not.toBe(0);
      expect(performance.now() - start).toBeLessThan(2_000);
      const grpcPort = Number(faulty.host.split(':').pop());
      const restPort = Number(new URL(faulty.restUrl).port);
      for (const port of [grpcPort, restPort]) await expect(bindAndRelease(port)).resolves.toBe(port);
    });
  });
});

function bindAndRelease(port: number, host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createNetServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

describe('startSecretManagerEmulator options and arguments', () => {
  it('projectId, projectNumber, port and host are honoured; host and restUrl say where the servers are', async () => {
    const port = await bindAndRelease(0);
    const emulator = await startSecretManagerEmulator({
      projectId: 'my-project',
      projectNumber: '42',
      port,
      host: '127.0.0.1',
    });
    const client = new SecretManagerServiceClient(emulator.clientOptions);
    try {
      expect(emulator.host).toBe(`127.0.0.1:${port}`);
      expect(emulator.restUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(emulator.restUrl).not.toBe(`http://127.0.0.1:${port}`);
      expect(emulator.projectId).toBe('my-project');
      expect(emulator.projectNumber).toBe('42');
      emulator.addVersion('k', 'v');
      const [res] = await client.accessSecretVersion({ name: 'projects/my-project/secrets/k/versions/latest' }, o);
      expect(res.name).toBe('projects/42/secrets/k/versions/1');
      const health = await fetch(`${emulator.restUrl}/v1/projects/my-project/secrets/k/versions/1:access`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { name: string }).name).toBe('projects/42/secrets/k/versions/1');
      const meta = `${emulator.restUrl}/v1/projects/my-project/secrets/k/versions/1`;
      expect(((await (await fetch(meta)).json()) as { state: unknown }).state).toBe('ENABLED');
      expect(((await (await fetch(`${meta}?$alt=json%3Benum-encoding=int`)).json()) as { state: unknown }).state).toBe(
        1,
      );
      const missing = await fetch(`${emulator.restUrl}/v1/nothing/here`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { status: string } }).error.status).toBe('NOT_FOUND');
    } finally {
      await client.close();
      await emulator.close();
    }
    await expect(startSecretManagerEmulator({ port: -1 })).rejects.toThrow(ConfigurationError);
    await expect(startSecretManagerEmulator({ port: -1 })).rejects.toThrow('Invalid port -1.');
    await expect(startSecretManagerEmulator({ projectNumber: 'abc' })).rejects.toThrow(ConfigurationError);
    await expect(startSecretManagerEmulator({ projectNumber: '0' })).rejects.toThrow(/Invalid projectNumber '0'/);
    await expect(startSecretManagerEmulator({ projectId: 'a/b' })).rejects.toThrow(ConfigurationError);
  });

  it('a port in use is an error that says so, and nothing is printed', async () => {
    const first = await startSecretManagerEmulator();
    const printed: unknown[] = [];
    const print = (chunk: unknown): boolean => {
      printed.push(chunk);
      return true;
    };
    const spies = [
      vi.spyOn(process.stderr, 'write').mockImplementation(print),
      vi.spyOn(process.stdout, 'write').mockImplementation(print),
      vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args)),
      vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void printed.push(args)),
    ];
    try {
      const port = Number(first.host.split(':').pop());
      await expect(startSecretManagerEmulator({ port })).rejects.toThrow(
        /cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE/,
      );
      await expect(startSecretManagerEmulator({ port })).rejects.toThrow(ConfigurationError);
    } finally {
      for (const spy of spies) spy.mockRestore();
      await first.close();
    }
    expect(printed).toEqual([]);
  });

  it('fault and counter arguments are checked: methods by their proto name, codes 1-16, positive counts', async () => {
    const emulator = await startSecretManagerEmulator();
    try {
      expect(() => emulator.failNext('accessSecretVersion', 14)).toThrow(/did you mean 'AccessSecretVersion'/);
      expect(() => emulator.calls('Access')).toThrow(ConfigurationError);
      expect(() => emulator.setLatency(10, 'access')).toThrow(ConfigurationError);
      expect(() => emulator.failNext('AccessSecretVersion', 0)).toThrow(ConfigurationError);
      expect(() => emulator.failNext('AccessSecretVersion', 17)).toThrow(ConfigurationError);
      expect(() => emulator.failNext('AccessSecretVersion', 14, 0)).toThrow(ConfigurationError);
      expect(() => emulator.setLatency(-1)).toThrow(ConfigurationError);
      expect(() => emulator.corruptNextChecksum(0)).toThrow(ConfigurationError);
      expect(() => emulator.failNext('AccessSecretVersion', 17)).toThrow(
        'failNext: code must be a gRPC status code from 1 (CANCELLED) to 16 (UNAUTHENTICATED), got 17.',
      );
      for (const thrown of [() => emulator.calls('Access'), () => emulator.setLatency(-1)]) {
        expect(thrown).toThrow(expect.objectContaining({ name: 'ConfigurationError', code: 'INVALID_OPTIONS' }));
      }
      expect(emulator.calls('AccessSecretVersion')).toBe(0);
    } finally {
      await emulator.close();
    }
  });

  it('clientOptions and restClientOptions are fresh objects each time (a client may not share one)', async () => {
    const emulator = await startSecretManagerEmulator();
    try {
      expect(emulator.clientOptions).not.toBe(emulator.clientOptions);
      expect(emulator.clientOptions).toEqual(
        expect.objectContaining({ apiEndpoint: '127.0.0.1', port: Number(emulator.host.split(':')[1]) }),
      );
      expect(emulator.restClientOptions).toEqual(
        expect.objectContaining({ fallback: true, protocol: 'http', port: Number(new URL(emulator.restUrl).port) }),
      );
    } finally {
      await emulator.close();
    }
  });
});
