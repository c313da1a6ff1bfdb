// Anthropic's SDK following a planned rotation (the blue/green playbook) through `authFetch`.
// Run: npx tsx examples/anthropic.ts — offline: a mock provider on 127.0.0.1 stands in for api.anthropic.com.
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { createResolver, memorySource } from 'keyflip';
import { startMockProvider } from 'keyflip/testing';
import { authFetch, probeKey, providers } from 'keyflip/clients'; // 'keyflip/clients'

const V1 = 'sk-ant-example-only-v1';
const V2 = 'sk-ant-example-only-v2';
const api = await startMockProvider({ preset: providers.anthropic, keys: [V1, V2] });

const store = memorySource({ ANTHROPIC_API_KEY_v1: V1 });
const resolver = createResolver({ sources: [store] });
const anthropicKey = resolver.secret('ANTHROPIC_API_KEY', 'ANTHROPIC_API_KEY_v2 ?? ANTHROPIC_API_KEY_v1');
await resolver.ready();

// The 1.x SDK sends `Authorization: Bearer`; the raw API takes `x-api-key`. authFetch replaces whichever the
// request carries, so no placeholder is left behind.
const anthropic = new Anthropic({
  apiKey: 'set-by-keyflip',
  baseURL: api.url,
  fetch: authFetch(anthropicKey, providers.anthropic),
});
const ask = () =>
  anthropic.messages.create({
    model: 'claude-sonnet-5-5',
    max_tokens: 64,
    messages: [{ role: 'user', content: 'ping' }],
  });

await ask();

// 1. Provision v2 beside v1, and check it works before anyone uses it.
const probe = await probeKey(providers.anthropic, V2, { baseUrl: api.url });
console.log(`probe of the new key: ${probe.reason} (${probe.status})`);
assert.equal(probe.ok, true);
store.set('ANTHROPIC_API_KEY_v2', V2);

// 2. Flip: running processes pick v2 up on their next refresh (here it is forced, to keep the example short).
await resolver.refresh('ANTHROPIC_API_KEY');
await ask();
await ask();
console.log(`after the flip: ${anthropicKey.info?.candidate} ${anthropicKey.info?.fingerprint}`);

// 3. Verify zero traffic on v1, then 4. revoke it. (In production the usage beacon answers this fleet-wide.)
const onV1 = api.requestsFor(V1);
await ask();
assert.equal(api.requestsFor(V1), onV1);
api.revoke(V1);
await ask();
console.log(
  `requests on v1: ${api.requestsFor(V1)}, on v2: ${api.requestsFor(V2)} — v1 revoked with no caller left on it`,
);

await resolver.close();
await api.close();
