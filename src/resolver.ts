import { EventEmitter } from 'eventemitter3';
import { Beacon } from './beacon/beacon.js';
import type { BeaconOptions, BeaconStats } from './beacon/types.js';
import { parseChain } from './chain.js';
import { systemClock, unrefTimer } from './clock.js';
import {
  ConfigurationError,
  InvalidCandidateError,
  isKeyflipError,
  KeyflipError,
  ReadyError,
  type ReadyFailure,
  SourceUnavailableError,
} from './errors.js';
import type { EventName, ResolverEvents, SecretEvents } from './events.js';
import { SecretFamily } from './family.js';
import { redactProviderKeys } from './key-formats.js';
import { fingerprint as fingerprintWith, DEFAULT_FINGERPRINT_KEY } from './fingerprint.js';
import { SecretHandle, type Schedule } from './handle.js';
import { inspectSymbol } from './redacted.js';
import { escapeRegExp } from './regexp.js';
import { type BoundCandidate, Slot, type SlotContext } from './slot.js';
import type { Clock, FamilyOptions, SecretInfo, SecretOptions, Source, SourceResult } from './types.js';

/** Options of {@link createResolver}. */
export interface ResolverOptions {
  /**
   * Where candidates are looked up. Each source has a unique `name`, the prefix of candidates
   * (`env:OPENAI_API_KEY`); the first one is the default for candidates without a prefix.
   */
  sources: readonly Source[];
  /**
   * How often every declared secret is re-fetched, in milliseconds (scaled by `jitter`).
   * @default 300_000 (5 minutes)
   */
  refreshMs?: number | undefined;
  /**
   * Each period is scaled by a random factor in [1 - jitter, 1 + jitter], so a fleet does not poll in step.
   * A number from 0 to 1.
   * @default 0.2
   */
  jitter?: number | undefined;
  /**
   * How long a last good value is still served while its sources fail, in milliseconds, counted from
   * the last successful refresh. After that `value` throws `SourceUnavailableError`.
   * @default Infinity
   */
  maxStaleMs?: number | undefined;
  /**
   * How long `ready()` (and `get()` before the first resolution) waits for an unavailable source to
   * answer, in milliseconds, retrying with backoff meanwhile.
   * @default 10_000
   */
  startupTimeoutMs?: number | undefined;
  /**
   * The budget of one fetch from a source, in milliseconds. A fetch that outlives it is aborted through
   * its `AbortSignal` and counts as unavailable.
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
   * @default a fixed library key, so a fleet agrees out of the box
   */
  fingerprintKey?: string | Uint8Array | undefined;
  /**
   * The usage beacon: report which fingerprint of each declared secret this process holds, and how often it
   * read it, to one or more sinks (`logSink`, `httpSink` from `keyflip/beacon`; `otelSink` from `keyflip/otel`)
   * every `intervalMs` (default 60 s, scaled by `jitter`), at once after every rotate and revoke, and on
   * `close()`. `service` and `sink` are required. Reports hold fingerprints, never values; family members are
   * not reported. A sink that throws, rejects or hangs never affects the app (see `beaconStats()`).
   * @default off
   */
  beacon?: BeaconOptions | undefined;
  /**
   * The clock timers and timestamps come from. Inject `manualClock()` from `keyflip/testing` in tests.
   * @default the system clock
   */
  clock?: Clock | undefined;
}

/** Values shorter than this are not redacted: they would match ordinary text. */
const MIN_REDACT_LENGTH = 4;

/**
 * Resolves declared secrets from an ordered chain of candidates and keeps them fresh. Create one with
 * {@link createResolver}. `util.inspect` and `JSON.stringify` of it show names only.
 */
export class Resolver extends EventEmitter<ResolverEvents> {
  readonly #sources = new Map<string, Source>();
  readonly #defaultSource: Source;
  readonly #handles = new Map<string, { handle: SecretHandle<unknown>; chain: string }>();
  readonly #families = new Map<string, SecretFamily<unknown>>();
  readonly #inflight = new Map<string, Promise<SourceResult>>();
  readonly #controllers = new Set<AbortController>();
  readonly #schedule: Schedule;
  readonly #fetchTimeoutMs: number;
  readonly #fallbackOnUnavailable: boolean;
  readonly #fingerprintKey: string | Uint8Array;
  readonly #beacon: Beacon | undefined;
  #redactor: ((text: string) => string) | undefined;
  #closed = false;

  /** @internal Use {@link createResolver}. */
  constructor(options: ResolverOptions) {
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
      refreshMs: positive('refreshMs', options.refreshMs, 300_000),
      jitter: fraction('jitter', options.jitter, 0.2),
      maxStaleMs: positive('maxStaleMs', options.maxStaleMs, Number.POSITIVE_INFINITY, true),
      startupTimeoutMs: positive('startupTimeoutMs', options.startupTimeoutMs, 10_000),
    };
    this.#fetchTimeoutMs = positive('fetchTimeoutMs', options.fetchTimeoutMs, 5_000);
    this.#fallbackOnUnavailable = options.fallbackOnUnavailable ?? false;
    this.#fingerprintKey = options.fingerprintKey ?? DEFAULT_FINGERPRINT_KEY;
    if (options.beacon !== undefined) {
      const handles = this.#handles;
      this.#beacon = new Beacon(options.beacon, {
        clock,
        jitter: this.#schedule.jitter,
        *secrets() {
          for (const entry of handles.values()) yield entry.handle;
        },
      });
      this.#beacon.start();
    }
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
    const existing = this.#handles.get(name);
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
    const refreshMs = positive('refreshMs', options.refreshMs, this.#schedule.refreshMs);
    const handle: SecretHandle<T> = new SecretHandle<T>(
      new Slot<T>(
        name,
        candidates,
        slotOptions(options),
        this.#slotContext(name, () => handle),
      ),
      refreshMs === this.#schedule.refreshMs ? this.#schedule : { ...this.#schedule, refreshMs },
    );
    this.#handles.set(name, { handle: handle as SecretHandle<unknown>, chain: chainText });
    handle.start();
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
    const family = new SecretFamily<T>({
      name,
      chainFor,
      clock: this.#schedule.clock,
      max: count('max', options.max, 10_000),
      ttlMs: positive('ttlMs', options.ttlMs, this.#schedule.refreshMs),
      refreshMs: this.#schedule.refreshMs,
      jitter: this.#schedule.jitter,
      maxStaleMs: this.#schedule.maxStaleMs,
      createSlot: (id) =>
        new Slot<T>(
          `${name}[${id}]`,
          this.#bind(chainFor(id)),
          slotOptions(options),
          this.#slotContext(`${name}[${id}]`),
        ),
      onForget: () => {
        this.#redactor = undefined;
      },
      isClosed: () => this.#closed,
    });
    this.#families.set(name, family as SecretFamily<unknown>);
    return family;
  }

  /**
   * Resolves every declared secret, in parallel. Rejects with one `ReadyError` naming each secret that
   * failed and the candidates it tried; the others are resolved and work.
   */
  async ready(): Promise<void> {
    this.#assertOpen();
    await this.#all((handle) => handle.whenReady(true));
  }

  /** Refreshes one secret (by name) or all of them, now. */
  async refresh(name?: string): Promise<void> {
    this.#assertOpen();
    if (name !== undefined) {
      const entry = this.#handles.get(name);
      if (!entry) throw new ConfigurationError(`no secret named ${name} is declared`);
      await entry.handle.refresh();
      return;
    }
    await this.#all((handle) => handle.refresh().then(() => undefined));
  }

  /** The provenance of every resolved declared secret. Never values. */
  snapshot(): SecretInfo[] {
    const infos: SecretInfo[] = [];
    for (const { handle } of this.#handles.values()) if (handle.info) infos.push(handle.info);
    return infos;
  }

  /** The handles declared so far. */
  handles(): SecretHandle<unknown>[] {
    return [...this.#handles.values()].map((e) => e.handle);
  }

  /**
   * Replaces every value this resolver holds or held before (the current and previous value of each
   * secret and family member) with `[keyflip NAME kf_…]`, then anything in a provider's key format
   * (`sk-…`, `sk-ant-…`, `AIza…`) with `[redacted openai key]` and the like. Values shorter than 4
   * characters are left.
   */
  redact(text: string): string {
    this.#redactor ??= this.#buildRedactor();
    return redactProviderKeys(this.#redactor(text));
  }

  /**
   * What the usage beacon has done so far (reports built; deliveries sent, failed, dropped), or `undefined`
   * when no `beacon` is configured. Read-only; for health checks and tests.
   */
  beaconStats(): BeaconStats | undefined {
    return this.#beacon?.stats();
  }

  /**
   * Stops every timer and watch, aborts fetches in flight, sends the beacon's final report and closes its
   * sinks (waiting at most 5 s for them), and closes the sources. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const beaconClosed = this.#beacon?.close(); // builds the final report now, with every use counted so far
    for (const { handle } of this.#handles.values()) handle.close();
    for (const controller of this.#controllers)
      controller.abort(new ConfigurationError('the resolver closed', 'CLOSED'));
    this.#controllers.clear();
    await Promise.allSettled([...[...this.#sources.values()].map(async (source) => source.close?.()), beaconClosed]);
  }

  override toString(): string {
    return `[keyflip resolver: ${this.#handles.size} secrets, ${this.#families.size} families]`;
  }

  toJSON(): { secrets: SecretInfo[] } {
    return { secrets: this.snapshot() };
  }

  [inspectSymbol](): string {
    return this.toString();
  }

  async #all(each: (handle: SecretHandle<unknown>) => Promise<void>): Promise<void> {
    const entries = [...this.#handles.entries()];
    const results = await Promise.allSettled(entries.map(([, { handle }]) => each(handle)));
    const failures: ReadyFailure[] = [];
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      const [name, { handle }] = entries[i] as (typeof entries)[number];
      const error = isKeyflipError(result.reason)
        ? result.reason
        : new KeyflipError('SOURCE_UNAVAILABLE', `secret ${name} failed`, { cause: result.reason });
      failures.push({ secret: name, candidates: handle.slot.candidates.map((c) => c.text), error });
    });
    if (failures.length > 0) throw new ReadyError(failures, entries.length);
  }

  #bind(chain: string | readonly string[]): BoundCandidate[] {
    return parseChain(chain).map((candidate) => {
      const source = candidate.source === undefined ? this.#defaultSource : this.#sources.get(candidate.source);
      if (!source) {
        throw new InvalidCandidateError(
          candidate.text,
          `unknown source ${JSON.stringify(candidate.source)}; this resolver has ${[...this.#sources.keys()].map((n) => JSON.stringify(n)).join(', ')}`,
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
      emit: (event, payload) => {
        if (this.#closed) return; // a fetch aborted by close() is not news
        // A declared secret changed key: report at once (family members are not reported).
        if (handle && (event === 'rotate' || event === 'revoke')) this.#beacon?.changed();
        if (handle) safeEmit(handle(), event, payload, name);
        safeEmit(this, event, payload, name);
      },
      remember: () => {
        this.#redactor = undefined;
      },
    };
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
      const timer = clock.setTimeout(() => {
        const error = new SourceUnavailableError(
          `source ${source.name} did not answer for ${candidate.text} within fetchTimeoutMs (${this.#fetchTimeoutMs}ms); the fetch was aborted`,
          { candidate: candidate.text, source: source.name },
        );
        controller.abort(error);
        reject(error);
      }, this.#fetchTimeoutMs);
      unrefTimer(timer);
      const done = (): void => {
        clock.clearTimeout(timer);
        this.#controllers.delete(controller);
      };
      let pending: Promise<SourceResult>;
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
          done();
          if (isSourceResult(result)) resolve(result);
          else
            reject(
              new SourceUnavailableError(
                `source ${source.name} returned something that is neither found nor absent for ${candidate.text}`,
                { candidate: candidate.text, source: source.name },
              ),
            );
        },
        (error: unknown) => {
          done();
          reject(error);
        },
      );
    });
  }

  #buildRedactor(): (text: string) => string {
    const labels = new Map<string, string>();
    const add = (name: string, raw: string | undefined): void => {
      if (raw === undefined || raw.length < MIN_REDACT_LENGTH || labels.has(raw)) return;
      labels.set(raw, `[keyflip ${name} ${fingerprintWith(raw, this.#fingerprintKey)}]`);
    };
    const slots: Slot<unknown>[] = [...this.#handles.values()].map((e) => e.handle.slot);
    for (const family of this.#families.values()) slots.push(...family.slots());
    for (const slot of slots) {
      add(slot.name, slot.raw);
      add(slot.name, slot.previousRaw);
    }
    if (labels.size === 0) return (text) => text;
    const pattern = new RegExp(
      [...labels.keys()]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|'),
      'g',
    );
    return (text) =>
      typeof text === 'string' ? text.replace(pattern, (match) => labels.get(match) ?? '[keyflip redacted]') : text;
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
  return new Resolver(options);
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

function isSourceResult(result: unknown): result is SourceResult {
  if (typeof result !== 'object' || result === null) return false;
  const r = result as { status?: unknown; value?: unknown; reason?: unknown };
  if (r.status === 'found') return typeof r.value === 'string' || r.value instanceof Uint8Array;
  return r.status === 'absent' && typeof r.reason === 'string';
}

function slotOptions<T>(options: SecretOptions<T>): {
  parse: ((raw: string) => T) | undefined;
  trim: boolean;
  onRevoked: 'fail' | 'keep';
} {
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

function positive(option: string, value: number | undefined, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new ConfigurationError(
      `\`${option}\` must be a positive number of milliseconds${allowInfinity ? ' (or Infinity)' : ''}, not ${String(value)}`,
    );
  }
  return value;
}

function count(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
    throw new ConfigurationError(`\`${option}\` must be a whole number of at least 1, not ${String(value)}`);
  return value;
}

function fraction(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1))
    throw new ConfigurationError(`\`${option}\` must be a number from 0 to 1, not ${String(value)}`);
  return value;
}
