/**
 * The requests by phase of the playbook (by when they started), cut at the moments the drill marked: what
 * was sent, how it ended, and which key each HTTP attempt carried.
 */
import type { Mark } from '../context.js';
import type { DrillRecord } from '../record.js';
import type { PhaseRow } from '../result.js';
import { failedByStatus, type Sent } from './requests.js';

/** Each phase: its name, and the marks it runs from and to (to the end of the drill for the last). */
const PHASES: readonly [phase: string, from: Mark, to: Mark | undefined][] = [
  ['v1 live (before the rotations)', 'ready', 'provision-v2'],
  ['rotation 1: provision + probe v2 (staged where no app reads it)', 'provision-v2', 'flip-v2'],
  ['rotation 1: flip → every live worker on v2', 'flip-v2', 'all-v2'],
  ['rotation 1: window; verify + revoke refuse (stale worker runs)', 'all-v2', 'stale-stopped'],
  [
    'rotation 1: stale worker gone; collector restart; verify cannot prove, then passes; revoke v1',
    'stale-stopped',
    'revoked-v1',
  ],
  [
    'v2 only (v1 revoked in Secret Manager and at the provider; the straggler starts on v2)',
    'revoked-v1',
    'provision-v3',
  ],
  [
    'rotation 2, automated: `rotate auto` mints v3 at the provider, stages, probes and flips it',
    'provision-v3',
    'flip-v3',
  ],
  ['rotation 2: flip → every live worker on v3', 'flip-v3', 'all-v3'],
  [
    'rotation 2: window + lag; verify + revoke refuse on the provider’s evidence (the straggler runs, no beacon)',
    'all-v3',
    'straggler-stopped',
  ],
  [
    'rotation 2: straggler gone; `rotate auto` waits, then revokes v2 (and deletes it at the provider)',
    'straggler-stopped',
    'revoked-v2',
  ],
  [
    'v3 only (v2 disabled, and deleted at the provider: the straggler’s next request gets 401)',
    'revoked-v2',
    'emergency',
  ],
  ['rotation 3: emergency → every live worker on v4', 'emergency', 'all-v4'],
  ['v4 only', 'all-v4', undefined],
];

/** The phases the drill reached, each with its requests' outcomes and keys. */
export function requestPhases(record: DrillRecord, all: readonly Sent[]): PhaseRow[] {
  const { drill } = record;
  return PHASES.map(([phase, fromMark, toMark]) => {
    const from = drill.marked(fromMark);
    const to = toMark === undefined ? Number.POSITIVE_INFINITY : drill.marked(toMark);
    return { phase, from, to };
  })
    .filter(({ from }) => Number.isFinite(from))
    .map(({ phase, from, to }) => {
      const rs = all.filter(({ r }) => r[1] >= from && r[1] < to).map(({ r }) => r);
      const attempts = { v1: 0, v2: 0, v3: 0, v4: 0, other: 0 };
      let answers401 = 0;
      for (const r of rs) {
        for (const a of r[4]) {
          attempts[drill.keyOf(a[0])]++;
          if (a[1] === 401) answers401++;
        }
      }
      const failed = rs.filter((r) => r[3] !== 200).length;
      return {
        phase,
        from: drill.rel(from),
        to: Number.isFinite(to) ? drill.rel(to) : drill.rel(drill.marked('stop')),
        sent: rs.length,
        ok: rs.length - failed,
        failed,
        failedByStatus: failedByStatus(rs),
        attempts,
        answers401,
      };
    });
}
