import { describe, expect, it } from 'vitest';
import {
  InvalidCandidateError,
  SecretNotFoundError,
  SecretRevokedError,
  SourceUnavailableError,
} from '../src/index.js';
import { absent, found, only, scriptedRig } from './helpers.js';

const setup = scriptedRig({ refreshMs: 60_000 });

describe('families', () => {
  it('resolves lazily, per id, through the chain the id gives', async () => {
    const { src, resolver } = setup();
    src.answer('tenant-a-key', found('value-a'));
    const keys = resolver.family('byok', (id) => `${id}-key`, { ttlMs: 10_000 });
    expect(src.count('tenant-a-key')).toBe(0);
    expect(await keys.get('tenant-a')).toBe('value-a');
    expect(await keys.get('tenant-a')).toBe('value-a');
    expect(src.count('tenant-a-key')).toBe(1);
    expect(keys.size).toBe(1);
  });

  it('is bounded by max: the least recently used member is dropped and fetched again when asked', async () => {
    const { src, resolver } = setup();
    for (let i = 0; i < 5_000; i++) src.answer(`t${i}`, found(`value-${i}`));
    const keys = resolver.family('byok', (id) => id, { max: 100 });
    for (let i = 0; i < 5_000; i++) await keys.get(`t${i}`);
    expect(keys.size).toBe(100);
    expect(await keys.get('t0')).toBe('value-0');
    expect(src.count('t0')).toBe(2);
    expect(await keys.get('t4999')).toBe('value-4999');
    expect(src.count('t4999')).toBe(1);
  });

  it('after ttlMs serves the held value at once and refreshes it once in the background', async () => {
    const { src, resolver, clock, events } = setup();
    src.answer('t1', found('value-old'));
    const keys = resolver.family('byok', (id) => id, { ttlMs: 1_000 });
    expect(await keys.get('t1')).toBe('value-old');
    src.answer('t1', found('value-new'));
    await clock.advance(1_000);
    const [a, b] = [keys.get('t1'), keys.get('t1')];
    expect(await a).toBe('value-old');
    expect(await b).toBe('value-old');
    await clock.flush();
    expect(src.count('t1')).toBe(2);
    expect(await keys.get('t1')).toBe('value-new');
    expect(only(events, 'rotate')[0]?.secret).toBe('byok[t1]');
  });

  it('concurrent first gets of one id share one fetch', async () => {
    const { src, resolver } = setup();
    let release: (() => void) | undefined;
    src.answer('t1', () => new Promise((resolve) => (release = () => resolve(found('value-1')))));
    const keys = resolver.family('byok', (id) => id);
    const gets = Array.from({ length: 10 }, () => keys.get('t1'));
    await new Promise((r) => setImmediate(r));
    release?.();
    expect(await Promise.all(gets)).toEqual(Array(10).fill('value-1'));
    expect(src.count('t1')).toBe(1);
  });

  it('an id with no key rejects with SecretNotFoundError and is not fetched again before ttlMs', async () => {
    const { src, resolver, clock } = setup();
    const keys = resolver.family('byok', (id) => `${id}_v2 ?? ${id}_v1`, { ttlMs: 1_000 });
    await expect(keys.get('nobody')).rejects.toBeInstanceOf(SecretNotFoundError);
    await expect(keys.get('nobody')).rejects.toThrow(/nobody_v2 not-found, nobody_v1 not-found/);
    expect(src.count('nobody_v1')).toBe(1);
    src.answer('nobody_v1', found('value-late'));
    await clock.advance(1_000);
    expect(await keys.get('nobody')).toBe('value-late');
  });

  it('a revoked member fails closed', async () => {
    const { src, resolver, clock, events } = setup();
    src.answer('t1', found('value-1'));
    const keys = resolver.family('byok', (id) => id, { ttlMs: 1_000 });
    await keys.get('t1');
    src.answer('t1', absent('disabled'));
    await clock.advance(1_000);
    await keys.get('t1'); // served while the background refresh finds it revoked
    await clock.flush();
    await expect(keys.get('t1')).rejects.toBeInstanceOf(SecretRevokedError);
    expect(only(events, 'revoke')[0]?.secret).toBe('byok[t1]');
  });

  it('an unavailable source serves the held value, and rejects a first get', async () => {
    const { src, resolver, clock } = setup();
    src.answer('t1', found('value-1'));
    src.answer('t2', 'throw');
    const keys = resolver.family('byok', (id) => id, { ttlMs: 1_000 });
    await keys.get('t1');
    src.answer('t1', 'throw');
    await clock.advance(1_000);
    expect(await keys.get('t1')).toBe('value-1');
    await clock.flush();
    expect(await keys.get('t1')).toBe('value-1');
    await expect(keys.get('t2')).rejects.toBeInstanceOf(SourceUnavailableError);
  });

  it('maxStaleMs bounds a member served stale exactly as it bounds a declared secret', async () => {
    const { src, resolver, clock, events } = setup({ maxStaleMs: 10_000 });
    src.answer('t1', found('value-1'));
    src.answer('K', found('value-k'));
    const keys = resolver.family('byok', (id) => id, { ttlMs: 1_000 });
    const key = resolver.secret('K');
    await resolver.ready();
    await keys.get('t1');
    src.answer('t1', 'throw');
    src.answer('K', 'throw');
    await expect(resolver.refresh('K')).rejects.toBeInstanceOf(SourceUnavailableError); // K is served stale
    await clock.advance(1_000);
    expect(await keys.get('t1')).toBe('value-1'); // due: served, refreshed in the background (fails: stale)
    await clock.advance(8_999);
    expect(await keys.get('t1')).toBe('value-1');
    expect(key.value).toBe('value-k');
    await clock.advance(1); // maxStaleMs after the last success, for both
    await expect(keys.get('t1')).rejects.toThrow(/longer than maxStaleMs \(10000ms\)/);
    expect(() => key.value).toThrow(/longer than maxStaleMs \(10000ms\)/);
    const expired = only(events, 'error').filter((e) => /longer than maxStaleMs/.test(e.error.message));
    expect(expired.map((e) => [e.secret, e.servingStale])).toEqual(
      expect.arrayContaining([
        ['byok[t1]', false],
        ['K', false],
      ]),
    );
    src.answer('t1', found('value-1'));
    await clock.advance(60_000);
    expect(await keys.get('t1')).toBe('value-1');
  });

  it('a bad chain from chainFor rejects with InvalidCandidateError; a bad id is rejected', async () => {
    const { resolver } = setup();
    const keys = resolver.family('byok', (id) => `${id} ?? `);
    await expect(keys.get('t1')).rejects.toBeInstanceOf(InvalidCandidateError);
    await expect(keys.get('')).rejects.toThrow(/an id is 1 to 200 letters/);
    expect(keys.size).toBe(0);
  });

  it('an id cannot inject candidates into the chain it is put in', async () => {
    const { src, resolver } = setup();
    src.answer('PLATFORM_KEY', found('value-platform'));
    const keys = resolver.family('byok', (id) => `tenant-${id}-openai`);
    for (const id of [
      'x-openai ?? PLATFORM_KEY ?? y',
      'x-openai??PLATFORM_KEY',
      's:PLATFORM_KEY',
      'a@1',
      'a/b',
      '../x',
      ' a',
    ]) {
      await expect(keys.get(id), id).rejects.toThrow(/an id is 1 to 200 letters/);
    }
    expect(src.count('PLATFORM_KEY')).toBe(0);
    expect(keys.size).toBe(0);
  });

  it('get() after close() rejects as closed', async () => {
    const { resolver } = setup();
    const keys = resolver.family('byok', (id) => id);
    await resolver.close();
    await expect(keys.get('t1')).rejects.toThrow(/closed/);
  });

  it('refresh(id) re-fetches now; delete(id) forgets', async () => {
    const { src, resolver } = setup();
    src.answer('t1', found('value-1'));
    const keys = resolver.family('byok', (id) => id);
    await keys.get('t1');
    src.answer('t1', found('value-2'));
    await keys.refresh('t1');
    expect(await keys.get('t1')).toBe('value-2');
    keys.delete('t1');
    expect(keys.size).toBe(0);
    src.answer('t1', 'throw');
    await expect(keys.refresh('t1')).rejects.toBeInstanceOf(SourceUnavailableError);
  });

  it('a family shows no value when printed', async () => {
    const { src, resolver } = setup();
    src.answer('t1', found('value-secret-1'));
    const keys = resolver.family('byok', (id) => id);
    await keys.get('t1');
    expect(String(keys) + JSON.stringify(keys)).not.toContain('value-secret-1');
    expect(resolver.redact('leak: value-secret-1')).toMatch(/^leak: \[keyflip byok\[t1\] kf_[0-9a-f]{12}\]$/);
  });
});
