import type { Clock } from '../types.js';

/** A clock that only moves when told to, for deterministic tests of refresh, backoff and staleness. */
export interface ManualClock extends Clock {
  /**
   * Moves time forward by `ms`, running every timer that falls due in order, and lets the promise
   * callbacks those timers start settle before running the next.
   */
  advance(ms: number): Promise<void>;
  /** Lets pending promise callbacks settle without moving time. */
  flush(): Promise<void>;
  /** How many timers are pending. */
  readonly pending: number;
}

interface Timer {
  id: number;
  at: number;
  callback: () => void;
}

/** A real macrotask turn: every microtask queued before it has run. */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Creates a {@link ManualClock} starting at `start` (ms since the epoch).
 * @example
 * const clock = manualClock();
 * const resolver = createResolver({ sources: [memory], clock, refreshMs: 1_000, jitter: 0 });
 * await clock.advance(1_000); // the refresh has run
 */
export function manualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, Timer>();

  const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++) await turn();
  };

  return {
    now: () => now,
    setTimeout(callback: () => void, ms: number) {
      const id = nextId++;
      timers.set(id, { id, at: now + Math.max(0, ms), callback });
      return { id, unref() {} };
    },
    clearTimeout(handle) {
      if (typeof handle === 'object' && handle !== null && 'id' in handle) timers.delete((handle as { id: number }).id);
    },
    get pending() {
      return timers.size;
    },
    flush,
    async advance(ms: number) {
      const target = now + ms;
      await flush();
      for (;;) {
        let due: Timer | undefined;
        for (const timer of timers.values()) {
          if (timer.at <= target && (!due || timer.at < due.at || (timer.at === due.at && timer.id < due.id)))
            due = timer;
        }
        if (!due) break;
        timers.delete(due.id);
        now = Math.max(now, due.at);
        due.callback();
        await flush();
      }
      now = target;
      await flush();
    },
  };
}
