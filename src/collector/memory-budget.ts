/**
 * The collector's memory budget: a conservative estimate of the bytes its state holds in the V8 heap, kept up to
 * date as reports add, change and drop records, and the dry run that says what a report would add before it is
 * applied (so a report that does not fit is refused whole, never half-recorded).
 *
 * The estimate errs high on purpose: each record is counted at its object, its boxed numbers, its place in the
 * maps that hold it, and its strings by their length (two bytes a character beyond Latin-1); a fingerprint is
 * counted with its use samples at their largest (`SAMPLE_CAP` pairs) from its first report, so samples that grow
 * later never take the state past the budget. The constants were measured on Node 20 (x64): an instance about
 * 700 bytes, a secret entry about 290 (500 when its name is held by no other instance), a fingerprint about 250,
 * a full series of use samples about 1 340; each is counted at 1.15 to 1.5 times that, strings at a 32-byte header
 * (16 measured). The live heap measured under floods is 50 % to 65 % of the estimate (75 % with every series of
 * samples full, most of it then outside the V8 heap).
 */
import type { BeaconReport, BeaconSecret } from '../beacon/types.js';
import type { FingerprintRecord, InstanceRecord } from './records.js';
import { SAMPLE_CAP } from './use-samples.js';

/** An instance: its record, boxed times, the gaps array, its map of secrets and its entry in the registry. */
const INSTANCE_BYTES = 1_024;
/**
 * One label: its slot in the labels object and the hidden classes V8 makes for a new set of keys (about 100 bytes
 * measured; its key and value are counted as strings besides).
 */
const LABEL_BYTES = 384;
/**
 * What one instance holds of one secret: the record, its map of fingerprints, its entries in the instance's map
 * and in the per-secret index, and that index's map for the name (counted for every holder, not once).
 */
const SECRET_BYTES = 768;
/** One fingerprint's record: the object, its boxed times and its entry in the secret's map. */
const FINGERPRINT_BYTES = 384;
/** A fingerprint's use samples at their largest: `SAMPLE_CAP` pairs of doubles, the typed array and its buffer. */
const SAMPLES_BYTES = SAMPLE_CAP * 16 + 512;
/** A string's header in the heap, rounded up. */
const STRING_BYTES = 32;

/** A character beyond Latin-1: the string takes two bytes a character. */
const WIDE = /[\u0100-\uffff]/;

/** The estimated bytes of a string (0 for none). */
export function stringBytes(text: string | undefined): number {
  if (text === undefined) return 0;
  return STRING_BYTES + (WIDE.test(text) ? 2 * text.length : text.length);
}

/** The fields of an instance's identity that its last report replaces. */
interface Identity {
  readonly id: string;
  readonly service: string;
  readonly environment?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly host: string;
  readonly runtime: string;
  readonly keyflip: string;
}

/** The estimated bytes of an instance without what it holds of its secrets. */
export function identityBytes(identity: Identity): number {
  let bytes =
    INSTANCE_BYTES +
    stringBytes(identity.id) +
    stringBytes(identity.service) +
    stringBytes(identity.environment) +
    stringBytes(identity.host) +
    stringBytes(identity.runtime) +
    stringBytes(identity.keyflip);
  if (identity.labels !== undefined) {
    for (const key of Object.keys(identity.labels)) {
      bytes += LABEL_BYTES + stringBytes(key) + stringBytes(identity.labels[key]);
    }
  }
  return bytes;
}

/** The identity of the instance that sent `report`, as {@link identityBytes} reads it. */
export function reportIdentity(report: BeaconReport): Identity {
  const { instance } = report;
  return {
    id: instance.id,
    service: report.service,
    environment: report.environment,
    labels: report.labels,
    host: instance.host,
    runtime: instance.runtime,
    keyflip: instance.keyflip,
  };
}

/** The estimated bytes of what one instance holds of the secret `name`, without its fingerprints. */
export function secretBytes(name: string): number {
  return SECRET_BYTES + stringBytes(name);
}

/** The strings of a fingerprint entry that a report replaces. */
interface FingerprintStrings {
  readonly fingerprint: string;
  readonly version?: string | undefined;
  readonly candidate: string;
  readonly source: string;
  readonly status: string;
}

/** The estimated bytes of one fingerprint entry, its use samples at their largest included. */
export function fingerprintBytes(fp: FingerprintStrings): number {
  return (
    FINGERPRINT_BYTES +
    SAMPLES_BYTES +
    stringBytes(fp.fingerprint) +
    stringBytes(fp.version) +
    stringBytes(fp.candidate) +
    stringBytes(fp.source) +
    stringBytes(fp.status)
  );
}

/** A fingerprint entry as it stands once `secret` has updated it (a report without a version keeps the old one). */
export function updatedStrings(
  fp: FingerprintRecord,
  secret: BeaconSecret,
): FingerprintStrings & { version: string | undefined } {
  return {
    fingerprint: fp.fingerprint,
    version: secret.version ?? fp.version,
    candidate: secret.candidate,
    source: secret.source,
    status: secret.status,
  };
}

/**
 * The bytes `report` would add to the state (its instance `existing`, or a new one), at most: a dry run of the
 * secret index's `record` that counts new secrets (up to `maxSecretsPerInstance`), new fingerprints and longer
 * strings, and never counts what a cap would free. Negative when the report only shortens strings.
 */
export function reportBytes(
  existing: InstanceRecord | undefined,
  report: BeaconReport,
  maxSecretsPerInstance: number,
): number {
  let bytes = identityBytes(reportIdentity(report)) - (existing === undefined ? 0 : identityBytes(existing));
  let names = existing?.secrets.size ?? 0;
  const added = new Set<string>();
  const shed = new Set<string>();
  const counted = new Set<string>();
  for (const secret of report.secrets) {
    const held = existing?.secrets.get(secret.name);
    if (held === undefined && !added.has(secret.name)) {
      if (shed.has(secret.name) || names >= maxSecretsPerInstance) {
        shed.add(secret.name);
        continue;
      }
      names++;
      added.add(secret.name);
      bytes += secretBytes(secret.name);
    }
    const key = `${secret.name}\n${secret.fingerprint}`;
    if (counted.has(key)) continue;
    counted.add(key);
    const fp = held?.fingerprints.get(secret.fingerprint);
    bytes +=
      fp === undefined
        ? fingerprintBytes(secret)
        : Math.max(0, fingerprintBytes(updatedStrings(fp, secret)) - fingerprintBytes(fp));
  }
  return bytes;
}

/** The estimated bytes of the state, kept per instance (`InstanceRecord.bytes`) and in total. */
export class MemoryBudget {
  /** The most estimated bytes the state may hold. */
  readonly maxBytes: number;
  #total = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** The estimated bytes of the state now. */
  get estimatedBytes(): number {
    return this.#total;
  }

  /** Whether `bytes` more fit (anything that adds nothing always does). */
  fits(bytes: number): boolean {
    return bytes <= 0 || this.#total + bytes <= this.maxBytes;
  }

  /** Counts `bytes` more (or fewer, when negative) held by `instance`. */
  charge(instance: InstanceRecord, bytes: number): void {
    instance.bytes += bytes;
    this.#total += bytes;
  }

  /** Forgets everything `instance` held: it left the state. */
  release(instance: InstanceRecord): void {
    this.#total -= instance.bytes;
    instance.bytes = 0;
  }
}
