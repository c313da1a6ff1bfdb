import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

/** Tests of the built package (`dist`), run by `npm test` after `npm run build`. */
export default defineConfig({
  test: {
    include: ['test/dist/**/*.test.ts'],
    testTimeout: 30_000,
    reporters: reporters('dist'),
  },
});
