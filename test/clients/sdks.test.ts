/**
 * The real SDKs (openai@6, @anthropic-ai/sdk@1, groq-sdk@1, as they run on Node 20; CI's newest-majors leg runs them
 * on openai 7) built with `fetch: authFetch(...)` against the mock provider, with a memory source as the secret
 * manager: plain and streamed answers.
 */
import Anthropic from '@anthropic-ai/sdk';
import Groq from 'groq-sdk';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { authFetch, providers, type ProviderPreset } from '../../src/clients/index.js';
import { clientRig, dump, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();

interface Sdk {
  name: string;
  preset: ProviderPreset;
  /** One chat call through a client built with this fetch. */
  chat(baseURL: string, fetch: typeof globalThis.fetch): Promise<unknown>;
  /** One streamed chat call (`stream: true`) through a client built with this fetch: the text, read to the end. */
  stream(baseURL: string, fetch: typeof globalThis.fetch): Promise<string>;
  /** The HTTP status an SDK error carries. */
  status(error: unknown): number | undefined;
}

/** The text of an OpenAI-compatible chat stream, read to the end. */
async function chatText(chunks: AsyncIterable<{ choices: { delta?: { content?: string | null } }[] }>) {
  let text = '';
  for await (const chunk of chunks) text += chunk.choices[0]?.delta?.content ?? '';
  return text;
}

const messages = [{ role: 'user' as const, content: 'hello' }];
const sdks: Sdk[] = [
  {
    name: 'openai',
    preset: providers.openai,
    chat: (baseURL, fetch) =>
      new OpenAI({ apiKey: 'placeholder', baseURL, fetch }).chat.completions.create({ model: 'gpt-mock', messages }),
    stream: async (baseURL, fetch) =>
      chatText(
        await new OpenAI({ apiKey: 'placeholder', baseURL, fetch, maxRetries: 0 }).chat.completions.create({
          model: 'gpt-mock',
          messages,
          stream: true,
        }),
      ),
    status: (e) => (e instanceof OpenAI.APIError ? e.status : undefined),
  },
  {
    name: '@anthropic-ai/sdk',
    preset: providers.anthropic,
    chat: (baseURL, fetch) =>
      new Anthropic({ apiKey: 'placeholder', baseURL, fetch }).messages.create({
        model: 'claude-mock',
        max_tokens: 8,
        messages,
      }),
    stream: async (baseURL, fetch) => {
      const client = new Anthropic({ apiKey: 'placeholder', baseURL, fetch, maxRetries: 0 });
      let text = '';
      for await (const event of await client.messages.create({
        model: 'claude-mock',
        max_tokens: 8,
        messages,
        stream: true,
      })) {
        if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      }
      return text;
    },
    status: (e) => (e instanceof Anthropic.APIError ? e.status : undefined),
  },
  {
    name: 'groq-sdk',
    preset: providers.groq,
    chat: (baseURL, fetch) =>
      new Groq({ apiKey: 'placeholder', baseURL, fetch }).chat.completions.create({ model: 'llama-mock', messages }),
    stream: async (baseURL, fetch) =>
      chatText(
        await new Groq({ apiKey: 'placeholder', baseURL, fetch, maxRetries: 0 }).chat.completions.create({
          model: 'llama-mock',
          messages,
          stream: true,
        }),
      ),
    status: (e) => (e instanceof Groq.APIError ? e.status : undefined),
  },
];

describe.each(sdks)('$name with fetch: authFetch(…)', (sdk) => {
  it('rotating the secret: the next request carries the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const fetch = authFetch(r.key, sdk.preset);
    await sdk.chat(provider.url, fetch);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await sdk.chat(provider.url, fetch);
    await sdk.chat(provider.url, fetch);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requestsFor('placeholder')]).toEqual(
      [1, 2, 0],
    );
    expect(leaked(dump(r.events) + dump(provider))).toEqual([]);
  });

  it('old key revoked at the provider before a refresh: the 401 is retried once on the new key', async () => {
    const r = await rig(); // polled secret manager: the resolver does not know about v2 yet
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const fetch = authFetch(r.key, sdk.preset);
    await sdk.chat(provider.url, fetch);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1); // emergency rotation: revoked at once
    const resolvesBefore = r.resolves();
    const fetchesBefore = r.fetches();
    const reply = await sdk.chat(provider.url, fetch);
    expect(JSON.stringify(reply)).toContain('ok');
    expect(provider.requestsFor(KEYS.v1)).toBe(2); // the first call, then the one that got 401
    expect(provider.requestsFor(KEYS.v2)).toBe(1); // its retry
    expect(r.resolves() - resolvesBefore).toBe(1); // exactly one refresh
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(r.events.filter((e) => e.event === 'rotate')).toHaveLength(1);
    await sdk.chat(provider.url, fetch);
    expect(provider.requestsFor(KEYS.v1)).toBe(2); // no request on the revoked key any more
    expect(leaked(dump(r.events) + dump(provider) + dump(reply))).toEqual([]);
  });

  it('both keys dead: the SDK sees the 401, after one refresh and one retry, and nothing loops', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const fetchesBefore = r.fetches();
    const error = await sdk.chat(provider.url, authFetch(r.key, sdk.preset)).catch((e: unknown) => e);
    expect(sdk.status(error)).toBe(401);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(leaked(dump(error) + dump(r.events) + dump(provider))).toEqual([]);
  });

  it('a dead key and no new one in the secret manager: one refresh, no retry, the SDK sees the 401', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [] });
    const resolvesBefore = r.resolves();
    const error = await sdk.chat(provider.url, authFetch(r.key, sdk.preset)).catch((e: unknown) => e);
    expect(sdk.status(error)).toBe(401);
    expect(provider.requests).toBe(1);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(leaked(dump(error))).toEqual([]);
  });
});

describe.each(sdks)('$name, a streamed answer (stream: true) with fetch: authFetch(…)', (sdk) => {
  it('rotating the secret: the next stream carries the new key, and reads to the end', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const fetch = authFetch(r.key, sdk.preset);
    expect(await sdk.stream(provider.url, fetch)).toBe('ok');
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    expect(await sdk.stream(provider.url, fetch)).toBe('ok');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requestsFor('placeholder')]).toEqual(
      [1, 1, 0],
    );
    expect(leaked(dump(r.events) + dump(provider))).toEqual([]);
  });

  it('old key revoked at the provider before a refresh: the stream is retried once on the new key', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const fetch = authFetch(r.key, sdk.preset);
    expect(await sdk.stream(provider.url, fetch)).toBe('ok');
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    expect(await sdk.stream(provider.url, fetch)).toBe('ok'); // zero failed calls
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 1]);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(r.events.filter((e) => e.event === 'rotate')).toHaveLength(1);
    expect(leaked(dump(r.events) + dump(provider))).toEqual([]);
  });

  it('both keys dead: the stream call fails with the SDK 401 after one refresh and one retry', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const error = await sdk.stream(provider.url, authFetch(r.key, sdk.preset)).catch((e: unknown) => e);
    expect(sdk.status(error)).toBe(401);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
    expect(leaked(dump(error) + dump(r.events))).toEqual([]);
  });
});

describe('a streaming request body is not retried', () => {
  it('openai: client.post with a ReadableStream body gets the 401; the next call uses the new key', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v2] });
    r.memory.set('K_v2', KEYS.v2);
    const client = new OpenAI({
      apiKey: 'placeholder',
      baseURL: provider.url,
      fetch: authFetch(r.key, providers.openai),
      maxRetries: 0,
    });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":"gpt-mock",'));
        controller.enqueue(new TextEncoder().encode('"messages":[]}'));
        controller.close();
      },
    });
    const error = await client
      .post('/chat/completions', { body, headers: { 'content-type': 'application/json' } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 0]);
    expect(r.key.info?.candidate).toBe('K_v2'); // the refresh happened
    await client.chat.completions.create({ model: 'gpt-mock', messages });
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
    expect(leaked(dump(error))).toEqual([]);
  });

  it('plain fetch: a ReadableStream upload gets the 401 as it came', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v2] });
    r.memory.set('K_v2', KEYS.v2);
    const fetch = authFetch(r.key, providers.openai);
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":"m","messages":[]}'));
        controller.close();
      },
    });
    const response = await fetch(`${provider.url}/chat/completions`, {
      method: 'POST',
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(401);
    const json = (await response.json()) as { error: { code: string; message: string } };
    expect(json.error.code).toBe('invalid_api_key');
    expect(leaked(json.error.message)).toEqual([]);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 0]);
  });
});
