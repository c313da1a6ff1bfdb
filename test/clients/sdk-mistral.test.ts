/**
 * The real `@mistralai/mistralai` (2.7, Speakeasy-generated) against the mock provider, with a memory source as
 * the secret manager. The SDK takes a transport as `httpClient: new HTTPClient({ fetcher })`, and its fetcher is
 * handed one `Request` (a clone of the one it built, JSON body included) and no init: authFetch copies that JSON
 * body before sending, so a dead key is retried once on the new key.
 *
 * `apiKey: async () => key.value` alone (the SDK's key function) follows a rotation too, but the SDK calls it once
 * per operation, bakes the key into the `Request` it builds, and never retries a 401: the caller gets the error.
 * So HTTP goes through authFetch. The key function matters only for the realtime transcription WebSocket, which
 * never calls the fetcher: there it is the only way the live key reaches the handshake (last test).
 */
import { HTTPClient, Mistral } from '@mistralai/mistralai';
import { RealtimeTranscription } from '@mistralai/mistralai/extra/realtime';
import { SDKError } from '@mistralai/mistralai/models/errors';
import { afterEach, describe, expect, it } from 'vitest';
import { authFetch, providers } from '../../src/clients/index.js';
import type { SecretHandle } from '../../src/index.js';
import { clientRig, dump, handshakeRecorder, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();
const messages = [{ role: 'user' as const, content: 'hello' }];

/** The documented wrapping: a placeholder key, keyflip's authFetch as the transport, the SDK's retries off. */
function mistral(key: SecretHandle<string>, serverURL: string): Mistral {
  return new Mistral({
    apiKey: 'placeholder',
    serverURL,
    httpClient: new HTTPClient({ fetcher: authFetch(key, providers.mistral) }),
    retryConfig: { strategy: 'none' },
  });
}

/** The SDK's key function alone: no authFetch. */
function mistralWithKeyFunction(key: SecretHandle<string>, serverURL: string): Mistral {
  return new Mistral({ apiKey: async () => key.value, serverURL, retryConfig: { strategy: 'none' } });
}

const chat = (client: Mistral) => client.chat.complete({ model: 'mistral-mock', messages });

/** Every text delta of a `chat.stream`, joined. */
async function streamText(client: Mistral): Promise<string> {
  const stream = await client.chat.stream({ model: 'mistral-mock', messages });
  let text = '';
  for await (const event of stream) {
    const content = event.data.choices[0]?.delta.content;
    if (typeof content === 'string') text += content;
  }
  return text;
}

describe('@mistralai/mistralai with httpClient: new HTTPClient({ fetcher: authFetch(…) })', () => {
  it('rotating the secret: the next request carries the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: providers.mistral, keys: [KEYS.v1, KEYS.v2] });
    const client = mistral(r.key, provider.url);
    const first = await chat(client);
    expect(first.choices?.[0]?.message?.content).toBe('ok');
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await chat(client);
    await chat(client);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requestsFor('placeholder')]).toEqual(
      [1, 2, 0],
    );
    expect(leaked(dump(r.events) + dump(provider) + dump(first))).toEqual([]);
  });

  it('old key revoked at the provider before a refresh: one refresh, one retry, zero failed calls', async () => {
    const r = await rig(); // polled: the resolver does not know about v2 yet
    const provider = await mock({ preset: providers.mistral, keys: [KEYS.v1, KEYS.v2] });
    const client = mistral(r.key, provider.url);
    await chat(client);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const fetchesBefore = r.fetches();
    const reply = await chat(client); // does not throw: zero failed calls
    expect(reply.choices?.[0]?.message?.content).toBe('ok');
    expect(provider.requestsFor(KEYS.v1)).toBe(2); // the first call, then the one that got 401
    expect(provider.requestsFor(KEYS.v2)).toBe(1); // its retry, with the same JSON body
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(r.events.filter((e) => e.event === 'rotate')).toHaveLength(1);
    await chat(client);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 2]);
    expect(leaked(dump(r.events) + dump(provider) + dump(reply))).toEqual([]);
  });

  it('both keys dead: the SDK throws its SDKError with status 401 after one refresh and one retry', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.mistral, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const fetchesBefore = r.fetches();
    const error = await chat(mistral(r.key, provider.url)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SDKError);
    expect((error as SDKError).statusCode).toBe(401);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(leaked(dump(error) + dump(r.events) + dump(provider))).toEqual([]);
  });

  it('a dead key and no new one in the secret manager: one refresh, no retry, the SDK sees the 401', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.mistral, keys: [] });
    const resolvesBefore = r.resolves();
    const error = await chat(mistral(r.key, provider.url)).catch((e: unknown) => e);
    expect((error as SDKError).statusCode).toBe(401);
    expect(provider.requests).toBe(1);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(leaked(dump(error))).toEqual([]);
  });

  it('chat.stream: after a rotation the next stream goes out on the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: providers.mistral, keys: [KEYS.v1, KEYS.v2] });
    const client = mistral(r.key, provider.url);
    const text = await streamText(client);
    expect(text).toBe('ok'); // the mock streams 'o', 'k'
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    expect(await streamText(client)).toBe(text);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
    expect(leaked(dump(r.events) + dump(provider))).toEqual([]);
  });

  it('chat.stream on a revoked key: one refresh, one retry, the whole stream arrives', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.mistral, keys: [KEYS.v1, KEYS.v2] });
    const client = mistral(r.key, provider.url);
    const text = await streamText(client);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    expect(await streamText(client)).toBe(text); // no failed call
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 1]);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(leaked(dump(r.events) + dump(provider))).toEqual([]);
  });

  it('chat.stream, both keys dead: the SDK throws its 401 before any event, nothing loops', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.mistral, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const error = await streamText(mistral(r.key, provider.url)).catch((e: unknown) => e);
    expect((error as SDKError).statusCode).toBe(401);
    expect(provider.requests).toBe(2);
    expect(leaked(dump(error))).toEqual([]);
  });
});

describe('@mistralai/mistralai with apiKey: async () => key.value (the key function alone)', () => {
  it('follows a rotation: the function is called once per operation', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: providers.mistral, keys: [KEYS.v1, KEYS.v2] });
    const client = mistralWithKeyFunction(r.key, provider.url);
    await chat(client);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    r.uses();
    await chat(client);
    expect(r.uses()).toBe(1);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
  });

  it('does not heal a revoked key: the 401 is thrown, no refresh, no retry (what authFetch adds)', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.mistral, keys: [KEYS.v1, KEYS.v2] });
    const client = mistralWithKeyFunction(r.key, provider.url);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const error = await chat(client).catch((e: unknown) => e);
    expect((error as SDKError).statusCode).toBe(401);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 0]);
    expect(r.resolves() - resolvesBefore).toBe(0); // nothing told keyflip the key is dead
    expect(leaked(dump(error))).toEqual([]);
  });
});

describe('@mistralai/mistralai realtime transcription (a WebSocket: no fetcher involved)', () => {
  let recorders: Awaited<ReturnType<typeof handshakeRecorder>>[] = [];
  afterEach(async () => {
    await Promise.all(recorders.map((r) => r.close()));
    recorders = [];
  });

  it('placeholder + authFetch: the handshake carries the placeholder; the key function carries the key', async () => {
    const r = await rig({ push: true });
    const ws = await handshakeRecorder();
    recorders.push(ws);
    const fetcher = authFetch(r.key, providers.mistral);
    const placeholder = new RealtimeTranscription({ apiKey: 'placeholder', httpClient: new HTTPClient({ fetcher }) });
    const live = new RealtimeTranscription({
      apiKey: async () => r.key.value,
      httpClient: new HTTPClient({ fetcher }),
    });
    const errors: unknown[] = [];
    const connect = (client: RealtimeTranscription) =>
      client.connect('voxtral-mock', { serverUrl: ws.url }).catch((e: unknown) => errors.push(e));
    await connect(placeholder);
    await connect(live);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await connect(live);
    expect(ws.authorizations).toEqual(['Bearer placeholder', `Bearer ${KEYS.v1}`, `Bearer ${KEYS.v2}`]);
    // Each handshake refused (401): the SDK's RealtimeTranscriptionException (not exported by the package).
    expect(errors.map((e) => (e as Error).name)).toEqual(Array(3).fill('RealtimeTranscriptionException'));
    expect(leaked(dump(errors))).toEqual([]);
  });
});
