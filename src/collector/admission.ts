/**
 * Whether a valid report may be recorded: a report from a new instance is refused when the collector tracks
 * `maxInstances` already, and any report is refused when what it would add goes beyond `maxBytes` (a report that
 * adds nothing — the same instance listing the same keys — always fits). The collector never makes room by
 * evicting an instance: each one tracked reported within the retention, so within a window `usage()` may be asked
 * about. The caller records every refusal as dropped evidence for every secret.
 */
import type { BeaconReport } from '../beacon/types.js';
import { formatDuration } from '../duration.js';
import type { InstanceRegistry } from './instance-registry.js';
import type { CollectorLimits } from './limits.js';
import { type MemoryBudget, reportBytes } from './memory-budget.js';

/** Why a report was refused. */
export type RefusalReason = 'instance-cap' | 'memory-budget';

/** A report the collector refused (the server answers 429 with `Retry-After`). */
export interface IngestRefusal {
  /** The report was not recorded. */
  readonly accepted: false;
  /** Which bound refused it: `instance-cap` (`maxInstances`) or `memory-budget` (`maxBytes`). */
  readonly reason: RefusalReason;
  /** When room may be free again, ms from now: an instance outlives the retention, or the next retention pass. */
  readonly retryAfterMs: number;
  /** Why, for people (names the bound and the option; never anything the report held). */
  readonly message: string;
}

const KIB = 1_024;
const MIB = 1_048_576;

const DROPPED =
  'the refusal is recorded as dropped evidence for every secret, so verify answers "cannot prove" while it is in ' +
  'the window';

/** The refusal of `report` at `now`, or undefined when it may be recorded. */
export function refusalOf(
  report: BeaconReport,
  now: number,
  parts: { limits: CollectorLimits; registry: InstanceRegistry; budget: MemoryBudget },
): IngestRefusal | undefined {
  const { limits, registry, budget } = parts;
  const existing = registry.get(report.instance.id);
  if (existing === undefined && registry.size >= limits.maxInstances) {
    const oldest = registry.oldest();
    const untilExpiry = oldest === undefined ? 0 : oldest.lastSeen + limits.retentionMs - now;
    return {
      accepted: false,
      reason: 'instance-cap',
      retryAfterMs: Math.max(0, untilExpiry) + limits.sweepEveryMs,
      message:
        `the collector tracks its maximum of ${limits.maxInstances} instances (maxInstances): a new instance is ` +
        `refused until one has been silent for the retention (${formatDuration(limits.retentionMs)}); ${DROPPED}`,
    };
  }
  const bytes = reportBytes(existing, report, limits.maxSecretsPerInstance);
  if (!budget.fits(bytes)) {
    return {
      accepted: false,
      reason: 'memory-budget',
      retryAfterMs: limits.sweepEveryMs,
      message:
        `the collector holds its budget of ${(budget.maxBytes / MIB).toFixed(1)} MiB of state (maxBytes) and ` +
        `this report needs ${Math.ceil(bytes / KIB)} KiB more: it is refused until reports outlive the retention ` +
        `(${formatDuration(limits.retentionMs)}); ${DROPPED}`,
    };
  }
  return undefined;
}
