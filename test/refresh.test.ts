import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { memorySource, SourceUnavailableError } from '../src/index.js';
import { backoffMs, isPastStaleLimit, nextWalkInMs, staleUntil } from '../src/refresh-policy.js';
import { manualClock } from '../src/testing/index.js';
import { found, only, record, scriptedRig, scriptedSource, trackResolvers } from './helpers.js';

const setup = scriptedRig();
const resolverFor = trackResolvers();

describe('hot refresh', () => {
  it('re-fetches every declared secret each refreshMs', async () => {
    const { src, resolver, clock } = setup();
    src.answer('A', found('value-a'));
    resolver.secret('A');
    await resolver.ready();
    expect(src.count('A')).toBe(1);
    await clock.advance(999);
    expect(src.count('A')).toBe(1);
    await clock.advance(1);
    expect(src.count('A')).toBe(2);
    await clock.advance(5_000);
    expect(src.count('A')).toBe(7);
  });

  it('a secret can have its own refreshMs', async () => {
    const { src, resolver, clock } = setup();
    src.answer('A', found('value-a'));
    src.answer('B', found('value-b'));
    resolver.secret('A');
    resolver.secret('B', 'B', { refreshMs: 250 });
    await resolver.ready();
    await clock.advance(1_000);
    expect(src.count('A')).toBe(2);
    expect(src.count('B')).toBe(5);
  });

  it('spreads periods by jitter within [1 - j, 1 + j]', async () => {
    const { src, resolver, clock } = setup({ jitter: 0.5 });
    for (let i = 0; i < 30; i++) {
      src.answer(`S${i}`, found(`value-${i}`));
      resolver.secret(`S${i}`);
    }
    await resolver.ready();
    const firstRefresh: number[] = [];
    for (let t = 0; t < 1_600; t += 10) {
      await clock.advance(10);
      for (let i = 0; i < 30; i++)
        if (src.count(`S${i}`) === 2 && firstRefresh[i] === undefined) firstRefresh[i] = t + 10;
    }
    expect(firstRefresh.filter((t) => t !== undefined)).toHaveLength(30);
    expect(Math.min(...firstRefresh)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...firstRefresh)).toBeLessThanOrEqual(1_500);
    expect(new Set(firstRefresh).size).toBeGreaterThan(5);
  });

  it('fetches a candidate once at a time, however many secrets name it', async () => {
    const { src, resolver } = setup();
    let release: (() => void) | undefined;
    src.answer('SHARED', () => new Promise((resolve) => (release = () => resolve(found('value-shared')))));
    const a = resolver.secret('A', 'SHARED');
    const b = resolver.secret('B', 'SHARED');
    await new Promise((r) => setImmediate(r));
    release?.();
    await resolver.ready();
    expect(src.count('SHARED')).toBe(1);
    expect(a.value).toBe(b.value);
  });

  it('concurrent refresh() calls of one secret share one fetch', async () => {
    const { src, resolver } = setup();
    src.answer('A', found('value-a'));
    const a = resolver.secret('A');
    await resolver.ready();
    const infos = await Promise.all([a.refresh(), a.refresh(), a.refresh(), resolver.refresh('A')]);
    expect(src.count('A')).toBe(2);
    expect(infos[0]?.fingerprint).toBe(a.info?.fingerprint);
  });

  it('refresh() answers from a walk started after the call: one under way is waited for first', async () => {
    const { src, resolver } = setup();
    let release: (() => void) | undefined;
    src.answer('A', found('old-value'));
    const a = resolver.secret('A');
    await resolver.ready();
    // A walk starts and reads the old value, slowly; the key then changes (the caller learns of it: a 401).
    src.answer('A', () => new Promise((resolve) => (release = () => resolve(found('old-value')))));
    const underWay = a.refresh();
    await Promise.resolve();
    src.answer('A', found('new-value'));
    const fresh = a.refresh();
    const alsoFresh = a.refresh(); // same tick as `fresh`: shares its walk
    release?.();
    await underWay;
    await Promise.all([fresh, alsoFresh]);
    expect(a.value).toBe('new-value');
    expect(src.count('A')).toBe(3); // ready, the walk under way, one fresh walk for both later calls
  });

  it('backs off exponentially with jitter after failures, never in a tight loop, capped at refreshMs', async () => {
    const { src, resolver, clock } = setup({ refreshMs: 60_000 });
    src.answer('A', found('value-a'));
    resolver.secret('A');
    await resolver.ready();
    src.answer('A', 'throw');
    await clock.advance(60_000); // the scheduled refresh fails
    expect(src.count('A')).toBe(2);
    const times: number[] = [];
    let last = src.count('A');
    for (let t = 0; t < 300_000; t += 100) {
      await clock.advance(100);
      if (src.count('A') !== last) {
        last = src.count('A');
        times.push(t + 100);
      }
    }
    const gaps = times.map((t, i) => t - (times[i - 1] ?? 0));
    expect(gaps.slice(0, 6)).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000]);
    expect(Math.max(...gaps)).toBe(60_000);
    expect(backoffMs(1, 60_000, 0.2)).toBeGreaterThanOrEqual(800);
    expect(backoffMs(1, 60_000, 0.2)).toBeLessThanOrEqual(1_200);
    expect(backoffMs(50, 60_000, 0)).toBe(60_000);
    src.answer('A', found('value-a'));
    const before = src.count('A');
    await clock.advance(60_000);
    expect(src.count('A')).toBe(before + 1);
    expect(resolver.snapshot()[0]?.status).toBe('ok');
  });

  it('refresh policy: a backoff after unavailable, else the period; a stale limit when maxStaleMs is finite', () => {
    expect(nextWalkInMs('ok', 0, { periodMs: 1_000, jitter: 0 })).toBe(1_000);
    expect(nextWalkInMs('absent', 3, { periodMs: 1_000, jitter: 0 })).toBe(1_000);
    expect(nextWalkInMs('parse', 0, { periodMs: 1_000, jitter: 0 })).toBe(1_000);
    expect(nextWalkInMs('unavailable', 1, { periodMs: 60_000, jitter: 0 })).toBe(1_000);
    expect(nextWalkInMs('unavailable', 3, { periodMs: 60_000, jitter: 0 })).toBe(4_000);
    expect(nextWalkInMs('unavailable', 9, { periodMs: 60_000, backoffCapMs: 5_000, jitter: 0 })).toBe(5_000);
    expect(nextWalkInMs('ok', 0, { periodMs: 1_000, jitter: 0.5, jitterPeriod: false })).toBe(1_000);
    const jittered = nextWalkInMs('ok', 0, { periodMs: 1_000, jitter: 0.5 });
    expect(jittered).toBeGreaterThanOrEqual(500);
    expect(jittered).toBeLessThanOrEqual(1_500);
    expect(staleUntil(100, Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(staleUntil(100, 50)).toBe(150);
    expect([isPastStaleLimit(149, 150), isPastStaleLimit(150, 150)]).toEqual([false, true]);
  });

  it('a watch firing refreshes at once, not on the next period', async () => {
    const memory = memorySource({ K_v1: 'value-one' });
    const clock = manualClock();
    const resolver = resolverFor({ sources: [memory], clock, refreshMs: 3_600_000 });
    const events = record(resolver);
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    memory.set('K_v2', 'value-two');
    await clock.flush();
    expect(key.value).toBe('value-two');
    expect(only(events, 'rotate')).toHaveLength(1);
    expect(memory.fetches).toBe(3); // v2 (absent), v1 at start; v2 after the watch
  });

  it('a change during a refresh in flight is fetched again after it', async () => {
    const src = scriptedSource('s');
    let calls = 0;
    let release: (() => void) | undefined;
    const watchers: (() => void)[] = [];
    src.answer('K', () => {
      calls++;
      if (calls === 2) return new Promise((resolve) => (release = () => resolve(found('value-old'))));
      return Promise.resolve(found(calls === 1 ? 'value-old' : 'value-new'));
    });
    const watched = {
      ...src,
      fetch: src.fetch,
      watch: (_: unknown, cb: () => void) => {
        watchers.push(cb);
        return () => {};
      },
    };
    const clock = manualClock();
    const resolver = resolverFor({ sources: [watched], clock, refreshMs: 3_600_000 });
    const key = resolver.secret('K');
    await resolver.ready();
    watchers[0]?.(); // refresh 2 starts and hangs
    await clock.flush();
    watchers[0]?.(); // a change lands while it runs
    release?.();
    await clock.flush();
    expect(calls).toBe(3);
    expect(key.value).toBe('value-new');
  });

  it('aborts a fetch that outlives fetchTimeoutMs through its signal, and serves the last good value', async () => {
    const { src, resolver, clock, events } = setup({ fetchTimeoutMs: 500 });
    src.answer('A', found('value-a'));
    const a = resolver.secret('A');
    await resolver.ready();
    src.answer('A', 'hang');
    await clock.advance(1_000);
    expect(src.aborted).toEqual([]);
    await clock.advance(500);
    expect(src.aborted).toEqual(['A']);
    expect(a.value).toBe('value-a');
    const [error] = only(events, 'error');
    expect(error?.error).toBeInstanceOf(SourceUnavailableError);
    expect(error?.error.message).toMatch(/within fetchTimeoutMs \(500ms\)/);
  });

  it('stops serving after maxStaleMs of failures', async () => {
    const { src, resolver, clock, events } = setup({ maxStaleMs: 10_000 });
    src.answer('A', found('value-a'));
    const a = resolver.secret('A');
    await resolver.ready();
    src.answer('A', 'throw');
    await clock.advance(9_000);
    expect(a.value).toBe('value-a');
    await clock.advance(1_000);
    expect(() => a.value).toThrow(/longer than maxStaleMs/);
    expect(only(events, 'error').at(-1)?.servingStale).toBe(false);
    src.answer('A', found('value-a'));
    await clock.advance(60_000);
    expect(a.value).toBe('value-a');
  });

  it('close() stops every timer and watch; later refreshes do not happen', async () => {
    const memory = memorySource({ A: 'value-a' });
    const clock = manualClock();
    const resolver = resolverFor({ sources: [memory], clock, refreshMs: 1_000 });
    resolver.secret('A');
    await resolver.ready();
    expect(clock.pending).toBeGreaterThan(0);
    await resolver.close();
    expect(clock.pending).toBe(0);
    const fetches = memory.fetches;
    memory.set('A', 'value-b');
    await clock.advance(10_000);
    expect(memory.fetches).toBe(fetches);
    expect(() => resolver.secret('B')).toThrow(/closed/);
    await resolver.close(); // twice is fine
  });

  it('close() rejects a pending ready() instead of leaving it hanging', async () => {
    const { src, resolver } = setup();
    src.answer('A', 'hang');
    resolver.secret('A');
    const ready = resolver.ready().catch((e: unknown) => e);
    await resolver.close();
    expect(String(await ready)).toMatch(/closed/);
  });

  it("background timers are unref'd: a process with a resolver and a one-hour refresh exits at once", () => {
    const script = `
      import { createResolver, memorySource } from './src/index.ts';
      const resolver = createResolver({ sources: [memorySource({ A: 'value-a' })], refreshMs: 3_600_000 });
      resolver.secret('A');
      await resolver.ready();
      console.log('ready');
    `;
    const started = Date.now();
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('ready');
    expect(result.status).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000); // not killed by the timeout: it exited by itself
  });
});
