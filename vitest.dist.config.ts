import { defineConfig } from 'vitest/config';

/** Tests of the built package (`dist`), run by `npm test` after `npm run build`. */
export default defineConfig({
  test: {
    include: ['test/dist/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
