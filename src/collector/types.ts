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
