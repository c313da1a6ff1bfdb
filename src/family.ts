import { LRUCache } from 'lru-cache';
import { keepAlive } from './clock.js';
import { ConfigurationError, isKeyflipError, KeyflipError } from './errors.js';
import { inspectSymbol } from './redacted.js';
import { nextWalkInMs } from './refresh-policy.js';
import type { Slot } from './slot.js';
import type { Clock } from './types.js';

/** How a family is built by the resolver. */
export interface FamilyConfig<T> {
  readonly name: string;
  readonly clock: Clock;
  readonly max: number;
  readonly ttlMs: number;
  readonly refreshMs: number;
  readonly jitter: number;
  /** Parses and binds `chainFor(id)`; throws InvalidCandidateError. */
  createSlot(id: string): Slot<T>;
  /** A member was dropped (its values leave `redact`). */
  onForget(slot: Slot<T>): void;
  isClosed(): boolean;
}

/** What the resolver keeps of a family: its public face, and its members' slots (for `redact`). */
export interface FamilyControl<T> {
  readonly family: SecretFamily<T>;
  slots(): Slot<T>[];
}

/** What a family id may be: a plain token, so that it cannot change the chain it is put in. */
const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

interface Member<T> {
  readonly slot: Slot<T>;
  /** When the member is next re-fetched (ms since the epoch). */
  nextCheckAt: number;
}

/** Set once, by the class's static block: the only way to make a family (the constructor is private). */
let newFamily: <T>(config: FamilyConfig<T>) => FamilyControl<T>;

/**
 * Many secrets of one shape, such as end-user keys per tenant, made by `resolver.family()`: resolved lazily
 * on `get(id)`, held in an LRU of at most `max` members, re-fetched after `ttlMs` while the held value keeps
 * being served (stale-while-revalidate), one fetch per id at a time.
 */
export class SecretFamily<T = string> {
  readonly #config: FamilyConfig<T>;
  readonly #members: LRUCache<string, Member<T>>;

  static {
    newFamily = <U>(config: FamilyConfig<U>): FamilyControl<U> => {
      const family = new SecretFamily<U>(config);
      return { family, slots: () => [...family.#members.values()].map((m) => m.slot) };
    };
  }

  private constructor(config: FamilyConfig<T>) {
    this.#config = config;
    this.#members = new LRUCache<string, Member<T>>({
      max: Math.floor(config.max),
      dispose: (member) => config.onForget(member.slot),
    });
  }

  /** The family's name. */
  get name(): string {
    return this.#config.name;
  }

  /** How many members are held. */
  get size(): number {
    return this.#members.size;
  }

  /**
   * The value for `id`. The first call fetches it; later calls answer from memory, and after `ttlMs`
   * answer with the held value while one background refresh runs. Counts one use.
   * @throws InvalidCandidateError when `chainFor(id)` gives a bad chain; SecretNotFoundError,
   * SecretRevokedError or SourceUnavailableError when there is no value to serve.
   */
  get(id: string): Promise<T> {
    let member: Member<T> | undefined;
    try {
      member = this.#member(id);
    } catch (error) {
      return Promise.reject(error);
    }
    const { slot } = member;
    const now = this.#config.clock.now();
    if (slot.servable) {
      if (now >= member.nextCheckAt) void this.#refresh(member);
      return Promise.resolve(slot.read());
    }
    if (slot.lastError && !slot.refreshing && now < member.nextCheckAt && slot.status !== 'stale') {
      return Promise.reject(slot.lastError);
    }
    return keepAlive(this.#refresh(member)).then(() => {
      if (!slot.servable)
        throw slot.lastError ?? new KeyflipError('SOURCE_UNAVAILABLE', `family member ${slot.name} has no value`);
      return slot.read();
    });
  }

  /** Re-fetches `id` now. Rejects when that fails. */
  async refresh(id: string): Promise<void> {
    const member = this.#member(id);
    const result = await keepAlive(this.#refresh(member));
    if (result !== undefined) throw result;
  }

  /** Forgets `id`: the next `get` fetches it again. */
  delete(id: string): void {
    this.#members.delete(id);
  }

  /** `[keyflip family NAME: N held]`: its name and how many members it holds, never a value. */
  toString(): string {
    return `[keyflip family ${this.#config.name}: ${this.#members.size} held]`;
  }

  /** `JSON.stringify(family)`: the same as `toString()`. */
  toJSON(): string {
    return this.toString();
  }

  /** What `util.inspect` and `console.log` show: the same as `toString()`. */
  [inspectSymbol](): string {
    return this.toString();
  }

  #member(id: string): Member<T> {
    if (this.#config.isClosed()) throw new ConfigurationError('the resolver is closed', 'CLOSED');
    if (typeof id !== 'string' || !ID.test(id)) {
      // The id goes into a chain: anything but a plain token could inject candidates ("x ?? env:KEY").
      const shown = typeof id === 'string' ? JSON.stringify(id.length > 40 ? `${id.slice(0, 40)}…` : id) : typeof id;
      throw new ConfigurationError(
        `family ${this.#config.name}: an id is 1 to 200 letters, digits, "_", "-" and ".", ` +
          `starting with a letter or digit; got ${shown}`,
      );
    }
    let member = this.#members.get(id);
    if (!member) {
      member = { slot: this.#config.createSlot(id), nextCheckAt: 0 };
      this.#members.set(id, member);
    }
    return member;
  }

  /** Refreshes a member (one walk at a time) and sets when it is next due. Resolves with the error, if any. */
  async #refresh(member: Member<T>): Promise<KeyflipError | undefined> {
    const result = await member.slot.refresh();
    const { clock, ttlMs, refreshMs, jitter } = this.#config;
    // A member is served for ttlMs as is (no jitter); after an unavailable outcome it backs off, at most
    // the shorter of the refresh period and ttlMs.
    member.nextCheckAt =
      clock.now() +
      nextWalkInMs(result.kind, member.slot.failures, {
        periodMs: ttlMs,
        backoffCapMs: Math.min(refreshMs, ttlMs),
        jitter,
        jitterPeriod: false,
      });
    if (result.kind === 'ok') return undefined;
    return isKeyflipError(result.error) ? result.error : undefined;
  }
}

/** Makes a family and the resolver's handle on its members. For the resolver only (not exported by the package). */
export function createFamily<T>(config: FamilyConfig<T>): FamilyControl<T> {
  return newFamily(config);
}
