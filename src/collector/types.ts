/** What the collector answers: who used which key of a secret (`usage`), and the instances it tracks. */

/** One instance that reported a fingerprint within the window. */
export interface UsageInstance {
  readonly id: string;
  readonly service: string;
  readonly environment?: string | undefined;
  readonly host: string;
  readonly pid: number;
  /** The last report that listed this fingerprint (ms since the epoch). */
  readonly lastSeen: number;
  /** Uses of this fingerprint summed over the reports within the window. */
  readonly uses: number;
}

/** Who held one fingerprint of a secret within the window. */
export interface FingerprintUsage {
  readonly fingerprint: string;
  /** The provider version reported with it, when there is one. */
  readonly version?: string | undefined;
  readonly instances: readonly UsageInstance[];
  /** Uses summed over its instances. */
  readonly uses: number;
  readonly lastSeen: number;
}

/** The answer to "which processes held which key of SECRET in the last window?". */
export interface SecretUsage {
  readonly secret: string;
  readonly windowMs: number;
  /** When the question was answered (ms since the epoch). */
  readonly at: number;
  /** How many distinct instances reported the secret at all within the window (0: no proof of anything). */
  readonly instancesSeen: number;
  readonly fingerprints: readonly FingerprintUsage[];
}

/** Anything that can answer the usage question: the collector (in process or over HTTP) or Prometheus. */
export interface UsageSource {
  usage(secret: string, options: { windowMs: number }): Promise<SecretUsage>;
}

/** What the collector holds of one secret in one instance. */
export interface CollectorInstanceSecret {
  readonly name: string;
  readonly fingerprint: string;
  readonly version?: string | undefined;
  readonly candidate: string;
  readonly source: string;
  readonly status: string;
  readonly loadedAt: number;
  readonly lastUsedAt?: number | undefined;
  /** The last report (collector time) that listed this fingerprint. */
  readonly lastSeen: number;
  /** Uses summed over the retention. */
  readonly uses: number;
}

/** One tracked instance, as `instances()` and `GET /v1/instances` give it. */
export interface CollectorInstance {
  readonly id: string;
  readonly service: string;
  readonly environment?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly runtime: string;
  readonly keyflip: string;
  /** The first and the last report received (collector time). */
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** The sender's own clock in its last report. */
  readonly sentAt: number;
  readonly reports: number;
  /** The median gap between its recent reports; undefined until it has sent two. */
  readonly intervalMs?: number | undefined;
  /** Not reported for `staleFactor` × its interval. */
  readonly stale: boolean;
  /** Every fingerprint it listed within the retention, the most recently listed first. */
  readonly secrets: readonly CollectorInstanceSecret[];
}
