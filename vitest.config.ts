import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // dist: after the build in `npm test`; e2e: `npm run test:e2e`; the drill: `npm run test:drill`.
    exclude: ['test/dist/**', 'test/e2e/**', 'test/drill/**', 'node_modules/**'],
    testTimeout: 20_000,
    reporters: reporters('unit'),
  },
});
