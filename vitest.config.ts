import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/dist/**', 'test/e2e/**', 'node_modules/**'], // e2e: `npm run test:e2e` (vitest.e2e.config.ts)
    testTimeout: 20_000,
    reporters: reporters('unit'),
  },
});
