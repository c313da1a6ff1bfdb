import { describe, expect, it } from 'vitest';
import { crc32c } from '../../src/crc32c.js';
import {
  GrpcCode,
  grpcCodeName,
  grpcCodeOf,
  hasCrc32c,
  isAlias,
  isLocation,
  isProject,
  isProjectNumber,
  isSecretId,
  isSettableAlias,
  isVersionId,
  matchesCrc32c,
  parentName,
  parseParentName,
  parseSecretName,
  parseVersionName,
  readPayload,
  secretName,
  versionName,
} from '../../src/sources/gcp-names.js';

describe('Secret Manager rules', () => {
  it('secret ids: 1 to 255 letters, digits, "_" and "-"', () => {
    for (const id of ['a', 'OPENAI_API_KEY_v2', 'openai-key', '0', '_', '-', 'a'.repeat(255)]) {
      expect(isSecretId(id), id).toBe(true);
    }
    for (const id of ['', 'a'.repeat(256), 'has.dot', 'has space', 'a/b', 'a@1', 'é', 'x\n']) {
      expect(isSecretId(id), id).toBe(false);
    }
  });

  it('versions: a number from 1, "latest", or an alias', () => {
    for (const v of ['1', '7', '1234567890', 'latest', 'current', 'previous', 'a', `a${'b'.repeat(62)}`, 'A_b-9']) {
      expect(isVersionId(v), v).toBe(true);
    }
    for (const v of ['', '0', '01', '-1', '1a', '1.0', '_x', '-x', `a${'b'.repeat(63)}`, 'b@d', 'a/b']) {
      expect(isVersionId(v), v).toBe(false);
    }
  });

  it('aliases: a letter, then letters, digits, "_" and "-", 63 at most; latest and NEW cannot be set', () => {
    expect(isAlias('current')).toBe(true);
    expect(isAlias('latest')).toBe(true);
    expect(isAlias(`a${'b'.repeat(62)}`)).toBe(true);
    for (const alias of ['', '1abc', '_a', `a${'b'.repeat(63)}`, 'a.b']) expect(isAlias(alias), alias).toBe(false);
    expect(isSettableAlias('current')).toBe(true);
    expect(isSettableAlias('newer')).toBe(true);
    for (const alias of ['latest', 'LATEST', 'new', 'NEW', 'New', '1abc']) {
      expect(isSettableAlias(alias), alias).toBe(false);
    }
  });

  it('locations, project ids and project numbers', () => {
    for (const l of ['europe-west1', 'us-east1', 'a', `a${'b'.repeat(62)}`]) expect(isLocation(l), l).toBe(true);
    for (const l of ['', 'Europe West', 'Europe-west1', '1us', '-us', 'us_east1', `a${'b'.repeat(63)}`]) {
      expect(isLocation(l), l).toBe(false);
    }
    for (const p of ['my-project', 'keyflip-test', '123456789012', '1']) expect(isProject(p), p).toBe(true);
    for (const p of ['', 'My-Project', '-p', 'p_q', 'p/q', 'example.com:proj', `a${'b'.repeat(63)}`]) {
      expect(isProject(p), p).toBe(false);
    }
    for (const n of ['1', '42', '123456789012', '9'.repeat(20)]) expect(isProjectNumber(n), n).toBe(true);
    for (const n of ['', '0', '012', 'abc', '-1', '1.5', '9'.repeat(21)]) expect(isProjectNumber(n), n).toBe(false);
  });
});

describe('Secret Manager resource names', () => {
  const global = { project: 'p', location: undefined };
  const regional = { project: '123', location: 'europe-west1' };

  it('are built for global and regional secrets', () => {
    expect(parentName(global)).toBe('projects/p');
    expect(parentName(regional)).toBe('projects/123/locations/europe-west1');
    expect(secretName({ ...global, secretId: 'KEY_v2' })).toBe('projects/p/secrets/KEY_v2');
    expect(secretName({ ...regional, secretId: 'k' })).toBe('projects/123/locations/europe-west1/secrets/k');
    expect(versionName({ ...global, secretId: 'k', version: 'latest' })).toBe('projects/p/secrets/k/versions/latest');
    expect(versionName({ ...regional, secretId: 'k', version: '7' })).toBe(
      'projects/123/locations/europe-west1/secrets/k/versions/7',
    );
  });

  it('parse back to what built them', () => {
    for (const ref of [global, regional]) {
      expect(parseParentName(parentName(ref))).toEqual(ref);
      const secret = { ...ref, secretId: 'OPENAI_API_KEY_v2' };
      expect(parseSecretName(secretName(secret))).toEqual(secret);
      for (const version of ['1', 'latest', 'current']) {
        const full = { ...secret, version };
        expect(parseVersionName(versionName(full))).toEqual(full);
      }
    }
  });

  it('parse each form only as itself', () => {
    const version = 'projects/p/secrets/k/versions/1';
    expect(parseParentName(version)).toBeUndefined();
    expect(parseSecretName(version)).toBeUndefined();
    expect(parseVersionName('projects/p/secrets/k')).toBeUndefined();
    expect(parseParentName('projects/p/secrets/k')).toBeUndefined();
    expect(parseSecretName('projects/p')).toBeUndefined();
    // a secret called "locations" is a secret, not a location
    expect(parseSecretName('projects/p/secrets/locations')).toEqual({
      project: 'p',
      location: undefined,
      secretId: 'locations',
    });
  });

  it('refuse malformed names, bad secret ids and bad locations', () => {
    for (const name of [
      undefined,
      null,
      42,
      '',
      'projects',
      'projects/',
      'projects//secrets/k',
      '/projects/p/secrets/k',
      'projects/p/secrets/k/',
      'project/p/secrets/k',
      'projects/p/secret/k',
      'projects/p/locations/secrets/k',
      'projects/p/locations/Europe/secrets/k',
      'projects/p/locations/us_east1/secrets/k',
      'projects/p/secrets/has.dot',
      `projects/p/secrets/${'a'.repeat(256)}`,
      'projects/p/secrets/a b',
    ]) {
      expect(parseSecretName(name), String(name)).toBeUndefined();
      expect(parseVersionName(`${String(name)}/versions/1`), String(name)).toBeUndefined();
    }
    expect(parseParentName('projects/p/locations/Europe')).toBeUndefined();
    expect(parseParentName('projects/p/locations')).toBeUndefined();
    expect(parseParentName('projects/p/q')).toBeUndefined();
    expect(parseVersionName('projects/p/secrets/k/versions/')).toBeUndefined();
    expect(parseVersionName('projects/p/secrets/k/versions/1/extra')).toBeUndefined();
  });

  it('leave the version segment to the server: any segment parses, `isVersionId` says which are versions', () => {
    const ref = parseVersionName('projects/p/secrets/k/versions/b@d');
    expect(ref?.version).toBe('b@d');
    expect(isVersionId(ref?.version as string)).toBe(false);
  });
});

describe('gRPC status codes', () => {
  it('are google.rpc.Code, named both ways', () => {
    expect(Object.values(GrpcCode)).toEqual(Array.from({ length: 17 }, (_, i) => i));
    expect(GrpcCode.NOT_FOUND).toBe(5);
    expect(GrpcCode.PERMISSION_DENIED).toBe(7);
    expect(GrpcCode.FAILED_PRECONDITION).toBe(9);
    expect(GrpcCode.UNAVAILABLE).toBe(14);
    for (const [name, code] of Object.entries(GrpcCode)) expect(grpcCodeName(code)).toBe(name);
    expect(grpcCodeName(17)).toBe('UNKNOWN');
    expect(grpcCodeName(-1)).toBe('UNKNOWN');
  });

  it('are read from a client error only when numeric', () => {
    expect(grpcCodeOf(Object.assign(new Error('x'), { code: 5 }))).toBe(5);
    expect(grpcCodeOf({ code: 0 })).toBe(0);
    expect(grpcCodeOf(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBeUndefined();
    expect(grpcCodeOf(new Error('x'))).toBeUndefined();
    for (const error of [undefined, null, 'The client has already been closed.', 5]) {
      expect(grpcCodeOf(error)).toBeUndefined();
    }
  });
});

describe('the CRC32C check of a payload', () => {
  const data = new TextEncoder().encode('123456789');
  const crc = 0xe3069283; // the published CRC-32C check value

  it('matches the CRC32C as a number or a decimal string, and nothing else', () => {
    expect(crc32c(data)).toBe(crc);
    expect(matchesCrc32c(data, crc)).toBe(true);
    expect(matchesCrc32c(data, String(crc))).toBe(true);
    expect(matchesCrc32c(data, crc + 1)).toBe(false);
    expect(matchesCrc32c(data, String(crc ^ 1))).toBe(false);
    expect(matchesCrc32c(data, '0')).toBe(false);
    expect(matchesCrc32c(data, 'not a number')).toBe(false);
    expect(matchesCrc32c(new Uint8Array(0), 0)).toBe(true);
    expect(matchesCrc32c(new Uint8Array(0), 1)).toBe(false);
  });

  it('an absent checksum (undefined, null or "") is not checked', () => {
    for (const absent of [undefined, null, '']) {
      expect(hasCrc32c(absent)).toBe(false);
      expect(matchesCrc32c(data, absent)).toBe(true);
    }
    expect(hasCrc32c(0)).toBe(true);
    expect(hasCrc32c('0')).toBe(true);
  });

  it('readPayload: bytes as given, base64 text decoded, none as empty; the checksum checked against them', () => {
    const bytes = Buffer.from('sm-value-1');
    const good = readPayload({ data: bytes, dataCrc32c: String(crc32c(bytes)) });
    expect(good.data).toBe(bytes);
    expect(good.crc32cMatches).toBe(true);
    const fromText = readPayload({ data: bytes.toString('base64'), dataCrc32c: crc32c(bytes) });
    expect(Buffer.from(fromText.data).toString()).toBe('sm-value-1');
    expect(fromText.crc32cMatches).toBe(true);
    expect(readPayload({ data: bytes, dataCrc32c: String(crc32c(bytes) ^ 1) }).crc32cMatches).toBe(false);
    expect(readPayload({ data: bytes }).crc32cMatches).toBe(true);
    for (const payload of [undefined, null, {}, { data: null }, { data: 42 }]) {
      const read = readPayload(payload);
      expect(read.data).toEqual(new Uint8Array(0));
      expect(read.crc32cMatches).toBe(true);
    }
    expect(readPayload({ data: null, dataCrc32c: '1' }).crc32cMatches).toBe(false);
  });
});
