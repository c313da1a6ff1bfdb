/**
 * The "Rotation drill" section of BENCHMARKS.md.
 *
 * TODO: the drill summary will be added when `npm run drill` lands. The drill (written separately; not
 * here) runs the rotation with several processes and writes its results to a JSON summary file
 * (`drill-results.json`-style); `drillBench()` will then read that file, if it exists, and hand back its
 * rows and notes. Until then it returns `undefined`, and bench/run.ts writes
 * "Rotation drill: not run (npm run drill is not available yet)".
 */
import type { BenchResult } from './lib.js';

/** The drill's summary as table rows and notes, or `undefined` when there is none. */
export async function drillBench(): Promise<BenchResult | undefined> {
  return undefined;
}
