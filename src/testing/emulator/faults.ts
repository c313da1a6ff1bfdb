import { ConfigurationError } from '../../errors.js';
import { GrpcCode, grpcCodeName } from '../../sources/gcp-names.js';

/**
 * Fault injection and call counting, shared by the gRPC and the REST surface. Methods are named as
 * the proto names them ('AccessSecretVersion'); an unknown name throws a `ConfigurationError`, so a typo
 * cannot make a test pass by counting or failing nothing. Every bad argument throws one.
 */
export class Faults {
  private readonly failures = new Map<string, number[]>();
  private readonly latencies = new Map<string, number>();
  private readonly counts = new Map<string, number>();
  private latencyAll = 0;
  private corrupt = 0;

  constructor(private readonly methods: ReadonlySet<string>) {}

  private check(method: string): string {
    if (typeof method !== 'string' || !this.methods.has(method)) {
      const guess = typeof method === 'string' ? `${method.charAt(0).toUpperCase()}${method.slice(1)}` : '';
      const hint = this.methods.has(guess) ? ` (did you mean '${guess}'?)` : '';
      throw new ConfigurationError(
        `Unknown Secret Manager method '${String(method)}'${hint}: use the name the proto gives it, ` +
          `one of ${[...this.methods].join(', ')}.`,
      );
    }
    return method;
  }

  /** The next `times` calls of `method` fail with status `code` (queued after any failures already set). */
  failNext(method: string, code: number, times = 1): void {
    this.check(method);
    if (!Number.isInteger(code) || code < GrpcCode.CANCELLED || code > GrpcCode.UNAUTHENTICATED) {
      throw new ConfigurationError(
        `failNext: code must be a gRPC status code from 1 (CANCELLED) to 16 (UNAUTHENTICATED), got ${String(code)}.`,
      );
    }
    if (!Number.isInteger(times) || times < 1)
      throw new ConfigurationError(`failNext: times must be a positive integer, got ${String(times)}.`);
    const queue = this.failures.get(method) ?? [];
    for (let i = 0; i < times; i++) queue.push(code);
    this.failures.set(method, queue);
  }

  /** Adds `ms` to every call (or to every call of `method`; the two add up). 0 removes it. */
  setLatency(ms: number, method?: string): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new ConfigurationError(`setLatency: ms must be a finite number >= 0, got ${String(ms)}.`);
    if (method === undefined) this.latencyAll = ms;
    else if (ms === 0) this.latencies.delete(this.check(method));
    else this.latencies.set(this.check(method), ms);
  }

  corruptNextChecksum(times = 1): void {
    if (!Number.isInteger(times) || times < 1)
      throw new ConfigurationError(`corruptNextChecksum: times must be a positive integer, got ${String(times)}.`);
    this.corrupt += times;
  }

  calls(method?: string): number {
    if (method === undefined) {
      let total = 0;
      for (const n of this.counts.values()) total += n;
      return total;
    }
    return this.counts.get(this.check(method)) ?? 0;
  }

  resetCalls(): void {
    this.counts.clear();
  }

  /** A call arrives: it is counted, and takes its injected failure (if any) now, even if it is cancelled later. */
  arrive(method: string): { delayMs: number; failure: { code: number; message: string } | undefined } {
    this.counts.set(method, (this.counts.get(method) ?? 0) + 1);
    const queue = this.failures.get(method);
    const code = queue?.shift();
    if (queue && queue.length === 0) this.failures.delete(method);
    return {
      delayMs: this.latencyAll + (this.latencies.get(method) ?? 0),
      failure:
        code === undefined
          ? undefined
          : { code, message: `Injected fault: ${grpcCodeName(code)} on ${method} (keyflip Secret Manager emulator).` },
    };
  }

  /** Whether this successful AccessSecretVersion answer must carry a wrong checksum. */
  takeCorruption(): boolean {
    if (this.corrupt === 0) return false;
    this.corrupt--;
    return true;
  }
}
