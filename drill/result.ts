/**
 * The drill's result: the JSON `npm run drill` writes to drill/results/ (schema `keyflip.drill/v1`, read
 * back by bench/drill.ts for BENCHMARKS.md), and what the report's tables show.
 */
import type { DrillKeys, DrillSettings } from './settings.js';
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
  readonly attempts: { readonly v1: number; readonly v2: number; readonly v3: number; readonly other: number };
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

export interface DrillResult {
  readonly schema: 'keyflip.drill/v1';
  readonly ok: boolean;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string };
  readonly options: DrillSettings;
  /** The keys' fingerprints (never a key). */
  readonly keys: DrillKeys;
  readonly workers: { live: number; stale: number; startupMs: Spread; allReadyMs: number };
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
    attemptsByKey: { v1: number; v2: number; v3: number };
    providerCounted: { v1: number; v2: number; v3: number };
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
  readonly flip: {
    /** Flip → each worker's first request with v2. */
    toV2Ms: Spread;
    /** Flip → each worker's resolver serving v2 (the end of the refresh that switched it). */
    onV2Ms: Spread;
    /**
     * Flip (or the end of the refresh in flight at the flip) → the start of the refresh that switched each
     * worker; bounded by `boundMs`.
     */
    refreshStartMs: Spread;
    boundMs: number;
    switchedOnFirstRefresh: number;
    v1AfterSwitch: number;
    /**
     * From the end of the last refresh before the switch to the start of the one that switched, per worker
     * (the timer: refresh × (1 ± jitter) plus its lateness).
     */
    refreshGapMs: Spread;
    /** How long the refresh that switched took (three Secret Manager calls in the suffix layout). */
    switchWalkMs: Spread;
    /** Requests that carried the staged key before the flip (suffix layout: provision's add-then-disable gap). */
    stagedKeyBeforeFlip: { requests: number; workers: number };
  };
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
  readonly cleared: {
    verifyExitCode: number | null;
    verifyAttempts: number;
    afterStaleStopMs: number | null;
    revokeExitCode: number | null;
    v1Disabled: boolean;
  };
  readonly v1AfterRevoke: { attempts: number; providerRequests: number };
  readonly emergency: {
    toV3Ms: Spread;
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
    v2AfterHeal: number;
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
