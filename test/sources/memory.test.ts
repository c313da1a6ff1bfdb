import { describe, expect, it } from 'vitest';
import { trackResolvers } from '../helpers.js';
import {
  ConfigurationError,
  fingerprint,
  InvalidCandidateError,
  memorySource,
  SecretRevokedError,
  SourceUnavailableError,
} from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { decode, recordEvents, sourceConformance, waitForEvent, within } from './conformance.js';

sourceConformance('memorySource', () => {
  const source = memorySource();
  return {
    source,
    seed: (name, value) => void source.set(name, value),
    remove: (name) => source.delete(name),
    capabilities: {
      versions: true,
      watch: true,
      disable: (name) => source.disable(name),
      invalid: ['X@0', 'X@abc', 'X@1.5', 'memory:X@-1', 'X@01'],
      stall: () => source.outage(true, 'hang'),
    },
  };
});

const live = (): AbortSignal => new AbortController().signal;
/** Lets queued microtasks (memory's watch notifications) run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('memorySource', () => {
  const resolverFor = trackResolvers();

  describe('versions', () => {
    it('set adds versions "1", "2", …; name@N asks for one; latest (or no version) is the newest', async () => {
      // Prepare
      const source = memorySource();
      // Act
      const first = source.set('K', 'value-one');
      const second = source.set('K', 'value-two');
      // Assess
      expect([first, second]).toEqual(['1', '2']);
      expect(await source.fetch({ name: 'K', version: '1' }, { signal: live() })).toEqual({
        status: 'found',
        value: 'value-one',
        version: '1',
      });
      expect(await source.fetch({ name: 'K', version: '2' }, { signal: live() })).toEqual({
        status: 'found',
        value: 'value-two',
        version: '2',
      });
      expect(await source.fetch({ name: 'K' }, { signal: live() })).toEqual({
        status: 'found',
        value: 'value-two',
        version: '2',
      });
      expect(await source.fetch({ name: 'K', version: 'latest' }, { signal: live() })).toEqual({
        status: 'found',
        value: 'value-two',
        version: '2',
      });
      expect(await source.fetch({ name: 'K', version: '3' }, { signal: live() })).toEqual({
        status: 'absent',
        reason: 'not-found',
      });
    });

    it('initial values are version 1', async () => {
      // Prepare
      const source = memorySource({ K: 'seeded' });
      // Act
      const result = await source.fetch({ name: 'K' }, { signal: live() });
      const next = source.set('K', 'later');
      // Assess
      expect(result).toEqual({ status: 'found', value: 'seeded', version: '1' });
      expect(next).toBe('2');
    });

    it('a resolver pinned to name@1 keeps version 1 while newer versions are added', async () => {
      // Prepare
      const source = memorySource({ K: 'pinned-one' });
      const resolver = resolverFor({ sources: [source], clock: manualClock(), jitter: 0 });
      const pinned = resolver.secret('PINNED', 'K@1');
      const latest = resolver.secret('LATEST', 'K@latest');
      await resolver.ready();
      // Act
      source.set('K', 'newer-two');
      await settle();
      await resolver.refresh();
      // Assess
      expect(pinned.value).toBe('pinned-one');
      expect(pinned.info?.version).toBe('1');
      expect(latest.value).toBe('newer-two');
      expect(latest.info?.version).toBe('2');
    });

    it('validate accepts latest and positive whole numbers only', () => {
      // Prepare
      const source = memorySource();
      // Act + Assess
      for (const version of [undefined, 'latest', '1', '42'])
        expect(source.validate?.({ name: 'K', version })).toBeUndefined();
      for (const version of ['0', '01', '-1', '1.0', 'current', 'LATEST']) {
        expect(source.validate?.({ name: 'K', version }), version).toContain(JSON.stringify(version));
      }
      const resolver = resolverFor({ sources: [source], clock: manualClock() });
      expect(() => resolver.secret('S', 'K@current')).toThrow(InvalidCandidateError);
    });
  });

  describe('version states map to absent reasons', () => {
    it('disable → disabled; enable → found again', async () => {
      // Prepare
      const source = memorySource({ K: 'state-value' });
      // Act
      source.disable('K');
      const disabled = await source.fetch({ name: 'K' }, { signal: live() });
      source.enable('K');
      const enabled = await source.fetch({ name: 'K' }, { signal: live() });
      // Assess
      expect(disabled).toEqual({ status: 'absent', reason: 'disabled' });
      expect(enabled).toEqual({ status: 'found', value: 'state-value', version: '1' });
    });

    it('disable of one version leaves the others', async () => {
      // Prepare
      const source = memorySource({ K: 'old-one' });
      source.set('K', 'new-two');
      // Act
      source.disable('K', '1');
      // Assess
      expect(await source.fetch({ name: 'K', version: '1' }, { signal: live() })).toEqual({
        status: 'absent',
        reason: 'disabled',
      });
      expect(await source.fetch({ name: 'K' }, { signal: live() })).toEqual({
        status: 'found',
        value: 'new-two',
        version: '2',
      });
    });

    it('destroy → destroyed, for good: enable throws and the value never comes back', async () => {
      // Prepare
      const source = memorySource({ K: 'doomed-value' });
      // Act
      source.destroy('K');
      const destroyed = await source.fetch({ name: 'K' }, { signal: live() });
      // Assess
      expect(destroyed).toEqual({ status: 'absent', reason: 'destroyed' });
      expect(() => source.enable('K')).toThrow(/destroyed/);
      expect(await source.fetch({ name: 'K', version: '1' }, { signal: live() })).toEqual({
        status: 'absent',
        reason: 'destroyed',
      });
    });

    it('deny → permission-denied even though the name exists; deny(name, false) lifts it', async () => {
      // Prepare
      const source = memorySource({ K: 'guarded-value' });
      // Act
      source.deny('K');
      const denied = await source.fetch({ name: 'K' }, { signal: live() });
      const deniedMissing = await source.fetch({ name: 'NOPE' }, { signal: live() });
      source.deny('NOPE');
      const deniedUnknown = await source.fetch({ name: 'NOPE' }, { signal: live() });
      source.deny('K', false);
      const allowed = await source.fetch({ name: 'K' }, { signal: live() });
      // Assess
      expect(denied).toEqual({ status: 'absent', reason: 'permission-denied' });
      expect(deniedMissing).toEqual({ status: 'absent', reason: 'not-found' });
      expect(deniedUnknown).toEqual({ status: 'absent', reason: 'permission-denied' });
      expect(allowed).toEqual({ status: 'found', value: 'guarded-value', version: '1' });
    });

    it('delete removes every version: not-found', async () => {
      // Prepare
      const source = memorySource({ K: 'one' });
      source.set('K', 'two');
      // Act
      source.delete('K');
      // Assess
      expect(await source.fetch({ name: 'K' }, { signal: live() })).toEqual({ status: 'absent', reason: 'not-found' });
      expect(await source.fetch({ name: 'K', version: '1' }, { signal: live() })).toEqual({
        status: 'absent',
        reason: 'not-found',
      });
    });

    it('a resolver reports each reason in its fallback event and falls through', async () => {
      // Prepare
      const source = memorySource({ A: 'a-value', B: 'b-value', C: 'c-value', D: 'd-value' });
      source.disable('A');
      source.destroy('B');
      source.deny('C');
      const resolver = resolverFor({ sources: [source], clock: manualClock(), jitter: 0 });
      const events = recordEvents(resolver);
      const handle = resolver.secret('S', 'A ?? B ?? C ?? MISSING ?? D');
      // Act
      await resolver.ready();
      // Assess
      expect(handle.value).toBe('d-value');
      const fallback = events.find((e) => e.event === 'fallback');
      expect(fallback?.payload).toMatchObject({
        skipped: [
          { candidate: 'A', reason: 'disabled' },
          { candidate: 'B', reason: 'destroyed' },
          { candidate: 'C', reason: 'permission-denied' },
          { candidate: 'MISSING', reason: 'not-found' },
        ],
      });
    });
  });

  describe('latest is the newest version whatever its state', () => {
    it('a disabled newest version makes the name absent; there is no fallback to an older version', async () => {
      // Prepare
      const source = memorySource({ K: 'older-one' });
      source.set('K', 'newest-two');
      // Act
      source.disable('K');
      // Assess
      expect(await source.fetch({ name: 'K' }, { signal: live() })).toEqual({ status: 'absent', reason: 'disabled' });
      expect(await source.fetch({ name: 'K', version: 'latest' }, { signal: live() })).toEqual({
        status: 'absent',
        reason: 'disabled',
      });
      expect(await source.fetch({ name: 'K', version: '1' }, { signal: live() })).toEqual({
        status: 'found',
        value: 'older-one',
        version: '1',
      });
    });

    it('on latest: revoked (fails closed) once the newest version is disabled; enabling it heals', async () => {
      // Prepare
      const source = memorySource({ K: 'older-one' });
      source.set('K', 'newest-two');
      const resolver = resolverFor({ sources: [source], clock: manualClock(), jitter: 0, refreshMs: 3_600_000 });
      const handle = resolver.secret('S', 'K');
      await resolver.ready();
      expect(handle.value).toBe('newest-two');
      // Act 1: the watch picks the disable up
      const revoked = waitForEvent(resolver, 'revoke');
      source.disable('K');
      const revoke = await revoked;
      // Assess 1
      expect(revoke.skipped).toEqual([{ candidate: 'K', reason: 'disabled' }]);
      expect(() => handle.value).toThrow(SecretRevokedError);
      // Act 2
      const back = waitForEvent(resolver, 'resolve');
      source.enable('K');
      await back;
      // Assess 2
      expect(handle.value).toBe('newest-two');
      expect(handle.info?.version).toBe('2');
    });
  });

  describe('outage', () => {
    it("outage('throw') makes fetch reject; outage(false) ends it", async () => {
      // Prepare
      const source = memorySource({ K: 'steady' });
      // Act
      source.outage(true);
      const during = source.fetch({ name: 'K' }, { signal: live() });
      // Assess
      await expect(during).rejects.toThrow(/outage/);
      source.outage(false);
      expect(await source.fetch({ name: 'K' }, { signal: live() })).toMatchObject({ status: 'found', value: 'steady' });
    });

    it("outage('throw') via a resolver: the walk stops (no fallback to v1), the last good value served", async () => {
      // Prepare
      const source = memorySource({ K_v1: 'v1-value', K_v2: 'v2-value' });
      const resolver = resolverFor({ sources: [source], clock: manualClock(), jitter: 0 });
      const handle = resolver.secret('S', 'K_v2 ?? K_v1');
      await resolver.ready();
      // Act
      source.outage(true, 'throw');
      const refreshed = resolver.refresh('S');
      // Assess
      await expect(refreshed).rejects.toBeInstanceOf(SourceUnavailableError);
      expect(handle.value).toBe('v2-value');
      expect(handle.info).toMatchObject({ candidate: 'K_v2', status: 'stale' });
    });

    it("outage('hang') waits until the signal aborts, then rejects with the signal's reason", async () => {
      // Prepare
      const source = memorySource({ K: 'slow' });
      source.outage(true, 'hang');
      const controller = new AbortController();
      const reason = new Error('budget spent');
      let settled = false;
      const pending = source.fetch({ name: 'K' }, { signal: controller.signal });
      pending.then(
        () => (settled = true),
        () => (settled = true),
      );
      // Act
      for (let i = 0; i < 5; i++) await settle();
      const beforeAbort = settled;
      controller.abort(reason);
      // Assess
      expect(beforeAbort).toBe(false);
      await expect(within(pending, 1_000, 'the hanging fetch')).rejects.toBe(reason);
      await expect(source.fetch({ name: 'K' }, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });

    it("outage('hang') through a resolver: fetchTimeoutMs (on the injected clock) aborts it", async () => {
      // Prepare
      const source = memorySource({ K: 'held' });
      const clock = manualClock();
      const resolver = resolverFor({ sources: [source], clock, jitter: 0, fetchTimeoutMs: 1_000 });
      const handle = resolver.secret('S', 'K');
      await resolver.ready();
      source.outage(true, 'hang');
      let outcome: unknown = 'pending';
      const refreshed = resolver.refresh('S').then(
        () => 'resolved',
        (error: unknown) => error,
      );
      void refreshed.then((o) => (outcome = o));
      // Act
      await clock.advance(999);
      const early = outcome;
      await clock.advance(1);
      // Assess
      expect(early).toBe('pending');
      expect(await within(refreshed, 1_000, 'the refresh')).toBeInstanceOf(SourceUnavailableError);
      expect(handle.value).toBe('held');
    });

    it('the end of an outage notifies watchers, so a resolver recovers at once', async () => {
      // Prepare
      const source = memorySource({ K: 'held' });
      const resolver = resolverFor({ sources: [source], clock: manualClock(), jitter: 0, refreshMs: 3_600_000 });
      const handle = resolver.secret('S', 'K');
      await resolver.ready();
      source.outage(true);
      await resolver.refresh('S').catch(() => undefined);
      expect(handle.info?.status).toBe('stale');
      // Act
      const recovered = waitForEvent(resolver, 'resolve');
      source.outage(false);
      await recovered;
      // Assess
      expect(handle.info?.status).toBe('ok');
    });
  });

  describe('watch', () => {
    it('notifies the watchers of the changed name only', async () => {
      // Prepare
      const source = memorySource({ X: 'x', Y: 'y' });
      let calls = 0;
      const unwatch = source.watch?.({ name: 'X' }, () => calls++);
      // Act
      source.set('Y', 'y2');
      source.disable('Y');
      source.deny('Y');
      source.delete('Y');
      await settle();
      const unrelated = calls;
      source.set('X', 'x2');
      await settle();
      // Assess
      expect(unrelated).toBe(0);
      expect(calls).toBe(1);
      unwatch?.();
    });

    it('every kind of change notifies: set, disable, enable, destroy, deny, delete', async () => {
      // Prepare
      const source = memorySource({ X: 'x' });
      let calls = 0;
      source.watch?.({ name: 'X' }, () => calls++);
      const counts: number[] = [];
      const step = async (change: () => void): Promise<void> => {
        change();
        await settle();
        counts.push(calls);
      };
      // Act
      await step(() => source.set('X', 'x2'));
      await step(() => source.disable('X'));
      await step(() => source.enable('X'));
      await step(() => source.destroy('X'));
      await step(() => source.deny('X'));
      await step(() => source.delete('X'));
      // Assess
      expect(counts).toEqual([1, 2, 3, 4, 5, 6]);
    });

    it('close() drops every watcher', async () => {
      // Prepare
      const source = memorySource({ X: 'x' });
      let calls = 0;
      source.watch?.({ name: 'X' }, () => calls++);
      // Act
      await source.close?.();
      source.set('X', 'x2');
      await settle();
      // Assess
      expect(calls).toBe(0);
    });
  });

  describe('misc', () => {
    it('counts fetches, failed ones included', async () => {
      // Prepare
      const source = memorySource({ K: 'v' });
      // Act
      await source.fetch({ name: 'K' }, { signal: live() });
      await source.fetch({ name: 'MISSING' }, { signal: live() });
      source.outage(true);
      await source.fetch({ name: 'K' }, { signal: live() }).catch(() => undefined);
      // Assess
      expect(source.fetches).toBe(3);
    });

    it('takes a name, the prefix of its candidates', async () => {
      // Prepare
      const main = memorySource({ K: 'from-main' });
      const other = memorySource({ K: 'from-other' }, { name: 'vault' });
      const resolver = resolverFor({ sources: [main, other], clock: manualClock() });
      const handle = resolver.secret('S', 'vault:K');
      // Act
      await resolver.ready();
      // Assess
      expect(other.name).toBe('vault');
      expect(handle.value).toBe('from-other');
      expect(handle.info).toMatchObject({
        source: 'vault',
        candidate: 'vault:K',
        fingerprint: fingerprint('from-other'),
      });
    });

    it('set refuses a value that is not a string', () => {
      const source = memorySource();
      expect(() => source.set('K', 42 as unknown as string)).toThrow(ConfigurationError);
    });

    it('the value comes back exactly as set', async () => {
      const source = memorySource();
      source.set('K', '  padded value\n');
      const result = await source.fetch({ name: 'K' }, { signal: live() });
      expect(result.status === 'found' && decode(result.value)).toBe('  padded value\n');
    });
  });
});
