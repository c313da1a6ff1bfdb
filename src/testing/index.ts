/**
 * `keyflip/testing`: for the tests of an app that uses keyflip: a manual clock, a mock LLM provider, an in-process
 * Secret Manager emulator and a usage counter.
 * @module keyflip/testing
 */
export { manualClock, type ManualClock } from './clock.js';
export { startMockProvider, type MockKeyState, type MockProvider, type MockProviderOptions } from './mock-provider.js';
export type {
  MockManagedKey,
  MockManagementOptions,
  MockMintedKey,
  MockMintOptions,
} from './mock-management/types.js';
export {
  startSecretManagerEmulator,
  type SecretManagerEmulator,
  type SecretManagerEmulatorOptions,
  type EmulatorClientOptions,
  type EmulatorLocationOptions,
  type IamEnforcementOptions,
} from './emulator/index.js';
export { EmulatorAdminError } from './emulator/admin-error.js';
export { usageCounter, type UsageCounter } from './usage-counter.js';
