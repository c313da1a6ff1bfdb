import type { Candidate } from './chain.js';
import {
  IntegrityError,
  isKeyflipError,
  type KeyflipError,
  NotReadyError,
  ParseError,
  SecretNotFoundError,
  SecretRevokedError,
  type SkippedCandidate,
  SourceUnavailableError,
} from './errors.js';
import type { EventName, SecretEvents } from './events.js';
import type { ValueHolder } from './redaction.js';
import { isPastStaleLimit, type RefreshKind, staleLimitError, staleUntil, walkForRefresh } from './refresh-policy.js';
import type { SecretInfo, Source, SourceResult } from './types.js';

/** A candidate bound to the source that will fetch it. */
export interface BoundCandidate extends Candidate {
  readonly sourceImpl: Source;
}

/** What a slot needs from its resolver. */
export interface SlotContext {
  now(): number;
  fetch(candidate: BoundCandidate): Promise<SourceResult>;
  fingerprint(raw: string): string;
  readonly fallbackOnUnavailable: boolean;
  /** How long a last good value is served while its sources fail, in ms after the last success (or Infinity). */
  readonly maxStaleMs: number;
  /** Emits on the resolver (and on the secret's handle, for a declared secret). Never throws. */
  emit<E extends EventName>(event: E, payload: SecretEvents[E][0]): void;
  /** A value is now held (for `redact`): the slot's `heldValues()` changed. */
  remember(slot: ValueHolder): void;
}

/** How one refresh ended. */
export type RefreshResult =
  | { readonly kind: 'ok'; readonly info: SecretInfo }
  | { readonly kind: Exclude<RefreshKind, 'ok'>; readonly error: KeyflipError };

/** Where a slot stands. `failed` is a first resolution that found nothing. */
export type SlotStatus = 'pending' | 'ok' | 'stale' | 'revoked' | 'failed';

/** A secret's options, checked. */
export interface SlotOptions<T> {
  readonly parse: ((raw: string) => T) | undefined;
  readonly trim: boolean;
  readonly onRevoked: 'fail' | 'keep';
}

/**
 * One secret's state, and the outcome of each refresh applied to it: the engine shared by declared secrets
 * (which a `RefreshLoop` schedules) and family members (refreshed on access). It holds the value and the
 * use counter behind private fields; what may leave it is the provenance (`info`), the value through
 * {@link read} (which counts one use), and the held raw values for `redact` ({@link heldValues}).
 */
export class Slot<T> {
  readonly name: string;
  readonly candidates: readonly BoundCandidate[];
  readonly #options: SlotOptions<T>;
  readonly #ctx: SlotContext;
  /** The parsed value served; meaningful only while `#servable`. */
  #value: T = undefined as T;
  /** A value may be served, until `#staleUntil`. */
  #servable = false;
  /** When the value served stale stops being served (ms since the epoch); Infinity while not stale. */
  #staleUntil = Number.POSITIVE_INFINITY;
  /** `#servable` with no stale limit to check: the hot path reads only this, `#uses` and `#value`. */
  #fast = false;
  /** Reads of the value since the counter was last taken (by the usage reporter). */
  #uses = 0;
  #status: SlotStatus = 'pending';
  #info: SecretInfo | undefined;
  #lastError: KeyflipError | undefined;
  /** Consecutive unavailable outcomes. */
  #failures = 0;
  /** The raw (trimmed) value held now, and the one before it, for `redact`. */
  #raw: string | undefined;
  #previousRaw: string | undefined;
  #inflight: Promise<RefreshResult> | undefined;
  /** The skips and winner of the last walk that found or found nothing, to report changes only. */
  #lastWalk: string | undefined;

  constructor(name: string, candidates: readonly BoundCandidate[], options: SlotOptions<T>, ctx: SlotContext) {
    this.name = name;
    this.candidates = candidates;
    this.#options = options;
    this.#ctx = ctx;
  }

  /**
   * The value, counting one use.
   * @throws the reason it cannot be served: NotReadyError, SecretRevokedError, the last error
   */
  read(): T {
    if (this.#fast || this.servable) {
      this.#uses++;
      return this.#value;
    }
    throw this.notServableError();
  }

  /** Whether the value may be served now. A value served stale past its `maxStaleMs` stops being served here. */
  get servable(): boolean {
    if (this.#fast) return true;
    if (this.#servable && isPastStaleLimit(this.#ctx.now(), this.#staleUntil)) this.#expire();
    return this.#servable;
  }

  /** Why the value cannot be served: the last error, or NotReadyError before the first resolution. */
  notServableError(): KeyflipError {
    return this.#lastError ?? new NotReadyError(this.name);
  }

  /** The uses counted since the last call; resets the counter. */
  takeUses(): number {
    const uses = this.#uses;
    this.#uses = 0;
    return uses;
  }

  /** The raw values held now and before (for `redact`): at most two. */
  heldValues(): string[] {
    const held: string[] = [];
    if (this.#raw !== undefined) held.push(this.#raw);
    if (this.#previousRaw !== undefined) held.push(this.#previousRaw);
    return held;
  }

  get status(): SlotStatus {
    return this.#status;
  }

  /** The provenance of the value held (never the value), or `undefined` before the first resolution. */
  get info(): SecretInfo | undefined {
    return this.#info;
  }

  get lastError(): KeyflipError | undefined {
    return this.#lastError;
  }

  /** Consecutive unavailable outcomes (for the backoff). */
  get failures(): number {
    return this.#failures;
  }

  get refreshing(): boolean {
    return this.#inflight !== undefined;
  }

  /** Walks the chain once and applies the outcome. Concurrent calls share one walk. Never rejects. */
  refresh(): Promise<RefreshResult> {
    this.#inflight ??= this.#walk().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  #serve(servable: boolean, until = Number.POSITIVE_INFINITY): void {
    this.#servable = servable;
    this.#staleUntil = until;
    this.#fast = servable && until === Number.POSITIVE_INFINITY;
  }

  /** Stops serving a value whose sources have failed for longer than `maxStaleMs`. */
  #expire(): void {
    this.#serve(false);
    const error = staleLimitError(this.name, this.#ctx.maxStaleMs, this.#lastError);
    this.#lastError = error;
    this.#ctx.emit('error', { secret: this.name, error, servingStale: false });
  }

  async #walk(): Promise<RefreshResult> {
    try {
      const outcome = await walkForRefresh(this.candidates, (c) => this.#ctx.fetch(c), {
        fallbackOnUnavailable: this.#ctx.fallbackOnUnavailable,
        holdsValue: () => this.#info !== undefined && this.#status !== 'revoked',
      });
      if (outcome.kind === 'found') {
        const raw = this.#options.trim ? outcome.raw.trim() : outcome.raw;
        return this.#found(raw, outcome.candidate, outcome.version, outcome.skipped);
      }
      if (outcome.kind === 'absent') return this.#absent(outcome.skipped);
      return this.#unavailable(outcome.candidate, outcome.error);
    } catch (error) {
      // Only a bug in keyflip gets here; it must not become an unhandled rejection.
      return this.#unavailable(undefined, error);
    }
  }

  #found(
    raw: string,
    candidate: BoundCandidate,
    version: string | undefined,
    skipped: readonly SkippedCandidate[],
  ): RefreshResult {
    const sameValue = this.#raw === raw && this.#info !== undefined;
    let parsed = this.#value;
    if (!sameValue) {
      try {
        parsed = this.#options.parse ? this.#options.parse(raw) : (raw as T);
      } catch (thrown) {
        const parserError = thrown instanceof Error ? thrown.name : typeof thrown;
        const error = new ParseError(this.name, parserError);
        this.#lastError = error;
        if (this.#status === 'pending') this.#status = 'failed';
        this.#ctx.emit('error', { secret: this.name, error, servingStale: this.servable });
        return { kind: 'parse', error };
      }
    }
    const now = this.#ctx.now();
    const previous = this.#info;
    const info: SecretInfo = {
      name: this.name,
      candidate: candidate.text,
      source: candidate.sourceImpl.name,
      ...(version === undefined ? {} : { version }),
      fingerprint: sameValue && previous ? previous.fingerprint : this.#ctx.fingerprint(raw),
      loadedAt: sameValue && previous ? previous.loadedAt : now,
      refreshedAt: now,
      status: 'ok',
    };
    if (!sameValue) {
      this.#previousRaw = this.#raw;
      this.#raw = raw;
      this.#value = parsed;
      this.#ctx.remember(this);
    }
    this.#info = info;
    this.#serve(true);
    this.#status = 'ok';
    this.#failures = 0;
    this.#lastError = undefined;
    this.#ctx.emit('resolve', { secret: this.name, info });
    // A fallback is news when it starts or changes, not on every refresh that stays on it.
    const walk = describeWalk(skipped, candidate.text);
    if (skipped.length > 0 && walk !== this.#lastWalk)
      this.#ctx.emit('fallback', { secret: this.name, skipped, current: info });
    this.#lastWalk = walk;
    if (previous && (previous.candidate !== info.candidate || previous.fingerprint !== info.fingerprint)) {
      this.#ctx.emit('rotate', { secret: this.name, previous, current: info });
    }
    return { kind: 'ok', info };
  }

  #absent(skipped: readonly SkippedCandidate[]): RefreshResult {
    this.#failures = 0;
    const previous = this.#info;
    if (previous === undefined) {
      const error = new SecretNotFoundError(this.name, skipped);
      this.#lastError = error;
      this.#status = 'failed';
      const walk = describeWalk(skipped, undefined);
      if (walk !== this.#lastWalk) this.#ctx.emit('error', { secret: this.name, error, servingStale: false });
      this.#lastWalk = walk;
      return { kind: 'absent', error };
    }
    this.#lastWalk = undefined;
    if (this.#status === 'revoked' && this.#lastError) return { kind: 'absent', error: this.#lastError };
    const error = new SecretRevokedError(this.name, skipped);
    this.#lastError = error;
    this.#status = 'revoked';
    this.#info = { ...previous, status: 'revoked' };
    // `keep` goes on serving the last value with no stale limit; `fail` stops serving it.
    this.#serve(this.#options.onRevoked === 'keep' && this.servable);
    this.#ctx.emit('revoke', { secret: this.name, previous, skipped });
    return { kind: 'absent', error };
  }

  #unavailable(candidate: BoundCandidate | undefined, cause: unknown): RefreshResult {
    if (isKeyflipError(cause) && cause.permanent) return this.#permanent(cause);
    this.#failures++;
    const error =
      cause instanceof IntegrityError || (isKeyflipError(cause) && cause.code === 'INTEGRITY')
        ? (cause as KeyflipError)
        : new SourceUnavailableError(
            candidate
              ? `secret ${this.name}: source ${candidate.sourceImpl.name} could not answer for candidate ` +
                  `${candidate.text}${describeCause(cause)}`
              : `secret ${this.name}: refresh failed${describeCause(cause)}`,
            { secret: this.name, cause, candidate: candidate?.text, source: candidate?.sourceImpl.name },
          );
    // A value already served stale past its limit stops being served before this failure is reported.
    const servable = this.servable;
    // Once the last good value has expired, `value` keeps saying why it is not served.
    this.#lastError =
      this.#status === 'stale' && !servable ? staleLimitError(this.name, this.#ctx.maxStaleMs, error) : error;
    if (this.#info && this.#status === 'ok') {
      this.#status = 'stale';
      this.#info = { ...this.#info, status: 'stale' };
      this.#serve(true, staleUntil(this.#info.refreshedAt, this.#ctx.maxStaleMs));
    }
    this.#ctx.emit('error', { secret: this.name, error, servingStale: this.servable });
    return { kind: 'unavailable', error };
  }

  /**
   * A source failed with an error that retrying cannot fix (a missing package, credentials, a wrong project):
   * that error itself is the secret's error, a first resolution fails at once, and the `error` event is
   * emitted when it starts or changes, not on every retry. A last good value is served stale as for any
   * failure.
   */
  #permanent(error: KeyflipError): RefreshResult {
    const previous = this.#lastError;
    const repeated = previous?.permanent === true && previous.code === error.code && previous.message === error.message;
    const servable = this.servable;
    this.#lastError =
      this.#status === 'stale' && !servable ? staleLimitError(this.name, this.#ctx.maxStaleMs, error) : error;
    if (this.#info && this.#status === 'ok') {
      this.#status = 'stale';
      this.#info = { ...this.#info, status: 'stale' };
      this.#serve(true, staleUntil(this.#info.refreshedAt, this.#ctx.maxStaleMs));
    }
    if (this.#status === 'pending') this.#status = 'failed';
    if (!repeated) this.#ctx.emit('error', { secret: this.name, error, servingStale: this.servable });
    return { kind: 'permanent', error };
  }
}

function describeCause(cause: unknown): string {
  if (isKeyflipError(cause)) return `: ${cause.message}`;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    const text = cause.message.length > 200 ? `${cause.message.slice(0, 200)}…` : cause.message;
    return `: ${cause.name}${code === undefined ? '' : ` ${String(code)}`}: ${text}`;
  }
  return '';
}

function describeWalk(skipped: readonly SkippedCandidate[], winner: string | undefined): string {
  return `${skipped.map((s) => `${s.candidate}:${s.reason}`).join(',')}=>${winner ?? ''}`;
}
