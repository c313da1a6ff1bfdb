/** Every figure of a drill, computed from its record once every process has stopped. */
import type { DrillRecord } from '../record.js';
import type { AutomatedSummary, FlipSummary, PhaseRow } from '../result.js';
import { automatedFigures } from './automated.js';
import { type EmergencyFigures, emergencyFigures } from './emergency.js';
import { flipFigures } from './flip.js';
import { requestPhases } from './phases.js';
import { allRequests, type Sent } from './requests.js';
import { type RetirementFigures, retirementFigures } from './retirement.js';
import { type TotalsFigures, totalsFigures } from './totals.js';

export interface Figures {
  /** Every request of every worker. */
  readonly all: readonly Sent[];
  readonly phases: readonly PhaseRow[];
  /** The flips of the normal rotations that flipped, in order. */
  readonly flips: readonly FlipSummary[];
  readonly retirement: RetirementFigures;
  readonly automated: AutomatedSummary | undefined;
  readonly emergency: EmergencyFigures;
  readonly totals: TotalsFigures;
}

export function computeFigures(record: DrillRecord): Figures {
  const all = allRequests(record.workers);
  return {
    all,
    phases: requestPhases(record, all),
    flips: record.seen.rotations.flatMap((seen) => flipFigures(record, all, seen) ?? []),
    retirement: retirementFigures(record, all),
    automated: automatedFigures(record),
    emergency: emergencyFigures(record, all),
    totals: totalsFigures(record, all),
  };
}
