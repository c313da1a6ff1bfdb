import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

/**
 * The examples as a reader runs them (`npm run test:examples`): each examples/*.ts as a child process — the demo,
 * the servers against the emulator and a mock OpenAI, the client examples — and `keyflip scan` over the repository.
 * Apart from the unit run so that it stays under two minutes; CI runs it right after `npm test`.
 */
export default defineConfig({
  test: {
    include: ['test/examples/**/*.test.ts'],
    testTimeout: 60_000,
    reporters: reporters('examples'),
  },
});
