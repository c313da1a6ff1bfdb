/**
 * The instances the collector tracks, in the order of their last report (least recent first), so that the
 * silent ones expire cheaply from the front once they outlive the retention. An instance is never evicted to
 * make room: every instance tracked reported within the retention, so within some window `usage()` may be asked
 * about; the collector refuses a new instance instead (see collector.ts), and records the refusal.
 */
import type { BeaconReport } from '../beacon/types.js';
import { identityBytes, type MemoryBudget } from './memory-budget.js';
import type { InstanceRecord } from './records.js';

/** Gaps between reports kept per instance to estimate its interval. */
export const GAPS = 7;

/** The tracked instances, least recently reporting first; `onDrop` hears of each one dropped. */
export class InstanceRegistry {
  /** In order of their last report, least recent first (re-inserted on each report). */
  readonly #instances = new Map<string, InstanceRecord>();
  readonly #budget: MemoryBudget;
  /** Called for each instance dropped (expired), after it left the registry and before its bytes are released. */
  readonly #onDrop: (instance: InstanceRecord) => void;
  #expired = 0;

  constructor(budget: MemoryBudget, onDrop: (instance: InstanceRecord) => void) {
    this.#budget = budget;
    this.#onDrop = onDrop;
  }

  /** Instances tracked now. */
  get size(): number {
    return this.#instances.size;
  }

  /** Instances dropped because they outlived the retention. */
  get expired(): number {
    return this.#expired;
  }

  /** Every instance, least recently reporting first. */
  values(): IterableIterator<InstanceRecord> {
    return this.#instances.values();
  }

  /** The instance with this id, when it is tracked. */
  get(id: string): InstanceRecord | undefined {
    return this.#instances.get(id);
  }

  /** The instance silent longest, when there is one. */
  oldest(): InstanceRecord | undefined {
    return this.#instances.values().next().value;
  }

  /**
   * The instance that sent `report`, created or updated from it and moved to the most recent end. The same
   * id may come back as a restarted process (a configured `instanceId`): the latest report's identity wins.
   * Its identity's estimated bytes are charged to the budget (what it holds is charged by the secret index).
   */
  touch(report: BeaconReport, now: number): InstanceRecord {
    const identity = report.instance;
    let instance = this.#instances.get(identity.id);
    let before = 0;
    if (instance === undefined) {
      instance = {
        id: identity.id,
        service: report.service,
        environment: report.environment,
        labels: report.labels,
        host: identity.host,
        pid: identity.pid,
        startedAt: identity.startedAt,
        runtime: identity.runtime,
        keyflip: identity.keyflip,
        firstSeen: now,
        lastSeen: now,
        sentAt: report.sentAt,
        reports: 0,
        gaps: [],
        declaredIntervalMs: report.intervalMs,
        bytes: 0,
        secrets: new Map(),
      };
    } else {
      before = identityBytes(instance);
      this.#instances.delete(identity.id);
      const gap = now - instance.lastSeen;
      if (gap > 0) {
        instance.gaps.push(gap);
        if (instance.gaps.length > GAPS) instance.gaps.shift();
      }
      instance.service = report.service;
      instance.environment = report.environment;
      instance.labels = report.labels;
      instance.host = identity.host;
      instance.pid = identity.pid;
      instance.startedAt = identity.startedAt;
      instance.runtime = identity.runtime;
      instance.keyflip = identity.keyflip;
      instance.lastSeen = now;
      instance.sentAt = report.sentAt;
      instance.declaredIntervalMs = report.intervalMs;
    }
    instance.reports++;
    this.#instances.set(identity.id, instance);
    this.#budget.charge(instance, identityBytes(instance) - before);
    return instance;
  }

  /**
   * Tracks an instance read back from a state file (its `bytes` already charged by the caller), at the most
   * recent end: adopt them least recently reporting first.
   */
  adopt(instance: InstanceRecord): void {
    this.#instances.set(instance.id, instance);
  }

  /** Expires every instance whose last report came before `cutoff`. */
  expireBefore(cutoff: number): void {
    for (const instance of this.#instances.values()) {
      if (instance.lastSeen >= cutoff) break;
      this.#instances.delete(instance.id);
      this.#onDrop(instance);
      this.#budget.release(instance);
      this.#expired++;
    }
  }
}

/** The median gap between an instance's recent reports, ms; undefined until it has sent two. */
export function intervalOf(instance: InstanceRecord): number | undefined {
  const gaps = instance.gaps;
  if (gaps.length === 0) return undefined;
  const sorted = [...gaps].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : Math.round(((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
}

/**
 * An instance's beacon interval, ms: the one its latest report declared, else (a sender before keyflip 0.2) the
 * median gap between its reports once it has sent two; undefined when neither is known.
 */
export function beaconIntervalOf(instance: InstanceRecord): number | undefined {
  return instance.declaredIntervalMs ?? intervalOf(instance);
}
