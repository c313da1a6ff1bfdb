/**
 * Retention: what is older than `retentionMs` is forgotten. Instances that stopped reporting expire from
 * the front of the registry; a full pass over every entry (secrets and fingerprints an instance no longer
 * lists, use samples out of the retention) runs at most every `sweepEveryMs`, on the calls that read or
 * write, so an idle collector does no work and needs no timer.
 */
import type { InstanceRegistry } from './instance-registry.js';
import type { SecretIndex } from './secret-index.js';

/** Drops what outlived the retention: on `sweep`, or on `maybeSweep` once a pass is due. */
export class Retention {
  readonly #retentionMs: number;
  readonly #sweepEveryMs: number;
  readonly #registry: InstanceRegistry;
  readonly #index: SecretIndex;
  #lastSweep: number;

  constructor(
    limits: { retentionMs: number; sweepEveryMs: number },
    registry: InstanceRegistry,
    index: SecretIndex,
    now: number,
  ) {
    this.#retentionMs = limits.retentionMs;
    this.#sweepEveryMs = limits.sweepEveryMs;
    this.#registry = registry;
    this.#index = index;
    this.#lastSweep = now;
  }

  /** Sweeps when the last full pass is `sweepEveryMs` old (or the clock went back). */
  maybeSweep(now: number): void {
    if (now - this.#lastSweep >= this.#sweepEveryMs || now < this.#lastSweep) this.sweep(now);
  }

  /** Drops everything last reported before `now - retentionMs`. */
  sweep(now: number): void {
    this.#lastSweep = now;
    const cutoff = now - this.#retentionMs;
    this.#registry.expireBefore(cutoff);
    for (const instance of this.#registry.values()) this.#index.trim(instance, cutoff);
  }
}
