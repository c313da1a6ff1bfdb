import type { AbsentReason } from './errors.js';

/** A candidate reference as a source sees it: the name and, when written `name@v`, the version. */
export interface SourceRef {
  /** The name in the source (`OPENAI_API_KEY_v2`, `openai-key`, a file name). */
  readonly name: string;
  /** The version or alias written after `@`, if any. */
  readonly version?: string | undefined;
}

/** What a source gets with each fetch. */
export interface FetchContext {
  /** Aborted when the fetch outlives its budget (`fetchTimeoutMs`) or the resolver closes. */
  readonly signal: AbortSignal;
  /** The fetch's budget in milliseconds (the resolver's `fetchTimeoutMs`), for sources with deadlines of their own. */
  readonly timeoutMs?: number | undefined;
}

/** The source holds a value for this candidate: the chain stops here. */
export interface FoundResult {
  /** The source holds a value. */
  readonly status: 'found';
  /** The value (bytes are decoded as UTF-8). */
  readonly value: string | Uint8Array;
  /** The provider's version of the value (`3`, a file mount's `..data` target), when it has one. */
  readonly version?: string | undefined;
}

/**
 * The source answered definitively that it holds nothing usable here: the chain goes on. Only the reasons of
 * `ABSENT_REASONS` count; any other `reason` breaks the contract and the fetch counts as unavailable.
 */
export interface AbsentResult {
  /** The source holds nothing usable for this candidate. */
  readonly status: 'absent';
  /** Why: one of `ABSENT_REASONS` (`not-found`, `disabled`, `destroyed`, `permission-denied`, …). */
  readonly reason: AbsentReason;
  /**
   * What to do about it, for people (at most 300 characters, never a value): the gcp source says which role the
   * app lacks on which secret for `permission-denied`. Shown in `SecretNotFoundError`/`SecretRevokedError` messages
   * and the `fallback` event's skips.
   */
  readonly detail?: string | undefined;
}

/** A source's answer. Being *unavailable* is not an answer: the source throws (or rejects) instead. */
export type SourceResult = FoundResult | AbsentResult;

/**
 * The contract every source implements: one required method. Caching, refresh, the chain rule and
 * events belong to the resolver; a source only does I/O.
 */
export interface Source {
  /** Unique among a resolver's sources; the prefix of candidates (`env:NAME`). */
  readonly name: string;
  /**
   * Fetch one candidate. Return `found` or `absent`; throw when the source cannot answer (the
   * chain rule then stops the walk and serves the last good value). Honour `ctx.signal`. The result is read
   * once; one the resolver cannot read (not an object, a getter that throws) counts as unavailable. Throw an
   * error whose `permanent` is true (a `ConfigurationError`, a `DependencyError`) when retrying cannot help:
   * `ready()` then fails at once and the source is tried again only every refresh period.
   */
  fetch(ref: SourceRef, ctx: FetchContext): Promise<SourceResult>;
  /**
   * Optional: why `ref` cannot be held by this source (bad characters, versions not supported), or
   * `undefined` when it can. Called at declaration time so a bad chain fails at once.
   */
  validate?(ref: SourceRef): string | undefined;
  /** Optional push: call `onChange` when the candidate may have changed. Returns the unsubscribe. */
  watch?(ref: SourceRef, onChange: () => void): () => void;
  /** Optional: release connections, watchers and timers. Called by `resolver.close()`. */
  close?(): Promise<void>;
}

/** A timer handle as `setTimeout` returns it; `unref` is called when present. */
export type TimerHandle =
  | {
      /** Lets the process exit while the timer is pending (Node's timers). */
      unref?(): unknown;
    }
  | number
  | undefined
  | object;

/** The clock the resolver schedules with. Inject one in tests (see `manualClock` in `keyflip/testing`). */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `callback` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer `setTimeout` returned. */
  clearTimeout(handle: TimerHandle): void;
}

/** How a secret stands. */
export type SecretStatus = 'ok' | 'stale' | 'revoked';

/** The provenance of a resolved secret. Never holds the value. */
export interface SecretInfo {
  /** The logical name (`OPENAI_API_KEY`; `family[id]` for a family member). */
  readonly name: string;
  /** The winning candidate as written (`OPENAI_API_KEY_v2`, `gcp:openai@current`). */
  readonly candidate: string;
  /** The name of the source that held it. */
  readonly source: string;
  /** The provider's version, when the source reports one. */
  readonly version?: string | undefined;
  /** `kf_` + 12 hex chars: the keyed fingerprint of the value served. */
  readonly fingerprint: string;
  /** When this value was first loaded (ms since the epoch). */
  readonly loadedAt: number;
  /** When a source last confirmed this value (ms since the epoch). */
  readonly refreshedAt: number;
  /** `ok`; `stale` while sources fail and the last good value is served; `revoked` when every candidate went absent. */
  readonly status: SecretStatus;
}

/** Options of one declared secret. */
export interface SecretOptions<T> {
  /**
   * Turns the raw string into what `value` returns. A parser that throws is reported as an `error`
   * event (with its message withheld) and the last good parsed value stays.
   * @default identity
   */
  parse?: ((raw: string) => T) | undefined;
  /**
   * Trim surrounding white space (a file's trailing newline) before parsing and fingerprinting.
   * @default true
   */
  trim?: boolean | undefined;
  /**
   * This secret's refresh period in milliseconds, instead of the resolver's.
   * At most `MAX_TIMER_MS` (2³¹−1, about 24.8 days).
   * @default the resolver's `refreshMs`
   */
  refreshMs?: number | undefined;
  /**
   * What happens when every candidate goes absent after the secret had a value: `fail` stops serving
   * it (`value` throws `SecretRevokedError`); `keep` goes on serving the last value (status `revoked`).
   * @default 'fail'
   */
  onRevoked?: 'fail' | 'keep' | undefined;
}

/** Options of a family of secrets. */
export interface FamilyOptions<T> extends Omit<SecretOptions<T>, 'refreshMs'> {
  /**
   * How many members are held at most; the least recently used is dropped beyond it.
   * @default 10_000
   */
  max?: number | undefined;
  /**
   * How long a member is served before it is re-fetched, in milliseconds. After that the next `get`
   * still answers at once with the held value and refreshes it in the background.
   * At most `MAX_TIMER_MS` (2³¹−1, about 24.8 days).
   * @default the resolver's `refreshMs`
   */
  ttlMs?: number | undefined;
}
