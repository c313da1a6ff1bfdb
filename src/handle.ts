import { EventEmitter } from 'eventemitter3';
import { jitterFactor, unrefTimer } from './clock.js';
import { ConfigurationError, type KeyflipError, NotReadyError, SourceUnavailableError } from './errors.js';
import type { SecretEvents } from './events.js';
import { inspectSymbol, redactedLabel } from './redacted.js';
import type { RefreshResult, Slot } from './slot.js';
import type { Clock, SecretInfo, Source, TimerHandle } from './types.js';

/** @internal What a handle needs from its resolver to schedule itself. */
export interface Schedule {
  readonly clock: Clock;
  readonly refreshMs: number;
  readonly jitter: number;
  readonly maxStaleMs: number;
  readonly startupTimeoutMs: number;
}

interface Waiter {
  resolve(): void;
  reject(error: KeyflipError): void;
  timer: TimerHandle;
}

/** The first retry after a failure waits this long (or `refreshMs`, if shorter), then doubles up to `refreshMs`. */
const FIRST_RETRY_MS = 1_000;

/** Backoff after `failures` consecutive failures: jittered, exponential, capped at the refresh period. */
export function backoffMs(failures: number, refreshMs: number, jitter: number): number {
  const first = Math.min(FIRST_RETRY_MS, refreshMs);
  const base = Math.min(refreshMs, first * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return base * jitterFactor(jitter);
}

/**
 * A declared secret. Read `value` synchronously once resolved; it is kept fresh in the background.
 * `toString`, `toJSON` and `util.inspect` show `[keyflip secret NAME kf_…]`, never the value.
 */
export class SecretHandle<T = string> extends EventEmitter<SecretEvents> {
  readonly #slot: Slot<T>;
  readonly #schedule: Schedule;
  readonly #unwatch: (() => void)[] = [];
  readonly #waiters = new Set<Waiter>();
  #timer: TimerHandle | undefined;
  #staleTimer: TimerHandle | undefined;
  #run: Promise<RefreshResult> | undefined;
  /** Counts the walks started; `#run` is walk number `#runSeq`. */
  #runSeq = 0;
  /** True only in the tick `#run` started in: a `refresh()` called then may share it. */
  #runJoinable = false;
  #again = false;
  #closed = false;

  /** @internal Created by `resolver.secret()`. */
  constructor(slot: Slot<T>, schedule: Schedule) {
    super();
    this.#slot = slot;
    this.#schedule = schedule;
  }

  /** The logical name. */
  get name(): string {
    return this.#slot.name;
  }

  /**
   * The current value, synchronously. Counts one use (for the beacon).
   * @throws NotReadyError before the first resolution; SecretRevokedError after a revocation; the last
   * error when the value cannot be served.
   */
  get value(): T {
    const slot = this.#slot;
    if (slot.servable) {
      slot.uses++;
      return slot.value;
    }
    throw this.#notServable();
  }

  /** Waits for the first resolution, then returns the current value. Counts one use. */
  get(): Promise<T> {
    const slot = this.#slot;
    if (slot.servable) {
      slot.uses++;
      return Promise.resolve(slot.value);
    }
    return this.#getSlow();
  }

  /** The provenance of the value served (no value), or `undefined` before the first resolution. */
  get info(): SecretInfo | undefined {
    return this.#slot.info;
  }

  /**
   * Refreshes now: the answer comes from a walk of the chain that starts after this call. A walk already
   * under way (it may have read a candidate before the change you just learned of, such as a 401) is
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

  /** @internal Uses counted since the last call. */
  takeUses(): number {
    const uses = this.#slot.uses;
    this.#slot.uses = 0;
    return uses;
  }

  /** @internal The slot, for the resolver (redaction, snapshots). */
  get slot(): Slot<T> {
    return this.#slot;
  }

  /** @internal Starts the first resolution and subscribes to watches. */
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
   * @internal Resolves when the secret is servable. `retry` starts a new attempt when the last one
   * ended in a definitive failure (as `ready()` does); otherwise that failure is returned at once.
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
          const last = this.#slot.lastError;
          reject(
            new SourceUnavailableError(
              `secret ${this.name} was not resolved within startupTimeoutMs (${startupTimeoutMs}ms)${last ? `: ${last.message}` : ''}`,
              { secret: this.name, cause: last },
            ),
          );
        }, startupTimeoutMs),
      };
      this.#waiters.add(waiter);
    });
    if (retry && !slot.refreshing) void this.#start();
    return promise;
  }

  /** @internal Stops timers and watches; pending waits reject. */
  close(): void {
    this.#closed = true;
    this.#clearTimers();
    for (const unwatch of this.#unwatch.splice(0)) {
      try {
        unwatch();
      } catch {
        // ignore: closing must finish
      }
    }
    this.#settle(new ConfigurationError(`the resolver closed before secret ${this.name} resolved`, 'CLOSED'));
  }

  override toString(): string {
    return redactedLabel('secret', this.#slot.name, this.#slot.info?.fingerprint);
  }

  toJSON(): string {
    return this.toString();
  }

  [inspectSymbol](): string {
    return this.toString();
  }

  #getSlow(): Promise<T> {
    return this.whenReady(false).then(() => {
      const slot = this.#slot;
      if (!slot.servable) throw this.#notServable();
      slot.uses++;
      return slot.value;
    });
  }

  #notServable(): KeyflipError {
    return this.#slot.lastError ?? new NotReadyError(this.#slot.name);
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
    const { clock, refreshMs, jitter, maxStaleMs } = this.#schedule;
    if (result.kind === 'ok') {
      if (this.#staleTimer !== undefined) {
        clock.clearTimeout(this.#staleTimer);
        this.#staleTimer = undefined;
      }
      this.#settle();
    } else if (result.kind !== 'unavailable' && !this.#slot.servable && !this.#again) {
      // A definitive failure ends the wait, unless a change arrived meanwhile: the next walk decides.
      this.#settle(result.error);
    } else if (
      result.kind === 'unavailable' &&
      this.#slot.servable &&
      this.#staleTimer === undefined &&
      Number.isFinite(maxStaleMs)
    ) {
      const since = this.#slot.info?.refreshedAt ?? clock.now();
      this.#staleTimer = clock.setTimeout(
        () => {
          this.#staleTimer = undefined;
          this.#slot.expire(maxStaleMs);
        },
        Math.max(0, since + maxStaleMs - clock.now()),
      );
      unrefTimer(this.#staleTimer);
    }
    if (this.#again) {
      this.#again = false;
      void this.#start();
      return;
    }
    const delay =
      result.kind === 'unavailable'
        ? backoffMs(this.#slot.failures, refreshMs, jitter)
        : refreshMs * jitterFactor(jitter);
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

  #clearTimers(): void {
    const { clock } = this.#schedule;
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer);
    if (this.#staleTimer !== undefined) clock.clearTimeout(this.#staleTimer);
    this.#timer = undefined;
    this.#staleTimer = undefined;
  }
}
