/**
 * What the drill and its worker processes say to each other over the IPC channel (`child_process.fork`).
 * Fingerprints and numbers only: a worker never sends a key.
 */

/**
 * The worker's configuration, passed as JSON in `DRILL_WORKER_CONFIG` (never a key: the stale worker's comes in
 * `OPENAI_API_KEY`).
 */
export interface WorkerConfig {
  /**
   * `live`: reads the key through keyflip and Secret Manager, requests through authFetch. `stale`: reads
   * `process.env` once (and beacons which key it holds). `straggler` (drill/straggler.ts): reads `process.env` once,
   * without keyflip: no beacon, a request every `everyMs`.
   */
  readonly mode: 'live' | 'stale' | 'straggler';
  /** 0, 1, …: the beacon's instance id is `drill-<mode>-<index>`. */
  readonly index: number;
  /** The secret as the apps declare it (`resolver.secret(NAME, chain)`). */
  readonly secret: string;
  /**
   * The chain (`OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1` in the pair layout, or `env:OPENAI_API_KEY` for the
   * stale worker).
   */
  readonly chain: string;
  readonly projectId: string;
  /** The mock provider's base URL (the SDK's `baseURL`). */
  readonly baseUrl: string;
  /** The collector's base URL, for `httpSink`; the token comes in `KEYFLIP_COLLECTOR_TOKEN`. */
  readonly collectorUrl: string;
  readonly service: string;
  /** Requests per second. */
  readonly rate: number;
  readonly refreshMs: number;
  readonly jitter: number;
  readonly beaconMs: number;
  /** The straggler: ms between its requests. */
  readonly everyMs?: number | undefined;
  /** Requests in flight at most; a slot beyond it is skipped and counted. */
  readonly maxInFlight: number;
  /** How often outcomes are sent to the drill, in ms. */
  readonly flushMs: number;
}

/** One HTTP attempt: `[fingerprint of the key it carried, HTTP status (0: no answer), start ms, end ms]`. */
export type Attempt = [fp: string, status: number, t0: number, t1: number];

/**
 * One request through the SDK: `[id, start ms, end ms, outcome, attempts, failedClosed]`. `outcome` is the
 * HTTP status the SDK ended with (200 done; 401, 500, …), or 0 when it threw without a status (a connection
 * error, or keyflip failing closed before anything was sent). `failedClosed` is 1 when it failed with
 * `SecretRevokedError`: keyflip served no key, so nothing was sent.
 */
export type RequestRecord = [
  id: number,
  t0: number,
  t1: number,
  outcome: number,
  attempts: Attempt[],
  failedClosed: 0 | 1,
];

/**
 * One walk of the chain (a refresh): `[start ms, end ms, fingerprint served after it, or 'revoked']`. Start
 * is when the source was asked for the chain's first candidate; end when `resolve` (or `revoke`) was emitted.
 */
export type WalkRecord = [t0: number, t1: number, fp: string];

export type WorkerMessage =
  | { type: 'ready'; pid: number; instanceId: string; fingerprint: string; at: number; startupMs: number }
  | {
      type: 'batch';
      requests: RequestRecord[];
      walks: WalkRecord[];
      /** Slots skipped because `maxInFlight` requests were in flight. */
      skipped: number;
      /** Resolver `error` / `revoke` events since the last batch, by code. */
      errors: Record<string, number>;
      /**
       * Failed requests since the last batch by kind: the SDK error's class and its cause's code
       * (`APIConnectionError ECONNRESET`).
       */
      failures: Record<string, number>;
    }
  | {
      type: 'done';
      at: number;
      beacon: { reports: number; sent: number; failed: number; dropped: number } | undefined;
      /** The worker's event-loop delay from ready to stop, ms. */
      loopDelayMs: { p99: number; max: number };
      /** CPU time (user + system) from ready to stop, ms; and requests sent meanwhile. */
      cpuMs: number;
      requests: number;
    }
  | { type: 'fatal'; message: string }
  /** The straggler, after `pause` or `ping`: its last request ended and was reported; `requests` made in all. */
  | { type: 'idle'; at: number; requests: number };

/**
 * `start`: send traffic (the whole fleet is up); `stop`: finish the requests in flight, close (the last beacon
 * goes), exit. The straggler only: `pause` (no more requests until `start`), `ping` (one request); it answers both
 * with `idle`.
 */
export type DrillMessage = { type: 'start' } | { type: 'stop' } | { type: 'pause' } | { type: 'ping' };
