import { afterAll, afterEach, beforeAll } from 'vitest';
import { createResolver, type Resolver, type ResolverOptions } from '../src/index.js';
import { manualClock } from '../src/testing/index.js';
import type { EventName, ResolverEvents } from '../src/events.js';
import type { FetchContext, Source, SourceRef, SourceResult } from '../src/types.js';

export type Recorded = { [E in EventName]: { event: E; payload: ResolverEvents[E][0] } }[EventName];

/** Records every event a resolver emits, in order. */
export function record(resolver: Resolver): Recorded[] {
  const events: Recorded[] = [];
  for (const event of ['resolve', 'rotate', 'fallback', 'error', 'revoke'] as const) {
    resolver.on(event, (payload: ResolverEvents[typeof event][0]) => {
      events.push({ event, payload } as Recorded);
    });
  }
  return events;
}

export function only<E extends EventName>(events: Recorded[], event: E): ResolverEvents[E][0][] {
  return events.filter((e) => e.event === event).map((e) => e.payload as ResolverEvents[E][0]);
}

type Answer = SourceResult | 'throw' | 'hang' | (() => Promise<SourceResult>);

/** A source whose answer per name is set by the test, counting fetches per name. */
export function scriptedSource(name = 'scripted'): Source & {
  answer(ref: string, answer: Answer): void;
  count(ref: string): number;
  aborted: string[];
} {
  const answers = new Map<string, Answer>();
  const counts = new Map<string, number>();
  const aborted: string[] = [];
  return {
    name,
    aborted,
    answer(ref, answer) {
      answers.set(ref, answer);
    },
    count(ref) {
      return counts.get(ref) ?? 0;
    },
    async fetch(ref: SourceRef, ctx: FetchContext): Promise<SourceResult> {
      const key = ref.version === undefined ? ref.name : `${ref.name}@${ref.version}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
      const answer = answers.get(key) ?? { status: 'absent', reason: 'not-found' };
      if (answer === 'throw') throw new Error(`scripted outage for ${key}`);
      if (answer === 'hang') {
        return new Promise((_, reject) => {
          ctx.signal.addEventListener('abort', () => {
            aborted.push(key);
            reject(ctx.signal.reason);
          });
        });
      }
      if (typeof answer === 'function') return answer();
      return answer;
    },
  };
}

export const found = (value: string, version?: string): SourceResult =>
  version === undefined ? { status: 'found', value } : { status: 'found', value, version };
export const absent = (
  reason: 'not-found' | 'disabled' | 'destroyed' | 'permission-denied' | 'empty',
): SourceResult => ({ status: 'absent', reason });

/** Asserts that none of `values` appears in `text`. */
export function leaks(text: string, values: readonly string[]): string[] {
  return values.filter((v) => text.includes(v));
}

/**
 * Registers an afterEach that closes every resolver made through the returned factory, so a test never
 * leaves timers or watches behind.
 */
export function trackResolvers(): (options: ResolverOptions) => Resolver {
  let open: Resolver[] = [];
  afterEach(async () => {
    const closing = open;
    open = [];
    await Promise.all(closing.map((r) => r.close()));
  });
  return (options) => {
    const resolver = createResolver(options);
    open.push(resolver);
    return resolver;
  };
}

/**
 * The usual unit-test rig: a scripted source `s`, a manual clock, a resolver with `refreshMs` 1 s (unless
 * overridden) and no jitter, and every event it emits recorded. Call at the top of a describe/file.
 */
export function scriptedRig(defaults: Partial<ResolverOptions> = {}) {
  const resolverFor = trackResolvers();
  return (options: Partial<ResolverOptions> = {}) => {
    const clock = manualClock();
    const src = scriptedSource('s');
    const resolver = resolverFor({ sources: [src], clock, refreshMs: 1_000, jitter: 0, ...defaults, ...options });
    const events = record(resolver);
    return { clock, src, resolver, events };
  };
}

/**
 * Collects every `unhandledRejection` of the process while this file's tests run (registered in
 * beforeAll, removed in afterAll). Tests assert the returned array stays empty.
 */
export function collectUnhandledRejections(): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
  });
  return unhandled;
}
