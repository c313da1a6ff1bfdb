/** What the collector answers: who used which key of a secret (`usage`), and the instances it tracks. */

/** One instance that reported a fingerprint within the window. */
export interface UsageInstance {
  /** The instance id its reports carry (`BeaconOptions.instanceId`, or a UUID per resolver). */
  readonly id: string;
  /** The service it reported (`BeaconOptions.service`). */
  readonly service: string;
  /** The environment it reported, if any. */
  readonly environment?: string | undefined;
  /** Its host name. */
  readonly host: string;
  /** Its process id. */
  readonly pid: number;
  /** The last report that listed this fingerprint (ms since the epoch). */
  readonly lastSeen: number;
  /** Uses of this fingerprint summed over the reports within the window. */
  readonly uses: number;
  /**
   * True when the instance's latest report still lists this fingerprint: it holds the key now. False when it
   * listed it earlier in the window and has since reported another key of the secret (it rotated at
   * `lastSeen` at the latest); undefined when the source cannot tell (Prometheus).
   */
  readonly current?: boolean | undefined;
  /** The instance's first report that the source remembers (ms since the epoch, the source's clock). */
  readonly firstSeen?: number | undefined;
  /** The beacon interval the instance declared (or, for an older sender, the one observed), ms. */
  readonly intervalMs?: number | undefined;
  /**
   * The candidate the instance loaded this fingerprint from, as it reported it (`OPENAI_API_KEY_v2`,
   * `gcp:openai@current`); undefined when the source does not say (Prometheus). `verifyRetired` needs it to match a
   * version qualified by its secret (`OPENAI_API_KEY_v1@1`).
   */
  readonly candidate?: string | undefined;
}

/** Why evidence was lost (see {@link DroppedEvidence}). */
export type DropReason =
  /** A report from a new instance was refused: the collector tracks its maximum of instances (429). */
  | 'instance-cap'
  /** A report was refused or state was shed: the collector's memory budget was reached. */
  | 'memory-budget'
  /** Fingerprints beyond `maxFingerprintsPerSecret` of one (instance, secret) were forgotten. */
  | 'fingerprint-cap'
  /** An instance that had reported within the retention was evicted to make room. */
  | 'evicted'
  /**
   * The collector was not running (from its state file's last save to its restart): whatever was reported
   * then was lost, for every secret.
   */
  | 'collector-down';

/**
 * Evidence the source had to drop, in one span of its clock. Refused instances may hold any secret, so drops
 * that are not about one secret (`instance-cap`, `memory-budget`) count for every secret.
 */
export interface DroppedEvidence {
  /** Why the evidence was lost. */
  readonly reason: DropReason;
  /** The first and the last drop of the span (ms since the epoch, the source's clock). */
  readonly from: number;
  /** The last drop of the span (ms since the epoch, the source's clock). */
  readonly to: number;
  /** How many reports (or instances, for `evicted`) lost evidence in the span. */
  readonly count: number;
}

/**
 * What a usage source can vouch for about one secret: the evidence model's inputs besides the usage itself. A
 * source that cannot establish one of these says so, and `verifyRetired` answers "cannot prove".
 */
export interface UsageCoverage {
  /**
   * Since when the source has observed the fleet without a gap (ms since the epoch, the source's clock): the
   * collector's start, or the start of the unbroken coverage its state file carries across restarts; for
   * Prometheus the oldest point from which the secret's series have no scrape gap. `undefined`: unknown.
   */
  readonly observedSince: number | undefined;
  /** Evidence dropped within the window plus one interval (most recent last). Empty when nothing was dropped. */
  readonly dropped: readonly DroppedEvidence[];
  /**
   * The largest beacon interval among the instances that reported the secret within the window, or before it and
   * not yet silent for two of their intervals (a slow instance between two reports must still count), ms (declared
   * in their reports, or observed for older senders); `undefined` when no such instance has a known interval.
   */
  readonly maxIntervalMs: number | undefined;
  /** Other reasons the source cannot vouch for the window, for people (a scrape gap, a retention too short). */
  readonly gaps: readonly string[];
}

/** Who held one fingerprint of a secret within the window. */
export interface FingerprintUsage {
  /** The fingerprint (`kf_…`) of one key of the secret. */
  readonly fingerprint: string;
  /** The provider version reported with it, when there is one. */
  readonly version?: string | undefined;
  /** The instances that reported it within the window. */
  readonly instances: readonly UsageInstance[];
  /** Uses summed over its instances. */
  readonly uses: number;
  /** The last report, among its instances, that listed it (ms since the epoch). */
  readonly lastSeen: number;
}

/** The answer to "which processes held which key of SECRET in the last window?". */
export interface SecretUsage {
  /** The secret asked about. */
  readonly secret: string;
  /** The window asked about, ms back from `at`. */
  readonly windowMs: number;
  /** When the question was answered (ms since the epoch). */
  readonly at: number;
  /** How many distinct instances reported the secret at all within the window (0: no proof of anything). */
  readonly instancesSeen: number;
  /** Each fingerprint of the secret reported within the window, with who held it. */
  readonly fingerprints: readonly FingerprintUsage[];
  /**
   * What the source can vouch for. Optional for usage sources written before the evidence model; a source that
   * gives none can never make `verifyRetired` answer `clear`.
   */
  readonly coverage?: UsageCoverage | undefined;
}

/** Anything that can answer the usage question: the collector (in process or over HTTP) or Prometheus. */
export interface UsageSource {
  /** Which processes held which key of `secret` in the last `windowMs` milliseconds. */
  usage(secret: string, options: { windowMs: number }): Promise<SecretUsage>;
  /**
   * How `verifyRetired`'s messages name this source: `the collector at http://127.0.0.1:7391`.
   * @default 'the usage source'
   */
  readonly description?: string | undefined;
}

/** What the collector holds of one secret in one instance. */
export interface CollectorInstanceSecret {
  /** The secret's name, as reported (`BeaconSecret.name`). */
  readonly name: string;
  /** The fingerprint (`kf_…`) of the key it held. */
  readonly fingerprint: string;
  /** The provider's version of that key, when reported. */
  readonly version?: string | undefined;
  /** The candidate it was loaded from, as reported. */
  readonly candidate: string;
  /** The source that held it, as reported. */
  readonly source: string;
  /** Its status in the last report that listed it (`ok`, `stale`, `revoked`). */
  readonly status: string;
  /** When the instance loaded it (ms since the epoch, the sender's clock). */
  readonly loadedAt: number;
  /** When the instance last used it, as reported (ms since the epoch, the sender's clock). */
  readonly lastUsedAt?: number | undefined;
  /** The last report (collector time) that listed this fingerprint. */
  readonly lastSeen: number;
  /** Uses summed over the retention. */
  readonly uses: number;
}

/** One tracked instance, as `instances()` and `GET /v1/instances` give it. */
export interface CollectorInstance {
  /** The instance id its reports carry. */
  readonly id: string;
  /** The service it reported. */
  readonly service: string;
  /** The environment it reported, if any. */
  readonly environment?: string | undefined;
  /** The labels of its last report, if any. */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** Its host name. */
  readonly host: string;
  /** Its process id. */
  readonly pid: number;
  /** When its beacon started (ms since the epoch, the sender's clock). */
  readonly startedAt: number;
  /** Its runtime (`node v20.20.2`). */
  readonly runtime: string;
  /** Its keyflip version. */
  readonly keyflip: string;
  /** The first and the last report received (collector time). */
  readonly firstSeen: number;
  /** The last report received (ms since the epoch, collector time). */
  readonly lastSeen: number;
  /** The sender's own clock in its last report. */
  readonly sentAt: number;
  /** How many reports it sent that the collector accepted. */
  readonly reports: number;
  /** The median gap between its recent reports; undefined until it has sent two. */
  readonly intervalMs?: number | undefined;
  /** The beacon interval its latest report declared, ms; undefined for a sender that declares none. */
  readonly declaredIntervalMs?: number | undefined;
  /** Not reported for `staleFactor` × its interval. */
  readonly stale: boolean;
  /** Every fingerprint it listed within the retention, the most recently listed first. */
  readonly secrets: readonly CollectorInstanceSecret[];
}
