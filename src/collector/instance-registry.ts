/**
 * The instances the collector tracks, in the order of their last report (least recent first), so that
 * both ways an instance goes are cheap: beyond `maxInstances` the one silent longest is evicted (a live
 * process reports again within its interval and comes back; a dead one does not), and past the retention
 * the silent ones expire from the front.
 */
import type { BeaconReport } from '../beacon/types.js';
import type { InstanceRecord } from './records.js';

/** Gaps between reports kept per instance to estimate its interval. */
const GAPS = 7;

/** The tracked instances, least recently reporting first; `onDrop` hears of each one dropped. */
export class InstanceRegistry {
  /** In order of their last report, least recent first (re-inserted on each report). */
  readonly #instances = new Map<string, InstanceRecord>();
  readonly #maxInstances: number;
  /** Called for each instance dropped (evicted or expired), after it left the registry. */
  readonly #onDrop: (instance: InstanceRecord) => void;
  #evicted = 0;
  #expired = 0;

  constructor(maxInstances: number, onDrop: (instance: InstanceRecord) => void) {
    this.#maxInstances = maxInstances;
    this.#onDrop = onDrop;
  }

  /** Instances tracked now. */
  get size(): number {
    return this.#instances.size;
  }

  /** Instances dropped because of `maxInstances`. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Instances dropped because they outlived the retention. */
  get expired(): number {
    return this.#expired;
  }

  /** Every instance, least recently reporting first. */
  values(): IterableIterator<InstanceRecord> {
    return this.#instances.values();
  }

  /**
   * The instance that sent `report`, created or updated from it and moved to the most recent end. The same
   * id may come back as a restarted process (a configured `instanceId`): the latest report's identity wins.
   */
  touch(report: BeaconReport, now: number): InstanceRecord {
    const identity = report.instance;
    let instance = this.#instances.get(identity.id);
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
        secrets: new Map(),
      };
    } else {
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
    }
    instance.reports++;
    this.#instances.set(identity.id, instance);
    return instance;
  }

  /** Evicts the instances silent longest until at most `maxInstances` are left. */
  evictOverflow(): void {
    while (this.#instances.size > this.#maxInstances) {
      this.#drop(this.#instances.values().next().value as InstanceRecord);
      this.#evicted++;
    }
  }

  /** Expires every instance whose last report came before `cutoff`. */
  expireBefore(cutoff: number): void {
    for (const instance of this.#instances.values()) {
      if (instance.lastSeen >= cutoff) break;
      this.#drop(instance);
      this.#expired++;
    }
  }

  #drop(instance: InstanceRecord): void {
    this.#instances.delete(instance.id);
    this.#onDrop(instance);
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
