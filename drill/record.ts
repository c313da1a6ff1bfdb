/**
 * Everything the drill recorded by the time every process has stopped: the figures and the checks are
 * computed from this alone, after the run.
 */
import type { MockManagedKey } from '../src/testing/index.js';
import type { DrillContext, KeyName } from './context.js';
import type { WorkerState } from './fleet.js';
import type { Observations } from './playbook.js';

export interface DrillRecord {
  readonly drill: DrillContext;
  /** Every worker started (none when the drill stopped before the fleet). */
  readonly workers: readonly WorkerState[];
  readonly stale: WorkerState | undefined;
  readonly seen: Observations;
  /** What the mock provider counted by key once every worker had stopped (zeros when it never started). */
  readonly providerCounted: Readonly<Record<KeyName, number>>;
  /** Each key as the mock's management API describes it at the end (metadata only; none for a key it never knew). */
  readonly providerKeys: Readonly<Partial<Record<KeyName, MockManagedKey>>>;
  /** Why the drill stopped early, if it did. */
  readonly failure: unknown;
  /** The drill process's own event-loop delay (it hosts the services), ms. */
  readonly loopDelayMs: { readonly p50: number; readonly p99: number; readonly max: number };
}

/** The live workers of a record. */
export function liveWorkers(record: DrillRecord): WorkerState[] {
  return record.workers.filter((w) => w.mode === 'live');
}
