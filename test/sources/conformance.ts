/**
 * The conformance suite every source must pass. A source's test file calls
 * `sourceConformance(label, setup)` once per way of running it; `setup()` runs before each test and
 * returns a fresh fixture (source, seed/remove, what the source can do, cleanup).
 *
 * Every test here is written so that it fails for a source that breaks the `Source` contract of
 * src/types.ts, whichever capabilities the fixture declares: a capability declared absent is checked
 * to be absent (no `watch` method, no version reported).
 */
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import type { EventEmitter } from 'eventemitter3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createResolver,
  fingerprint,
  InvalidCandidateError,
  isFingerprint,
  ReadyError,
  type Resolver,
  type ResolverEvents,
  type ResolverOptions,
  SecretNotFoundError,
  SecretRevokedError,
  type Source,
  type SourceResult,
  SourceUnavailableError,
} from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';

type EventName = keyof ResolverEvents;
type Payload<E extends EventName> = ResolverEvents[E][0];

/** What a source can do, as the conformance suite checks it. */
export interface SourceCapabilities {
  /** Found results carry a provider version (and the resolver's `info.version` carries it). Else: never a version. */
  versions?: boolean | undefined;
  /** The source pushes changes through `watch()`. Else: the source has no `watch` method. */
  watch?: boolean | undefined;
  /** Makes `name` absent with reason `disabled` (sources with version states). Else `remove` stands in. */
  disable?: ((name: string) => void | Promise<void>) | undefined;
  /** Candidates, as written in a chain (prefix optional), that `validate` must reject. */
  invalid?: readonly string[] | undefined;
  /** Makes every later fetch hang until its signal aborts, to check that aborts are honoured mid-flight. */
  stall?: (() => void) | undefined;
}

/** One fresh source and the means to change what it holds. */
export interface ConformanceFixture {
  source: Source;
  /** Makes `name` hold `value` (a new version where the source has versions). */
  seed(name: string, value: string): void | Promise<void>;
  /** Makes `name` not found. */
  remove(name: string): void | Promise<void>;
  capabilities: SourceCapabilities;
  cleanup?(): void | Promise<void>;
}

/** The text of a found value, whether the source gave a string or bytes. */
export function decode(value: string | Uint8Array): string {
  return typeof value === 'string' ? value : new TextDecoder().decode(value);
}

/** Rejects when `promise` does not settle within `ms` real milliseconds (an upper bound, not a timing assertion). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms}ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Resolves with the first `event` whose payload satisfies `predicate`; fails after `ms` real milliseconds. */
export function waitForEvent<E extends EventName>(
  emitter: EventEmitter<ResolverEvents>,
  event: E,
  predicate: (payload: Payload<E>) => boolean = () => true,
  ms = 5_000,
): Promise<Payload<E>> {
  const on = emitter as unknown as {
    on(event: E, fn: (payload: Payload<E>) => void): void;
    off(event: E, fn: (payload: Payload<E>) => void): void;
  };
  let listener: ((payload: Payload<E>) => void) | undefined;
  const seen = new Promise<Payload<E>>((resolve) => {
    listener = (payload) => {
      if (predicate(payload)) resolve(payload);
    };
    on.on(event, listener);
  });
  return within(seen, ms, `waiting for a ${event} event`).finally(() => {
    if (listener) on.off(event, listener);
  });
}

export interface RecordedEvent {
  event: EventName;
  payload: unknown;
}

/** Records every event an emitter (a resolver or a handle) emits, in order. */
export function recordEvents(emitter: EventEmitter<ResolverEvents>): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  const on = emitter as unknown as { on(event: EventName, fn: (payload: unknown) => void): void };
  for (const event of ['resolve', 'rotate', 'fallback', 'error', 'revoke'] as const) {
    on.on(event, (payload) => events.push({ event, payload }));
  }
  return events;
}

/** JSON of anything, errors included (message, stack, cause and own fields), so nothing hides from a search. */
export function serialize(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Error) {
      const cause = (v as { cause?: unknown }).cause;
      return { ...v, name: v.name, message: v.message, stack: v.stack, cause };
    }
    if (v instanceof Uint8Array) return decode(v);
    return v;
  });
}

/** Asserts that no value appears in what a resolver lets out: events, handles, snapshots. */
export function expectNoValues(haystacks: readonly string[], values: readonly string[]): void {
  for (const text of haystacks) {
    for (const value of values) expect(text, 'a secret value leaked').not.toContain(value);
  }
}

/**
 * A source with the same fetch and validate but no watch: only polling can pick changes up. `onFetch` is
 * called as each fetch starts (a resolver starts a due walk's first fetch synchronously, from its timer).
 */
function withoutWatch(source: Source, onFetch: () => void = () => undefined): Source {
  const stripped: Source = {
    name: source.name,
    fetch: (ref, ctx) => {
      onFetch();
      return source.fetch(ref, ctx);
    },
  };
  if (source.validate) {
    const validate = source.validate.bind(source);
    return { ...stripped, validate };
  }
  return stripped;
}

const live = (): AbortSignal => new AbortController().signal;

/**
 * Declares the conformance suite for one source.
 * @param label how the source is run (`memorySource`, `fileSource (Kubernetes ..data layout)`)
 * @param setup returns a fresh fixture; called before each test
 */
export function sourceConformance(label: string, setup: () => ConformanceFixture | Promise<ConformanceFixture>): void {
  describe(`source conformance: ${label}`, () => {
    let fx: ConformanceFixture;
    let resolvers: Resolver[] = [];
    const unique = (what: string): string => `sk-kf-${what}-${randomUUID().slice(0, 8)}`;
    const resolverFor = (options: Partial<ResolverOptions> = {}): Resolver => {
      const resolver = createResolver({ sources: [fx.source], jitter: 0, ...options });
      resolvers.push(resolver);
      return resolver;
    };
    /** Runs `change`, then asks for a refresh (a source without watch needs it), then waits for `event`. */
    const afterChange = async <E extends EventName>(
      resolver: Resolver,
      event: E,
      predicate: (payload: Payload<E>) => boolean,
      change: () => void | Promise<void>,
    ): Promise<Payload<E>> => {
      const seen = waitForEvent(resolver, event, predicate);
      seen.catch(() => undefined); // observed below; avoid an unhandled rejection if change() throws
      await change();
      await resolver.refresh().catch(() => undefined); // may report the change as an error (revoked)
      return seen;
    };

    beforeEach(async () => {
      fx = await setup();
    });

    afterEach(async () => {
      const open = resolvers;
      resolvers = [];
      for (const resolver of open) await resolver.close();
      await fx.cleanup?.();
    });

    it('has a name usable as a candidate prefix', async () => {
      // Prepare
      const value = unique('prefixed');
      await fx.seed('KF_PREFIXED', value);
      // Act
      const resolver = resolverFor({ clock: manualClock() });
      const handle = resolver.secret('S', `${fx.source.name}:KF_PREFIXED`);
      await resolver.ready();
      // Assess
      expect(fx.source.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(handle.value).toBe(value);
      expect(handle.info).toMatchObject({
        candidate: `${fx.source.name}:KF_PREFIXED`,
        source: fx.source.name,
        status: 'ok',
      });
    });

    it('found: fetch returns the seeded value exactly (string or bytes)', async () => {
      // Prepare
      const value = `${unique('found')}-ünï✓`;
      await fx.seed('KF_FOUND', value);
      // Act
      const result = await fx.source.fetch({ name: 'KF_FOUND' }, { signal: live() });
      // Assess
      expect(result.status).toBe('found');
      if (result.status !== 'found') return;
      expect(typeof result.value === 'string' || result.value instanceof Uint8Array).toBe(true);
      expect(decode(result.value)).toBe(value);
    });

    it('found: fetch re-reads on every call (a changed value is seen, nothing is cached)', async () => {
      // Prepare
      const first = unique('first');
      const second = unique('second');
      await fx.seed('KF_FOUND', first);
      const before = await fx.source.fetch({ name: 'KF_FOUND' }, { signal: live() });
      // Act
      await fx.seed('KF_FOUND', second);
      const after = await fx.source.fetch({ name: 'KF_FOUND' }, { signal: live() });
      // Assess
      expect(before.status === 'found' && decode(before.value)).toBe(first);
      expect(after.status === 'found' && decode(after.value)).toBe(second);
    });

    it('missing: a name never seeded, or removed, is absent with reason not-found', async () => {
      // Prepare
      await fx.seed('KF_GONE', unique('gone'));
      await fx.remove('KF_GONE');
      // Act
      const never = await fx.source.fetch({ name: 'KF_MISSING' }, { signal: live() });
      const removed = await fx.source.fetch({ name: 'KF_GONE' }, { signal: live() });
      // Assess
      expect(never).toEqual({ status: 'absent', reason: 'not-found' });
      expect(removed).toEqual({ status: 'absent', reason: 'not-found' });
    });

    it('missing: a chain of missing names fails with SecretNotFoundError naming each candidate', async () => {
      // Prepare
      const resolver = resolverFor({ clock: manualClock() });
      resolver.secret('S', 'KF_MISSING ?? KF_ALSO_MISSING');
      // Act
      const failure = await resolver.ready().then(
        () => undefined,
        (error: unknown) => error,
      );
      // Assess
      expect(failure).toBeInstanceOf(ReadyError);
      const error = (failure as ReadyError).failures[0]?.error;
      expect(error).toBeInstanceOf(SecretNotFoundError);
      expect((error as SecretNotFoundError).skipped).toEqual([
        { candidate: 'KF_MISSING', reason: 'not-found' },
        { candidate: 'KF_ALSO_MISSING', reason: 'not-found' },
      ]);
    });

    it.each([
      ['empty', ''],
      ['whitespace-only', ' \n\t  \n'],
    ])(
      '%s value: the resolver counts it absent (reason empty), reports a fallback and falls through',
      async (_kind, blank) => {
        // Prepare
        const next = unique('next');
        await fx.seed('KF_EMPTY', blank);
        await fx.seed('KF_NEXT', next);
        const resolver = resolverFor({ clock: manualClock() });
        const events = recordEvents(resolver);
        const handle = resolver.secret('S', 'KF_EMPTY ?? KF_NEXT');
        // Act
        await resolver.ready();
        // Assess
        expect(handle.value).toBe(next);
        expect(handle.info?.candidate).toBe('KF_NEXT');
        const fallbacks = events.filter((e) => e.event === 'fallback').map((e) => e.payload as Payload<'fallback'>);
        expect(fallbacks).toHaveLength(1);
        expect(fallbacks[0]?.skipped).toEqual([{ candidate: 'KF_EMPTY', reason: 'empty' }]);
        expect(fallbacks[0]?.current.candidate).toBe('KF_NEXT');
      },
    );

    it('absent states: a disabled (or removed) candidate is skipped with its reason; the walk goes on', async () => {
      // Prepare
      const disable = fx.capabilities.disable;
      const reason = disable ? 'disabled' : 'not-found';
      const fallback = unique('b');
      await fx.seed('KF_A', unique('a'));
      await fx.seed('KF_B', fallback);
      if (disable) await disable('KF_A');
      else await fx.remove('KF_A');
      const resolver = resolverFor({ clock: manualClock() });
      const events = recordEvents(resolver);
      const handle = resolver.secret('S', 'KF_A ?? KF_B');
      // Act
      const direct = await fx.source.fetch({ name: 'KF_A' }, { signal: live() });
      await resolver.ready();
      // Assess
      expect(direct).toEqual({ status: 'absent', reason });
      expect(handle.value).toBe(fallback);
      const fallbackEvent = events.find((e) => e.event === 'fallback')?.payload as Payload<'fallback'> | undefined;
      expect(fallbackEvent?.skipped).toEqual([{ candidate: 'KF_A', reason }]);
    });

    it('revocation: a held secret whose only candidate goes is revoked, and served again when it is back', async () => {
      // Prepare
      const first = unique('held');
      const back = unique('back');
      await fx.seed('KF_R', first);
      const resolver = resolverFor({ clock: manualClock() });
      const handle = resolver.secret('S', 'KF_R');
      await resolver.ready();
      // Act
      const revoked = await afterChange(
        resolver,
        'revoke',
        () => true,
        () => fx.remove('KF_R'),
      );
      const thrown = (() => {
        try {
          return handle.value;
        } catch (error) {
          return error;
        }
      })();
      const resolved = await afterChange(
        resolver,
        'resolve',
        (e) => e.info.fingerprint === fingerprint(back),
        () => fx.seed('KF_R', back),
      );
      // Assess
      expect(revoked.previous.fingerprint).toBe(fingerprint(first));
      expect(revoked.skipped).toEqual([{ candidate: 'KF_R', reason: 'not-found' }]);
      expect(thrown).toBeInstanceOf(SecretRevokedError);
      expect(resolved.info.status).toBe('ok');
      expect(handle.value).toBe(back);
    });

    it('version: reported exactly when the source has versions, and carried by info.version', async () => {
      // Prepare
      await fx.seed('KF_VERSION', unique('versioned'));
      const resolver = resolverFor({ clock: manualClock() });
      const handle = resolver.secret('S', 'KF_VERSION');
      // Act
      await resolver.ready();
      const result = await fx.source.fetch({ name: 'KF_VERSION' }, { signal: live() });
      // Assess
      expect(result.status).toBe('found');
      if (result.status !== 'found') return;
      if (fx.capabilities.versions) {
        expect(typeof result.version).toBe('string');
        expect(result.version).not.toBe('');
        expect(handle.info?.version).toBe(result.version);
      } else {
        expect(result.version).toBeUndefined();
        expect(handle.info?.version).toBeUndefined();
      }
    });

    it('validate: accepts ordinary names, rejects what the source cannot hold; secret() throws at declaration', () => {
      // Prepare
      const invalid = fx.capabilities.invalid ?? [];
      const resolver = resolverFor({ clock: manualClock() });
      // Act + Assess: the names this suite uses are accepted
      for (const name of ['KF_FOUND', 'X_v1', 'OPENAI_API_KEY']) {
        expect(fx.source.validate?.({ name })).toBeUndefined();
      }
      expect(() => resolver.secret('OK', 'X_v2 ?? X_v1')).not.toThrow();
      if (invalid.length > 0)
        expect(fx.source.validate, 'a fixture that lists invalid names needs validate').toBeTypeOf('function');
      for (const text of invalid) {
        const bare = text.startsWith(`${fx.source.name}:`) ? text.slice(fx.source.name.length + 1) : text;
        const at = bare.indexOf('@');
        const ref = at === -1 ? { name: bare } : { name: bare.slice(0, at), version: bare.slice(at + 1) };
        const problem = fx.source.validate?.(ref);
        expect(problem, `validate(${JSON.stringify(ref)})`).toBeTypeOf('string');
        let thrown: unknown;
        try {
          resolver.secret(`BAD_${invalid.indexOf(text)}`, `X_v1 ?? ${text}`);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `secret(…, ${JSON.stringify(text)})`).toBeInstanceOf(InvalidCandidateError);
        expect((thrown as InvalidCandidateError).text).toBe(text);
        expect((thrown as InvalidCandidateError).message).toContain(JSON.stringify(text));
        expect((thrown as InvalidCandidateError).message).toContain(problem);
      }
      // nothing was declared for the rejected chains
      expect(resolver.handles().map((h) => h.name)).toEqual(['OK']);
    });

    it('watch: onChange is called after a change; unsubscribing stops it, not the other watchers', async () => {
      if (!fx.capabilities.watch) {
        expect(fx.source.watch, 'a source without the watch capability must not have watch()').toBeUndefined();
        return;
      }
      const watch = fx.source.watch;
      expect(watch).toBeTypeOf('function');
      if (!watch) return;
      // Prepare
      await fx.seed('KF_WATCH', unique('w0'));
      let first = 0;
      let second = 0;
      let signalFirst: () => void = () => undefined;
      let signalSecond: () => void = () => undefined;
      const firstCalled = new Promise<void>((resolve) => (signalFirst = resolve));
      const unwatchFirst = watch.call(fx.source, { name: 'KF_WATCH' }, () => {
        first++;
        signalFirst();
      });
      const unwatchSecond = watch.call(fx.source, { name: 'KF_WATCH' }, () => {
        second++;
        signalSecond();
      });
      // A source calls its watchers in the order they subscribed, in one pass per change; so once a watcher
      // that subscribed later has been called, an unsubscribed one that was still called would have been
      // called already. That call (not a pause) is the signal that a change was delivered.
      let unwatchControl: () => void = () => undefined;
      try {
        // Act 1: a change reaches both watchers
        await fx.seed('KF_WATCH', unique('w1'));
        await within(firstCalled, 5_000, 'onChange after a change');
        // Act 2: the first unsubscribes; the next change reaches the second only
        unwatchFirst();
        const firstAfterUnsubscribe = first;
        const secondCalled = new Promise<void>((resolve) => (signalSecond = resolve));
        await fx.seed('KF_WATCH', unique('w2'));
        await within(secondCalled, 5_000, 'onChange of the remaining watcher');
        // Assess
        expect(first).toBeGreaterThan(0);
        expect(first).toBe(firstAfterUnsubscribe);
        // Act 3: the last unsubscribes; nothing more is called (a new watcher is, and shows the change went out)
        unwatchSecond();
        const secondAfterUnsubscribe = second;
        const controlCalled = new Promise<void>((resolve) => {
          unwatchControl = watch.call(fx.source, { name: 'KF_WATCH' }, () => resolve());
        });
        await fx.seed('KF_WATCH', unique('w3'));
        await within(controlCalled, 5_000, 'onChange of a watcher subscribed after the last one left');
        expect(second).toBe(secondAfterUnsubscribe);
      } finally {
        unwatchFirst();
        unwatchSecond();
        unwatchControl();
      }
    });

    it('watch: a resolver picks a change up at once, without refresh() or the refresh period', async () => {
      // Prepare
      const v1 = unique('pushed-v1');
      const v2 = unique('pushed-v2');
      await fx.seed('KF_PUSH', v1);
      const clock = manualClock(); // time never moves: no polling can happen
      const resolver = resolverFor({ clock, refreshMs: 3_600_000 });
      const handle = resolver.secret('S', 'KF_PUSH');
      await resolver.ready();
      if (!fx.capabilities.watch) {
        // Without watch (the source has no `watch` method, checked above) and with time stopped, nothing can
        // start a fetch: only a refresh picks the change up.
        await fx.seed('KF_PUSH', v2);
        await clock.flush();
        expect(handle.value).toBe(v1);
        await resolver.refresh('S');
        expect(handle.value).toBe(v2);
        return;
      }
      const rotated = waitForEvent(resolver, 'rotate', (e) => e.current.fingerprint === fingerprint(v2));
      // Act
      await fx.seed('KF_PUSH', v2);
      const event = await rotated;
      // Assess
      expect(event.previous.fingerprint).toBe(fingerprint(v1));
      expect(handle.value).toBe(v2);
    });

    it('abort: fetch settles for an already-aborted signal, and for one aborted mid-flight', async () => {
      // Prepare
      await fx.seed('KF_ABORT', unique('abort'));
      const reason = new Error('conformance abort');
      // Act + Assess: already aborted
      const aborted = AbortSignal.abort(reason);
      await within(
        fx.source.fetch({ name: 'KF_ABORT' }, { signal: aborted }).catch((error: unknown) => error),
        2_000,
        'fetch with an already-aborted signal',
      );
      // Act + Assess: aborted while in flight
      if (fx.capabilities.stall) fx.capabilities.stall();
      const controller = new AbortController();
      let settled = false;
      const pending = fx.source.fetch({ name: 'KF_ABORT' }, { signal: controller.signal }).then(
        (result) => result,
        (error: unknown) => ({ error }),
      );
      void pending.finally(() => (settled = true));
      if (fx.capabilities.stall) {
        await new Promise((resolve) => setImmediate(resolve)); // every promise callback queued so far has run
        expect(settled, 'a stalled fetch must wait for its signal').toBe(false);
      }
      controller.abort(reason);
      const outcome = await within(pending, 2_000, 'fetch aborted mid-flight');
      // Rejecting with the abort's own reason proves the stalled fetch ended because of the abort, not before.
      if (fx.capabilities.stall) expect(outcome).toEqual({ error: reason });
    });

    it('abort: within fetchTimeoutMs a healthy fetch resolves; a stalled one is aborted, unavailable', async () => {
      // Prepare: a real clock and a short budget; the wrapper records how each fetch ended
      const value = unique('budget');
      await fx.seed('KF_BUDGET', value);
      const outcomes: string[] = [];
      let outcomeSeen: () => void = () => undefined;
      const record = (outcome: string): void => {
        outcomes.push(outcome);
        outcomeSeen();
      };
      const inner = fx.source;
      const watched: Source = {
        name: inner.name,
        fetch: (ref, ctx) =>
          inner.fetch(ref, ctx).then(
            (result: SourceResult) => {
              record(result.status);
              return result;
            },
            (error: unknown) => {
              record(ctx.signal.aborted ? 'aborted' : 'threw');
              throw error;
            },
          ),
      };
      const resolver = createResolver({
        sources: [watched],
        fetchTimeoutMs: 500,
        startupTimeoutMs: 2_000,
        refreshMs: 3_600_000,
        jitter: 0,
      });
      resolvers.push(resolver);
      const handle = resolver.secret('S', 'KF_BUDGET');
      // Act
      await resolver.ready();
      // Assess
      expect(handle.value).toBe(value);
      expect(outcomes).toEqual(['found']);
      if (!fx.capabilities.stall) return;
      // Act: the source stalls; the resolver's budget aborts the fetch
      const secondOutcome = new Promise<void>((resolve) => (outcomeSeen = resolve));
      fx.capabilities.stall();
      const errors = recordEvents(resolver);
      const refreshed = await within(
        resolver.refresh('S').then(
          () => undefined,
          (error: unknown) => error,
        ),
        3_000,
        'refresh of a stalled source',
      );
      // Assess: unavailable, the last good value is still served, and the source's fetch did end
      expect(refreshed).toBeInstanceOf(SourceUnavailableError);
      expect(handle.value).toBe(value);
      expect(handle.info?.status).toBe('stale');
      expect(errors.some((e) => e.event === 'error' && (e.payload as Payload<'error'>).servingStale)).toBe(true);
      await within(secondOutcome, 2_000, 'the stalled fetch to end after its abort');
      expect(outcomes).toEqual(['found', 'aborted']);
    });

    it('polling: the refresh period alone picks a change up (watch removed), not earlier', async () => {
      // Prepare
      const before = unique('poll-v1');
      const after = unique('poll-v2');
      await fx.seed('KF_POLL', before);
      const clock = manualClock();
      let fetches = 0;
      const source = withoutWatch(fx.source, () => fetches++);
      const resolver = createResolver({ sources: [source], refreshMs: 60_000, jitter: 0, clock });
      resolvers.push(resolver);
      const handle = resolver.secret('S', 'KF_POLL');
      await resolver.ready();
      await fx.seed('KF_POLL', after);
      const fetchesAtReady = fetches;
      // Act 1: not yet due (a due walk would have started its fetch inside advance(), synchronously)
      await clock.advance(59_000);
      const fetchesEarly = fetches;
      const early = handle.value;
      // Act 2: due
      const rotated = waitForEvent(resolver, 'rotate', (e) => e.current.fingerprint === fingerprint(after));
      await clock.advance(1_000);
      await rotated;
      // Assess
      expect(fetchesEarly).toBe(fetchesAtReady);
      expect(early).toBe(before);
      expect(fetches).toBe(fetchesAtReady + 1);
      expect(handle.value).toBe(after);
    });

    it('end to end: X_v2 ?? X_v1 is v1, then v2 once seeded; rotate carries fingerprints, never values', async () => {
      // Prepare
      const v1 = unique('e2e-v1');
      const v2 = unique('e2e-v2');
      await fx.seed('X_v1', v1);
      const clock = manualClock();
      const resolver = resolverFor({ clock, refreshMs: 60_000 });
      const events = recordEvents(resolver);
      const handle = resolver.secret('X', 'X_v2 ?? X_v1');
      const handleEvents = recordEvents(handle);
      // Act 1
      await resolver.ready();
      // Assess 1
      expect(handle.value).toBe(v1);
      expect(handle.info).toMatchObject({
        name: 'X',
        candidate: 'X_v1',
        source: fx.source.name,
        fingerprint: fingerprint(v1),
        status: 'ok',
      });
      const firstFallback = events.find((e) => e.event === 'fallback')?.payload as Payload<'fallback'> | undefined;
      expect(firstFallback?.skipped).toEqual([{ candidate: 'X_v2', reason: 'not-found' }]);
      // Act 2
      const rotate = await afterChange(
        resolver,
        'rotate',
        (e) => e.current.fingerprint === fingerprint(v2),
        () => fx.seed('X_v2', v2),
      );
      // Assess 2
      expect(handle.value).toBe(v2);
      expect(rotate.secret).toBe('X');
      expect(rotate.previous).toMatchObject({ candidate: 'X_v1', fingerprint: fingerprint(v1) });
      expect(rotate.current).toMatchObject({
        candidate: 'X_v2',
        source: fx.source.name,
        fingerprint: fingerprint(v2),
        status: 'ok',
      });
      expect(isFingerprint(rotate.previous.fingerprint) && isFingerprint(rotate.current.fingerprint)).toBe(true);
      if (fx.capabilities.versions) {
        const direct = await fx.source.fetch({ name: 'X_v2' }, { signal: live() });
        expect(rotate.current.version).toBe(direct.status === 'found' ? direct.version : 'found');
        expect(handle.info?.version).toBe(rotate.current.version);
      }
      expect(handleEvents.some((e) => e.event === 'rotate')).toBe(true);
      // Never values: every payload, the handle's faces, the snapshot
      expect(events.length).toBeGreaterThanOrEqual(3);
      expectNoValues(
        [
          ...events.map((e) => serialize(e.payload)),
          ...handleEvents.map((e) => serialize(e.payload)),
          String(handle),
          JSON.stringify(handle),
          inspect(handle),
          JSON.stringify(resolver.snapshot()),
          JSON.stringify(resolver),
          inspect(resolver),
        ],
        [v1, v2],
      );
    });
  });
}
