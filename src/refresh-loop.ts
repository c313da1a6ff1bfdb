import { unrefTimer } from './clock.js';
import { ConfigurationError, type KeyflipError, SourceUnavailableError } from './errors.js';
import { nextWalkInMs } from './refresh-policy.js';
import type { RefreshResult, Slot } from './slot.js';
import type { Clock, SecretInfo, Source, TimerHandle } from './types.js';

/** What a refresh loop needs from its resolver to schedule itself. */
export interface LoopSchedule {
  readonly clock: Clock;
  /** The period between walks, in milliseconds (scaled by `jitter`). */
  readonly refreshMs: number;
  readonly jitter: number;
  /** How long a wait for the first resolution lasts, in milliseconds. */
  readonly startupTimeoutMs: number;
}

interface Waiter {
  resolve(): void;
  reject(error: KeyflipError): void;
  timer: TimerHandle;
}

/**
 * Keeps one declared secret fresh: the first resolution, a walk every `refreshMs` (a backoff after an
 * unavailable outcome, as the refresh policy says), a walk at once when a source's watch fires, and the
 * waits of `ready()` / `get()` for the first resolution. The resolver owns it; the secret's handle only
 * asks it for `refresh()` and `whenReady()`.
 */
export class RefreshLoop<T> {
  readonly #slot: Slot<T>;
  readonly #schedule: LoopSchedule;
  readonly #unwatch: (() => void)[] = [];
  readonly #waiters = new Set<Waiter>();
  #timer: TimerHandle | undefined;
  #run: Promise<RefreshResult> | undefined;
  /** Counts the walks started; `#run` is walk number `#runSeq`. */
  #runSeq = 0;
  /** True only in the tick `#run` started in: a `refresh()` called then may share it. */
  #runJoinable = false;
  #again = false;
  #closed = false;

  constructor(slot: Slot<T>, schedule: LoopSchedule) {
    this.#slot = slot;
    this.#schedule = schedule;
  }

  /** Starts the first resolution and subscribes to the sources' watches. */
  start(): void {
    for (const candidate of this.#slot.candidates) {
      const source: Source = candidate.sourceImpl;
      if (!source.watch) continue;
      try {
        this.#unwatch.push(source.watch({ name: candidate.name, version: candidate.version }, () => this.#onWatch()));
      } catch {
        // A watch that cannot start leaves polling in charge; nothing is lost.
      }
    }
    void this.#start();
  }

  /**
   * Refreshes now: the answer comes from a walk of the chain that starts after this call. A walk already
   * under way (it may have read a candidate before the change the caller just learned of, such as a 401) is
   * waited for, then a new one runs; calls made in the same tick share one walk. Rejects when it fails.
   */
  async refresh(): Promise<SecretInfo> {
    const acceptable = this.#run && this.#runJoinable ? this.#runSeq : this.#runSeq + 1;
    let result: RefreshResult;
    for (;;) {
      const running = this.#run;
      if (running && this.#runSeq >= acceptable) {
        result = await running;
        break;
      }
      if (running) {
        await running;
        continue;
      }
      result = await this.#start();
      break;
    }
    if (result.kind === 'ok') return result.info;
    throw result.error;
  }

  /**
   * Resolves when the secret is servable. `retry` starts a new attempt when the last one ended in a
   * definitive failure (as `ready()` does); otherwise that failure is returned at once.
   */
  whenReady(retry: boolean): Promise<void> {
    const slot = this.#slot;
    if (slot.servable) return Promise.resolve();
    if (this.#closed) return Promise.reject(new ConfigurationError('the resolver is closed', 'CLOSED'));
    const definitive = slot.status === 'revoked' || slot.status === 'failed';
    if (definitive && !slot.refreshing && !retry && slot.lastError) return Promise.reject(slot.lastError);
    const { clock, startupTimeoutMs } = this.#schedule;
    const promise = new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: clock.setTimeout(() => {
          this.#waiters.delete(waiter);
          const last = slot.lastError;
          reject(
            new SourceUnavailableError(
              `secret ${slot.name} was not resolved within startupTimeoutMs (${startupTimeoutMs}ms)` +
                (last ? `: ${last.message}` : ''),
              { secret: slot.name, cause: last },
            ),
          );
        }, startupTimeoutMs),
      };
      this.#waiters.add(waiter);
    });
    if (retry && !slot.refreshing) void this.#start();
    return promise;
  }

  /** Stops the timer and the watches; pending waits reject. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) this.#schedule.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const unwatch of this.#unwatch.splice(0)) {
      try {
        unwatch();
      } catch {
        // ignore: closing must finish
      }
    }
    this.#settle(new ConfigurationError(`the resolver closed before secret ${this.#slot.name} resolved`, 'CLOSED'));
  }

  #onWatch(): void {
    if (this.#closed) return;
    if (this.#run) {
      this.#again = true;
      return;
    }
    void this.#start();
  }

  /** Runs one refresh (or joins the one running), then schedules the next. Never rejects. */
  #start(): Promise<RefreshResult> {
    if (this.#run) return this.#run;
    if (this.#timer !== undefined) {
      this.#schedule.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const run = this.#slot.refresh().then((result) => {
      this.#run = undefined;
      this.#after(result);
      return result;
    });
    this.#run = run;
    this.#runSeq++;
    this.#runJoinable = true;
    queueMicrotask(() => {
      this.#runJoinable = false;
    });
    return run;
  }

  #after(result: RefreshResult): void {
    if (this.#closed) return;
    const { clock, refreshMs, jitter } = this.#schedule;
    if (result.kind === 'ok') {
      this.#settle();
    } else if (result.kind !== 'unavailable' && !this.#slot.servable && !this.#again) {
      // A definitive failure ends the wait, unless a change arrived meanwhile: the next walk decides.
      this.#settle(result.error);
    }
    if (this.#again) {
      this.#again = false;
      void this.#start();
      return;
    }
    const delay = nextWalkInMs(result.kind, this.#slot.failures, { periodMs: refreshMs, jitter });
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      void this.#start();
    }, delay);
    unrefTimer(this.#timer);
  }

  #settle(error?: KeyflipError): void {
    for (const waiter of this.#waiters) {
      this.#schedule.clock.clearTimeout(waiter.timer);
      if (error) waiter.reject(error);
      else waiter.resolve();
    }
    this.#waiters.clear();
  }
}
