/**
 * The flip of each normal rotation: when each live worker reached the new key, whether it switched on its first
 * refresh after the flip (and sent nothing on the old key after), when the refresh that switched it started,
 * against the bound of one refresh period plus jitter, and whether anything saw the new key while it was staged.
 */
import type { KeyName } from '../context.js';
import { firstUse } from '../fleet.js';
import { flipTime, type RotationSeen } from '../playbook.js';
import { liveWorkers, type DrillRecord } from '../record.js';
import type { FlipSummary } from '../result.js';
import { spread } from '../stats.js';
import type { Sent } from './requests.js';

/**
 * The new key seen before its flip started (`before`, ms since the epoch): requests that carried it, the workers
 * that sent them, and refreshes (walks of the chain, by any worker) that read it. A staged key lives where no app
 * reads it (`NAME_next` in the pair and suffix layouts, a version no alias names in the alias layout): all three
 * must be 0. (The old suffix provision added the key enabled and disabled it in its next call: issue 3.)
 */
export function seenBefore(
  record: DrillRecord,
  all: readonly Sent[],
  key: KeyName,
  before: number,
): FlipSummary['stagedKeyBeforeFlip'] {
  const fp = record.drill.fp[key];
  const requests = all.filter(({ r }) => r[1] < before && r[4].some((a) => a[0] === fp && a[2] < before));
  const reads = record.workers.reduce((n, w) => n + w.walks.filter((x) => x[2] === fp && x[1] < before).length, 0);
  return { requests: requests.length, workers: new Set(requests.map(({ w }) => w.instanceId)).size, reads };
}

/** The figures of one normal rotation's flip (undefined when it did not flip). */
export function flipFigures(record: DrillRecord, all: readonly Sent[], seen: RotationSeen): FlipSummary | undefined {
  const { drill } = record;
  const { fp, settings: o } = drill;
  const { rotation, flip: flipRun } = seen;
  if (flipRun === undefined) return undefined;
  const { from, to } = rotation;
  const live = liveWorkers(record);
  const flipAt = flipTime(record, flipRun, to);
  const flipStart = flipRun.startedAt;
  const flipDoneAt = flipRun.endedAt;
  const toNew = live
    .map((w) => {
      const first = firstUse(w, fp[to], flipStart);
      return first === undefined ? undefined : first - flipAt;
    })
    .filter((x): x is number => x !== undefined);
  /**
   * "Within one refresh period plus jitter": the refresh that switched a worker must have started within
   * refresh × (1 + jitter) — the longest its timer waits — of the flip, or of the end of the refresh that was
   * in flight at the flip (which may rightly have read the old key), plus 250 ms of timer lateness. How long
   * Secret Manager took to answer, and when the worker's next request went out, are reported, not bounded.
   */
  const boundMs = Math.round(o.refreshMs * (1 + o.jitter) + 250);
  let withinBound = 0;
  let switchedOnFirstRefresh = 0;
  let oldAfterSwitch = 0;
  const refreshGaps: number[] = [];
  const switchWalks: number[] = [];
  const refreshStarts: number[] = [];
  const onNew: number[] = [];
  for (const w of live) {
    const switchWalk = w.walks.find((x) => x[2] === fp[to] && x[1] >= flipStart);
    if (!switchWalk) continue;
    // Walks that started after the flip had finished and still served another key: there must be none.
    const missed = w.walks.filter((x) => x[0] > flipDoneAt && x[0] < switchWalk[0] && x[2] !== fp[to]).length;
    if (missed === 0) switchedOnFirstRefresh++;
    const before = w.walks.filter((x) => x[1] < switchWalk[0]).pop();
    if (before) refreshGaps.push(switchWalk[0] - before[1]);
    switchWalks.push(switchWalk[1] - switchWalk[0]);
    onNew.push(switchWalk[1] - flipAt);
    const startedAfter = switchWalk[0] - Math.max(flipAt, before?.[1] ?? flipAt);
    refreshStarts.push(startedAfter);
    if (startedAfter <= boundMs) withinBound++;
    oldAfterSwitch += w.requests.filter(
      (r) => r[1] > switchWalk[1] && r[4].some((a) => a[0] === fp[from] && a[2] > switchWalk[1]),
    ).length;
  }
  return {
    rotation: rotation.n,
    from,
    to,
    toNewMs: spread(toNew),
    onNewMs: spread(onNew),
    refreshStartMs: spread(refreshStarts),
    boundMs,
    withinBound,
    switchedOnFirstRefresh,
    oldAfterSwitch,
    refreshGapMs: spread(refreshGaps),
    switchWalkMs: spread(switchWalks),
    // `rotate auto` mints, stages, probes and flips in one run: the key is staged until its recorded flip.
    stagedKeyBeforeFlip: seenBefore(record, all, to, rotation.automated ? flipAt : flipStart),
  };
}
