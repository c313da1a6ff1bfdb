/**
 * The plug-in interface through which a usage reporter (the usage beacon of `keyflip/beacon`) watches a
 * resolver: `createResolver({ sources, beacon: usageBeacon({ sink, service }) })`. The core defines it and
 * knows nothing of beacons, sinks or reports; the resolver gives the reporter a read-only view of its
 * declared secrets (provenance and use counters, never values), tells it about first loads, rotations,
 * revocations and `close()`, emits the reporter's errors as its own `error` events (`reportError`), and passes
 * its statistics through `resolver.beaconStats()`.
 */
import { ConfigurationError, type KeyflipError } from './errors.js';
import type { Clock, SecretInfo } from './types.js';

/** One declared secret as a usage reporter sees it: its provenance and its use counter. Never the value. */
export interface SecretUsage {
  /** The provenance of the value held (fingerprint, never the value), or `undefined` before the first resolution. */
  readonly info: SecretInfo | undefined;
  /** The reads counted since the last call (each `value`, `get()`, `authFetch` request); resets the counter. */
  takeUses(): number;
}

/** What a resolver shows the usage reporter plugged into it. Read-only. */
export interface UsageReporterHost {
  /** The resolver's clock (inject `manualClock()` in tests): schedule with it. */
  readonly clock: Clock;
  /** The resolver's `jitter` (0..1), to scale periods with so a fleet does not report in step. */
  readonly jitter: number;
  /** The declared secrets, in declaration order. Family members are not included (end-user keys). */
  secrets(): Iterable<SecretUsage>;
  /**
   * Emits `error` on the resolver: `{ component: 'beacon', error, servingStale: false }` with no `secret` (a
   * `ResolverErrorEvent`). For what the app must know (reports that cannot be delivered, secrets left out of
   * them): call it once per change of state, never per report. `error` names no value and no credential.
   * Never throws (a listener that throws is ignored), and does nothing once the resolver is closed and the
   * reporter's `close()` has settled.
   */
  reportError(error: KeyflipError): void;
}

/**
 * A declared secret started serving its first value (`load`: its first resolution, so a new process can be
 * reported at once), another value (`rotate`), or stopped serving one (`revoke`).
 */
export interface SecretChange {
  /** The secret's name. */
  readonly secret: string;
  /** `load` (its first value), `rotate` (another value) or `revoke` (no value any more). */
  readonly kind: 'load' | 'rotate' | 'revoke';
}

/**
 * What a usage reporter has done so far, as `resolver.beaconStats()` returns it. Each report goes to every
 * destination, so `sent + failed + dropped` counts deliveries (reports × destinations), not reports.
 */
export interface UsageReporterStats {
  /** Reports built. */
  readonly reports: number;
  /** Deliveries a destination accepted. */
  readonly sent: number;
  /** Deliveries that failed. */
  readonly failed: number;
  /** Deliveries skipped (a destination too slow to take more). */
  readonly dropped: number;
  /** Deliveries not settled yet. */
  readonly inFlight: number;
}

/** A usage reporter attached to one resolver, for the resolver's life. */
export interface AttachedUsageReporter {
  /**
   * A declared secret resolved for the first time, rotated or was revoked (family members are not reported).
   * Must not throw.
   */
  changed(change: SecretChange): void;
  /** What it has done so far. */
  stats(): UsageReporterStats;
  /** The resolver is closing: report a last time and release everything. Must not reject. */
  close(): Promise<void>;
}

/**
 * What `ResolverOptions.beacon` takes: `usageBeacon({ sink, service, … })` from `keyflip/beacon`. The
 * resolver calls `attach` once, when it is created.
 */
export interface UsageReporter {
  /** Starts reporting for `host` (the resolver), until the returned reporter is closed. */
  attach(host: UsageReporterHost): AttachedUsageReporter;
}

/**
 * Attaches `reporter` (the `beacon` option) to a resolver, or returns `undefined` when there is none.
 * @throws ConfigurationError for anything but a usage reporter, saying how to migrate from the options
 * object `beacon` took before `usageBeacon()`.
 */
export function attachUsageReporter(
  reporter: UsageReporter | undefined,
  host: UsageReporterHost,
): AttachedUsageReporter | undefined {
  if (reporter === undefined) return undefined;
  if (typeof reporter === 'object' && reporter !== null && typeof reporter.attach === 'function') {
    return reporter.attach(host);
  }
  if (typeof reporter === 'object' && reporter !== null && ('sink' in reporter || 'service' in reporter)) {
    throw new ConfigurationError(
      '`beacon` takes a usage reporter, not an options object: wrap the same options in usageBeacon() ' +
        "(exported by 'keyflip/beacon'), `beacon: usageBeacon({ service, sink, … })` instead of " +
        '`beacon: { service, sink, … }`',
    );
  }
  throw new ConfigurationError(
    "`beacon` must be a usage reporter: `beacon: usageBeacon({ service, sink })` from 'keyflip/beacon'",
  );
}
