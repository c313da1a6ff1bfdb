import { defineConfig } from 'vitest/config';
import { reporters } from './vitest.shared.js';

/**
 * The rotation drill, small (`npm run test:drill`): worker processes, the Secret Manager emulator, the
 * collector, the mock provider and `keyflip rotate` as processes, for one to two minutes on two cores (the
 * automated rotation waits for the straggler's last minute of provider usage to leave the window). It runs on its
 * own, after `npm test`, so that the unit run stays short and the drill does not share the machine with it.
 */
export default defineConfig({
  test: {
    include: ['test/drill/**/*.test.ts'],
    testTimeout: 420_000,
    hookTimeout: 60_000,
    // One drill at a time: each starts its own fleet of processes.
    fileParallelism: false,
    reporters: reporters('drill'),
  },
});
