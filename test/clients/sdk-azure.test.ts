/**
 * openai@6's `AzureOpenAI` built with `fetch: authFetch(key, providers.azureOpenai)` against the mock Azure OpenAI
 * resource, with a memory source as the secret manager. One client per test: the key changes under it.
 *
 * What the SDK does (node_modules/openai/azure.js of 6.49):
 * - `endpoint` + `/openai` is the base URL; `api-version` goes in every query (`defaultQuery`).
 * - `deployment` rewrites `/chat/completions` (and the other deployment endpoints) to
 *   `/deployments/{deployment}/chat/completions` (`buildRequest`).
 * - A string `apiKey` is sent as the bare `api-key` header (`authHeaders`), the preset's main header: authFetch sets
 *   it to the current key, so the placeholder never leaves.
 */
import OpenAI, { AzureOpenAI } from 'openai';
import { describe, expect, it } from 'vitest';
import { authFetch, azureOpenai } from '../../src/clients/index.js';
import { clientRig, dump, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();
const preset = azureOpenai;
/** `AzureOpenAI` appends `/openai` to `endpoint`; the mock's URL already ends with it. */
const endpointOf = (url: string): string => url.replace(/\/openai$/, '');
const messages = [{ role: 'user' as const, content: 'hello' }];

interface Client {
  name: string;
  /** A client on the mock (`url` is the mock's base URL, `…/openai`) sending every request through `fetch`. */
  make(url: string, fetch: typeof globalThis.fetch): OpenAI;
}

const clients: Client[] = [
  {
    name: 'AzureOpenAI({ endpoint, apiVersion, deployment })',
    make: (url, fetch) =>
      new AzureOpenAI({
        apiKey: 'placeholder',
        endpoint: endpointOf(url),
        apiVersion: '2024-10-21',
        deployment: 'gpt-mock-deployment',
        fetch,
        maxRetries: 0,
      }),
  },
  {
    // No `deployment`: the request's `model` names the deployment (`/deployments/gpt-mock/chat/completions`).
    name: 'AzureOpenAI({ endpoint, apiVersion })',
    make: (url, fetch) =>
      new AzureOpenAI({
        apiKey: 'placeholder',
        endpoint: endpointOf(url),
        apiVersion: '2024-10-21',
        fetch,
        maxRetries: 0,
      }),
  },
  {
    // Azure's v1 API takes the key as `Authorization: Bearer` too, so the plain client works there; authFetch sets
    // the header the request carries (the preset's alternate), and no `api-version` is needed.
    name: 'OpenAI({ baseURL: …/openai/v1 }) (the v1 API)',
    make: (url, fetch) => new OpenAI({ apiKey: 'placeholder', baseURL: `${url}/v1`, fetch, maxRetries: 0 }),
  },
];

interface Mode {
  name: 'create' | 'create({ stream: true })';
  /** How many pieces of text the mock's answer arrives in (a stream sends `ok` as `o`, `k`). */
  pieces: number;
  /** One call; the text of the answer, the pieces it came in, and what the caller holds (checked for leaks). */
  call(client: OpenAI): Promise<{ text: string; pieces: number; held: unknown }>;
}

const modes: Mode[] = [
  {
    name: 'create',
    pieces: 1,
    call: async (client) => {
      const completion = await client.chat.completions.create({ model: 'gpt-mock', messages });
      return { text: completion.choices[0]?.message.content ?? '', pieces: 1, held: completion };
    },
  },
  {
    name: 'create({ stream: true })',
    pieces: 2,
    call: async (client) => {
      const stream = await client.chat.completions.create({ model: 'gpt-mock', messages, stream: true });
      const chunks = [];
      for await (const chunk of stream) chunks.push(chunk);
      const texts = chunks.map((c) => c.choices[0]?.delta.content ?? '');
      return { text: texts.join(''), pieces: texts.filter((t) => t !== '').length, held: chunks };
    },
  },
];

describe.each(clients)('$name with fetch: authFetch(…)', (sdk) => {
  describe.each(modes)('chat.completions.$name', (mode) => {
    it('rotating the secret: the next call carries the new key', async () => {
      const r = await rig({ push: true });
      const provider = await mock({ preset, keys: [KEYS.v1, KEYS.v2] });
      const client = sdk.make(provider.url, authFetch(r.key, preset));
      expect((await mode.call(client)).text).toBe('ok');
      r.memory.set('K_v2', KEYS.v2);
      await r.clock.flush();
      await mode.call(client);
      const last = await mode.call(client);
      expect([last.text, last.pieces]).toEqual(['ok', mode.pieces]);
      expect([
        provider.requestsFor(KEYS.v1),
        provider.requestsFor(KEYS.v2),
        provider.requestsFor('placeholder'),
      ]).toEqual([1, 2, 0]);
      expect(leaked(dump(r.events) + dump(provider) + dump(last.held))).toEqual([]);
    });

    it('old key revoked at the provider before a refresh: one refresh, one retry, no failed call', async () => {
      const r = await rig(); // polled secret manager: the resolver does not know about v2 yet
      const provider = await mock({ preset, keys: [KEYS.v1, KEYS.v2] });
      const client = sdk.make(provider.url, authFetch(r.key, preset));
      await mode.call(client);
      r.memory.set('K_v2', KEYS.v2);
      provider.revoke(KEYS.v1);
      const resolvesBefore = r.resolves();
      const fetchesBefore = r.fetches();
      const reply = await mode.call(client);
      expect(reply.text).toBe('ok');
      expect(provider.requestsFor(KEYS.v1)).toBe(2); // the first call, then the one that got 401
      expect(provider.requestsFor(KEYS.v2)).toBe(1); // its retry
      expect(r.resolves() - resolvesBefore).toBe(1); // exactly one refresh
      expect(r.fetches() - fetchesBefore).toBe(1);
      expect(r.events.filter((e) => e.event === 'rotate')).toHaveLength(1);
      expect((await mode.call(client)).text).toBe('ok');
      expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([2, 2, 4]);
      expect(leaked(dump(r.events) + dump(provider) + dump(reply.held))).toEqual([]);
    });

    it("both keys dead: the SDK's AuthenticationError 401 after one refresh and one retry, no loop", async () => {
      const r = await rig();
      const provider = await mock({ preset, keys: [] });
      r.memory.set('K_v2', KEYS.v2);
      const fetchesBefore = r.fetches();
      const error = await mode.call(sdk.make(provider.url, authFetch(r.key, preset))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((error as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
      expect((error as Error).message).toContain('Access denied due to invalid subscription key');
      expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
      expect(r.fetches() - fetchesBefore).toBe(1);
      expect(leaked(dump(error) + dump(r.events) + dump(provider))).toEqual([]);
    });

    it('a dead key and no new one in the secret manager: one refresh, no retry, the SDK sees the 401', async () => {
      const r = await rig();
      const provider = await mock({ preset, keys: [] });
      const resolvesBefore = r.resolves();
      const error = await mode.call(sdk.make(provider.url, authFetch(r.key, preset))).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
      expect(provider.requests).toBe(1);
      expect(r.resolves() - resolvesBefore).toBe(1);
      expect(leaked(dump(error))).toEqual([]);
    });
  });
});

describe('a key function instead of authFetch', () => {
  it('AzureOpenAI: its only function slot sends the key as a Bearer token, which deployment paths refuse', async () => {
    // AzureOpenAI types `apiKey` as a string (openai/azure.d.ts:26); the function slot is `azureADTokenProvider`
    // (:31), sent as `Authorization: Bearer` (azure.js `authHeaders`: `api-key` only for a string key), which
    // Azure reads as an Entra ID token outside the v1 API. So AzureOpenAI needs authFetch for a rotating key.
    const r = await rig();
    const provider = await mock({ preset, keys: [KEYS.v1] });
    const client = new AzureOpenAI({
      azureADTokenProvider: async () => r.key.value,
      endpoint: endpointOf(provider.url),
      apiVersion: '2024-10-21',
      deployment: 'gpt-mock-deployment',
      maxRetries: 0,
    });
    const error = await client.chat.completions.create({ model: 'gpt-mock', messages }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(provider.requestsFor(KEYS.v1)).toBe(1); // the right key, in the header Azure reads as a token
    expect(leaked(dump(error))).toEqual([]);
  });

  it('on the v1 path the plain OpenAI client with a key function works, and follows a rotation', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset, keys: [KEYS.v1, KEYS.v2] });
    const client = new OpenAI({ apiKey: async () => r.key.value, baseURL: `${provider.url}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-mock', messages });
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    const completion = await client.chat.completions.create({ model: 'gpt-mock', messages });
    expect(completion.choices[0]?.message.content).toBe('ok');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
  });
});
