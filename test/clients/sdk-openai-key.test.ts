/**
 * openai@6's key function, `apiKey: async () => key.value` (openai ≥ 5.18), against the mock provider: what it
 * does on a rotation and on a 401, alone and with `fetch: authFetch(…)`; and where it is the better fit: the
 * Realtime WebSocket, whose handshake never goes through `fetch`.
 */
import type { Duplex } from 'node:stream';
import OpenAI, { AzureOpenAI } from 'openai';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import { afterEach, describe, expect, it } from 'vitest';
import { authFetch, providers } from '../../src/clients/index.js';
import type { SecretHandle } from '../../src/index.js';
import { clientRig, dump, handshakeRecorder, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();
const messages = [{ role: 'user' as const, content: 'hello' }];
const chat = (client: OpenAI) => client.chat.completions.create({ model: 'gpt-mock', messages });

/** The key function alone. `maxRetries` left at the SDK's default (2) where a test says so. */
function withKeyFunction(key: SecretHandle<string>, baseURL: string, maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey: async () => key.value, baseURL, maxRetries });
}

/** The key function and authFetch together. */
function withBoth(key: SecretHandle<string>, baseURL: string): OpenAI {
  return new OpenAI({
    apiKey: async () => key.value,
    baseURL,
    fetch: authFetch(key, providers.openai),
    maxRetries: 0,
  });
}

describe('openai with apiKey: async () => key.value alone', () => {
  it('rotation: the function is called before each request, so the next one carries the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1, KEYS.v2] });
    const client = withKeyFunction(r.key, provider.url);
    await chat(client);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    r.uses();
    await chat(client);
    await chat(client);
    expect(r.uses()).toBe(2); // one read of the handle per request
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 2]);
    expect(leaked(dump(r.events) + dump(provider))).toEqual([]);
  });

  it('a 401 is thrown as it came: no refresh, no retry (SDK retries on or off), and it repeats', async () => {
    const r = await rig(); // polled: the resolver learns of v2 only at its next refresh (an hour away)
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1, KEYS.v2] });
    const client = withKeyFunction(r.key, provider.url, 2); // the SDK's default maxRetries
    await chat(client);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const first = await chat(client).catch((e: unknown) => e);
    const second = await chat(client).catch((e: unknown) => e);
    expect(first).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(second).toBeInstanceOf(OpenAI.AuthenticationError); // every call fails until the next refresh
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([3, 0]); // 401 not retried
    expect(r.resolves() - resolvesBefore).toBe(0); // nothing told keyflip the key is dead
    expect(leaked(dump(first) + dump(second))).toEqual([]);
  });

  it('the key is also kept in the client’s public apiKey (as a string key would be)', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1] });
    const client = withKeyFunction(r.key, provider.url);
    expect(client.apiKey).toBeNull(); // nothing until the first request calls the function
    await chat(client);
    expect(client.apiKey).toBe(KEYS.v1);
  });
});

describe('openai with apiKey: async () => key.value and fetch: authFetch(…)', () => {
  it('rotation: the next request carries the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1, KEYS.v2] });
    const client = withBoth(r.key, provider.url);
    await chat(client);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await chat(client);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
  });

  it('the 401 retry stays: one refresh, one retry, zero failed calls', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1, KEYS.v2] });
    const client = withBoth(r.key, provider.url);
    await chat(client);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const fetchesBefore = r.fetches();
    const reply = await chat(client);
    expect(reply.choices[0]?.message.content).toBe('ok');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 1]);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(r.fetches() - fetchesBefore).toBe(1);
    await chat(client);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 2]);
    expect(leaked(dump(r.events) + dump(provider) + dump(reply))).toEqual([]);
  });

  it('both keys dead: AuthenticationError after one refresh and one retry; nothing loops', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const error = await chat(withBoth(r.key, provider.url)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
    expect(leaked(dump(error))).toEqual([]);
  });

  it('the cost: each request reads the handle twice (the function, then authFetch), so uses count double', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1] });
    const both = withBoth(r.key, provider.url);
    const fetchOnly = new OpenAI({
      apiKey: 'placeholder',
      baseURL: provider.url,
      fetch: authFetch(r.key, providers.openai),
      maxRetries: 0,
    });
    r.uses();
    await chat(both);
    expect(r.uses()).toBe(2);
    await chat(fetchOnly);
    expect(r.uses()).toBe(1);
  });
});

/** Opens a Realtime socket and waits for its handshake to be refused. */
async function realtimeHandshake(
  client: OpenAI,
  options: { createConnection: () => Duplex },
  how: 'create' | 'new' = 'create',
): Promise<void> {
  const rt =
    how === 'create'
      ? await OpenAIRealtimeWS.create(client, { model: 'gpt-realtime', options })
      : new OpenAIRealtimeWS({ model: 'gpt-realtime', options }, client);
  const refused = new Promise<unknown>((resolve) => rt.on('error', resolve));
  await refused;
}

describe('where the key function is the better fit: the Realtime WebSocket (no fetch involved)', () => {
  let recorders: Awaited<ReturnType<typeof handshakeRecorder>>[] = [];
  afterEach(async () => {
    await Promise.all(recorders.map((r) => r.close()));
    recorders = [];
  });
  const recorder = async () => {
    const r = await handshakeRecorder();
    recorders.push(r);
    return r;
  };

  it('placeholder key + authFetch: the handshake carries the placeholder, authFetch is never called', async () => {
    const r = await rig();
    const ws = await recorder();
    const client = new OpenAI({
      apiKey: 'placeholder',
      baseURL: 'https://realtime.invalid/v1',
      fetch: authFetch(r.key, providers.openai),
    });
    r.uses();
    await realtimeHandshake(client, ws.options, 'new');
    expect(ws.authorizations).toEqual(['Bearer placeholder']);
    expect(r.uses()).toBe(0);
  });

  it('key function: each OpenAIRealtimeWS.create() handshake carries the current key, rotation included', async () => {
    const r = await rig({ push: true });
    const ws = await recorder();
    const client = withKeyFunction(r.key, 'https://realtime.invalid/v1');
    await realtimeHandshake(client, ws.options);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await realtimeHandshake(client, ws.options);
    expect(ws.authorizations).toEqual([`Bearer ${KEYS.v1}`, `Bearer ${KEYS.v2}`]);
  });

  it('key function: `new OpenAIRealtimeWS(…)` refuses it (the key must be resolved first: use create())', async () => {
    const r = await rig();
    const client = withKeyFunction(r.key, 'https://realtime.invalid/v1');
    expect(() => new OpenAIRealtimeWS({ model: 'gpt-realtime' }, client)).toThrow(
      'Cannot open Realtime WebSocket with a function-based apiKey.',
    );
  });
});

describe('where the key function is not a fit: AzureOpenAI keys', () => {
  it('AzureOpenAI takes a string apiKey only; a function goes out as Authorization: Bearer, not api-key', async () => {
    const r = await rig();
    const seen: Headers[] = [];
    const recording: typeof fetch = async (_input, init) => {
      seen.push(new Headers(init?.headers));
      return new Response('{"error":{"code":"401","message":"Access denied"}}', {
        status: 401,
        headers: { 'content-type': 'application/json' },
      });
    };
    const withString = new AzureOpenAI({
      apiKey: 'placeholder',
      endpoint: 'https://my-resource.openai.azure.com',
      apiVersion: '2024-10-21',
      fetch: recording,
      maxRetries: 0,
    });
    const withFunction = new AzureOpenAI({
      apiKey: (async () => r.key.value) as unknown as string, // not in its type: `apiKey?: string`
      endpoint: 'https://my-resource.openai.azure.com',
      apiVersion: '2024-10-21',
      fetch: recording,
      maxRetries: 0,
    });
    await withString.chat.completions.create({ model: 'dep', messages }).catch(() => undefined);
    await withFunction.chat.completions.create({ model: 'dep', messages }).catch(() => undefined);
    expect([seen[0]?.get('api-key'), seen[0]?.get('authorization')]).toEqual(['placeholder', null]);
    expect([seen[1]?.get('api-key'), seen[1]?.get('authorization')]).toEqual([null, `Bearer ${KEYS.v1}`]);
  });
});
