import { MAX_TIMER_MS } from './check.js';
import type { Clock, TimerHandle } from './types.js';

/** The real clock: `Date.now()` and the global timers (so vitest's fake timers apply too). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

/** Lets a timer not keep the process alive (a background refresh must never do that). */
export function unrefTimer(handle: TimerHandle): void {
  if (typeof handle === 'object' && handle !== null && 'unref' in handle && typeof handle.unref === 'function') {
    handle.unref();
  }
}

/** A random factor in [1 - jitter, 1 + jitter]. */
export function jitterFactor(jitter: number): number {
  return 1 - jitter + Math.random() * 2 * jitter;
}

// The real timers, taken when this module loads: a keep-alive is about the process, not the (fake) clock.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
/** Promises being awaited through {@link keepAlive}, and the one ref'd timer that holds the process for them. */
let holders = 0;
let keeper: ReturnType<typeof setTimeout> | undefined;

function arm(): void {
  keeper = realSetTimeout(arm, MAX_TIMER_MS);
}

/**
 * Keeps the process alive until `promise` settles, then lets it go; returns `promise`. Keyflip's own timers
 * are unref'd (a background refresh never holds the process), so a caller awaiting a result against a source
 * that holds no handle would otherwise see Node exit mid-await. One ref'd timer serves every awaited promise.
 */
export function keepAlive<T>(promise: Promise<T>): Promise<T> {
  if (holders++ === 0) arm();
  const release = (): void => {
    if (--holders > 0) return;
    realClearTimeout(keeper);
    keeper = undefined;
  };
  promise.then(release, release);
  return promise;
}
