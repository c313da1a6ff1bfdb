/**
 * Step 4 of the rotation playbook: "verify zero traffic on the old key", under the evidence model
 * (docs/evidence.md). Asks a {@link UsageSource} (the collector in process or over HTTP, or Prometheus) who reported
 * the retired key of a secret within a window, and answers one of three things: `clear` (proved out of use),
 * `in-use` (names who: still holding it, or held it earlier and rotated since) or `cannot-prove` (says what evidence
 * is missing and what to do). Only `clear` lets `revoke` proceed.
 */
import { positiveSpanMs } from '../check.js';
import { formatDuration } from '../duration.js';
import { ConfigurationError } from '../errors.js';
import {
  coverageEvidence,
  versionEvidence,
  youngEvidence,
  type EvidenceQuestion,
  type MissingEvidence,
} from './missing-evidence.js';
import { matchRetired, parseRetired, retiredText, type HeldKey } from './retired-key.js';
import type { SecretUsage, UsageCoverage, UsageSource } from './types.js';

/** Anything that answers the usage question, synchronously (a `Collector`) or not (a `UsageSource`). */
export interface UsageAnswerer {
  /** Which processes held which key of `secret` in the last `windowMs` milliseconds. */
  usage(secret: string, options: { windowMs: number }): SecretUsage | Promise<SecretUsage>;
  /** How messages name the source. @default 'the usage source' */
  readonly description?: string | undefined;
}

/** Options of {@link verifyRetired}. */
export interface VerifyOptions {
  /** Who answers the usage question: a `Collector`, `collectorUsageSource(…)` or `prometheusUsageSource(…)`. */
  source: UsageSource | UsageAnswerer;
  /** The secret as the beacons report it (the first argument of `resolver.secret()`). */
  secret: string;
  /**
   * The retired key: its fingerprint (`kf_…`, from `keyflip fingerprint`), or its version qualified by the Secret
   * Manager secret that holds it: `OPENAI_API_KEY_v1@1` (suffix layout), `OPENAI_API_KEY@1` (alias layout). A bare
   * version number is refused: in the suffix layout every `NAME_vN` secret has a version 1.
   */
  retired: string;
  /** How far back to look, in ms (the playbook's default is one hour). */
  windowMs: number;
}

/** An instance that reported the retired key within the window (or, by version, one that may hold it). */
export type VerifyOffender = HeldKey;

/**
 * - `clear`: the evidence covers the whole window and no instance reported the retired key. The only `ok`.
 * - `in-use`: some instance reported the retired key within the window (this wins over any missing evidence:
 *   positive evidence is evidence).
 * - `cannot-prove`: no instance showed the retired key, and evidence a `clear` needs is missing (`missing` says
 *   what, and what to do).
 */
export type VerifyReason = 'clear' | 'in-use' | 'cannot-prove';

/** What {@link verifyRetired} answers. */
export interface VerifyResult {
  /** `reason === 'clear'`. */
  readonly ok: boolean;
  /** `clear`, `in-use` or `cannot-prove` (see {@link VerifyReason}). */
  readonly reason: VerifyReason;
  /** One sentence saying why, for people. */
  readonly message: string;
  /** The secret asked about (`VerifyOptions.secret`). */
  readonly secret: string;
  /** The retired key as given (`VerifyOptions.retired`). */
  readonly retired: string;
  /** How the retired key was matched: by its fingerprint, or by its qualified version. */
  readonly matchedBy: 'fingerprint' | 'version';
  /** The window asked about, ms. */
  readonly windowMs: number;
  /** When the source answered (ms since the epoch, its clock). */
  readonly at: number;
  /** Instances that reported the secret at all within the window. */
  readonly instancesSeen: number;
  /**
   * `holding` then `heldEarlier`; with no holder, by version, the instances that may hold the key (their key has
   * no version, or the source does not say which secret it came from).
   */
  readonly offenders: readonly VerifyOffender[];
  /** Instances whose latest report still lists the retired key (or the source cannot tell), most recent first. */
  readonly holding: readonly VerifyOffender[];
  /** Instances that listed it earlier in the window and have reported another key since; `lastSeen`: when last held. */
  readonly heldEarlier: readonly VerifyOffender[];
  /**
   * The evidence a `clear` would need and the answer lacks (empty when `clear`). Filled with `in-use` too: what
   * would still be missing once the holders have rotated.
   */
  readonly missing: readonly MissingEvidence[];
  /** What the source vouched for, as it answered (undefined: it said nothing, which never proves anything). */
  readonly coverage?: UsageCoverage | undefined;
  /** Every fingerprint reported within the window, with how many instances held it. */
  readonly inUse: readonly {
    /** The fingerprint (`kf_…`). */
    fingerprint: string;
    /** The provider version reported with it, when there is one. */
    version?: string | undefined;
    /** How many instances reported it in the window. */
    instances: number;
    /** Their uses of it, summed over the window. */
    uses: number;
  }[];
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const byRecency = (a: VerifyOffender, b: VerifyOffender): number =>
  b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Decides whether the retired key of `secret` is out of use, by the rules of the evidence model
 * (docs/evidence.md): `clear` only when the source's coverage spans the window plus one beacon interval, nothing
 * was dropped in it, the window is at least twice the longest beacon interval, at least one instance reported the
 * secret, every instance has been seen for one of its intervals, and none of them reported the retired key.
 *
 * A fingerprint counts as soon as an instance lists it, even with 0 uses in the window: a process that
 * holds the old key will use it on its next request, so it is an offender until it picks up the new one.
 *
 * Rejects with a `ConfigurationError` for an empty secret, a `retired` that is not a fingerprint or a qualified
 * version (a bare version number included: it says what to write), or a window that is not a positive number of
 * ms; with what the source rejects with when it cannot answer.
 */
export async function verifyRetired(options: VerifyOptions): Promise<VerifyResult> {
  const { source, secret, retired, windowMs } = options;
  if (typeof secret !== 'string' || secret.length === 0)
    throw new ConfigurationError('verifyRetired: secret must be a non-empty name');
  if (typeof retired !== 'string' || retired.length === 0)
    throw new ConfigurationError('verifyRetired: retired must be a fingerprint (kf_…) or a qualified version (NAME@1)');
  const key = parseRetired(retired, secret, 'verifyRetired: retired');
  if (windowMs === undefined) throw new ConfigurationError('verifyRetired: windowMs is required (ms)');
  positiveSpanMs('verifyRetired: windowMs', windowMs, 0);
  const usage = await source.usage(secret, { windowMs });

  const match = matchRetired(usage, key);
  const holding = match.holders.filter((o) => o.current !== false).sort(byRecency);
  const heldEarlier = match.holders.filter((o) => o.current === false).sort(byRecency);
  const holders = new Set(match.holders.map((o) => o.id));
  const description = typeof source.description === 'string' ? source.description : 'the usage source';
  const question: EvidenceQuestion = { secret, key: retiredText(key), windowMs, usage, source: description };
  const missing = [
    ...coverageEvidence(question),
    ...versionEvidence(question, match),
    ...youngEvidence(question, holders),
  ];

  const reason: VerifyReason = holders.size > 0 ? 'in-use' : missing.length > 0 ? 'cannot-prove' : 'clear';
  const offenders = reason === 'in-use' ? [...holding, ...heldEarlier] : [...match.unknown].sort(byRecency);
  const coverage = usage.coverage;
  return {
    ok: reason === 'clear',
    reason,
    message: messageOf(reason, question, { holding: holding.length, heldEarlier: heldEarlier.length }, missing),
    secret,
    retired,
    matchedBy: key.by,
    windowMs,
    at: usage.at,
    instancesSeen: usage.instancesSeen,
    offenders: offenders.map(({ why: _why, ...o }: VerifyOffender & { why?: unknown }) => o),
    holding,
    heldEarlier,
    missing,
    ...(coverage === undefined ? {} : { coverage }),
    inUse: usage.fingerprints.map((f) =>
      f.version === undefined
        ? { fingerprint: f.fingerprint, instances: f.instances.length, uses: f.uses }
        : { fingerprint: f.fingerprint, version: f.version, instances: f.instances.length, uses: f.uses },
    ),
  };
}

/** The one sentence of the result. */
function messageOf(
  reason: VerifyReason,
  q: EvidenceQuestion,
  counts: { holding: number; heldEarlier: number },
  missing: readonly MissingEvidence[],
): string {
  const { secret, key, windowMs, usage } = q;
  const window = formatDuration(windowMs);
  if (reason === 'in-use') {
    const { holding, heldEarlier } = counts;
    const split =
      heldEarlier === 0
        ? ''
        : `: ${holding} still ${holding === 1 ? 'holds' : 'hold'} it, ${heldEarlier} held it earlier and rotated since`;
    return `${plural(holding + heldEarlier, 'instance')} reported ${secret} ${key} in the last ${window}${split}`;
  }
  if (reason === 'cannot-prove') {
    const [first] = missing;
    const more = missing.length > 1 ? ` (and ${missing.length - 1} more missing)` : '';
    return `no instance shows ${secret} ${key} in the last ${window}, but that is not proof: ${first?.message}${more}`;
  }
  return (
    `no instance reported ${secret} ${key} in the last ${window} ` +
    `(${plural(usage.instancesSeen, 'instance')} reported the secret)`
  );
}
