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
