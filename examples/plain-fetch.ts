// `authFetch` without an SDK: any API that takes a key in a header, called with plain `fetch`.
// Run: npx tsx examples/plain-fetch.ts — offline: a mock provider on 127.0.0.1 stands in for api.mistral.ai.
import assert from 'node:assert/strict';
import { createResolver, memorySource } from 'keyflip';
import { startMockProvider } from 'keyflip/testing';
import { authFetch, probeKey, providers } from 'keyflip/clients'; // 'keyflip/clients'

const V1 = 'example-only-mistral-key-v1';
const V2 = 'example-only-mistral-key-v2';
const api = await startMockProvider({ preset: providers.mistral, keys: [V1] });

const store = memorySource({ MISTRAL_API_KEY_v1: V1 });
const resolver = createResolver({ sources: [store] });
const mistralKey = resolver.secret('MISTRAL_API_KEY', 'MISTRAL_API_KEY_v2 ?? MISTRAL_API_KEY_v1');
await resolver.ready();

// A drop-in `fetch`: `Authorization: Bearer <current key>` is set on every request (never appended).
const mistralFetch = authFetch(mistralKey, providers.mistral);
// For an API without a preset: name its header (and scheme), e.g. authFetch(key, { header: 'api-key' }).

const chat = async (): Promise<number> => {
  const response = await mistralFetch(`${api.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'mistral-small-latest', messages: [{ role: 'user', content: 'ping' }] }),
  });
  await response.body?.cancel();
  return response.status;
};
console.log(`chat: ${await chat()}`);

// probeKey tells a dead key from a throttled one, with the provider's cheapest request (GET /v1/models).
console.log(`probe v1: ${(await probeKey(providers.mistral, V1, { baseUrl: api.url })).reason}`);
console.log(
  `probe of a key the provider does not know: ${(await probeKey(providers.mistral, V2, { baseUrl: api.url })).reason}`,
);

// Rotate: v2 is issued, stored, and picked up; the next call carries it.
api.accept(V2);
store.set('MISTRAL_API_KEY_v2', V2);
await resolver.refresh('MISTRAL_API_KEY');
assert.equal(await chat(), 200);
const serving = `${mistralKey.info?.candidate} ${mistralKey.info?.fingerprint}`;
console.log(`after the rotation: ${serving}; calls on v2: ${api.requestsFor(V2)}`);

await resolver.close();
await api.close();
