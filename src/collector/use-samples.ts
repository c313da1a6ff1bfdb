/**
 * The uses one instance reported of one fingerprint, as a bounded series of (collector time, uses) samples:
 * exact for recent windows, coarser with age, never under-counting a window (it errs toward "in use").
 *
 * The series lives in the fields of the entry that owns it (no object of its own: the collector holds one
 * per (instance, secret, fingerprint), and its memory per instance is measured).
 */

/** Use samples kept per series; beyond, two old ones are merged for each new one. */
export const SAMPLE_CAP = 64;

/**
 * `a + b` for counts of uses, saturating at `Number.MAX_SAFE_INTEGER`: a sum of reported uses never exceeds it
 * (beyond it a double is no longer exact) and never wraps. Every sum of uses in the collector goes through it.
 */
export function addUses(a: number, b: number): number {
  return Math.min(a + b, Number.MAX_SAFE_INTEGER);
}

/** The fields of a series, held by its entry. */
export interface UseSamples {
  /**
   * Reports with uses > 0, as [time, uses] pairs, oldest first, at most {@link SAMPLE_CAP}: beyond, old ones
   * are merged (see mergeOnePair), a merged pair taking the later time, so a window's sum may include uses from
   * shortly before its start: it errs toward "in use", never away from it.
   */
  samples: Float64Array | undefined;
  /** Pairs held in `samples`. */
  n: number;
  /** Where the first sample's span starts (its own time until it absorbs or follows a dropped one). */
  since: number;
}

/** Adds `uses` at `at` (collector time); a second sample at the time of the last one adds to it. */
export function addSample(state: UseSamples, at: number, uses: number): void {
  let s = state.samples;
  const n = state.n;
  if (s !== undefined && n > 0 && s[2 * n - 2] === at) {
    s[2 * n - 1] = addUses(s[2 * n - 1] as number, uses);
    return;
  }
  if (s === undefined) {
    s = state.samples = new Float64Array(8);
    state.since = at;
  } else if (2 * n === s.length) {
    if (n < SAMPLE_CAP) {
      const grown = new Float64Array(s.length * 2);
      grown.set(s);
      s = state.samples = grown;
    } else {
      mergeOnePair(s, n, at, state.since);
      state.n = n - 1;
    }
  }
  const m = state.n;
  s[2 * m] = at;
  s[2 * m + 1] = uses;
  state.n = m + 1;
}

/**
 * Merges the two adjacent samples whose merged sample would cover the shortest span relative to its age
 * (a sample covers the time since the sample before it). Recent samples stay exact; older ones get
 * coarser, about in proportion to their age (with 64 samples over a day of one-minute reports, a merged
 * sample covers about an eighth of its age). The merged sample takes the later time and the summed uses.
 */
function mergeOnePair(s: Float64Array, n: number, now: number, since: number): void {
  let best = 0;
  let bestScore = Infinity;
  for (let i = 0; i < n - 1; i++) {
    const start = i === 0 ? since : (s[2 * i - 2] as number);
    const end = s[2 * i + 2] as number;
    const score = (end - start) / Math.max(now - end, 1);
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  s[2 * best + 3] = addUses(s[2 * best + 1] as number, s[2 * best + 3] as number);
  s.copyWithin(2 * best, 2 * best + 2, 2 * n);
}

/** Uses of the samples at or after `cutoff` (saturating at `Number.MAX_SAFE_INTEGER`). */
export function sumSince(state: UseSamples, cutoff: number): number {
  const s = state.samples;
  if (s === undefined) return 0;
  let sum = 0;
  for (let i = state.n - 1; i >= 0; i--) {
    if ((s[2 * i] as number) < cutoff) break;
    sum = addUses(sum, s[2 * i + 1] as number);
  }
  return sum;
}

/** Drops the samples before `cutoff`. */
export function trimBefore(state: UseSamples, cutoff: number): void {
  const s = state.samples;
  if (s === undefined) return;
  let first = 0;
  while (first < state.n && (s[2 * first] as number) < cutoff) first++;
  if (first === 0) return;
  state.since = s[2 * first - 2] as number;
  if (first === state.n) {
    state.samples = undefined;
    state.n = 0;
    return;
  }
  s.copyWithin(0, 2 * first, 2 * state.n);
  state.n -= first;
}

/** The samples as a flat list of `[time, uses, time, uses, …]`, oldest first (for the state file). */
export function samplePairs(state: UseSamples): number[] {
  const s = state.samples;
  return s === undefined ? [] : Array.from(s.subarray(0, 2 * state.n));
}

/**
 * Sets the samples from a flat list of pairs (see {@link samplePairs}), oldest first, at most
 * {@link SAMPLE_CAP} of them; `since` is where the first one's span starts.
 */
export function restoreSamples(state: UseSamples, pairs: readonly number[], since: number): void {
  const n = pairs.length >> 1;
  state.since = since;
  state.n = n;
  if (n === 0) {
    state.samples = undefined;
    return;
  }
  let size = 8;
  while (size < 2 * n) size *= 2;
  const s = new Float64Array(size);
  s.set(pairs.slice(0, 2 * n));
  state.samples = s;
}
