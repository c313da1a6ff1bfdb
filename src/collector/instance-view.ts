/**
 * The instances as `instances()` and `GET /v1/instances` show them: each with what it listed within the
 * retention, its estimated report interval (and the one it declared), and whether it is stale (silent for
 * `staleFactor` × its interval — the declared one, else the estimated one, else `defaultIntervalMs`).
 */
import { beaconIntervalOf, type InstanceRegistry, intervalOf } from './instance-registry.js';
import type { InstanceRecord } from './records.js';
import type { CollectorInstance, CollectorInstanceSecret } from './types.js';
import { sumSince } from './use-samples.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** When an instance counts as stale. */
export interface Staleness {
  readonly staleFactor: number;
  readonly defaultIntervalMs: number;
}

/** Every instance that reported at or after `cutoff`, the most recently reporting first, as of `now`. */
export function instanceViews(
  registry: InstanceRegistry,
  cutoff: number,
  now: number,
  staleness: Staleness,
): CollectorInstance[] {
  const out: CollectorInstance[] = [];
  for (const instance of registry.values()) {
    if (instance.lastSeen >= cutoff) out.push(instanceView(instance, cutoff, now, staleness));
  }
  return out.reverse();
}

function instanceView(
  instance: InstanceRecord,
  cutoff: number,
  now: number,
  { staleFactor, defaultIntervalMs }: Staleness,
): CollectorInstance {
  const intervalMs = intervalOf(instance);
  const item: Mutable<CollectorInstance> = {
    id: instance.id,
    service: instance.service,
    host: instance.host,
    pid: instance.pid,
    startedAt: instance.startedAt,
    runtime: instance.runtime,
    keyflip: instance.keyflip,
    firstSeen: instance.firstSeen,
    lastSeen: instance.lastSeen,
    sentAt: instance.sentAt,
    reports: instance.reports,
    stale: now - instance.lastSeen > staleFactor * (beaconIntervalOf(instance) ?? defaultIntervalMs),
    secrets: heldSince(instance, cutoff),
  };
  if (instance.environment !== undefined) item.environment = instance.environment;
  if (instance.labels !== undefined) item.labels = instance.labels;
  if (intervalMs !== undefined) item.intervalMs = intervalMs;
  if (instance.declaredIntervalMs !== undefined) item.declaredIntervalMs = instance.declaredIntervalMs;
  return item;
}

/** Every fingerprint `instance` listed at or after `cutoff`, by secret name, the most recently listed first. */
function heldSince(instance: InstanceRecord, cutoff: number): CollectorInstanceSecret[] {
  const secrets: CollectorInstanceSecret[] = [];
  for (const held of instance.secrets.values()) {
    for (const fp of held.fingerprints.values()) {
      if (fp.lastSeen < cutoff) continue;
      const item: Mutable<CollectorInstanceSecret> = {
        name: held.name,
        fingerprint: fp.fingerprint,
        candidate: fp.candidate,
        source: fp.source,
        status: fp.status,
        loadedAt: fp.loadedAt,
        lastSeen: fp.lastSeen,
        uses: sumSince(fp, cutoff),
      };
      if (fp.version !== undefined) item.version = fp.version;
      if (fp.lastUsedAt !== undefined) item.lastUsedAt = fp.lastUsedAt;
      secrets.push(item);
    }
  }
  return secrets.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : b.lastSeen - a.lastSeen));
}
