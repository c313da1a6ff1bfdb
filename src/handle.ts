import { EventEmitter } from 'eventemitter3';
import { keepAlive } from './clock.js';
import type { SecretEvents } from './events.js';
import { inspectSymbol, redactedLabel } from './redacted.js';
import type { RefreshLoop } from './refresh-loop.js';
import type { Slot } from './slot.js';
import type { SecretInfo } from './types.js';

/** Set once, by the class's static block: the only way to make a handle (the constructor is private). */
let newHandle: <T>(slot: Slot<T>, loop: RefreshLoop<T>) => SecretHandle<T>;

/**
 * A declared secret, made by `resolver.secret()`. Read `value` synchronously once resolved; it is kept
 * fresh in the background. `toString`, `toJSON` and `util.inspect` show `[keyflip secret NAME kf_…]`, never
 * the value. Emits `resolve`, `rotate`, `fallback`, `error` and `revoke` for this secret (never a value).
 */
export class SecretHandle<T = string> extends EventEmitter<SecretEvents> {
  readonly #slot: Slot<T>;
  readonly #loop: RefreshLoop<T>;

  static {
    newHandle = <U>(slot: Slot<U>, loop: RefreshLoop<U>) => new SecretHandle<U>(slot, loop);
  }

  private constructor(slot: Slot<T>, loop: RefreshLoop<T>) {
    super();
    this.#slot = slot;
    this.#loop = loop;
  }

  /** The logical name. */
  get name(): string {
    return this.#slot.name;
  }

  /**
   * The current value, synchronously. Counts one use (for the usage beacon).
   * @throws NotReadyError before the first resolution; SecretRevokedError after a revocation; the last
   * error when the value cannot be served (SourceUnavailableError past `maxStaleMs`).
   */
  get value(): T {
    return this.#slot.read();
  }

  /** Waits for the first resolution, then returns the current value. Counts one use. */
  get(): Promise<T> {
    const slot = this.#slot;
    if (slot.servable) return Promise.resolve(slot.read());
    return keepAlive(this.#loop.whenReady(false)).then(() => slot.read());
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
  refresh(): Promise<SecretInfo> {
    return keepAlive(this.#loop.refresh());
  }

  override toString(): string {
    return redactedLabel('secret', this.#slot.name, this.#slot.info?.fingerprint);
  }

  /** `JSON.stringify(handle)`: `[keyflip secret NAME kf_…]`, never the value. */
  toJSON(): string {
    return this.toString();
  }

  /** What `util.inspect` and `console.log` show: `[keyflip secret NAME kf_…]`, never the value. */
  [inspectSymbol](): string {
    return this.toString();
  }
}

/** Makes the public face of a declared secret. For the resolver only (not exported by the package). */
export function createHandle<T>(slot: Slot<T>, loop: RefreshLoop<T>): SecretHandle<T> {
  return newHandle(slot, loop);
}
