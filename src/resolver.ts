import { EventEmitter } from 'eventemitter3';
import { parseChain } from './chain.js';
import { describeValue, fraction, positiveMs, positiveSpanMs, wholeNumber } from './check.js';
import { keepAlive, systemClock, unrefTimer } from './clock.js';
import {
  ABSENT_REASONS,
  type AbsentReason,
  ConfigurationError,
  InvalidCandidateError,
  isKeyflipError,
  KeyflipError,
  ReadyError,
  type ReadyFailure,
  SourceUnavailableError,
} from './errors.js';
import type { EventName, ResolverErrorEvent, ResolverEvents, SecretEvents } from './events.js';
import { createFamily, type FamilyControl, type SecretFamily } from './family.js';
import { DEFAULT_FINGERPRINT_KEY, fingerprint as fingerprintWith } from './fingerprint.js';
import { createHandle, type SecretHandle } from './handle.js';
import { inspectSymbol } from './redacted.js';
import { HeldValues } from './redaction.js';
import { type LoopSchedule, RefreshLoop } from './refresh-loop.js';
import { type BoundCandidate, Slot, type SlotContext, type SlotOptions } from './slot.js';
import type { Clock, FamilyOptions, SecretInfo, SecretOptions, Source, SourceResult } from './types.js';
import {
  type AttachedUsageReporter,
  attachUsageReporter,
  type SecretUsage,
  type UsageReporter,
  type UsageReporterStats,
} from './usage-reporter.js';

/** Options of {@link createResolver}. */
export interface ResolverOptions {
  /**
   * Where candidates are looked up. Each source has a unique `name`, the prefix of candidates
   * (`env:OPENAI_API_KEY`); the first one is the default for candidates without a prefix.
   */
  sources: readonly Source[];
  /**
   * How often every declared secret is re-fetched, in milliseconds (scaled by `jitter`).
   * At most `MAX_TIMER_MS` (2³¹−1, about 24.8 days).
   * @default 300_000 (5 minutes)
   */
  refreshMs?: number | undefined;
  /**
   * Each period is scaled by a random factor in [1 - jitter, 1 + jitter], so a fleet does not poll in step.
   * A fraction from 0 to 1.
   * @default 0.2
   */
  jitter?: number | undefined;
  /**
   * How long a last good value is still served while its sources fail, in milliseconds, counted from
   * the last successful refresh. After that `value` throws `SourceUnavailableError`. At most 10 years
   * (it is a span checked on every read, not a timer), or Infinity.
   * @default Infinity
   */
  maxStaleMs?: number | undefined;
  /**
   * How long `ready()` (and `get()` before the first resolution) waits for an unavailable source to
   * answer, in milliseconds, retrying with backoff meanwhile (a permanent error, such as a missing package or
   * credentials, fails it at once).
   * At most `MAX_TIMER_MS` (2³¹−1, about 24.8 days).
   * @default 10_000
   */
  startupTimeoutMs?: number | undefined;
  /**
   * The budget of one fetch from a source, in milliseconds. A fetch that outlives it is aborted through
   * its `AbortSignal` and counts as unavailable.
   * At most `MAX_TIMER_MS` (2³¹−1, about 24.8 days).
   * @default 5_000
   */
  fetchTimeoutMs?: number | undefined;
  /**
   * Let the walk go on past an unavailable candidate (for an `env:` last resort). Off by default: falling
   * back to v1 while v2 is only unreachable would put traffic back on the old key.
   * @default false
   */
  fallbackOnUnavailable?: boolean | undefined;
  /**
   * The HMAC key of fingerprints. Every process that must agree on fingerprints needs the same key.
   *
   * The default key is public (it is in this package), so a fingerprint made with it is only as hard to reverse as
   * the value is to guess: a real API key (over 100 bits of randomness) is safe, but a low-entropy secret — a 6-digit
   * PIN, a short password, a small set of known values — can be recovered from its `kf_` fingerprint in seconds by
   * trying every candidate. Set a random key of your own (32 bytes, the same in every process and in
   * `keyflip fingerprint --key-file`) for such secrets, or for fingerprints that must not be linkable across
   * organisations.
   * @default a fixed library key, so a fleet agrees out of the box
   */
  fingerprintKey?: string | Uint8Array | undefined;
  /**
   * The usage beacon: `usageBeacon({ service, sink, … })` from `keyflip/beacon` reports which fingerprint of
   * each declared secret this process holds, and how often it read it, to one or more sinks (`logSink`,
   * `httpSink` from `keyflip/beacon`; `otelSink` from `keyflip/otel`) every `intervalMs` (default 60 s, scaled
   * by `jitter`), at once after every rotate and revoke, and on `close()`. Reports hold fingerprints, never
   * values; family members are not reported. A sink that throws, rejects or hangs never affects the app (see
   * `beaconStats()`). Any {@link UsageReporter} plugs in here. The options object this took before
   * `usageBeacon()` existed is refused with a ConfigurationError that says how to migrate.
   * @default off
   */
  beacon?: UsageReporter | undefined;
  /**
   * The clock timers and timestamps come from. Inject `manualClock()` from `keyflip/testing` in tests.
   * @default the system clock
   */
  clock?: Clock | undefined;
}

/** A declared secret, as the resolver keeps it. */
interface Declared {
  readonly handle: SecretHandle<unknown>;
  readonly slot: Slot<unknown>;
  readonly loop: RefreshLoop<unknown>;
  /** The chain as written back: `A ?? B`. */
  readonly chain: string;
  /** What a usage reporter sees of it. */
  readonly usage: SecretUsage;
}

/** Set once, by the class's static block: `createResolver` is the only way to make one. */
let newResolver: (options: ResolverOptions) => Resolver;

/**
 * Resolves declared secrets from an ordered chain of candidates and keeps them fresh. Create one with
 * {@link createResolver}. `util.inspect` and `JSON.stringify` of it show names only.
 */
export class Resolver extends EventEmitter<ResolverEvents> {
  readonly #sources = new Map<string, Source>();
  readonly #defaultSource: Source;
  readonly #declared = new Map<string, Declared>();
  readonly #families = new Map<string, FamilyControl<unknown>>();
  readonly #inflight = new Map<string, Promise<SourceResult>>();
  readonly #controllers = new Set<AbortController>();
  readonly #schedule: LoopSchedule;
  readonly #maxStaleMs: number;
  readonly #fetchTimeoutMs: number;
  readonly #fallbackOnUnavailable: boolean;
  readonly #fingerprintKey: string | Uint8Array;
  readonly #usage: AttachedUsageReporter | undefined;
  /** Declared secrets the usage reporter was told resolved (`load`), once each. */
  readonly #loaded = new Set<string>();
  /** The usage reporter's `close()` settled: its errors are not news any more. */
  #usageClosed = false;
  /** Every value held now or before, by declared secrets and family members, indexed for `redact`. */
  readonly #held = new HeldValues((value) => fingerprintWith(value, this.#fingerprintKey));
  #closed = false;

  static {
    newResolver = (options) => new Resolver(options);
  }

  private constructor(options: ResolverOptions) {
    super();
    if (typeof options !== 'object' || options === null)
      throw new ConfigurationError('createResolver() needs an options object with `sources`');
    const sources = options.sources;
    if (!Array.isArray(sources) || sources.length === 0) {
      throw new ConfigurationError(
        '`sources` must be a non-empty array of sources (memorySource(), envSource(), fileSource(), …)',
      );
    }
    for (const source of sources as readonly Source[]) {
      if (
        typeof source !== 'object' ||
        source === null ||
        typeof source.name !== 'string' ||
        typeof source.fetch !== 'function'
      ) {
        throw new ConfigurationError('every source needs a string `name` and a `fetch(ref, ctx)` method');
      }
      if (this.#sources.has(source.name))
        throw new ConfigurationError(
          `two sources are named ${JSON.stringify(source.name)}; source names must be unique`,
        );
      this.#sources.set(source.name, source);
    }
    this.#defaultSource = sources[0] as Source;
    const clock = options.clock ?? systemClock;
    this.#schedule = {
      clock,
      refreshMs: positiveMs('refreshMs', options.refreshMs, 300_000),
      jitter: fraction('jitter', options.jitter, 0.2),
      startupTimeoutMs: positiveMs('startupTimeoutMs', options.startupTimeoutMs, 10_000),
    };
    this.#maxStaleMs = positiveSpanMs('maxStaleMs', options.maxStaleMs, Number.POSITIVE_INFINITY, true);
    this.#fetchTimeoutMs = positiveMs('fetchTimeoutMs', options.fetchTimeoutMs, 5_000);
    this.#fallbackOnUnavailable = options.fallbackOnUnavailable ?? false;
    this.#fingerprintKey = options.fingerprintKey ?? DEFAULT_FINGERPRINT_KEY;
    const declared = this.#declared;
    this.#usage = attachUsageReporter(options.beacon, {
      clock,
      jitter: this.#schedule.jitter,
      *secrets() {
        for (const entry of declared.values()) yield entry.usage;
      },
      reportError: (error) => this.#reportError(error),
    });
  }

  /**
   * Declares a secret and starts resolving it. `chain` defaults to the name itself in the default source.
   * Declaring the same name again with the same chain returns the same handle.
   * @throws InvalidCandidateError at once for a malformed chain, an unknown source prefix, or a name the
   * source cannot hold.
   */
  secret<T = string>(
    name: string,
    chain?: string | readonly string[],
    options: SecretOptions<T> = {},
  ): SecretHandle<T> {
    this.#assertOpen();
    assertName('secret', name);
    const candidates = this.#bind(chain ?? name);
    const chainText = candidates.map((c) => c.text).join(' ?? ');
    const existing = this.#declared.get(name);
    if (existing) {
      if (existing.chain !== chainText) {
        throw new ConfigurationError(`secret ${name} is already declared with the chain ${existing.chain}`);
      }
      if (Object.keys(options).length > 0) {
        throw new ConfigurationError(
          `secret ${name} is already declared; its options can only be given on the first declaration`,
        );
      }
      return existing.handle as SecretHandle<T>;
    }
    const refreshMs = positiveMs('refreshMs', options.refreshMs, this.#schedule.refreshMs);
    const slot: Slot<T> = new Slot<T>(
      name,
      candidates,
      slotOptions(options),
      this.#slotContext(name, () => handle),
    );
    const loop = new RefreshLoop<T>(
      slot,
      refreshMs === this.#schedule.refreshMs ? this.#schedule : { ...this.#schedule, refreshMs },
    );
    const handle: SecretHandle<T> = createHandle<T>(slot, loop);
    this.#declared.set(name, {
      handle: handle as SecretHandle<unknown>,
      slot: slot as Slot<unknown>,
      loop: loop as RefreshLoop<unknown>,
      chain: chainText,
      usage: {
        get info() {
          return slot.info;
        },
        takeUses: () => slot.takeUses(),
      },
    });
    loop.start();
    return handle;
  }

  /**
   * Declares a family: many secrets of one shape (end-user keys per tenant), resolved lazily on
   * `get(id)`, held in an LRU of `max` members, refreshed after `ttlMs` while the held value is served.
   */
  family<T = string>(
    name: string,
    chainFor: (id: string) => string | readonly string[],
    options: FamilyOptions<T> = {},
  ): SecretFamily<T> {
    this.#assertOpen();
    assertName('family', name);
    if (typeof chainFor !== 'function')
      throw new ConfigurationError(`family ${name}: chainFor must be a function (id) => chain`);
    if (this.#families.has(name)) throw new ConfigurationError(`family ${name} is already declared`);
    const control = createFamily<T>({
      name,
      clock: this.#schedule.clock,
      max: wholeNumber('max', options.max, 10_000),
      ttlMs: positiveMs('ttlMs', options.ttlMs, this.#schedule.refreshMs),
      refreshMs: this.#schedule.refreshMs,
      jitter: this.#schedule.jitter,
      createSlot: (id) =>
        new Slot<T>(
          `${name}[${id}]`,
          this.#bind(chainFor(id)),
          slotOptions(options),
          this.#slotContext(`${name}[${id}]`),
        ),
      onForget: (slot) => {
        this.#held.release(slot);
      },
      isClosed: () => this.#closed,
    });
    this.#families.set(name, control as FamilyControl<unknown>);
    return control.family;
  }

  /**
   * Resolves every declared secret, in parallel. Rejects with one `ReadyError` naming each secret that
   * failed and the candidates it tried; the others are resolved and work.
   */
  async ready(): Promise<void> {
    this.#assertOpen();
    await keepAlive(this.#all((entry) => entry.loop.whenReady(true)));
  }

  /** Refreshes one secret (by name) or all of them, now. */
  async refresh(name?: string): Promise<void> {
    this.#assertOpen();
    if (name !== undefined) {
      const entry = this.#declared.get(name);
      if (!entry) throw new ConfigurationError(`no secret named ${name} is declared`);
      await keepAlive(entry.loop.refresh());
      return;
    }
    await keepAlive(this.#all((entry) => entry.loop.refresh().then(() => undefined)));
  }

  /** The provenance of every resolved declared secret. Never values. */
  snapshot(): SecretInfo[] {
    const infos: SecretInfo[] = [];
    for (const { slot } of this.#declared.values()) if (slot.info) infos.push(slot.info);
    return infos;
  }

  /** The handles declared so far, in declaration order. */
  handles(): SecretHandle<unknown>[] {
    return [...this.#declared.values()].map((e) => e.handle);
  }

  /**
   * Replaces every value this resolver holds or held before (the current and previous value of each
   * secret and family member) with `[keyflip NAME kf_…]`, then anything in a provider's key format
   * (`sk-…`, `sk-ant-…`, `AIza…`) with `[redacted openai key]` and the like. Values shorter than 4
   * characters are left.
   */
  redact(text: string): string {
    return this.#held.redact(text);
  }

  /**
   * What the usage beacon has done so far (reports built; deliveries sent, failed, dropped), or `undefined`
   * when no `beacon` is configured. Read-only; for health checks and tests. A sink that starts failing is also
   * told as an `error` event (`component: 'beacon'`, no `secret`), once per change of its state.
   */
  beaconStats(): UsageReporterStats | undefined {
    return this.#usage?.stats();
  }

  /**
   * Stops every timer and watch, aborts fetches in flight, sends the beacon's final report and closes its
   * sinks (waiting at most 5 s for them), and closes the sources. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The final report, built now with every use counted so far; its delivery failing is still news until then.
    const usage = this.#usage;
    const usageClosed =
      usage === undefined
        ? undefined
        : Promise.resolve(usage.close()).finally(() => {
            this.#usageClosed = true;
          });
    for (const { loop } of this.#declared.values()) loop.close();
    for (const controller of this.#controllers)
      controller.abort(new ConfigurationError('the resolver closed', 'CLOSED'));
    this.#controllers.clear();
    await Promise.allSettled([...[...this.#sources.values()].map(async (source) => source.close?.()), usageClosed]);
  }

  override toString(): string {
    return `[keyflip resolver: ${this.#declared.size} secrets, ${this.#families.size} families]`;
  }

  /** `JSON.stringify(resolver)`: the provenance of every secret (its `snapshot()`), never a value. */
  toJSON(): {
    /** What `snapshot()` answers. */
    secrets: SecretInfo[];
  } {
    return { secrets: this.snapshot() };
  }

  /** What `util.inspect` and `console.log` show: the same as `toString()`. */
  [inspectSymbol](): string {
    return this.toString();
  }

  async #all(each: (entry: Declared) => Promise<void>): Promise<void> {
    const entries = [...this.#declared.entries()];
    const results = await Promise.allSettled(entries.map(([, entry]) => each(entry)));
    const failures: ReadyFailure[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      const [name, { slot }] = entries[i] as (typeof entries)[number];
      const error = isKeyflipError(result.reason)
        ? result.reason
        : new KeyflipError('SOURCE_UNAVAILABLE', `secret ${name} failed`, { cause: result.reason });
      failures.push({ secret: name, candidates: slot.candidates.map((c) => c.text), error });
    });
    if (failures.length > 0) throw new ReadyError(failures, entries.length);
  }

  #bind(chain: string | readonly string[]): BoundCandidate[] {
    return parseChain(chain).map((candidate) => {
      const source = candidate.source === undefined ? this.#defaultSource : this.#sources.get(candidate.source);
      if (!source) {
        const known = [...this.#sources.keys()].map((n) => JSON.stringify(n)).join(', ');
        throw new InvalidCandidateError(
          candidate.text,
          `unknown source ${JSON.stringify(candidate.source)}; this resolver has ${known}`,
        );
      }
      const problem = source.validate?.({ name: candidate.name, version: candidate.version });
      if (problem !== undefined)
        throw new InvalidCandidateError(candidate.text, `source ${source.name} cannot hold it: ${problem}`);
      return { ...candidate, sourceImpl: source };
    });
  }

  #slotContext(name: string, handle?: () => EventEmitter<SecretEvents>): SlotContext {
    return {
      now: () => this.#schedule.clock.now(),
      fetch: (candidate) => this.#fetch(candidate),
      fingerprint: (raw) => fingerprintWith(raw, this.#fingerprintKey),
      fallbackOnUnavailable: this.#fallbackOnUnavailable,
      maxStaleMs: this.#maxStaleMs,
      emit: (event, payload) => {
        if (this.#closed) return; // a fetch aborted by close() is not news
        // A declared secret loaded or changed key: the usage reporter reports at once (not family members).
        if (handle && (event === 'rotate' || event === 'revoke')) this.#reportChange(name, event);
        if (handle && event === 'resolve' && !this.#loaded.has(name)) {
          this.#loaded.add(name);
          this.#reportChange(name, 'load');
        }
        if (handle) safeEmit(handle(), event, payload, name);
        safeEmit(this, event, payload, name);
      },
      remember: (slot) => {
        this.#held.hold(slot);
      },
    };
  }

  #reportChange(secret: string, kind: 'load' | 'rotate' | 'revoke'): void {
    try {
      this.#usage?.changed({ secret, kind });
    } catch {
      // A usage reporter never affects the app.
    }
  }

  /** The usage reporter's `error`: emitted on the resolver with no `secret` (see {@link ResolverErrorEvent}). */
  #reportError(error: KeyflipError): void {
    if (this.#usageClosed || !isKeyflipError(error)) return;
    const event: ResolverErrorEvent = { component: 'beacon', error, servingStale: false };
    try {
      this.emit('error', event);
    } catch {
      // A throwing error listener: nothing more to tell, and the reporter must not notice.
    }
  }

  /** One fetch per candidate at a time (shared by every secret that names it), within its budget. */
  #fetch(candidate: BoundCandidate): Promise<SourceResult> {
    if (this.#closed) return Promise.reject(new ConfigurationError('the resolver is closed', 'CLOSED'));
    const source = candidate.sourceImpl;
    const key = `${source.name}\u0000${candidate.name}\u0000${candidate.version ?? ''}`;
    const running = this.#inflight.get(key);
    if (running) return running;
    const promise = this.#fetchWithin(source, candidate).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, promise);
    return promise;
  }

  #fetchWithin(source: Source, candidate: BoundCandidate): Promise<SourceResult> {
    const { clock } = this.#schedule;
    const controller = new AbortController();
    this.#controllers.add(controller);
    return new Promise<SourceResult>((resolve, reject) => {
      // Settles once: by the source, or by the timeout. A fetch abandoned at its timeout is released at once
      // (its controller leaves the set), so a source that never settles costs nothing per timed-out fetch.
      let settled = false;
      const settle = (): boolean => {
        if (settled) return false;
        settled = true;
        clock.clearTimeout(timer);
        this.#controllers.delete(controller);
        return true;
      };
      const timer = clock.setTimeout(() => {
        if (!settle()) return;
        const error = new SourceUnavailableError(
          `source ${source.name} did not answer for ${candidate.text} within fetchTimeoutMs ` +
            `(${this.#fetchTimeoutMs}ms); the fetch was aborted`,
          { candidate: candidate.text, source: source.name },
        );
        controller.abort(error);
        reject(error);
      }, this.#fetchTimeoutMs);
      unrefTimer(timer);
      let pending: Promise<unknown>;
      try {
        pending = Promise.resolve(
          source.fetch(
            { name: candidate.name, version: candidate.version },
            { signal: controller.signal, timeoutMs: this.#fetchTimeoutMs },
          ),
        );
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (result) => {
          if (!settle()) return;
          // A result it cannot read is unavailable for this fetch; whatever happens, the fetch settles.
          let read: SourceResult | SourceUnavailableError;
          try {
            read = readSourceResult(result, source.name, candidate.text);
          } catch (error) {
            read = new SourceUnavailableError(
              `source ${source.name} returned an unreadable result for ${candidate.text}`,
              {
                candidate: candidate.text,
                source: source.name,
                cause: error,
              },
            );
          }
          if (read instanceof SourceUnavailableError) reject(read);
          else resolve(read);
        },
        (error: unknown) => {
          if (settle()) reject(error);
        },
      );
    });
  }

  #assertOpen(): void {
    if (this.#closed) throw new ConfigurationError('the resolver is closed', 'CLOSED');
  }
}

/**
 * Creates a resolver.
 *
 * @example
 * const resolver = createResolver({ sources: [gcpSecretManager({ projectId }), envSource()] });
 * const openai = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
 * await resolver.ready();
 * openai.value; // the live key, kept fresh
 */
export function createResolver(options: ResolverOptions): Resolver {
  return newResolver(options);
}

function safeEmit<E extends EventName>(
  emitter: EventEmitter<SecretEvents>,
  event: E,
  payload: SecretEvents[E][0],
  name: string,
): void {
  try {
    (emitter.emit as (event: E, payload: SecretEvents[E][0]) => boolean)(event, payload);
  } catch (cause) {
    if (event === 'error') return;
    try {
      emitter.emit('error', {
        secret: name,
        error: new KeyflipError('LISTENER_FAILED', `a listener of the ${event} event of secret ${name} threw`, {
          secret: name,
          cause,
        }),
        servingStale: false,
      });
    } catch {
      // a throwing error listener: nothing more to tell
    }
  }
}

const ABSENT = new Set<string>(ABSENT_REASONS);

/**
 * A source's answer, read once into a plain result (the value checked is the value served), or the
 * SourceUnavailableError it is when it cannot be read: not an object, a getter or a Proxy that throws, a
 * `found` without a string or bytes, an absent reason outside ABSENT_REASONS. Never throws; never quotes
 * what the source returned (it may hold the value).
 */
function readSourceResult(result: unknown, source: string, candidate: string): SourceResult | SourceUnavailableError {
  const violation = (what: string, cause?: unknown): SourceUnavailableError =>
    new SourceUnavailableError(
      `source ${source} broke the source contract for ${candidate}: ${what}; ` +
        'treated as unavailable (a source returns { status: "found", value } or { status: "absent", reason })',
      { candidate, source, cause },
    );
  if (typeof result !== 'object' || result === null)
    return violation(`it returned ${result === null ? 'null' : `a ${typeof result}`}`);
  try {
    const r = result as { status?: unknown; value?: unknown; reason?: unknown; version?: unknown; detail?: unknown };
    const status = r.status;
    if (status === 'found') {
      const value = r.value;
      if (typeof value !== 'string' && !(value instanceof Uint8Array))
        return violation('a found result whose value is neither a string nor a Uint8Array');
      const version = r.version;
      if (version !== undefined && typeof version !== 'string')
        return violation('a found result whose version is not a string');
      return version === undefined ? { status, value } : { status, value, version };
    }
    if (status === 'absent') {
      const reason = r.reason;
      if (typeof reason !== 'string' || !ABSENT.has(reason)) {
        return violation(
          `an absent result with the reason ${describeReason(reason)}, which is not one of ` +
            ABSENT_REASONS.join(', '),
        );
      }
      const detail = r.detail;
      return typeof detail === 'string' && detail !== ''
        ? { status, reason: reason as AbsentReason, detail: detail.slice(0, MAX_DETAIL_CHARS) }
        : { status, reason: reason as AbsentReason };
    }
    return violation('a result that is neither found nor absent');
  } catch (error) {
    const thrown = error instanceof Error ? error.name : typeof error;
    return violation(`reading its result threw a ${thrown}`, error);
  }
}

/** The longest `detail` of an absent result kept (a source's hint for people). */
const MAX_DETAIL_CHARS = 300;

/** An unknown absent reason as a message shows it: a short word as written, anything else by type. */
function describeReason(reason: unknown): string {
  return typeof reason === 'string' && /^[A-Za-z_-]{1,24}$/.test(reason)
    ? JSON.stringify(reason)
    : describeValue(reason);
}

function slotOptions<T>(options: SecretOptions<T>): SlotOptions<T> {
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('secret options must be an object');
  if (options.parse !== undefined && typeof options.parse !== 'function')
    throw new ConfigurationError('`parse` must be a function (raw) => value');
  if (options.onRevoked !== undefined && options.onRevoked !== 'fail' && options.onRevoked !== 'keep') {
    throw new ConfigurationError(`\`onRevoked\` must be 'fail' or 'keep', not ${JSON.stringify(options.onRevoked)}`);
  }
  return { parse: options.parse, trim: options.trim ?? true, onRevoked: options.onRevoked ?? 'fail' };
}

function assertName(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim() === '' || name !== name.trim()) {
    throw new ConfigurationError(
      `a ${kind} name must be a non-empty string without surrounding white space, not ${JSON.stringify(name)}`,
    );
  }
}
