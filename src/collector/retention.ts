/**
 * Retention: what is older than `retentionMs` is forgotten. Instances that stopped reporting expire from
 * the front of the registry; a full pass over every entry (secrets and fingerprints an instance no longer
 * lists, use samples out of the retention) runs at most every `sweepEveryMs`, on the calls that read or
 * write, so an idle collector does no work and needs no timer.
 *
 * Dropped evidence is kept longer, {@link DROPS_KEPT_FACTOR} × the retention plus a day: a question looks back
 * over its window (up to the retention) plus the largest beacon interval (up to a day when declared, up to the
 * retention when observed), and a drop in that span must still be there to make the answer "cannot prove".
 */
import type { EvidenceDrops } from './dropped-evidence.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { SecretIndex } from './secret-index.js';

/** Dropped evidence is kept for this many times the retention, plus a day. */
export const DROPS_KEPT_FACTOR = 2;
const DAY = 86_400_000;

/** Drops what outlived the retention: on `sweep`, or on `maybeSweep` once a pass is due. */
export class Retention {
  readonly #retentionMs: number;
  readonly #sweepEveryMs: number;
  readonly #registry: InstanceRegistry;
  readonly #index: SecretIndex;
  readonly #drops: EvidenceDrops;
  #lastSweep: number;

  constructor(
    limits: { retentionMs: number; sweepEveryMs: number },
    parts: { registry: InstanceRegistry; index: SecretIndex; drops: EvidenceDrops },
    now: number,
  ) {
    this.#retentionMs = limits.retentionMs;
    this.#sweepEveryMs = limits.sweepEveryMs;
    this.#registry = parts.registry;
    this.#index = parts.index;
    this.#drops = parts.drops;
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
    this.#drops.forgetBefore(now - DROPS_KEPT_FACTOR * this.#retentionMs - DAY);
  }
}
