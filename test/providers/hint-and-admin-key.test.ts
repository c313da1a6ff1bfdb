import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchesHint, parseHint, readAdminKey } from '../../src/providers/index.js';
import { parseRetryAfter } from '../../src/providers/http.js';
import { rejection } from './scripted-server.js';

describe('hints', () => {
  it.each([
    ['sk-abc...def', 'sk-abc', 'def'],
    ['sk-ant-api03-R2D...igAA', 'sk-ant-api03-R2D', 'igAA'],
    ['sk-abc…def', 'sk-abc', 'def'],
    ['sk-****abcd', 'sk-', 'abcd'],
  ])('%s has the ends %s and %s', (hint, prefix, suffix) => {
    expect(parseHint(hint)).toEqual({ prefix, suffix });
  });

  it.each(['sk-abcdef', '...def', 'sk-abc...', '', '***'])('%j has no two ends: it matches nothing', (hint) => {
    expect(parseHint(hint)).toBeUndefined();
    expect(matchesHint('sk-abc-def', hint)).toBe(false);
  });

  it('matches a key that starts with the prefix and ends with the suffix, with room for both', () => {
    expect(matchesHint('sk-abc123def', 'sk-abc...def')).toBe(true);
    expect(matchesHint('sk-abcdef', 'sk-abc...def')).toBe(true);
    expect(matchesHint('sk-abcef', 'sk-abc...bcef')).toBe(false); // the ends would overlap
    expect(matchesHint('sk-xbc123def', 'sk-abc...def')).toBe(false);
    expect(matchesHint('sk-abc123deg', 'sk-abc...def')).toBe(false);
    expect(matchesHint('sk-abc123def', undefined)).toBe(false);
  });
});

describe('readAdminKey', () => {
  const ADMIN = 'sk-admin-READADMINKEYTESTVALUE123456';
  const dir = mkdtempSync(join(tmpdir(), 'keyflip-admin-key-'));
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const messageOf = async (promise: Promise<unknown>) => {
    const error = await rejection(promise);
    expect(error.name).toBe('ConfigurationError');
    expect(error.message).not.toContain(ADMIN);
    return error.message;
  };

  it('reads KEYFLIP_PROVIDER_ADMIN_KEY, or the file (trimmed)', async () => {
    expect(await readAdminKey({ env: { KEYFLIP_PROVIDER_ADMIN_KEY: ADMIN } })).toBe(ADMIN);
    expect(await readAdminKey({ env: {}, file: file('k', `\n ${ADMIN}\n`) })).toBe(ADMIN);
  });

  it('refuses both, neither, an empty or unreadable file, and a key with whitespace inside', async () => {
    const both = await messageOf(readAdminKey({ env: { KEYFLIP_PROVIDER_ADMIN_KEY: ADMIN }, file: file('b', ADMIN) }));
    expect(both).toMatch(/given twice/);
    expect(await messageOf(readAdminKey({ env: {} }))).toMatch(/never taken from argv/);
    expect(await messageOf(readAdminKey({ env: {}, file: file('e', ' \n') }))).toMatch(/is empty/);
    expect(await messageOf(readAdminKey({ env: {}, file: join(dir, 'missing') }))).toMatch(/ENOENT/);
    expect(await messageOf(readAdminKey({ env: {}, file: file('two', `${ADMIN}\n${ADMIN}`) }))).toMatch(/alone/);
  });
});

describe('retry-after', () => {
  it('takes seconds or an HTTP date, capped at two minutes', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('86400')).toBe(120_000);
    const now = Date.parse('2026-12-05T12:00:00Z');
    expect(parseRetryAfter('Sat, 05 Dec 2026 12:00:10 GMT', now)).toBe(10_000);
    expect(parseRetryAfter('Sat, 05 Dec 2026 11:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
