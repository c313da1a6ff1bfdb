import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dist: after the build in `npm test`; apart: `npm run test:rotation`, `test:examples`, `test:automation`,
    // `test:drill`, `test:evidence`, `test:e2e`.
    exclude: [
      'test/dist/**',
      'test/examples/**',
      'test/rotation/**',
      'test/automation/**',
      'test/e2e/**',
      'test/drill/**',
      'test/evidence/**',
      'node_modules/**',
    ],
    testTimeout: 20_000,
    reporters: reporters('unit'),
  },
});
