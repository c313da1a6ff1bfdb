import { walkChain, type Candidate } from './chain.js';
import {
  IntegrityError,
  isKeyflipError,
  type KeyflipError,
  ParseError,
  SecretNotFoundError,
  SecretRevokedError,
  type SkippedCandidate,
  SourceUnavailableError,
} from './errors.js';
import type { EventName, SecretEvents } from './events.js';
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
  /** Emits on the resolver (and on the secret's handle, for a declared secret). Never throws. */
  emit<E extends EventName>(event: E, payload: SecretEvents[E][0]): void;
  /** A value is now held (for `redact`). */
  remember(): void;
}

/** How one refresh ended. */
export type RefreshResult =
  | { readonly kind: 'ok'; readonly info: SecretInfo }
  | { readonly kind: 'absent' | 'unavailable' | 'parse'; readonly error: KeyflipError };

/** Where a slot stands. `failed` is a first resolution that found nothing. */
export type SlotStatus = 'pending' | 'ok' | 'stale' | 'revoked' | 'failed';

export interface SlotOptions<T> {
  parse: ((raw: string) => T) | undefined;
  trim: boolean;
  onRevoked: 'fail' | 'keep';
}

/**
 * One secret's state and the chain rule applied to it: the engine shared by declared secrets (which
 * the handle schedules) and family members (refreshed on access). Holds the value; never shows it.
 */
export class Slot<T> {
  /** The parsed value served; meaningful only while `servable`. */
  value: T = undefined as T;
  /** Whether `value` may be served. The hot path reads only this and `value`. */
  servable = false;
  /** Reads of the value since the counter was last taken (by the beacon). */
  uses = 0;
  status: SlotStatus = 'pending';
  info: SecretInfo | undefined;
  lastError: KeyflipError | undefined;
  /** Consecutive unavailable outcomes. */
  failures = 0;
  /** The raw (trimmed) value held now, and the one before it, for `redact`. */
  raw: string | undefined;
  previousRaw: string | undefined;
  #inflight: Promise<RefreshResult> | undefined;
  /** The skips and winner of the last walk that found or found nothing, to report changes only. */
  #lastWalk: string | undefined;

  constructor(
    readonly name: string,
    readonly candidates: readonly BoundCandidate[],
    readonly options: SlotOptions<T>,
    private readonly ctx: SlotContext,
  ) {}

  /** Walks the chain once and applies the outcome. Concurrent calls share one walk. Never rejects. */
  refresh(): Promise<RefreshResult> {
    this.#inflight ??= this.#walk().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  get refreshing(): boolean {
    return this.#inflight !== undefined;
  }

  /** Stops serving a value whose sources have failed for longer than `maxStaleMs`. */
  expire(maxStaleMs: number): void {
    if (this.status !== 'stale' || !this.servable) return;
    this.servable = false;
    this.#maxStaleMs = maxStaleMs;
    const error = this.#expired(this.lastError);
    this.lastError = error;
    this.ctx.emit('error', { secret: this.name, error, servingStale: false });
  }

  #maxStaleMs: number | undefined;

  #expired(cause: unknown): SourceUnavailableError {
    return new SourceUnavailableError(
      `secret ${this.name}: sources have failed for longer than maxStaleMs (${this.#maxStaleMs}ms); the last good value is no longer served`,
      { secret: this.name, cause },
    );
  }

  async #walk(): Promise<RefreshResult> {
    try {
      const walk = () =>
        walkChain(this.candidates, (c) => this.ctx.fetch(c), { fallbackOnUnavailable: this.ctx.fallbackOnUnavailable });
      let outcome = await walk();
      // Before a held value is revoked, a second walk confirms that nothing is there. One walk reads its
      // candidates one after the other, so a rotation between two reads can tear it: NAME_v3 read before
      // its version was added, NAME_v2 after it was disabled — every candidate absent, with a key live
      // throughout. The second walk starts after the first ended and reads the rotation's outcome.
      if (outcome.kind === 'absent' && this.info !== undefined && this.status !== 'revoked') outcome = await walk();
      if (outcome.kind === 'found') {
        const raw = this.options.trim ? outcome.raw.trim() : outcome.raw;
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
    const sameValue = this.raw === raw && this.info !== undefined;
    let parsed = this.value;
    if (!sameValue) {
      try {
        parsed = this.options.parse ? this.options.parse(raw) : (raw as T);
      } catch (thrown) {
        const parserError = thrown instanceof Error ? thrown.name : typeof thrown;
        const error = new ParseError(this.name, parserError);
        this.lastError = error;
        if (this.status === 'pending') this.status = 'failed';
        this.ctx.emit('error', { secret: this.name, error, servingStale: this.servable });
        return { kind: 'parse', error };
      }
    }
    const now = this.ctx.now();
    const previous = this.info;
    const info: SecretInfo = {
      name: this.name,
      candidate: candidate.text,
      source: candidate.sourceImpl.name,
      ...(version === undefined ? {} : { version }),
      fingerprint: sameValue && previous ? previous.fingerprint : this.ctx.fingerprint(raw),
      loadedAt: sameValue && previous ? previous.loadedAt : now,
      refreshedAt: now,
      status: 'ok',
    };
    if (!sameValue) {
      this.previousRaw = this.raw;
      this.raw = raw;
      this.value = parsed;
      this.ctx.remember();
    }
    this.info = info;
    this.#maxStaleMs = undefined;
    this.servable = true;
    this.status = 'ok';
    this.failures = 0;
    this.lastError = undefined;
    this.ctx.emit('resolve', { secret: this.name, info });
    // A fallback is news when it starts or changes, not on every refresh that stays on it.
    const walk = describeWalk(skipped, candidate.text);
    if (skipped.length > 0 && walk !== this.#lastWalk)
      this.ctx.emit('fallback', { secret: this.name, skipped, current: info });
    this.#lastWalk = walk;
    if (previous && (previous.candidate !== info.candidate || previous.fingerprint !== info.fingerprint)) {
      this.ctx.emit('rotate', { secret: this.name, previous, current: info });
    }
    return { kind: 'ok', info };
  }

  #absent(skipped: readonly SkippedCandidate[]): RefreshResult {
    this.failures = 0;
    const previous = this.info;
    if (previous === undefined) {
      const error = new SecretNotFoundError(this.name, skipped);
      this.lastError = error;
      this.status = 'failed';
      const walk = describeWalk(skipped, undefined);
      if (walk !== this.#lastWalk) this.ctx.emit('error', { secret: this.name, error, servingStale: false });
      this.#lastWalk = walk;
      return { kind: 'absent', error };
    }
    this.#lastWalk = undefined;
    if (this.status === 'revoked' && this.lastError) return { kind: 'absent', error: this.lastError };
    const error = new SecretRevokedError(this.name, skipped);
    this.lastError = error;
    this.status = 'revoked';
    this.info = { ...previous, status: 'revoked' };
    if (this.options.onRevoked === 'fail') this.servable = false;
    this.ctx.emit('revoke', { secret: this.name, previous, skipped });
    return { kind: 'absent', error };
  }

  #unavailable(candidate: BoundCandidate | undefined, cause: unknown): RefreshResult {
    this.failures++;
    const error =
      cause instanceof IntegrityError || (isKeyflipError(cause) && cause.code === 'INTEGRITY')
        ? (cause as KeyflipError)
        : new SourceUnavailableError(
            candidate
              ? `secret ${this.name}: source ${candidate.sourceImpl.name} could not answer for candidate ${candidate.text}${describeCause(cause)}`
              : `secret ${this.name}: refresh failed${describeCause(cause)}`,
            { secret: this.name, cause, candidate: candidate?.text, source: candidate?.sourceImpl.name },
          );
    // Once the last good value has expired, `value` keeps saying why it is not served.
    this.lastError = this.status === 'stale' && !this.servable ? this.#expired(error) : error;
    if (this.info && this.status === 'ok') {
      this.status = 'stale';
      this.info = { ...this.info, status: 'stale' };
    }
    this.ctx.emit('error', { secret: this.name, error, servingStale: this.servable });
    return { kind: 'unavailable', error };
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
