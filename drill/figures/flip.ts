/**
 * The flip to v2: when each live worker reached v2, whether it switched on its first refresh after the flip
 * (and sent nothing on v1 after), and when the refresh that switched it started, against the bound of one
 * refresh period plus jitter.
 */
import { firstUse } from '../fleet.js';
import { flipTime } from '../playbook.js';
import { liveWorkers, type DrillRecord } from '../record.js';
import type { DrillResult } from '../result.js';
import { spread } from '../stats.js';
import type { Sent } from './requests.js';

export interface FlipFigures {
  readonly summary: DrillResult['flip'];
  /** Live workers whose switching refresh started within `summary.boundMs`. */
  readonly withinBound: number;
}

export function flipFigures(record: DrillRecord, all: readonly Sent[]): FlipFigures {
  const { drill, seen } = record;
  const { fp, settings: o } = drill;
  const flipRun = seen.flip;
  const live = liveWorkers(record);
  const flipAt = flipRun ? flipTime(record, flipRun) : undefined;
  const flipDoneAt = flipRun?.endedAt;
  const toV2 = live
    .map((w) => {
      const first = flipRun ? firstUse(w, fp.v2, flipRun.startedAt) : undefined;
      return flipAt !== undefined && first !== undefined ? first - flipAt : undefined;
    })
    .filter((x): x is number => x !== undefined);
  // The suffix layout's provision adds the staged key enabled and disables it in its next call: a worker
  // whose refresh falls in between reads the staged (not yet probed) key before the flip.
  const beforeFlip = flipRun ? all.filter(({ r }) => r[1] < flipRun.startedAt && r[4].some((a) => a[0] === fp.v2)) : [];
  const stagedSeen = { requests: beforeFlip.length, workers: new Set(beforeFlip.map(({ w }) => w.instanceId)).size };
  /**
   * "Within one refresh period plus jitter": the refresh that switched a worker must have started within
   * refresh × (1 + jitter) — the longest its timer waits — of the flip, or of the end of the refresh that was
   * in flight at the flip (which may rightly have read v1), plus 250 ms of timer lateness. How long Secret
   * Manager took to answer, and when the worker's next request went out, are reported, not bounded.
   */
  const flipBoundMs = Math.round(o.refreshMs * (1 + o.jitter) + 250);
  let withinBound = 0;
  let switchedOnFirstRefresh = 0;
  let v1AfterSwitch = 0;
  const refreshGaps: number[] = [];
  const switchWalks: number[] = [];
  const refreshStarts: number[] = [];
  const onV2: number[] = [];
  for (const w of live) {
    if (flipRun === undefined || flipDoneAt === undefined || flipAt === undefined) break;
    const flipStart = flipRun.startedAt;
    const switchWalk = w.walks.find((x) => x[2] === fp.v2 && x[1] >= flipStart);
    if (!switchWalk) continue;
    // Walks that started after the flip had finished and still served v1: there must be none.
    const missed = w.walks.filter((x) => x[0] > flipDoneAt && x[0] < switchWalk[0] && x[2] !== fp.v2).length;
    if (missed === 0) switchedOnFirstRefresh++;
    const before = w.walks.filter((x) => x[1] < switchWalk[0]).pop();
    if (before) refreshGaps.push(switchWalk[0] - before[1]);
    switchWalks.push(switchWalk[1] - switchWalk[0]);
    onV2.push(switchWalk[1] - flipAt);
    const startedAfter = switchWalk[0] - Math.max(flipAt, before?.[1] ?? flipAt);
    refreshStarts.push(startedAfter);
    if (startedAfter <= flipBoundMs) withinBound++;
    v1AfterSwitch += w.requests.filter(
      (r) => r[1] > switchWalk[1] && r[4].some((a) => a[0] === fp.v1 && a[2] > switchWalk[1]),
    ).length;
  }
  return {
    summary: {
      toV2Ms: spread(toV2),
      onV2Ms: spread(onV2),
      refreshStartMs: spread(refreshStarts),
      boundMs: flipBoundMs,
      switchedOnFirstRefresh,
      v1AfterSwitch,
      refreshGapMs: spread(refreshGaps),
      switchWalkMs: spread(switchWalks),
      stagedKeyBeforeFlip: stagedSeen,
    },
    withinBound,
  };
}
