import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

/**
 * Tests that need system packages (Prometheus, Chromium): `npm run test:e2e`, after `scripts/e2e-deps.sh`
 * installed what is missing. Each starts its servers on 127.0.0.1 and stops them, pass or fail.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    // One file at a time: real servers and a browser on a 2-core machine, timing-sensitive waits.
    fileParallelism: false,
    reporters: reporters('e2e'),
  },
});
