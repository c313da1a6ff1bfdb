/**
 * A flood of valid reports from fresh instance ids, sent from worker threads (flood-worker.mjs) to a collector
 * on 127.0.0.1: bounded in count (`reports`) and in time (`withinMs`), it stops by itself. Each thread builds
 * its body once.
 */
import { Worker } from 'node:worker_threads';

export interface FloodOptions {
  /** The collector's URL (127.0.0.1 only). */
  url: string;
  token: string;
  /** Reports in all, over the threads. */
  reports: number;
  /** The flood stops sending after this long, ms, whatever is left. */
  withinMs: number;
  /** @default 2 */
  threads?: number;
  /** Requests in flight per thread. @default 4 */
  concurrency?: number;
  /** `small`: one secret; `max`: 1 000 secrets, about 0.9 MiB. */
  shape: 'small' | 'max';
  /** The secret and fingerprint of a `small` report. @default OPENAI_API_KEY, kf_000000000f1d */
  secret?: string;
  fingerprint?: string;
}

export interface FloodResult {
  /** Requests made (answered or not). */
  readonly sent: number;
  /** Answers by HTTP status. */
  readonly byStatus: Readonly<Record<string, number>>;
  /** Requests that got no answer (connection reset, timeout). */
  readonly errors: number;
  /** The first 429 answer: its body and Retry-After header. */
  readonly refusal: { status: number; body: string; retryAfter: string | undefined } | undefined;
  /** Bytes of one report. */
  readonly bodyBytes: number;
}

interface ThreadResult {
  sent: number;
  byStatus: Record<string, number>;
  errors: number;
  refusal: FloodResult['refusal'];
  bodyBytes: number;
}

const WORKER = new URL('./flood-worker.mjs', import.meta.url);

/** Runs the flood to its end (every report sent, or `withinMs` passed) and says how it was answered. */
export async function flood(options: FloodOptions): Promise<FloodResult> {
  const target = new URL(options.url);
  if (target.hostname !== '127.0.0.1') throw new Error('flood: only a collector on 127.0.0.1');
  const threads = options.threads ?? 2;
  const deadline = Date.now() + options.withinMs;
  const results = await Promise.all(
    Array.from({ length: threads }, (_, thread) => {
      const count = Math.floor(options.reports / threads) + (thread < options.reports % threads ? 1 : 0);
      const worker = new Worker(WORKER, {
        workerData: {
          port: Number(target.port),
          token: options.token,
          count,
          deadline,
          concurrency: options.concurrency ?? 4,
          shape: options.shape,
          thread,
          secret: options.secret ?? 'OPENAI_API_KEY',
          fingerprint: options.fingerprint ?? 'kf_000000000f1d',
        },
        resourceLimits: { maxOldGenerationSizeMb: 128 },
      });
      return new Promise<ThreadResult>((resolve, reject) => {
        // A thread stops by itself at the deadline; one that hangs past it (and 20 s of requests in flight)
        // is terminated.
        const guard = setTimeout(() => void worker.terminate(), options.withinMs + 20_000);
        worker.once('message', (result: ThreadResult) => {
          clearTimeout(guard);
          resolve(result);
        });
        worker.once('error', (error) => {
          clearTimeout(guard);
          reject(error);
        });
        worker.once('exit', (code) => {
          clearTimeout(guard);
          reject(new Error(`flood thread ${thread} exited (${code}) without a result`));
        });
      });
    }),
  );
  const byStatus: Record<string, number> = {};
  for (const r of results)
    for (const [status, n] of Object.entries(r.byStatus)) byStatus[status] = (byStatus[status] ?? 0) + n;
  return {
    sent: results.reduce((n, r) => n + r.sent, 0),
    byStatus,
    errors: results.reduce((n, r) => n + r.errors, 0),
    refusal: results.find((r) => r.refusal !== undefined)?.refusal,
    bodyBytes: results[0]?.bodyBytes ?? 0,
  };
}
