/**
 * The per-secret usage index: secret name → instance id → what that instance holds of the secret, with
 * every fingerprint it listed and the uses it reported of each. It is what `usage(secret)` reads; it counts
 * the (instance, secret, fingerprint) entries the collector holds and charges their estimated bytes to the
 * memory budget. What its caps shed (secrets beyond `maxSecretsPerInstance`, fingerprints beyond
 * `maxFingerprintsPerSecret`) is reported to `onShed`, which records it as dropped evidence for that secret.
 */
import type { BeaconSecret } from '../beacon/types.js';
import { fingerprintBytes, type MemoryBudget, secretBytes, updatedStrings } from './memory-budget.js';
import type { FingerprintRecord, InstanceRecord, SecretRecord } from './records.js';
import type { DropReason } from './types.js';
import { addSample, trimBefore } from './use-samples.js';

/** The caps the index applies. */
export interface IndexLimits {
  /** Secret names kept per instance. */
  readonly maxSecretsPerInstance: number;
  /** Fingerprints kept per (instance, secret). */
  readonly maxFingerprints: number;
}

/** Hears of each entry a cap shed, by the secret it was about, at the time of the report that shed it. */
export type ShedListener = (
  secret: string,
  reason: Extract<DropReason, 'memory-budget' | 'fingerprint-cap'>,
  at: number,
) => void;

/** Per secret, what each instance holds of it; counts the entries. */
export class SecretIndex {
  readonly #bySecret = new Map<string, Map<string, SecretRecord>>();
  readonly #limits: IndexLimits;
  readonly #budget: MemoryBudget;
  readonly #onShed: ShedListener;
  #entries = 0;

  constructor(limits: IndexLimits, budget: MemoryBudget, onShed: ShedListener) {
    this.#limits = limits;
    this.#budget = budget;
    this.#onShed = onShed;
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

  /**
   * Records the secrets one report of `instance` listed, received at `now`. A new secret beyond
   * `maxSecretsPerInstance` is shed (`memory-budget`); a new fingerprint beyond `maxFingerprints` makes the one
   * listed longest ago go (`fingerprint-cap`).
   */
  record(instance: InstanceRecord, secrets: readonly BeaconSecret[], now: number): void {
    for (const secret of secrets) {
      const held = this.#heldBy(instance, secret.name);
      if (held === undefined) {
        this.#onShed(secret.name, 'memory-budget', now);
        continue;
      }
      held.lastSeen = now;
      let fp = held.fingerprints.get(secret.fingerprint);
      if (fp === undefined) {
        if (held.fingerprints.size >= this.#limits.maxFingerprints) {
          this.#dropOldestFingerprint(held);
          this.#onShed(secret.name, 'fingerprint-cap', now);
        }
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
        held.fingerprints.set(fp.fingerprint, fp);
        this.#entries++;
        this.#budget.charge(instance, fingerprintBytes(fp));
      } else {
        const before = fingerprintBytes(fp);
        const after = updatedStrings(fp, secret);
        fp.version = after.version;
        fp.candidate = after.candidate;
        fp.source = after.source;
        fp.status = after.status;
        fp.loadedAt = secret.loadedAt;
        if (secret.lastUsedAt !== undefined) fp.lastUsedAt = secret.lastUsedAt;
        fp.lastSeen = now;
        this.#budget.charge(instance, fingerprintBytes(fp) - before);
      }
      if (secret.uses > 0) addSample(fp, now, secret.uses);
    }
  }

  /**
   * Indexes what an instance read back from a state file holds (its `secrets`, already within the caps), and
   * charges their estimated bytes.
   */
  adopt(instance: InstanceRecord): void {
    for (const held of instance.secrets.values()) {
      let holders = this.#bySecret.get(held.name);
      if (holders === undefined) {
        holders = new Map();
        this.#bySecret.set(held.name, holders);
      }
      holders.set(instance.id, held);
      this.#entries += held.fingerprints.size;
      let bytes = secretBytes(held.name);
      for (const fp of held.fingerprints.values()) bytes += fingerprintBytes(fp);
      this.#budget.charge(instance, bytes);
    }
  }

  /** Forgets everything `instance` held (it expired). */
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
        if (fp.lastSeen < cutoff) this.#dropFingerprint(held, fp);
        else trimBefore(fp, cutoff);
      }
    }
  }

  /**
   * What `instance` holds of the secret `name`, created (and indexed, and charged) on its first listing; undefined
   * when it is new and the instance already holds `maxSecretsPerInstance` secrets.
   */
  #heldBy(instance: InstanceRecord, name: string): SecretRecord | undefined {
    let held = instance.secrets.get(name);
    if (held === undefined) {
      if (instance.secrets.size >= this.#limits.maxSecretsPerInstance) return undefined;
      held = { name, instance, lastSeen: 0, fingerprints: new Map() };
      instance.secrets.set(name, held);
      let holders = this.#bySecret.get(name);
      if (holders === undefined) {
        holders = new Map();
        this.#bySecret.set(name, holders);
      }
      holders.set(instance.id, held);
      this.#budget.charge(instance, secretBytes(name));
    }
    return held;
  }

  #dropOldestFingerprint(held: SecretRecord): void {
    let oldest: FingerprintRecord | undefined;
    for (const candidate of held.fingerprints.values())
      if (oldest === undefined || candidate.lastSeen < oldest.lastSeen) oldest = candidate;
    if (oldest !== undefined) this.#dropFingerprint(held, oldest);
  }

  #dropFingerprint(held: SecretRecord, fp: FingerprintRecord): void {
    held.fingerprints.delete(fp.fingerprint);
    this.#entries--;
    this.#budget.charge(held.instance, -fingerprintBytes(fp));
  }

  #dropHeld(held: SecretRecord): void {
    for (const fp of [...held.fingerprints.values()]) this.#dropFingerprint(held, fp);
    held.instance.secrets.delete(held.name);
    this.#budget.charge(held.instance, -secretBytes(held.name));
    const holders = this.#bySecret.get(held.name);
    if (holders !== undefined && holders.get(held.instance.id) === held) {
      holders.delete(held.instance.id);
      if (holders.size === 0) this.#bySecret.delete(held.name);
    }
  }
}
