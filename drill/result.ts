/**
 * The drill's result: the JSON `npm run drill` writes to drill/results/ (schema `keyflip.drill/v3`: three
 * rotations — normal, automated, emergency —, four keys, the third minted at the provider; read back by
 * bench/drill.ts for BENCHMARKS.md), and what the report's tables show. v3 added `automated` and
 * `workers.straggler`, and `keys.v3` is the minted key's fingerprint.
 */
import type { KeyName } from './context.js';
import type { DrillSettings } from './settings.js';
import type { Spread } from './stats.js';

export interface Check {
  readonly id: string;
  readonly what: string;
  readonly ok: boolean;
  /** A check that informs only (a duration in the test) does not decide `ok`. */
  readonly enforced: boolean;
  readonly detail: string;
}

export interface PhaseRow {
  readonly phase: string;
  /** ms since the drill started. */
  readonly from: number;
  readonly to: number;
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly failedByStatus: Record<string, number>;
  /** HTTP attempts (what the provider saw) by key. */
  readonly attempts: Readonly<Record<KeyName | 'other', number>>;
  readonly answers401: number;
}

export interface CommandSummary {
  readonly step: string;
  readonly command: string;
  readonly exitCode: number | null;
  readonly outcome: string | undefined;
  readonly refusal: string | undefined;
  readonly message: string | undefined;
  readonly ms: number;
  /** ms since the drill started. */
  readonly at: number;
}

/** The flip of one normal rotation: when each live worker reached the new key, against the refresh bound. */
export interface FlipSummary {
  /** Which rotation (1 or 2), the key it retired and the key it made live. */
  rotation: number;
  from: KeyName;
  to: KeyName;
  /** Flip → each worker's first request with the new key. */
  toNewMs: Spread;
  /** Flip → each worker's resolver serving the new key (the end of the refresh that switched it). */
  onNewMs: Spread;
  /**
   * Flip (or the end of the refresh in flight at the flip) → the start of the refresh that switched each
   * worker; bounded by `boundMs`.
   */
  refreshStartMs: Spread;
  boundMs: number;
  /** Live workers whose switching refresh started within `boundMs`. */
  withinBound: number;
  switchedOnFirstRefresh: number;
  /** Requests that carried the old key after the worker had switched. */
  oldAfterSwitch: number;
  /**
   * From the end of the last refresh before the switch to the start of the one that switched, per worker
   * (the timer: refresh × (1 ± jitter) plus its lateness).
   */
  refreshGapMs: Spread;
  /** How long the refresh that switched took (one Secret Manager call per candidate read). */
  switchWalkMs: Spread;
  /**
   * The new key seen before its flip started, while it was staged: requests that carried it, the workers that
   * sent them, and refreshes (any worker's resolver) that read it. Must be 0: it is staged where no app reads it.
   */
  stagedKeyBeforeFlip: { requests: number; workers: number; reads: number };
}

/** The retirement of one normal rotation's old key: verify, revoke, and nothing on it afterwards. */
export interface RetirementSummary {
  rotation: number;
  key: KeyName;
  verifyExitCode: number | null;
  verifyAttempts: number;
  /** Rotation 1: the stale worker stopped → the verify that passed ended (null otherwise). */
  afterStaleStopMs: number | null;
  revokeExitCode: number | null;
  /** Every version holding the key was disabled by revoke. */
  disabled: boolean;
  /** The versions holding the key after revoke, as it listed them (`OPENAI_API_KEY_v1@1 DISABLED, …`). */
  versions: string;
  /**
   * Requests that carried the key after revoke started: by the keyflip workers' reports, and the provider's count
   * (less the straggler's, which the automated rotation counts apart).
   */
  afterRevoke: { attempts: number; providerRequests: number };
}

/** A `keyflip rotate` run of the automated rotation, as it answered. */
export interface AutomatedCommand {
  readonly exitCode: number | null;
  readonly outcome: string | undefined;
  readonly refusal: string | undefined;
  /** Instances the beacons named as holding the old key. */
  readonly offenders: number;
  /** The provider's verdict on the old key (`in-use`, `cannot-prove`, `clear`), its request count and sentence. */
  readonly provider: string | undefined;
  readonly providerRequests: number | undefined;
  readonly providerMessage: string | undefined;
  /** The old key's state in Secret Manager after the run. */
  readonly oldKeyState: string | undefined;
}

/**
 * The automated rotation (rotation 2, v2 → v3): `rotate auto` mints v3 at the provider and flips it; a straggler
 * without keyflip or beacon blocks verify and revoke through the provider's evidence alone; once it has stopped and
 * the window plus the lag has passed, `rotate auto` revokes v2, and the straggler's requests get 401.
 */
export interface AutomatedSummary {
  rotation: 2;
  from: KeyName;
  to: KeyName;
  /** The mock provider's reporting lag, ms (the commands' `--provider-lag`). */
  lagMs: number;
  /** The `rotate auto` run that minted v3, and v3: its fingerprint, where it is stored, its id at the provider. */
  minted: {
    exitCode: number | null;
    fingerprint: string | undefined;
    stored: string | undefined;
    keyId: string | undefined;
    serviceAccount: string | undefined;
    /** Made in the provider's console and given to auto in a file (the alias layout), not minted by auto. */
    given: boolean;
    /** v3 as the provider's management API lists it at the end: its status, and whether a service account owns it. */
    atProvider: { status: string; serviceAccount: boolean } | undefined;
  };
  straggler: {
    pid: number | undefined;
    everyMs: number;
    /** When it was sending, and when its last request ended, ms since the drill started. */
    startedAt: number | null;
    stoppedAt: number | null;
    /** Its requests before the revoke (all must succeed) and after (all must get 401). */
    beforeRevoke: { sent: number; ok: number };
    afterRevoke: { sent: number; answered401: number };
  };
  /** verify and revoke with the provider while the straggler ran and the beacons showed no holder. */
  verify: AutomatedCommand | undefined;
  revoke: AutomatedCommand | undefined;
  /** Every `rotate auto` run after the straggler stopped, in order: waiting, then the one that revoked v2. */
  autoRuns: {
    at: number;
    exitCode: number | null;
    outcome: string | undefined;
    /** The provider's verdict on v2 in the run's verification. */
    provider: string | undefined;
    /** v2's state in Secret Manager after the run. */
    oldKeyState: string | undefined;
    message: string | undefined;
  }[];
  /** When the run that revoked v2 started, ms since the drill started (null: none did). */
  revokedAt: number | null;
  /** The straggler's last request → that run, ms; at least `clearableAfterMs` (the window plus the lag). */
  afterStragglerStopMs: number | null;
  clearableAfterMs: number;
  /**
   * Whether the run that revoked v2 asked the provider before the window plus the lag had passed since the
   * straggler's last request (it must not have).
   */
  revokedEarly: boolean;
  /** v2's status at the provider at the end (`deleted`). */
  oldKeyAtProvider: string | undefined;
}

export interface DrillResult {
  readonly schema: 'keyflip.drill/v3';
  readonly ok: boolean;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string };
  readonly options: DrillSettings;
  /** The chain every live worker declared, from start to end. */
  readonly chain: string;
  /** The keys' fingerprints (never a key); v3's is `''` when the drill stopped before it was minted. */
  readonly keys: Readonly<Record<KeyName, string>>;
  readonly workers: { live: number; stale: number; straggler: number; startupMs: Spread; allReadyMs: number };
  readonly totals: {
    sent: number;
    ok: number;
    failed: number;
    failedByStatus: Record<string, number>;
    /** Failed requests by the SDK error's class and its causes' codes. */
    failureKinds: Record<string, number>;
    /** Resolver `error` events in the workers, by code. */
    resolverErrors: Record<string, number>;
    skipped: number;
    /** HTTP attempts the workers reported by key, and what the provider counted (the probes included). */
    attemptsByKey: Record<KeyName, number>;
    providerCounted: Record<KeyName, number>;
    /** The probes among what the provider counted, by key. */
    probes: Record<KeyName, number>;
    /**
     * Requests started before the emergency (the two normal rotations) by the keyflip workers (live and stale, not
     * the straggler), and those that failed.
     */
    normalSent: number;
    normalFailed: number;
    achievedRatePerWorker: number;
    /** Request durations (start to end, through the SDK), ms. */
    latencyMs: { p50: number; p99: number; max: number };
    /** CPU time per request in a live worker (its whole process, from ready to stop), ms. */
    workerCpuMsPerRequest: number;
    /** The worst event-loop delay of any worker, ms. */
    workerLoopDelayMs: { p99: number; max: number };
    /**
     * Up to 20 failed requests (8 at most per outcome): worker, start and end (ms since the drill started),
     * outcome, attempts as [key, status, start, end].
     */
    failureSamples: {
      worker: string;
      t0: number;
      t1: number;
      outcome: number;
      attempts: [string, number, number, number][];
    }[];
  };
  readonly phases: readonly PhaseRow[];
  readonly commands: readonly CommandSummary[];
  readonly timeline: readonly { t: number; event: string }[];
  /** The flips of the two normal rotations, in order. */
  readonly flips: readonly FlipSummary[];
  /** Rotation 1: verify and revoke while the stale worker ran. */
  readonly refusals: {
    verify: {
      refused: boolean;
      exitCode: number | null;
      namedStale: boolean;
      offenders: { service: string; pid: number }[];
    };
    revoke: {
      refused: boolean;
      exitCode: number | null;
      refusal: string | undefined;
      namedStale: boolean;
      v1StillEnabled: boolean;
    };
  };
  /**
   * The collector's restart once the stale worker was gone: the verifies answered before it had observed the
   * window plus one beacon interval again ("blind"), which must all be "cannot prove" (exit 4,
   * evidence-incomplete), and when verify passed. Undefined when the drill stopped before the restart.
   */
  readonly restart:
    | {
        /** When the restarted collector listened (the first time), ms since the drill started. */
        at: number;
        /** Restarts: one, or more when no verify answered before the collector caught up (a slow machine). */
        restarts: number;
        /** The window plus one beacon interval, ms: how long after the restart nothing can be proved. */
        coverageBackMs: number;
        blindVerifies: number;
        blindExitCodes: (number | null)[];
        blindRefusals: (string | null)[];
        /** What the blind verifies said was missing (`dropped`, `coverage`, …). */
        missing: string[];
        /** Verifies after the restart that answered exit 4, blind or not. */
        cannotProve: number;
        /** The latest restart → the answer of the verify that passed, ms (null: none passed). */
        passedAfterMs: number | null;
      }
    | undefined;
  /** The retirements of the two normal rotations' old keys (v1, then v2), in order. */
  readonly retirements: readonly RetirementSummary[];
  /** The automated rotation (undefined when the drill stopped before it). */
  readonly automated: AutomatedSummary | undefined;
  readonly emergency: {
    /** The key it retired and the key it made live. */
    from: KeyName;
    to: KeyName;
    /** The emergency → each worker's first request with the new key. */
    toNewMs: Spread;
    fromProviderRevokeMs: Spread;
    workersHealedOn401: number;
    workersSwitchedByRefresh: number;
    healMs: Spread;
    inFlightAtRevocation: number;
    requestsAnswered401: number;
    healedByRetry: number;
    failed: number;
    failedByStatus: Record<string, number>;
    failedNotInFlight: number;
    /** Requests on the old key after a worker had healed. */
    oldAfterHeal: number;
    /** Requests that failed closed (SecretRevokedError; issue 1's signature in the emergency). */
    failedClosed: { requests: number; workers: number; failedInTheEnd: number };
    /**
     * Failed requests with issue 2's signature (a 401 after authFetch's forced refresh joined a stale
     * refresh).
     */
    staleJoins: { requests: number; workers: number };
    explanation: string;
  };
  /**
   * Every child process the drill started (workers and `keyflip rotate` commands); none is running when it
   * returns.
   */
  readonly pids: readonly number[];
  /**
   * The drill process's own event-loop delay (it hosts the emulator, the mock provider and the collector),
   * ms.
   */
  readonly drillLoopDelayMs: { p50: number; p99: number; max: number };
  readonly leaks: number;
  readonly checks: readonly Check[];
}
