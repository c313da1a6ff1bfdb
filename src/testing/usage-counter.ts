/**
 * A usage reporter that only reads a resolver's use counters, as the usage beacon does, through the public plug-in
 * interface: `createResolver({ sources, beacon: counter.reporter })`. For tests (and benchmarks) that assert how often
 * a secret was read — by `value`, `get()` or an `authFetch` request — without a beacon or a collector. It never
 * reports, and adds nothing to a read: every read counts one use with or without a reporter.
 */
import type { UsageReporter, UsageReporterHost } from '../usage-reporter.js';

/** What {@link usageCounter} returns. */
export interface UsageCounter {
  /** Give it as the resolver's `beacon` option. One counter serves one resolver. */
  readonly reporter: UsageReporter;
  /**
   * The uses counted since the last call, of the declared secret `name` (0 while it has not resolved), or of every
   * declared secret without a name. Resets the counters it read.
   */
  take(name?: string): number;
}

/** A {@link UsageCounter}: the use counters of one resolver's declared secrets. */
export function usageCounter(): UsageCounter {
  let host: UsageReporterHost | undefined;
  return {
    reporter: {
      attach(attached) {
        host = attached;
        return {
          changed: () => undefined,
          stats: () => ({ reports: 0, sent: 0, failed: 0, dropped: 0, inFlight: 0 }),
          close: async () => undefined,
        };
      },
    },
    take(name) {
      let uses = 0;
      for (const secret of host?.secrets() ?? []) {
        if (name === undefined || secret.info?.name === name) uses += secret.takeUses();
      }
      return uses;
    },
  };
}
