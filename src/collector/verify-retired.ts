/**
 * Step 4 of the rotation playbook: "verify zero traffic on the old key". Asks a {@link UsageSource}
 * (the collector in process or over HTTP, or Prometheus) which instances reported the retired
 * fingerprint (or version) of a secret within a window, and decides whether the key is out of use.
 */
import { positiveMs } from '../check.js';
import { formatDuration } from '../duration.js';
import { ConfigurationError } from '../errors.js';
import { isFingerprint } from '../fingerprint.js';
import type { FingerprintUsage, SecretUsage, UsageInstance, UsageSource } from './types.js';

/** Anything that answers the usage question, synchronously (a `Collector`) or not (a `UsageSource`). */
export interface UsageAnswerer {
  usage(secret: string, options: { windowMs: number }): SecretUsage | Promise<SecretUsage>;
}

export interface VerifyOptions {
  source: UsageSource | UsageAnswerer;
  secret: string;
  /** The retired key: its fingerprint (`kf_…`, from `keyflip fingerprint`) or its provider version (`1`). */
  retired: string;
  /** How far back to look, in ms (the playbook's default is one hour). */
  windowMs: number;
}

/** An instance that reported the retired key within the window (or, by version, a key of unknown version). */
export interface VerifyOffender extends UsageInstance {
  readonly fingerprint: string;
  readonly version?: string | undefined;
}

/**
 * - `clear`: instances reported the secret within the window, none of them the retired key. The only `ok`.
 * - `in-use`: at least one instance reported the retired key within the window.
 * - `no-beacons`: no instance reported the secret at all within the window. Not a proof of zero traffic:
 *   the processes may run without a beacon, or their reports may not reach the collector.
 * - `version-unknown`: `retired` is a version, and some instances reported a fingerprint without a version
 *   (an `env:` or `file:` candidate): they may hold that version. Verify by fingerprint instead.
 */
export type VerifyReason = 'clear' | 'in-use' | 'no-beacons' | 'version-unknown';

export interface VerifyResult {
  readonly ok: boolean;
  readonly reason: VerifyReason;
  /** One sentence saying why, for people. */
  readonly message: string;
  readonly secret: string;
  readonly retired: string;
  readonly matchedBy: 'fingerprint' | 'version';
  readonly windowMs: number;
  /** When the source answered (ms since the epoch, its clock). */
  readonly at: number;
  /** Instances that reported the secret at all within the window. */
  readonly instancesSeen: number;
  /** Instances on the retired key (with `version-unknown`: those on a key of unknown version). */
  readonly offenders: readonly VerifyOffender[];
  /** Every fingerprint reported within the window, with how many instances held it. */
  readonly inUse: readonly { fingerprint: string; version?: string | undefined; instances: number; uses: number }[];
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const NO_PROOF = 'no beacons is not proof of zero traffic';

/**
 * Decides whether the retired key of `secret` is out of use. `ok` only when at least one instance reported
 * the secret within the window (no beacons is not proof) and none of them reported the retired key.
 *
 * A fingerprint counts as soon as an instance lists it, even with 0 uses in the window: a process that
 * holds the old key will use it on its next request, so it is an offender until it picks up the new one.
 *
 * By version, a fingerprint reported without a version (an `env:` or `file:` source) might be that
 * version: its instances make the answer `version-unknown`, not `ok`.
 *
 * Rejects with a `ConfigurationError` for an empty secret, an empty or malformed `retired`, or a window
 * that is not a positive number of ms; with what the source rejects with when it cannot answer.
 */
export async function verifyRetired(options: VerifyOptions): Promise<VerifyResult> {
  const { source, secret, retired, windowMs } = options;
  if (typeof secret !== 'string' || secret.length === 0)
    throw new ConfigurationError('verifyRetired: secret must be a non-empty name');
  if (typeof retired !== 'string' || retired.length === 0)
    throw new ConfigurationError('verifyRetired: retired must be a fingerprint (kf_…) or a version');
  if (retired.startsWith('kf_') && !isFingerprint(retired)) {
    throw new ConfigurationError(
      'verifyRetired: retired starts with kf_ but is not a fingerprint (kf_ + 12 lowercase hex digits)',
    );
  }
  if (windowMs === undefined) throw new ConfigurationError('verifyRetired: windowMs is required (ms)');
  positiveMs('verifyRetired: windowMs', windowMs, 0);
  const matchedBy = isFingerprint(retired) ? 'fingerprint' : 'version';
  const usage = await source.usage(secret, { windowMs });

  const offenders: VerifyOffender[] = [];
  const unknown: VerifyOffender[] = [];
  const toOffenders = (f: FingerprintUsage, into: VerifyOffender[]): void => {
    for (const instance of f.instances)
      into.push(
        f.version === undefined
          ? { ...instance, fingerprint: f.fingerprint }
          : { ...instance, fingerprint: f.fingerprint, version: f.version },
      );
  };
  for (const f of usage.fingerprints) {
    if (matchedBy === 'fingerprint' ? f.fingerprint === retired : f.version === retired) toOffenders(f, offenders);
    else if (matchedBy === 'version' && f.version === undefined) toOffenders(f, unknown);
  }
  const byRecency = (a: VerifyOffender, b: VerifyOffender): number =>
    b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  offenders.sort(byRecency);
  unknown.sort(byRecency);

  const key = matchedBy === 'fingerprint' ? retired : `version ${retired}`;
  const span = formatDuration(windowMs);
  let reason: VerifyReason;
  let message: string;
  if (usage.instancesSeen === 0) {
    reason = 'no-beacons';
    message = `no instance reported ${secret} in the window (the last ${span}): ${NO_PROOF}`;
  } else if (offenders.length > 0) {
    reason = 'in-use';
    message = `${plural(offenders.length, 'instance')} reported ${secret} ${key} in the last ${span}`;
  } else if (unknown.length > 0) {
    reason = 'version-unknown';
    message =
      `${plural(unknown.length, 'instance')} reported ${secret} without a version in the last ${span}: ` +
      `they may hold ${key}; verify by fingerprint`;
  } else {
    reason = 'clear';
    message =
      `no instance reported ${secret} ${key} in the last ${span} ` +
      `(${plural(usage.instancesSeen, 'instance')} reported the secret)`;
  }
  return {
    ok: reason === 'clear',
    reason,
    message,
    secret,
    retired,
    matchedBy,
    windowMs,
    at: usage.at,
    instancesSeen: usage.instancesSeen,
    offenders: reason === 'version-unknown' ? unknown : offenders,
    inUse: usage.fingerprints.map((f) =>
      f.version === undefined
        ? { fingerprint: f.fingerprint, instances: f.instances.length, uses: f.uses }
        : { fingerprint: f.fingerprint, version: f.version, instances: f.instances.length, uses: f.uses },
    ),
  };
}
