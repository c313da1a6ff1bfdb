/**
 * The list-filter grammar of ListSecrets and ListSecretVersions, through the real client on both transports.
 *
 * Reference: "Filter lists of secrets and secret versions", https://cloud.google.com/secret-manager/docs/filtering
 * (its examples table: `name:mysecret`, `name:APIKEY*production`, `labels.environment=production`,
 * `create_time<2021-01-01T06:00:00Z AND create_time>2021-01-01T12:00:00Z`, `replication.automatic:*`,
 * `replication.user_managed.replicas.location:* AND NOT replication.user_managed.replicas.location:…`; and
 * `name:asecret OR name:bsecret`, the page's API example), and AIP-160 (https://google.aip.dev/160) for the grammar.
 * A bad filter's wording is the service's: `syntax error at line 1, column 11, token '('` answered
 * `labels.list():label1` with INVALID_ARGUMENT (googleapis/google-cloud-dotnet#10639).
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_FILTER_DEPTH, parseFilter } from '../../src/testing/emulator/filter.js';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { failure } from './rpc-failure.js';

const P = 'keyflip-test';
const INVALID_ARGUMENT = 3;
const o = { retry: null, timeout: 5_000 } as const;
const page = { ...o, autoPaginate: false } as const;
const KEY = 'projects/p/locations/us-central1/keyRings/kr/cryptoKeys/my-cmek-key';

describe.each([['grpc'], ['rest']] as const)('list filters over %s, through the real client', (mode) => {
  let emulator: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  const ids = {
    mysecret: `${mode}-mysecret-a`,
    apikey: `${mode}-APIKEY-web-production`,
    asecret: `${mode}-asecret`,
    bsecret: `${mode}-bsecret`,
    regional: `${mode}-user-managed`,
  };

  const names = async (filter: string): Promise<string[]> => {
    const [secrets] = await client.listSecrets({ parent: `projects/${P}`, filter }, page);
    return secrets.map((s) => String(s.name).split('/').pop() as string).sort();
  };
  const bad = async (filter: string) => failure(client.listSecrets({ parent: `projects/${P}`, filter }, page), mode);

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    client = new SecretManagerServiceClient(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions);
    await client.initialize();
    const create = (id: string, secret: object) =>
      client.createSecret({ parent: `projects/${P}`, secretId: id, secret: { labels: { m: mode }, ...secret } }, o);
    await create(ids.mysecret, { replication: { automatic: {} }, labels: { m: mode, environment: 'production' } });
    await create(ids.apikey, {
      replication: { automatic: {} },
      labels: { m: mode, environment: 'staging' },
      expireTime: { seconds: 4102444800 }, // 2100-01-01T00:00:00Z
    });
    await create(ids.asecret, { replication: { automatic: {} } });
    await create(ids.bsecret, { replication: { automatic: {} } });
    await create(ids.regional, {
      replication: {
        userManaged: {
          replicas: [
            { location: 'us-east1' },
            { location: 'us-central1', customerManagedEncryption: { kmsKeyName: KEY } },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  const all = () => Object.values(ids).sort();

  it('the Filtering page examples', async () => {
    expect(await names('name:mysecret')).toEqual([ids.mysecret]);
    expect(await names('name:APIKEY*production')).toEqual([ids.apikey]);
    expect(await names(`labels.environment=production AND labels.m=${mode}`)).toEqual([ids.mysecret]);
    expect(await names(`name:asecret OR name:bsecret AND labels.m=${mode}`)).toEqual([ids.asecret, ids.bsecret]);
    // As the page writes it, the range is empty (before 06:00 and after 12:00 the same day): nothing matches.
    expect(await names('create_time<2021-01-01T06:00:00Z AND create_time>2021-01-01T12:00:00Z')).toEqual([]);
    expect(await names(`replication.automatic:* labels.m=${mode}`)).toEqual(
      [ids.mysecret, ids.apikey, ids.asecret, ids.bsecret].sort(),
    );
    expect(
      await names(
        'replication.user_managed.replicas.location:* AND NOT replication.user_managed.replicas.location:us-central2 ' +
          'AND NOT replication.user_managed.replicas.location:us-west1',
      ),
    ).toEqual([ids.regional]);
    expect(
      await names(
        'replication.user_managed.replicas.location:* AND NOT replication.user_managed.replicas.location:us-east1',
      ),
    ).toEqual([]);
    expect(await names('replication.user_managed.replicas.customerManagedEncryption:*')).toEqual([ids.regional]);
    expect(await names(`replication.user_managed.replicas.customerManagedEncryption.kmsKeyName=${KEY}`)).toEqual([
      ids.regional,
    ]);
  });

  it('OR, AND, implicit AND, NOT and -, parentheses (OR binds tighter than AND, AIP-160)', async () => {
    const m = `labels.m=${mode}`;
    expect(await names(`${m} (name:asecret OR name:bsecret)`)).toEqual([ids.asecret, ids.bsecret]);
    expect(await names(`${m} NOT (name:asecret OR name:bsecret)`)).toEqual(
      [ids.mysecret, ids.apikey, ids.regional].sort(),
    );
    expect(await names(`${m} -name:asecret -name:bsecret -name:mysecret`)).toEqual([ids.apikey, ids.regional].sort());
    expect(await names(`${m} labels.environment:(production OR staging)`)).toEqual([ids.mysecret, ids.apikey].sort());
    expect(await names(`${m} labels.environment:*`)).toEqual([ids.mysecret, ids.apikey].sort());
    expect(await names(`${m} labels:environment`)).toEqual([ids.mysecret, ids.apikey].sort()); // a map has the key
    expect(await names(`${m} labels.environment!=production`)).toEqual(
      [ids.apikey, ids.asecret, ids.bsecret, ids.regional].sort(),
    );
    expect(await names(`${m} name:"bsecret"`)).toEqual([ids.bsecret]);
  });

  it('timestamps compare as times: create_time and expire_time, RFC 3339 or a date', async () => {
    const m = `labels.m=${mode}`;
    expect(await names(`${m} create_time>2021-01-01T00:00:00Z`)).toEqual(all());
    expect(await names(`${m} create_time<2021-01-01T00:00:00Z`)).toEqual([]);
    const [one] = await client.getSecret({ name: `projects/${P}/secrets/${ids.bsecret}` }, o);
    const at = new Date(Number(one.createTime?.seconds) * 1000 + Math.floor((one.createTime?.nanos ?? 0) / 1e6));
    const iso = at.toISOString();
    expect(await names(`${m} create_time<=${iso}`)).toContain(ids.bsecret);
    expect(await names(`${m} create_time>=${iso}`)).toContain(ids.bsecret);
    expect(await names(`${m} create_time<${iso}`)).not.toContain(ids.bsecret);
    expect(await names(`${m} create_time>${iso}`)).not.toContain(ids.bsecret);
    expect(await names(`${m} expire_time:*`)).toEqual([ids.apikey]);
    expect(await names(`${m} expire_time<2021-07-31`)).toEqual([]);
    expect(await names(`${m} expire_time<2100-01-02 expire_time>=2100-01-01T00:00:00Z`)).toEqual([ids.apikey]);
  });

  it('a timestamp is RFC 3339 or a date, nothing else Date.parse reads: INVALID_ARGUMENT', async () => {
    const m = `labels.m=${mode}`;
    expect(await names(`${m} create_time>2021-01-01T06:00:00.123456789+01:00`)).toEqual(all());
    expect(await names(`${m} create_time>2021-01-01`)).toEqual(all());
    for (const v of [
      '1',
      '2021',
      '"Jan 1 2021"',
      '"Mon, 01 Jan 3000 00:00:00 GMT"',
      '2021-02-30',
      '2021-01-01T25:00:00Z',
    ]) {
      const e = await bad(`create_time>${v}`);
      expect(e.code, v).toBe(INVALID_ARGUMENT);
      expect(e.text, v).toContain('create_time');
    }
    expect((await bad('expire_time<2021-01-01T00:00:00')).code).toBe(INVALID_ARGUMENT); // no offset
    expect((await bad('NOT create_time>(2021-01-01 OR 1)')).code).toBe(INVALID_ARGUMENT);
  });

  it('a duration is seconds (`259200s`): `abc` or `1d` is INVALID_ARGUMENT, not a silent no-match', async () => {
    const id = `${mode}-ttl`;
    const secret = { replication: { automatic: {} }, labels: { d: mode }, versionDestroyTtl: { seconds: 259_200 } };
    await client.createSecret({ parent: `projects/${P}`, secretId: id, secret }, o);
    expect(await names(`labels.d=${mode} version_destroy_ttl=259200s`)).toEqual([id]);
    expect(await names(`labels.d=${mode} version_destroy_ttl>86400.5s`)).toEqual([id]);
    expect(await names(`labels.d=${mode} version_destroy_ttl<259200s`)).toEqual([]);
    for (const f of [
      'rotation.rotation_period>abc',
      'version_destroy_ttl>1d',
      'version_destroy_ttl=259200',
      'ttl<1h',
    ]) {
      const e = await bad(f);
      expect(e.code, f).toBe(INVALID_ARGUMENT);
      expect(e.text, f).toContain('259200s');
    }
    // a label's key is the user's: `labels.ttl` and `labels.start_time` are text, not a duration or a time
    expect(await names(`labels.d=${mode} labels.ttl=abc labels.start_time>1`)).toEqual([]);
  });

  it('ListSecretVersions: state, name, create_time', async () => {
    const parent = `projects/${P}/secrets/${ids.asecret}`;
    for (let i = 0; i < 3; i++) await client.addSecretVersion({ parent, payload: { data: Buffer.from(`v${i}`) } }, o);
    await client.disableSecretVersion({ name: `${parent}/versions/2` }, o);
    await client.destroySecretVersion({ name: `${parent}/versions/3` }, o);
    const versions = async (filter: string) =>
      (await client.listSecretVersions({ parent, filter }, page))[0].map((v) => String(v.name).split('/').pop()).sort();
    expect(await versions('state:ENABLED')).toEqual(['1']);
    expect(await versions('state:(ENABLED OR DISABLED)')).toEqual(['1', '2']);
    expect(await versions('state=DESTROYED OR name:versions/1')).toEqual(['1', '3']);
    expect(await versions('NOT state:ENABLED')).toEqual(['2', '3']);
    expect(await versions('state!=ENABLED AND create_time>2021-01-01')).toEqual(['2', '3']);
    expect(await versions('destroy_time:*')).toEqual(['3']);
    expect((await failure(client.listSecretVersions({ parent, filter: 'labels.a=1' }, page), mode)).code).toBe(
      INVALID_ARGUMENT,
    );
  });

  it('a bad filter answers INVALID_ARGUMENT in the service words', async () => {
    const e = await bad('labels.list():label1');
    expect(e.code).toBe(INVALID_ARGUMENT);
    expect(e.text).toContain("syntax error at line 1, column 11, token '('");
    for (const filter of ['name:a OR', '(name:a', 'name:a)', 'AND name:a', 'name', 'name:a AND', 'name:"a']) {
      expect((await bad(filter)).code, filter).toBe(INVALID_ARGUMENT);
    }
    expect((await bad('no_such_field:x')).code).toBe(INVALID_ARGUMENT);
    expect((await bad('create_time>yesterday')).code).toBe(INVALID_ARGUMENT);
  });

  it('`:` with `*` wildcards matches in linear-ish time: a pathological filter on a long id answers', async () => {
    // "name:APIKEY*production" (filtering page): `*` matches any run. As a backtracking RegExp (`.*a.*a.*a…b`) this
    // filter took minutes on a 200-character id, blocking the process; the glob matcher answers at once.
    const long = `${mode}-${'a'.repeat(200)}`;
    const longB = `${long}b`;
    for (const id of [long, longB])
      await client.createSecret(
        { parent: `projects/${P}`, secretId: id, secret: { replication: { automatic: {} } } },
        o,
      );
    expect(await names(`name:${'*a'.repeat(8)}*b`)).toEqual([longB]);
    expect(await names(`name:${mode}-${'a*'.repeat(8)}`)).toEqual([long, longB].sort());
    expect(await names(`name:A*A*A*A*A*A*A*A*c`)).toEqual([]);
    expect(await names('name:APIKEY*production')).toEqual([ids.apikey]); // still case-insensitive
  });

  it(`parentheses nested deeper than ${MAX_FILTER_DEPTH} answer INVALID_ARGUMENT, never INTERNAL`, async () => {
    const nested = (depth: number, inner: string) => `${'('.repeat(depth)}${inner}${')'.repeat(depth)}`;
    expect(await names(nested(MAX_FILTER_DEPTH, `name:${ids.bsecret}`))).toEqual([ids.bsecret]);
    for (const filter of [
      nested(MAX_FILTER_DEPTH + 1, 'name:a'),
      `name:${nested(MAX_FILTER_DEPTH + 1, 'a')}`,
      // Deep enough to overflow a recursive parser's stack (INTERNAL); kept short enough for a REST URL.
      nested(mode === 'grpc' ? 20_000 : 600, 'name:a'),
    ]) {
      const e = await bad(filter);
      expect(e.code, filter.slice(0, 20)).toBe(INVALID_ARGUMENT);
      expect(e.text).toContain(`nests parentheses more than ${MAX_FILTER_DEPTH} deep`);
    }
  });

  it('a field the listed resource does not have is INVALID_ARGUMENT, even when nothing is listed', async () => {
    // ListSecretVersions of a secret with no versions: `labels` is a Secret's field, not a SecretVersion's.
    const empty = `projects/${P}/secrets/${ids.bsecret}`;
    const versions = (filter: string) => client.listSecretVersions({ parent: empty, filter }, page);
    expect((await versions('state:ENABLED'))[0]).toEqual([]);
    for (const filter of ['labels.x:y', 'replication.automatic:*', 'NOT expire_time:*']) {
      expect((await failure(versions(filter), mode)).code, filter).toBe(INVALID_ARGUMENT);
    }
    // ListSecrets where no secret is: `state` and `destroy_time` are a SecretVersion's fields, not a Secret's.
    const none = `projects/${P}/locations/us-east1`;
    const secrets = (filter: string) => client.listSecrets({ parent: none, filter }, page);
    expect((await secrets('labels.x:y'))[0]).toEqual([]);
    for (const filter of ['state:ENABLED', 'destroy_time:*']) {
      expect((await failure(secrets(filter), mode)).code, filter).toBe(INVALID_ARGUMENT);
    }
  });
});

describe('parseFilter: the listed resource', () => {
  it('refuses a field of the other resource before anything is listed', () => {
    expect(() => parseFilter('labels.x:y', 'version')).toThrow(/not a field of the listed resource/);
    expect(() => parseFilter('state:ENABLED', 'secret')).toThrow(/not a field of the listed resource/);
    expect(parseFilter('state:ENABLED', 'version')).toBeDefined();
    expect(parseFilter('labels.x:y', 'secret')).toBeDefined();
  });
});
