/**
 * The emulator's limits and page tokens, through the REAL `SecretManagerServiceClient`, over gRPC and over REST
 * (`fallback: true`). docs/emulator.md's fidelity table names these tests: keep the two in step.
 *
 * References (docs corpus):
 * - Locations: regional secrets live in the regions the Locations mixin lists ("Lists information about the
 *   supported locations for this service",
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.locations/list); a regional secret
 *   elsewhere is INVALID_ARGUMENT. `locations/global` has no regional endpoint: the global endpoint refuses every
 *   `locations/` name, "The provided Secret ID [NAME] does not match the expected format
 *   [projects/*\/secrets/*\/versions/*]" (production, quoted in googleapis/google-cloud-python#13389).
 * - Page tokens (https://google.aip.dev/158): "Page tokens provided by APIs must be opaque (but URL-safe) strings,
 *   and must not be user-parseable"; "The user is expected to keep all other arguments to the RPC the same; if any
 *   arguments are different, the API should send an INVALID_ARGUMENT error."; but "If the user changes the
 *   page_size in a request for subsequent pages, the service must honor the new page size."
 * - Labels: keys "between 1 and 63 characters long, have a UTF-8 encoding of maximum 128 bytes", values "between
 *   0 and 63 characters long, have a UTF-8 encoding of maximum 128 bytes"; annotations: "The total size of
 *   annotation keys and values must be less than 16KiB."
 *   (https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets)
 * - Expiration: "A secret's expiration cannot be less than 60 seconds away or more than 100 years away."
 *   (https://cloud.google.com/secret-manager/docs/creating-and-managing-expiring-secrets, Limitations): calendar
 *   years, the same date and time 100 years on.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32c } from '../../src/crc32c.js';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { failure, type Mode } from './rpc-failure.js';

const P = 'keyflip-test';
const o = { retry: null, timeout: 5_000 } as const;
const page = { ...o, autoPaginate: false } as const;
const INVALID_ARGUMENT = 3;
const automatic = { replication: { automatic: {} } };
const idOf = (name: unknown): string => String(name).split('/').pop() as string;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
/** The same UTC date and time `years` calendar years after now, in seconds since the epoch. */
const yearsAheadSeconds = (years: number): number => {
  const at = new Date();
  at.setUTCFullYear(at.getUTCFullYear() + years);
  return Math.floor(at.getTime() / 1000);
};

describe.each([['grpc'], ['rest']] as const)('limits over %s, through the real client', (mode: Mode) => {
  let emulator: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  let n = 0;
  const fresh = (): string => `lim-${mode}-${++n}`;

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    client = new SecretManagerServiceClient(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions);
    await client.initialize();
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  const invalid = async (promise: Promise<unknown>): Promise<string> => {
    const error = await failure(promise, mode);
    expect(error.code).toBe(INVALID_ARGUMENT);
    return error.text;
  };

  describe('locations: a regional secret lives in a region ListLocations lists', () => {
    it('every region listed takes a regional secret; the list is `global` and those regions', async () => {
      const ids: string[] = [];
      for await (const location of client.listLocationsAsync({ name: `projects/${P}` }, o))
        ids.push(String(location.locationId));
      expect(ids).toContain('global');
      const regions = ids.filter((id) => id !== 'global');
      expect(regions.length).toBe(25);
      for (const region of regions) {
        const [secret] = await client.createSecret(
          { parent: `projects/${P}/locations/${region}`, secretId: fresh() },
          o,
        );
        expect(secret.name).toMatch(new RegExp(`^projects/\\d+/locations/${region}/secrets/`));
      }
    });

    it('a location it does not list is INVALID_ARGUMENT, for create, list, get and access', async () => {
      const parent = `projects/${P}/locations/mars-north9`;
      const text = await invalid(client.createSecret({ parent, secretId: fresh(), secret: {} }, o));
      expect(text).toContain('[mars-north9]');
      await invalid(client.listSecrets({ parent }, page));
      await invalid(client.getSecret({ name: `${parent}/secrets/x` }, o));
      await invalid(client.accessSecretVersion({ name: `${parent}/secrets/x/versions/latest` }, o));
      // nothing was created there
      const [all] = await client.listSecrets({ parent: `projects/${P}`, filter: 'name:mars' }, page);
      expect(all).toEqual([]);
    });

    it('`locations/global` is no regional parent: refused as the global endpoint refuses a regional name', async () => {
      const parent = `projects/${P}/locations/global`;
      const created = await invalid(client.createSecret({ parent, secretId: fresh(), secret: {} }, o));
      expect(created).toBe(`The provided Parent [${parent}] does not match the expected format [projects/*]`);
      const name = `${parent}/secrets/x/versions/latest`;
      expect(await invalid(client.accessSecretVersion({ name }, o))).toBe(
        `The provided Secret ID [${name}] does not match the expected format [projects/*/secrets/*/versions/*]`,
      );
      await invalid(client.listSecrets({ parent }, page));
    });
  });

  describe('page tokens (AIP-158): opaque, tied to their request, a cursor', () => {
    const labelled = async (suite: string): Promise<string> => {
      const id = fresh();
      await client.createSecret(
        { parent: `projects/${P}`, secretId: id, secret: { ...automatic, labels: { suite } } },
        o,
      );
      return id;
    };

    it('ListSecrets: a secret created between two pages repeats nothing; the next page follows the last', async () => {
      const suite = `ins-${mode}`;
      const filter = `labels.suite=${suite}`;
      const [a, b, c] = [await labelled(suite), await labelled(suite), await labelled(suite)];
      const [first, , response] = await client.listSecrets({ parent: `projects/${P}`, filter, pageSize: 2 }, page);
      expect(first.map((s) => idOf(s.name))).toEqual([c, b]); // newest first
      const token = String(response?.nextPageToken ?? '');
      expect(token).not.toBe('');
      await labelled(suite); // newer than all: it belongs before the first page, not on the second
      const [second, , after] = await client.listSecrets(
        { parent: `projects/${P}`, filter, pageSize: 2, pageToken: token },
        page,
      );
      expect(second.map((s) => idOf(s.name))).toEqual([a]);
      expect(after?.nextPageToken ?? '').toBe('');
    });

    it('ListSecretVersions: a version added between two pages repeats nothing', async () => {
      const id = await labelled(`v-${mode}`);
      const parent = client.projectSecretsPath(P, id);
      for (const v of ['1', '2', '3']) await client.addSecretVersion({ parent, payload: { data: Buffer.from(v) } }, o);
      const [first, , response] = await client.listSecretVersions({ parent, pageSize: 2 }, page);
      expect(first.map((v) => idOf(v.name))).toEqual(['3', '2']);
      await client.addSecretVersion({ parent, payload: { data: Buffer.from('4') } }, o);
      const pageToken = String(response?.nextPageToken ?? '');
      const [second] = await client.listSecretVersions({ parent, pageSize: 2, pageToken }, page);
      expect(second.map((v) => idOf(v.name))).toEqual(['1']);
    });

    it('a token with another filter or parent is INVALID_ARGUMENT; a made-up one too', async () => {
      const suite = `tie-${mode}`;
      for (let i = 0; i < 3; i++) await labelled(suite);
      const request = { parent: `projects/${P}`, filter: `labels.suite=${suite}`, pageSize: 1 };
      const [, , response] = await client.listSecrets(request, page);
      const pageToken = String(response?.nextPageToken ?? '');
      expect(pageToken).not.toBe('');
      // opaque: no offset, nothing of the request readable in it
      expect(pageToken).not.toMatch(/^\d+$/);
      expect(Buffer.from(pageToken, 'base64url').toString('latin1')).not.toContain(suite);
      await invalid(client.listSecrets({ ...request, pageToken, filter: 'name:zzz' }, page));
      await invalid(client.listSecrets({ ...request, pageToken, parent: `projects/${P}/locations/us-east1` }, page));
      await invalid(client.listSecrets({ ...request, pageToken: '1' }, page));
      // a ListSecrets token is no ListSecretVersions token
      const id = await labelled(`other-${mode}`);
      await invalid(client.listSecretVersions({ parent: client.projectSecretsPath(P, id), pageToken }, page));
      // the same request goes on
      const [next] = await client.listSecrets({ ...request, pageToken }, page);
      expect(next.length).toBe(1);
    });

    it('a changed page size is honored on the next page (AIP-158), and the cursor holds', async () => {
      const suite = `size-${mode}`;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await labelled(suite));
      const newest = [...ids].reverse();
      const request = { parent: `projects/${P}`, filter: `labels.suite=${suite}`, pageSize: 1 };
      const [first, , response] = await client.listSecrets(request, page);
      expect(first.map((s) => idOf(s.name))).toEqual(newest.slice(0, 1));
      const pageToken = String(response?.nextPageToken ?? '');
      const [second, , after] = await client.listSecrets({ ...request, pageToken, pageSize: 3 }, page);
      expect(second.map((s) => idOf(s.name))).toEqual(newest.slice(1, 4));
      // and smaller again: the token of a 3-item page takes a page size of 2
      const [third, , last] = await client.listSecrets(
        { ...request, pageToken: String(after?.nextPageToken ?? ''), pageSize: 2 },
        page,
      );
      expect(third.map((s) => idOf(s.name))).toEqual(newest.slice(4));
      expect(last?.nextPageToken ?? '').toBe('');
    });

    it('a ListSecretVersions token dies with its secret: INVALID_ARGUMENT after delete and re-create', async () => {
      const id = await labelled(`re-${mode}`);
      const parent = client.projectSecretsPath(P, id);
      for (const v of ['1', '2', '3']) await client.addSecretVersion({ parent, payload: { data: Buffer.from(v) } }, o);
      const [, , response] = await client.listSecretVersions({ parent, pageSize: 2 }, page);
      const pageToken = String(response?.nextPageToken ?? '');
      expect(pageToken).not.toBe('');
      await client.deleteSecret({ name: parent }, o);
      await client.createSecret({ parent: `projects/${P}`, secretId: id, secret: automatic }, o);
      await client.addSecretVersion({ parent, payload: { data: Buffer.from('new') } }, o);
      await invalid(client.listSecretVersions({ parent, pageSize: 2, pageToken }, page));
      // the new secret's own tokens work
      await client.addSecretVersion({ parent, payload: { data: Buffer.from('newer') } }, o);
      const [, , fresh] = await client.listSecretVersions({ parent, pageSize: 1 }, page);
      const [rest] = await client.listSecretVersions(
        { parent, pageSize: 1, pageToken: String(fresh?.nextPageToken ?? '') },
        page,
      );
      expect(rest.map((v) => idOf(v.name))).toEqual(['1']);
    });
  });

  describe('labels, annotations and expiration, as the reference bounds them', () => {
    const create = (secret: Record<string, unknown>) =>
      client.createSecret({ parent: `projects/${P}`, secretId: fresh(), secret: { ...automatic, ...secret } }, o);

    it('label keys and values: at most 128 bytes in UTF-8, whatever their length in characters', async () => {
      // '中' is one \p{Lo} character, 3 bytes in UTF-8: 42 of them are 126 bytes, 43 are 129
      await create({ labels: { ['中'.repeat(42)]: '中'.repeat(42) } });
      expect(await invalid(create({ labels: { ['中'.repeat(43)]: 'x' } }))).toContain('128 bytes');
      expect(await invalid(create({ labels: { k: '中'.repeat(43) } }))).toContain('128 bytes');
      const [secret] = await create({});
      const update = {
        secret: { name: String(secret.name), labels: { ['中'.repeat(63)]: 'x' } },
        updateMask: { paths: ['labels'] },
      };
      await invalid(client.updateSecret(update, o));
    });

    it('annotations: their total size must be less than 16 KiB (16384 bytes refused, 16383 taken)', async () => {
      await create({ annotations: { k: 'x'.repeat(16_382) } });
      const text = await invalid(create({ annotations: { k: 'x'.repeat(16_383) } }));
      expect(text).toBe('The total size of annotations must be less than 16KiB.');
      const [secret] = await create({});
      const update = { secret: { name: String(secret.name), annotations: { k: 'x'.repeat(16_383) } } };
      await invalid(client.updateSecret({ ...update, updateMask: { paths: ['annotations'] } }, o));
    });

    it('expiration: a past expire_time or a negative ttl is INVALID_ARGUMENT; 60 s to 100 years ahead', async () => {
      const limits = 'The expiration must be at least 60 seconds and at most 100 years in the future.';
      // Over REST the client sends the ttl as the JSON Duration "-100s", which the emulator's REST front end
      // (rest.ts) refuses before the store sees it: INVALID_ARGUMENT either way, the words differ.
      const negativeTtl = await invalid(create({ ttl: { seconds: -100 } }));
      if (mode === 'grpc') expect(negativeTtl).toBe(limits);
      expect(await invalid(create({ expireTime: { seconds: nowSeconds() - 100 } }))).toBe(limits);
      expect(await invalid(create({ ttl: { seconds: 30 } }))).toBe(limits);
      expect(await invalid(create({ ttl: { seconds: yearsAheadSeconds(100) - nowSeconds() + 3_600 } }))).toBe(limits);
      const [taken] = await create({ ttl: { seconds: 60 } });
      expect(Number(taken.expireTime?.seconds)).toBeGreaterThan(nowSeconds());
      const [later] = await create({ expireTime: { seconds: nowSeconds() + 3_600 } });
      // on update too, and a refused update changes nothing
      const past = { name: String(later.name), expireTime: { seconds: nowSeconds() - 1 } };
      expect(await invalid(client.updateSecret({ secret: past, updateMask: { paths: ['expire_time'] } }, o))).toBe(
        limits,
      );
      const negative = { name: String(later.name), ttl: { seconds: -1 } };
      await invalid(client.updateSecret({ secret: negative, updateMask: { paths: ['ttl'] } }, o));
      const [still] = await client.getSecret({ name: String(later.name) }, o);
      expect(still.expireTime?.seconds).toEqual(later.expireTime?.seconds);
      expect(still.etag).toBe(later.etag);
    });

    it('"100 years" are calendar years: 36 501 days are taken, 100 calendar years + 1 h are not', async () => {
      const limits = 'The expiration must be at least 60 seconds and at most 100 years in the future.';
      const hundred = yearsAheadSeconds(100);
      // 36 500 days + 1 day: past 36 500 × 86 400 s, yet short of 100 calendar years (24 or 25 leap days)
      await create({ ttl: { seconds: 36_501 * 86_400 } });
      await create({ expireTime: { seconds: hundred - 3_600 } });
      expect(await invalid(create({ expireTime: { seconds: hundred + 3_600 } }))).toBe(limits);
      expect(await invalid(create({ ttl: { seconds: hundred - nowSeconds() + 3_600 } }))).toBe(limits);
    });
  });

  describe('AddSecretVersion: a CRC32C mismatch quotes no checksum', () => {
    it('INVALID_ARGUMENT without the CRC32C of the payload (derived from the secret) nor the one sent', async () => {
      const [secret] = await client.createSecret({ parent: `projects/${P}`, secretId: fresh(), secret: automatic }, o);
      const data = Buffer.from('hunter2TOPSECRET');
      const computed = crc32c(data);
      const sent = (computed + 1) % 2 ** 32;
      const text = await invalid(
        client.addSecretVersion({ parent: String(secret.name), payload: { data, dataCrc32c: sent } }, o),
      );
      expect(text).toContain('Checksum mismatch');
      expect(text).not.toContain(String(computed));
      expect(text).not.toContain(String(sent));
      const [versions] = await client.listSecretVersions({ parent: String(secret.name) }, page);
      expect(versions).toEqual([]);
    });
  });
});
