import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

/**
 * The rotation playbook on the emulator (`npm run test:rotation`): every command in each of the three layouts, with
 * running resolvers, writes stopped part-way and resumed. Apart from the unit run so that it stays under two
 * minutes; CI runs it right after `npm test`, and on every Node version and both SDK majors.
 */
export default defineConfig({
  test: {
    include: ['test/rotation/**/*.test.ts'],
    testTimeout: 60_000,
    reporters: reporters('rotation'),
  },
});
