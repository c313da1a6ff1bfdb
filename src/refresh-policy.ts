/**
 * The chain rule's refresh policy: every rule about *when* and *how often* a secret's chain is walked and how
 * long what it found is served. `chain.ts` parses a chain and walks it once (found / absent / unavailable per
 * candidate); this module decides everything around that walk, for declared secrets and family members alike:
 *
 * - **revocation confirmation**: a walk that finds every candidate absent while a value is held is walked
 *   again before the value is revoked ({@link walkForRefresh});
 * - **backoff**: after an unavailable outcome the next walk waits a jittered exponential backoff, capped at
 *   the refresh period ({@link backoffMs}, {@link nextWalkInMs});
 * - **staleness**: a last good value is served while its sources fail, for at most `maxStaleMs` after the
 *   last successful refresh ({@link staleUntil}, {@link isPastStaleLimit}, {@link staleLimitError}). The slot
 *   keeps that deadline and every read checks it, so a handle and a family member stop serving at the same
 *   moment, with no timer per secret.
 */
import { type Candidate, type WalkOutcome, walkChain } from './chain.js';
import { MAX_TIMER_MS } from './check.js';
import { jitterFactor } from './clock.js';
import { SourceUnavailableError } from './errors.js';
import type { SourceResult } from './types.js';

/**
 * How one refresh of a secret ended (see `RefreshResult` in slot.ts). `permanent` is a source failing with an
 * error whose `permanent` is true: retried on the period, never on the backoff schedule.
 */
export type RefreshKind = 'ok' | 'absent' | 'unavailable' | 'permanent' | 'parse';

/** What {@link walkForRefresh} needs besides the chain. */
export interface RefreshWalkOptions {
  /** Let the walk go on past an unavailable candidate (`ResolverOptions.fallbackOnUnavailable`). */
  readonly fallbackOnUnavailable: boolean;
  /** True when an all-absent walk would revoke a value (one is held and not already revoked). */
  holdsValue(): boolean;
}

/**
 * One refresh's walk of a chain. A walk that finds every candidate absent while a value is held is walked a
 * second time before that outcome is returned: one walk reads its candidates one after the other, so a
 * rotation between two reads can tear it (NAME_v3 read before its version was added, NAME_v2 after it was
 * disabled: every candidate absent, with a key live throughout). The second walk starts after the first
 * ended and reads the rotation's outcome. An already revoked secret is walked once.
 */
export async function walkForRefresh<C extends Candidate>(
  candidates: readonly C[],
  fetchCandidate: (candidate: C) => Promise<SourceResult>,
  options: RefreshWalkOptions,
): Promise<WalkOutcome<C>> {
  const outcome = await walkChain(candidates, fetchCandidate, options);
  if (outcome.kind !== 'absent' || !options.holdsValue()) return outcome;
  return walkChain(candidates, fetchCandidate, options);
}

/** The first retry after a failure waits this long (or the cap, if shorter), in milliseconds. */
export const FIRST_RETRY_MS = 1_000;

/**
 * The wait before the next walk after `failures` consecutive unavailable outcomes, in milliseconds:
 * {@link FIRST_RETRY_MS}, doubling per failure up to `capMs`, scaled by a random factor in
 * [1 - jitter, 1 + jitter]. Never a tight loop, never longer than the refresh period (times the jitter).
 */
export function backoffMs(failures: number, capMs: number, jitter: number): number {
  const first = Math.min(FIRST_RETRY_MS, capMs);
  const base = Math.min(capMs, first * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return base * jitterFactor(jitter);
}

/** When a secret is walked again, as its owner schedules it. */
export interface WalkSchedule {
  /** The wait after a walk that was not unavailable, in milliseconds (`refreshMs`, or a family's `ttlMs`). */
  readonly periodMs: number;
  /** The longest backoff after unavailable outcomes, in milliseconds. @default periodMs */
  readonly backoffCapMs?: number | undefined;
  /** The jitter (0..1) of backoffs and, unless `jitterPeriod` is false, of the period. */
  readonly jitter: number;
  /** Scale the period by the jitter too (a fleet must not poll in step). @default true */
  readonly jitterPeriod?: boolean | undefined;
}

/**
 * The wait before the next walk after one that ended in `kind`, in milliseconds: a backoff after an
 * unavailable outcome (`failures` counts them), the period after anything else (found, absent, a parse
 * failure: the sources answered, so polling them faster would not help).
 */
export function nextWalkInMs(kind: RefreshKind, failures: number, schedule: WalkSchedule): number {
  const wait =
    kind === 'unavailable'
      ? backoffMs(failures, schedule.backoffCapMs ?? schedule.periodMs, schedule.jitter)
      : schedule.jitterPeriod === false
        ? schedule.periodMs
        : schedule.periodMs * jitterFactor(schedule.jitter);
  // A period near the longest timer, scaled up by the jitter, must not overflow it (Node would fire at once).
  return Math.min(wait, MAX_TIMER_MS);
}

/**
 * When a value served stale stops being served (ms since the epoch): `maxStaleMs` after the refresh that last
 * confirmed it. `Infinity` when `maxStaleMs` is (the default): a last good value is then served for as long
 * as the sources fail.
 */
export function staleUntil(refreshedAt: number, maxStaleMs: number): number {
  return Number.isFinite(maxStaleMs) ? refreshedAt + maxStaleMs : Number.POSITIVE_INFINITY;
}

/** True when a value served stale must no longer be served: its `maxStaleMs` have passed (the limit included). */
export function isPastStaleLimit(now: number, until: number): boolean {
  return now >= until;
}

/** Why a value served stale is no longer served; `cause` is the failure that made it stale. */
export function staleLimitError(secret: string, maxStaleMs: number, cause: unknown): SourceUnavailableError {
  return new SourceUnavailableError(
    `secret ${secret}: sources have failed for longer than maxStaleMs (${maxStaleMs}ms); ` +
      'the last good value is no longer served',
    { secret, cause },
  );
}
