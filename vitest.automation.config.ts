import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

/**
 * The automated rotation through the CLI on a real clock (`npm run test:automation`): `keyflip rotate` with the
 * provider's management API (the mock), the emulator and a collector, waiting for the provider's one-minute usage
 * buckets as a scheduled job would. Mostly waiting, little CPU: apart from the unit run so that it stays short; CI
 * runs it beside the Node 24 leg.
 */
export default defineConfig({
  test: {
    include: ['test/automation/**/*.test.ts'],
    testTimeout: 240_000,
    hookTimeout: 60_000,
    reporters: reporters('automation'),
  },
});
