/**
 * What the collector keeps in memory, in three levels: an instance (one process), what it holds of one
 * secret, and each fingerprint of that secret it listed within the retention. Mutable on purpose: a report
 * updates the records in place (the collector's memory per instance is measured, and estimated by
 * memory-budget.ts). Times are the collector's.
 */
import type { UseSamples } from './use-samples.js';

/** One fingerprint of a secret as one instance listed it, with the uses it reported of it. */
export interface FingerprintRecord extends UseSamples {
  readonly fingerprint: string;
  version: string | undefined;
  candidate: string;
  source: string;
  status: string;
  loadedAt: number;
  lastUsedAt: number | undefined;
  /** The last report that listed it. */
  lastSeen: number;
}

/** What one instance holds of one secret: the fingerprints it listed, by fingerprint. */
export interface SecretRecord {
  readonly name: string;
  readonly instance: InstanceRecord;
  /** The last report that listed the secret. */
  lastSeen: number;
  readonly fingerprints: Map<string, FingerprintRecord>;
}

/** One process, as its last report described it. */
export interface InstanceRecord {
  readonly id: string;
  service: string;
  environment: string | undefined;
  labels: Readonly<Record<string, string>> | undefined;
  host: string;
  pid: number;
  startedAt: number;
  runtime: string;
  keyflip: string;
  firstSeen: number;
  lastSeen: number;
  /** The sender's own clock in its last report. */
  sentAt: number;
  reports: number;
  /** The last gaps between its reports, oldest first (its observed interval is their median). */
  gaps: number[];
  /** The beacon interval its latest report declared, ms (`BeaconReport.intervalMs`); undefined when none. */
  declaredIntervalMs: number | undefined;
  /** The estimated bytes this instance holds, everything it listed included (see memory-budget.ts). */
  bytes: number;
  /** What it holds, by secret name. */
  readonly secrets: Map<string, SecretRecord>;
}
