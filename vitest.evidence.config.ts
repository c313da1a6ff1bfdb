import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

/**
 * The evidence model's regression tests against a real collector process (`npm run test:evidence`): the five ways
 * the revoke gate once cleared with a key still in use (restart, eviction flood, rejected reports, a short window,
 * a young process), and the collector under a flood of maximum-size reports (`*.flood.ts`: two worker threads
 * posting up to 3 000 reports of ~0.9 MiB within 30 s, its RSS read from /proc). Most of their time is spent
 * waiting for coverage windows to pass, so they run apart from the unit tests, like the drill; CI runs them after
 * `npm test`. One file at a time: the flood must not share two cores with the others.
 */
export default defineConfig({
  test: {
    include: ['test/evidence/**/*.test.ts', 'test/evidence/**/*.flood.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    reporters: reporters('evidence'),
  },
});
