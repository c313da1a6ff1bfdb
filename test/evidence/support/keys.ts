/** The keys of these tests, their fingerprints, and what no output may hold. */
import { fingerprint } from '../../../src/fingerprint.js';
import { TOKEN } from './collector-process.js';

export const VALUES = {
  /** The retired key: a legacy process still holds it. */
  old: 'sk-evidence-OLD-7b3f0d6c2a914e58b1c7d03f6a2e9b4c',
  /** The live key. */
  new: 'sk-evidence-NEW-0e9a4b7c1d2f3a5b6c8d9e0f1a2b3c4d',
  /** A key no process ever held. */
  never: 'sk-evidence-NEVER-5a5a5a5a5a5a5a5a5a5a5a5a5a5a',
} as const;

export const FP = { old: fingerprint(VALUES.old), new: fingerprint(VALUES.new), never: fingerprint(VALUES.never) };

/** What no output of any process may hold: the keys and the collector's token. */
export const NEEDLES: readonly string[] = [...Object.values(VALUES), TOKEN];
