// Testing your app's behaviour across a rotation, an outage and a revocation — deterministically, in
// milliseconds, with no real secret manager: an in-memory source plus a manual clock.
// Run: npx tsx examples/testing.ts (the same code works inside a vitest/jest/node:test test).
import assert from 'node:assert/strict';
import { createResolver, memorySource, SecretRevokedError, SourceUnavailableError } from 'keyflip';
import { manualClock } from 'keyflip/testing';

const clock = manualClock(); // time moves only when the test says so
const memory = memorySource({ API_KEY_v1: 'test-key-one' });
const resolver = createResolver({
  sources: [memory],
  clock,
  refreshMs: 60_000,
  jitter: 0, // exact periods
  maxStaleMs: 10 * 60_000, // serve a last good value for at most 10 minutes of outage
});
const apiKey = resolver.secret('API_KEY', 'API_KEY_v2 ?? API_KEY_v1');
await resolver.ready();
assert.equal(apiKey.value, 'test-key-one');

// Rotation: the memory source notifies its watchers; let the refresh it starts settle.
memory.set('API_KEY_v2', 'test-key-two');
await clock.flush();
assert.equal(apiKey.value, 'test-key-two');
assert.equal(apiKey.info?.candidate, 'API_KEY_v2');

// Outage: nothing is notified; the next periodic refresh fails and the last good value is served.
memory.outage(true);
await clock.advance(60_000);
assert.equal(apiKey.info?.status, 'stale');
assert.equal(apiKey.value, 'test-key-two');

// …until maxStaleMs has passed: then `value` throws rather than serve a value nobody confirmed.
await clock.advance(10 * 60_000);
assert.throws(() => apiKey.value, SourceUnavailableError);

// Recovery: ending the outage notifies the watchers.
memory.outage(false);
await clock.flush();
assert.equal(apiKey.value, 'test-key-two');

// Revocation: every candidate absent → fail closed.
memory.disable('API_KEY_v2');
memory.disable('API_KEY_v1');
await clock.flush();
assert.equal(apiKey.info?.status, 'revoked');
assert.throws(() => apiKey.value, SecretRevokedError);

await resolver.close();
console.log('ok: rotation, outage, maxStaleMs, recovery and revocation behave as expected');
