// OpenAI clients that follow the rotation, two ways: `authFetch` (the key is set on every request, and a
// 401 heals at once) and `liveClient` (for code that keeps `new OpenAI({ apiKey })`).
// Run: npx tsx examples/openai.ts — offline: a mock provider on 127.0.0.1 stands in for api.openai.com.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { createResolver, fingerprint, memorySource, type Source } from 'keyflip';
import { startMockProvider } from 'keyflip/testing';
import { authFetch, liveClient, providers } from 'keyflip/clients'; // 'keyflip/clients'

const V1 = 'sk-example-only-openai-v1';
const V2 = 'sk-example-only-openai-v2';
const api = await startMockProvider({ preset: providers.openai, keys: [V1] }); // in production: no baseURL

// The secret manager: a memory store here. Like Secret Manager it is polled, not pushed, so a new version
// reaches the process at the next refresh — or at once, when a request gets a 401.
const store = memorySource({ OPENAI_API_KEY_v1: V1 });
const secretManager: Source = { name: 'sm', fetch: (ref, ctx) => store.fetch(ref, ctx) };
const resolver = createResolver({ sources: [secretManager], refreshMs: 5 * 60_000 });
const openaiKey = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
resolver.on('rotate', ({ previous, current }) => {
  console.log(`rotated: ${previous.candidate} ${previous.fingerprint} → ${current.candidate} ${current.fingerprint}`);
});
await resolver.ready();

// 1. authFetch. The SDK insists on an apiKey: give it a placeholder; keyflip sets the real one per request.
const openai = new OpenAI({
  apiKey: 'set-by-keyflip',
  baseURL: api.url,
  fetch: authFetch(openaiKey, providers.openai),
});
const ask = () =>
  openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] });

await ask();
console.log(`request 1 sent with ${openaiKey.info?.fingerprint} (${openaiKey.info?.candidate})`);

// Emergency rotation: v1 leaked. Provision v2 and revoke v1 at the provider at once, before any refresh.
store.set('OPENAI_API_KEY_v2', V2);
api.accept(V2);
api.revoke(V1);

// The next request gets a 401 on v1: authFetch refreshes the secret once, finds v2, and retries once.
await ask();
const requests = `requests on v1: ${api.requestsFor(V1)}, on v2: ${api.requestsFor(V2)}`;
console.log(`request 2 healed: sent with ${openaiKey.info?.fingerprint}; ${requests}`);
assert.equal(openaiKey.info?.fingerprint, fingerprint(V2));
assert.equal(api.requestsFor(V2), 1);

// 2. liveClient: a Proxy onto `new OpenAI({ apiKey })` built for the current key, rebuilt once per rotation.
// Hold the proxy (not `client.chat.completions`), so that every call goes through the current client.
let builds = 0;
const client = liveClient(openaiKey, (apiKey) => {
  builds++;
  return new OpenAI({ apiKey, baseURL: api.url });
});
for (let i = 0; i < 3; i++)
  await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] });
console.log(`liveClient: 3 calls, ${builds} client built`);
assert.equal(builds, 1);

// Logs never show the key: the client proxy prints as a label.
console.log(`the client logs as ${JSON.stringify(client)}`);

await resolver.close();
await api.close();
