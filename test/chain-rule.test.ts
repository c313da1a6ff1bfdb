import { describe, expect, it } from 'vitest';
import {
  envSource,
  memorySource,
  NotReadyError,
  ReadyError,
  SecretNotFoundError,
  SecretRevokedError,
  SourceUnavailableError,
} from '../src/index.js';
import { manualClock } from '../src/testing/index.js';
import { absent, found, only, scriptedRig, trackResolvers } from './helpers.js';
import { usageCounter } from '../src/testing/index.js';

const setup = scriptedRig();
const resolverFor = trackResolvers();

describe('the chain rule', () => {
  it('found stops the walk: the first candidate wins and lower ones are not fetched', async () => {
    const { src, resolver, events } = setup();
    src.answer('K_v2', found('value-two', '2'));
    src.answer('K_v1', found('value-one', '1'));
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    expect(key.value).toBe('value-two');
    expect(key.info).toMatchObject({ name: 'K', candidate: 'K_v2', source: 's', version: '2', status: 'ok' });
    expect(src.count('K_v1')).toBe(0);
    expect(only(events, 'fallback')).toEqual([]);
    expect(only(events, 'resolve')).toHaveLength(1);
  });

  it.each(['not-found', 'disabled', 'destroyed', 'permission-denied'] as const)(
    'absent (%s) falls through to the next candidate and is reported in a fallback event',
    async (reason) => {
      const { src, resolver, events } = setup();
      src.answer('K_v2', absent(reason));
      src.answer('K_v1', found('value-one'));
      const key = resolver.secret('K', 'K_v2 ?? K_v1');
      await resolver.ready();
      expect(key.value).toBe('value-one');
      expect(key.info?.candidate).toBe('K_v1');
      const [fallback] = only(events, 'fallback');
      expect(fallback?.skipped).toEqual([{ candidate: 'K_v2', reason }]);
      expect(fallback?.current.candidate).toBe('K_v1');
    },
  );

  it('a fallback is reported when it starts or changes, not on every refresh that stays on it', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K_v1', found('value-one'));
    resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    await clock.advance(3_000);
    expect(only(events, 'resolve')).toHaveLength(4);
    expect(only(events, 'fallback')).toHaveLength(1);
    src.answer('K_v2', absent('disabled'));
    await clock.advance(1_000);
    expect(only(events, 'fallback').map((f) => f.skipped[0]?.reason)).toEqual(['not-found', 'disabled']);
  });

  it('a missing secret is reported once, not on every refresh', async () => {
    const { resolver, events, clock } = setup();
    resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready().catch(() => undefined);
    await clock.advance(5_000);
    expect(only(events, 'error')).toHaveLength(1);
  });

  it('a change that lands during the first walk is fetched before ready() gives up', async () => {
    const memory = memorySource();
    const resolver = resolverFor({ sources: [memory], clock: manualClock(), refreshMs: 60_000 });
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    memory.set('K_v1', 'value-one'); // the first walk is already under way
    await resolver.ready();
    expect(key.value).toBe('value-one');
  });

  it('options can only be given on the first declaration', () => {
    const { resolver } = setup();
    resolver.secret('K', 'A', { trim: false });
    expect(() => resolver.secret('K', 'A', { trim: true })).toThrow(/only be given on the first declaration/);
  });

  it('an empty or white-space-only value counts as absent with reason empty', async () => {
    const { src, resolver, events } = setup();
    src.answer('A', found(''));
    src.answer('B', found(' \n\t '));
    src.answer('C', found('value-c'));
    const key = resolver.secret('K', 'A ?? B ?? C');
    await resolver.ready();
    expect(key.value).toBe('value-c');
    expect(only(events, 'fallback')[0]?.skipped).toEqual([
      { candidate: 'A', reason: 'empty' },
      { candidate: 'B', reason: 'empty' },
    ]);
  });

  it('unavailable stops the walk: lower candidates are not tried, even before the first value', async () => {
    const { src, resolver, clock } = setup({ startupTimeoutMs: 3_000 });
    src.answer('K_v2', 'throw');
    src.answer('K_v1', found('value-one'));
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    const ready = resolver.ready();
    const settled = ready.then(
      () => 'resolved',
      (error: unknown) => error,
    );
    await clock.advance(3_000);
    const error = await settled;
    expect(error).toBeInstanceOf(ReadyError);
    const failure = (error as ReadyError).failures[0];
    expect(failure?.secret).toBe('K');
    expect(failure?.candidates).toEqual(['K_v2', 'K_v1']);
    expect(failure?.error).toBeInstanceOf(SourceUnavailableError);
    expect(src.count('K_v1')).toBe(0);
    expect(src.count('K_v2')).toBeGreaterThan(1); // it retried with backoff within startupTimeoutMs
    expect(() => key.value).toThrow(SourceUnavailableError);
  });

  it('unavailable after a value keeps serving the last good value and says so', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K_v2', found('value-two'));
    src.answer('K_v1', found('value-one'));
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    src.answer('K_v2', 'throw');
    await clock.advance(1_000);
    expect(key.value).toBe('value-two');
    expect(key.info?.status).toBe('stale');
    expect(resolver.snapshot()[0]?.status).toBe('stale');
    const [error] = only(events, 'error');
    expect(error?.servingStale).toBe(true);
    expect(error?.error).toBeInstanceOf(SourceUnavailableError);
    expect(error?.error.message).toContain('K_v2');
    expect(src.count('K_v1')).toBe(0); // never fell back to the old key
    src.answer('K_v2', found('value-two'));
    await clock.advance(1_000);
    expect(key.info?.status).toBe('ok');
    expect(only(events, 'rotate')).toEqual([]);
  });

  it('fallbackOnUnavailable lets the walk go on past an unreachable candidate', async () => {
    const { src, resolver, events } = setup({ fallbackOnUnavailable: true });
    src.answer('K_v2', 'throw');
    src.answer('K_v1', found('value-one'));
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    expect(key.value).toBe('value-one');
    expect(only(events, 'fallback')[0]?.skipped).toEqual([{ candidate: 'K_v2', reason: 'unavailable' }]);
  });

  it('fallbackOnUnavailable with nothing lower found is unavailable, never revoked', async () => {
    const { src, resolver, events, clock } = setup({ fallbackOnUnavailable: true });
    src.answer('K_v2', found('value-two'));
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    src.answer('K_v2', 'throw');
    await clock.advance(1_000);
    expect(key.value).toBe('value-two');
    expect(only(events, 'revoke')).toEqual([]);
    expect(only(events, 'error')[0]?.servingStale).toBe(true);
  });

  it('all absent after a value means revoked: fails closed, then serves again when a candidate returns', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K_v2', found('value-two'));
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    src.answer('K_v2', absent('disabled'));
    await clock.advance(1_000);
    expect(() => key.value).toThrow(SecretRevokedError);
    await expect(key.get()).rejects.toBeInstanceOf(SecretRevokedError);
    expect(key.info?.status).toBe('revoked');
    const revokes = only(events, 'revoke');
    expect(revokes).toHaveLength(1);
    expect(revokes[0]?.previous.candidate).toBe('K_v2');
    expect(revokes[0]?.skipped).toEqual([
      { candidate: 'K_v2', reason: 'disabled' },
      { candidate: 'K_v1', reason: 'not-found' },
    ]);
    await clock.advance(1_000); // still revoked: no second revoke event
    expect(only(events, 'revoke')).toHaveLength(1);
    src.answer('K_v2', found('value-two')); // an operator re-enabled the version
    await clock.advance(1_000);
    expect(key.value).toBe('value-two');
    expect(key.info?.status).toBe('ok');
  });

  it('a walk torn by a rotation between two reads is walked again: no revoke, the new key', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K_v2', found('value-two'));
    const key = resolver.secret('K', 'K_v3 ?? K_v2 ?? K_v1');
    await resolver.ready();
    // An emergency rotation lands between the walk's reads: K_v3 is read before its version is added, K_v2
    // after it is disabled. The first walk finds every candidate absent.
    let v3Reads = 0;
    src.answer('K_v3', async () => (++v3Reads === 1 ? absent('not-found') : found('value-three')));
    src.answer('K_v2', absent('disabled'));
    await clock.advance(1_000);
    expect(v3Reads).toBe(2); // the confirming walk read K_v3 again, and found it
    expect(key.value).toBe('value-three');
    expect(only(events, 'revoke')).toEqual([]);
    expect(only(events, 'rotate').map((e) => [e.previous.candidate, e.current.candidate])).toEqual([['K_v2', 'K_v3']]);
  });

  it('a revocation is confirmed by a second walk, then fails closed; a revoked secret is walked once', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K_v2', found('value-two'));
    resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    src.answer('K_v2', absent('disabled'));
    const before = src.count('K_v2');
    await clock.advance(1_000);
    expect(src.count('K_v2') - before).toBe(2);
    expect(only(events, 'revoke')).toHaveLength(1);
    await clock.advance(1_000);
    expect(src.count('K_v2') - before).toBe(3);
  });

  it("onRevoked: 'keep' goes on serving the last value, marked revoked", async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K_v1', found('value-one'));
    const key = resolver.secret('K', 'K_v1', { onRevoked: 'keep' });
    await resolver.ready();
    src.answer('K_v1', absent('destroyed'));
    await clock.advance(1_000);
    expect(key.value).toBe('value-one');
    expect(key.info?.status).toBe('revoked');
    expect(only(events, 'revoke')).toHaveLength(1);
  });

  it('a higher candidate appearing rotates, carrying both provenances and no values', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K_v1', found('value-one', '1'));
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    const before = key.info;
    src.answer('K_v2', found('value-two', '1'));
    await clock.advance(1_000);
    expect(key.value).toBe('value-two');
    const [rotate] = only(events, 'rotate');
    expect(rotate?.previous).toEqual(before);
    expect(rotate?.current.candidate).toBe('K_v2');
    expect(rotate?.current.fingerprint).not.toBe(before?.fingerprint);
    expect(rotate?.current.loadedAt).toBe(clockTime(clock));
    expect(JSON.stringify(events)).not.toMatch(/value-(one|two)/);
  });

  it('a new value in the same candidate rotates; the same value again does not', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('K', found('value-a', '1'));
    const key = resolver.secret('K');
    await resolver.ready();
    const loadedAt = key.info?.loadedAt;
    await clock.advance(1_000);
    expect(only(events, 'rotate')).toHaveLength(0);
    expect(key.info?.loadedAt).toBe(loadedAt);
    expect(key.info?.refreshedAt).toBeGreaterThan(loadedAt ?? Infinity);
    src.answer('K', found('value-b', '2'));
    await clock.advance(1_000);
    expect(only(events, 'rotate')).toHaveLength(1);
    expect(key.value).toBe('value-b');
    expect(key.info?.version).toBe('2');
  });

  it('all absent on the first resolution rejects ready() naming the candidates, and get() rejects too', async () => {
    const { resolver } = setup();
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    const error = await resolver.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ReadyError);
    expect((error as ReadyError).message).toContain('K (tried K_v2, K_v1)');
    expect((error as ReadyError).failures[0]?.error).toBeInstanceOf(SecretNotFoundError);
    await expect(key.get()).rejects.toBeInstanceOf(SecretNotFoundError);
    expect(() => key.value).toThrow(SecretNotFoundError);
  });
});

describe('ready() and value', () => {
  it('value before the first resolution throws NotReadyError telling to await ready()', () => {
    const { src, resolver } = setup();
    src.answer('K', 'hang');
    const key = resolver.secret('K');
    expect(() => key.value).toThrow(NotReadyError);
    expect(() => key.value).toThrow(/await resolver\.ready\(\)/);
  });

  it('ready() with some secrets unresolvable names each failed one, and the others work', async () => {
    const { src, resolver, clock } = setup({ startupTimeoutMs: 2_000 });
    src.answer('GOOD', found('value-good'));
    src.answer('DOWN', 'throw');
    const good = resolver.secret('GOOD');
    resolver.secret('MISSING', 'MISSING_v2 ?? MISSING_v1');
    resolver.secret('DOWN');
    const settled = resolver.ready().catch((e: unknown) => e);
    await clock.advance(2_000);
    const error = (await settled) as ReadyError;
    expect(error).toBeInstanceOf(ReadyError);
    expect(error.code).toBe('READY_FAILED');
    expect(error.failures.map((f) => f.secret).sort()).toEqual(['DOWN', 'MISSING']);
    expect(error.message).toContain('2 of 3 secrets');
    expect(error.message).toContain('MISSING (tried MISSING_v2, MISSING_v1)');
    expect(error.message).toContain('DOWN (tried DOWN)');
    expect(good.value).toBe('value-good');
  });

  it('resolves many secrets in parallel, not one after another', async () => {
    const { src, resolver } = setup();
    let inFlight = 0;
    let maxInFlight = 0;
    const gates: (() => void)[] = [];
    for (let i = 0; i < 20; i++) {
      src.answer(`S${i}`, () => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        return new Promise((resolve) =>
          gates.push(() => {
            inFlight--;
            resolve(found(`value-${i}`));
          }),
        );
      });
      resolver.secret(`S${i}`);
    }
    const ready = resolver.ready();
    await new Promise((r) => setImmediate(r));
    expect(maxInFlight).toBe(20);
    for (const open of gates) open();
    await ready;
  });

  it('get() waits for the first resolution', async () => {
    const { src, resolver } = setup();
    let release: (() => void) | undefined;
    src.answer('K', () => new Promise((resolve) => (release = () => resolve(found('value-k')))));
    const key = resolver.secret('K');
    const got = key.get();
    await new Promise((r) => setImmediate(r));
    release?.();
    expect(await got).toBe('value-k');
  });

  it('value and get() count one use each; a read that throws counts none', async () => {
    const probe = usageCounter();
    const { src, resolver } = setup({ beacon: probe.reporter });
    let release: (() => void) | undefined;
    src.answer('K', () => new Promise((resolve) => (release = () => resolve(found('value-k')))));
    const key = resolver.secret('K');
    const got = key.get();
    expect(() => key.value).toThrow(NotReadyError);
    release?.();
    expect(await got).toBe('value-k');
    expect(probe.take('K')).toBe(1);
    for (let i = 0; i < 5; i++) void key.value;
    await key.get();
    expect(probe.take('K')).toBe(6);
    expect(probe.take('K')).toBe(0);
  });

  it('declaring the same secret twice returns the same handle; a different chain is an error', () => {
    const { resolver } = setup();
    const a = resolver.secret('K', 'A ?? B');
    expect(resolver.secret('K', ['A', 'B'])).toBe(a);
    expect(() => resolver.secret('K', 'B ?? A')).toThrow(/already declared/);
  });

  it('a malformed chain or an unknown source throws InvalidCandidateError at secret() time', () => {
    const resolver = resolverFor({ sources: [memorySource(), envSource()] });
    expect(() => resolver.secret('K', 'A ?? ')).toThrow(/"A \?\? "/);
    expect(() => resolver.secret('K', 'gcp:')).toThrow(/INVALID|invalid candidate "gcp:"/);
    expect(() => resolver.secret('K', 'x@')).toThrow(/invalid candidate "x@"/);
    expect(() => resolver.secret('K', 'vault:key')).toThrow(/unknown source "vault"/);
    expect(() => resolver.secret('K', 'env:MY-KEY')).toThrow(
      /invalid candidate "env:MY-KEY": source env cannot hold it/,
    );
    expect(() => resolver.secret('K', 'env:KEY@2')).toThrow(/no versions/);
    expect(resolver.snapshot()).toEqual([]);
  });

  it('unprefixed candidates use the first source; prefixed ones the named source', async () => {
    const memory = memorySource({ A: 'value-from-memory' });
    const resolver = resolverFor({ sources: [memory, envSource({ env: { A: 'value-from-env' } })] });
    const fromMemory = resolver.secret('M', 'A');
    const fromEnv = resolver.secret('E', 'env:A');
    await resolver.ready();
    expect(fromMemory.value).toBe('value-from-memory');
    expect(fromEnv.value).toBe('value-from-env');
    expect(fromEnv.info?.source).toBe('env');
  });
});

describe('parse and trim', () => {
  it('parse turns the raw value into the served value', async () => {
    const { src, resolver } = setup();
    src.answer('CFG', found('{"port": 8080}'));
    const cfg = resolver.secret('CFG', 'CFG', { parse: (raw) => JSON.parse(raw) as { port: number } });
    await resolver.ready();
    expect(cfg.value.port).toBe(8080);
  });

  it('a throwing parse: an error event, the last good value stays, the message withholds the value', async () => {
    const { src, resolver, events, clock } = setup();
    src.answer('CFG', found('{"port": 8080}'));
    const cfg = resolver.secret('CFG', 'CFG', { parse: (raw) => JSON.parse(raw) as { port: number } });
    await resolver.ready();
    src.answer('CFG', found('not-json-secret-text'));
    await clock.advance(1_000);
    expect(cfg.value.port).toBe(8080);
    const [error] = only(events, 'error');
    expect(error?.error.code).toBe('PARSE_FAILED');
    expect(error?.servingStale).toBe(true);
    expect(error?.error.message).toContain('SyntaxError');
    expect(JSON.stringify(events) + String(error?.error.stack) + String(error?.error.cause)).not.toContain(
      'not-json-secret-text',
    );
  });

  it('a parse that throws on the first value fails ready() for that secret', async () => {
    const { src, resolver } = setup();
    src.answer('CFG', found('oops-value'));
    resolver.secret('CFG', 'CFG', {
      parse: () => {
        throw new TypeError('bad oops-value');
      },
    });
    const error = (await resolver.ready().catch((e: unknown) => e)) as ReadyError;
    expect(error.failures[0]?.error.code).toBe('PARSE_FAILED');
    expect(error.message).not.toContain('oops-value');
  });

  it('trims surrounding white space by default, and keeps it with trim: false', async () => {
    const { src, resolver } = setup();
    src.answer('K', found('  value-k\n'));
    const trimmed = resolver.secret('T', 'K');
    const raw = resolver.secret('R', 'K', { trim: false });
    await resolver.ready();
    expect(trimmed.value).toBe('value-k');
    expect(raw.value).toBe('  value-k\n');
  });
});

function clockTime(clock: { now(): number }): number {
  return clock.now();
}
