/**
 * The per-secret usage index: secret name → instance id → what that instance holds of the secret, with
 * every fingerprint it listed and the uses it reported of each. It is what `usage(secret)` reads, and it
 * counts the (instance, secret, fingerprint) entries the collector holds.
 */
import type { BeaconSecret } from '../beacon/types.js';
import type { FingerprintRecord, InstanceRecord, SecretRecord } from './records.js';
import { addSample, trimBefore } from './use-samples.js';

/** Per secret, what each instance holds of it; counts the entries. */
export class SecretIndex {
  readonly #bySecret = new Map<string, Map<string, SecretRecord>>();
  readonly #maxFingerprints: number;
  #entries = 0;

  /** `maxFingerprints`: fingerprints kept per (instance, secret); beyond, the one listed longest ago goes. */
  constructor(maxFingerprints: number) {
    this.#maxFingerprints = maxFingerprints;
  }

  /** (instance, secret, fingerprint) entries held now. */
  get entries(): number {
    return this.#entries;
  }

  /** Distinct secret names held now. */
  get size(): number {
    return this.#bySecret.size;
  }

  /** What each instance holds of `secret` (nothing when no instance reported it). */
  holders(secret: string): Iterable<SecretRecord> {
    return this.#bySecret.get(secret)?.values() ?? [];
  }

  /** The secret names some instance listed at or after `cutoff`, sorted. */
  namesSince(cutoff: number): string[] {
    const names: string[] = [];
    for (const [name, holders] of this.#bySecret) {
      for (const held of holders.values()) {
        if (held.lastSeen >= cutoff) {
          names.push(name);
          break;
        }
      }
    }
    return names.sort();
  }

  /** Records the secrets one report of `instance` listed, received at `now`. */
  record(instance: InstanceRecord, secrets: readonly BeaconSecret[], now: number): void {
    for (const secret of secrets) {
      const held = this.#heldBy(instance, secret.name);
      held.lastSeen = now;
      let fp = held.fingerprints.get(secret.fingerprint);
      if (fp === undefined) {
        if (held.fingerprints.size >= this.#maxFingerprints) this.#dropOldestFingerprint(held);
        fp = {
          fingerprint: secret.fingerprint,
          version: secret.version,
          candidate: secret.candidate,
          source: secret.source,
          status: secret.status,
          loadedAt: secret.loadedAt,
          lastUsedAt: secret.lastUsedAt,
          lastSeen: now,
          samples: undefined,
          n: 0,
          since: now,
        };
        held.fingerprints.set(secret.fingerprint, fp);
        this.#entries++;
      } else {
        if (secret.version !== undefined) fp.version = secret.version;
        fp.candidate = secret.candidate;
        fp.source = secret.source;
        fp.status = secret.status;
        fp.loadedAt = secret.loadedAt;
        if (secret.lastUsedAt !== undefined) fp.lastUsedAt = secret.lastUsedAt;
        fp.lastSeen = now;
      }
      if (secret.uses > 0) addSample(fp, now, secret.uses);
    }
  }

  /** Forgets everything `instance` held (it was evicted or expired). */
  dropInstance(instance: InstanceRecord): void {
    for (const held of [...instance.secrets.values()]) this.#dropHeld(held);
  }

  /** Forgets what `instance` last listed before `cutoff`: secrets, fingerprints, and older use samples. */
  trim(instance: InstanceRecord, cutoff: number): void {
    for (const held of [...instance.secrets.values()]) {
      if (held.lastSeen < cutoff) {
        this.#dropHeld(held);
        continue;
      }
      for (const fp of [...held.fingerprints.values()]) {
        if (fp.lastSeen < cutoff) {
          held.fingerprints.delete(fp.fingerprint);
          this.#entries--;
        } else trimBefore(fp, cutoff);
      }
    }
  }

  /** What `instance` holds of the secret `name`, created (and indexed) on its first report of it. */
  #heldBy(instance: InstanceRecord, name: string): SecretRecord {
    let held = instance.secrets.get(name);
    if (held === undefined) {
      held = { name, instance, lastSeen: 0, fingerprints: new Map() };
      instance.secrets.set(name, held);
      let holders = this.#bySecret.get(name);
      if (holders === undefined) {
        holders = new Map();
        this.#bySecret.set(name, holders);
      }
      holders.set(instance.id, held);
    }
    return held;
  }

  #dropOldestFingerprint(held: SecretRecord): void {
    let oldest: FingerprintRecord | undefined;
    for (const candidate of held.fingerprints.values())
      if (oldest === undefined || candidate.lastSeen < oldest.lastSeen) oldest = candidate;
    if (oldest !== undefined) {
      held.fingerprints.delete(oldest.fingerprint);
      this.#entries--;
    }
  }

  #dropHeld(held: SecretRecord): void {
    this.#entries -= held.fingerprints.size;
    held.instance.secrets.delete(held.name);
    const holders = this.#bySecret.get(held.name);
    if (holders !== undefined && holders.get(held.instance.id) === held) {
      holders.delete(held.instance.id);
      if (holders.size === 0) this.#bySecret.delete(held.name);
    }
  }
}
