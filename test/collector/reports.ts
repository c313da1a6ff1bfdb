/** Beacon reports for the collector's tests, built from real values through the real fingerprint. */
import type { BeaconReport } from '../../src/beacon/types.js';
import { fingerprint } from '../../src/fingerprint.js';

/** The values behind the fingerprints used in these tests (the collector only ever sees the fingerprints). */
const VALUES = {
  old: 'sk-collector-test-OLD-0123456789abcdefABCDEF',
  new: 'sk-collector-test-NEW-fedcba9876543210FEDCBA',
  other: 'sk-collector-test-OTHER-55555555555555555555',
} as const;

export const FP = {
  old: fingerprint(VALUES.old),
  new: fingerprint(VALUES.new),
  other: fingerprint(VALUES.other),
} as const;

export interface HeldSecret {
  name?: string;
  fingerprint: string;
  version?: string;
  uses?: number;
  status?: 'ok' | 'stale' | 'revoked';
}

export interface InstanceShape {
  id: string;
  service?: string;
  environment?: string;
  host?: string;
  pid?: number;
  labels?: Record<string, string>;
  /** The beacon interval the report declares, ms (none: a sender before keyflip 0.2). */
  intervalMs?: number;
}

/** A valid `keyflip.beacon/v1` report of one instance holding `secrets`. */
export function report(instance: InstanceShape, secrets: HeldSecret[], sentAt = Date.now()): BeaconReport {
  return {
    schema: 'keyflip.beacon/v1',
    sentAt,
    service: instance.service ?? 'checkout-api',
    ...(instance.environment === undefined ? {} : { environment: instance.environment }),
    ...(instance.labels === undefined ? {} : { labels: instance.labels }),
    ...(instance.intervalMs === undefined ? {} : { intervalMs: instance.intervalMs }),
    instance: {
      id: instance.id,
      host: instance.host ?? `host-${instance.id}`,
      pid: instance.pid ?? 4242,
      startedAt: 1_700_000_000_000,
      runtime: 'node v20.20.2',
      keyflip: '0.1.0',
    },
    secrets: secrets.map((s) => ({
      name: s.name ?? 'OPENAI_API_KEY',
      candidate: `${s.name ?? 'OPENAI_API_KEY'}_v${s.version ?? '1'}`,
      source: 'memory',
      ...(s.version === undefined ? {} : { version: s.version }),
      fingerprint: s.fingerprint,
      loadedAt: 1_700_000_000_000,
      uses: s.uses ?? 0,
      status: s.status ?? 'ok',
    })),
  };
}
