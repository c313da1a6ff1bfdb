/**
 * LangChain's chat models (@langchain/openai@1.5 `ChatOpenAI`, @langchain/anthropic@1.5 `ChatAnthropic`, on
 * @langchain/core@1.4) built with `fetch: authFetch(...)` handed to the SDK client they wrap, against the mock
 * provider, with a memory source as the secret manager. One model object per test: the key changes under it.
 *
 * - `ChatOpenAI({ configuration: { baseURL, fetch } })`: `configuration` is spread into `new OpenAI(...)` (the
 *   top-level openai@6), with `maxRetries: 0` forced on that client (@langchain/openai dist/chat_models/base.js
 *   `_getClientOptions`); LangChain retries in its own `AsyncCaller`, which `maxRetries: 0` turns off.
 * - `ChatAnthropic({ clientOptions: { baseURL, fetch } })`: `clientOptions` is spread into `new Anthropic(...)` of
 *   its own @anthropic-ai/sdk@0.122 (one client for `invoke`, another for `stream`, both with `maxRetries: 0`;
 *   @langchain/anthropic dist/chat_models.js `completionWithRetry` / `createStreamWithRetry`). That SDK sends
 *   `x-api-key`, the preset's main header.
 */
import { ChatAnthropic } from '@langchain/anthropic';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { ChatOpenAI } from '@langchain/openai';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { authFetch, providers, type ProviderPreset } from '../../src/clients/index.js';
import { clientRig, dump, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();

interface Sdk {
  name: string;
  preset: ProviderPreset;
  /** A chat model whose SDK client sends every request through `fetch`. */
  model(baseURL: string, fetch: typeof globalThis.fetch): BaseChatModel;
}

const sdks: Sdk[] = [
  {
    name: 'ChatOpenAI',
    preset: providers.openai,
    model: (baseURL, fetch) =>
      new ChatOpenAI({ model: 'gpt-mock', apiKey: 'placeholder', maxRetries: 0, configuration: { baseURL, fetch } }),
  },
  {
    name: 'ChatAnthropic',
    preset: providers.anthropic,
    model: (baseURL, fetch) =>
      new ChatAnthropic({
        model: 'claude-mock',
        apiKey: 'placeholder',
        maxTokens: 8,
        maxRetries: 0,
        clientOptions: { baseURL, fetch },
      }),
  },
];

interface Mode {
  name: 'invoke' | 'stream';
  /** How many pieces of text the mock's answer arrives in (a stream sends `ok` as `o`, `k`). */
  pieces: number;
  /** One call; the text of the answer, the pieces it came in, and what the caller holds (checked for leaks). */
  call(model: BaseChatModel): Promise<{ text: string; pieces: number; held: unknown }>;
}

const modes: Mode[] = [
  {
    name: 'invoke',
    pieces: 1,
    call: async (model) => {
      const message = await model.invoke('hello');
      return { text: message.text, pieces: 1, held: message };
    },
  },
  {
    name: 'stream',
    pieces: 2,
    call: async (model) => {
      const chunks = [];
      for await (const chunk of await model.stream('hello')) chunks.push(chunk);
      const texts = chunks.map((c) => c.text);
      return { text: texts.join(''), pieces: texts.filter((t) => t !== '').length, held: chunks };
    },
  },
];

/** The HTTP status on the error LangChain rethrows (the SDK's own `APIError`, with LangChain's fields added). */
function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' ? status : undefined;
}

describe.each(sdks)('$name with fetch: authFetch(…)', (sdk) => {
  describe.each(modes)('$name', (mode) => {
    it('rotating the secret: the next call carries the new key', async () => {
      const r = await rig({ push: true });
      const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
      const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
      expect((await mode.call(model)).text).toBe('ok');
      r.memory.set('K_v2', KEYS.v2);
      await r.clock.flush();
      await mode.call(model);
      const last = await mode.call(model);
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
      const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
      const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
      await mode.call(model);
      r.memory.set('K_v2', KEYS.v2);
      provider.revoke(KEYS.v1);
      const resolvesBefore = r.resolves();
      const fetchesBefore = r.fetches();
      const reply = await mode.call(model);
      expect(reply.text).toBe('ok');
      expect(provider.requestsFor(KEYS.v1)).toBe(2); // the first call, then the one that got 401
      expect(provider.requestsFor(KEYS.v2)).toBe(1); // its retry
      expect(r.resolves() - resolvesBefore).toBe(1); // exactly one refresh
      expect(r.fetches() - fetchesBefore).toBe(1);
      expect(r.events.filter((e) => e.event === 'rotate')).toHaveLength(1);
      expect((await mode.call(model)).text).toBe('ok');
      expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([2, 2, 4]);
      expect(leaked(dump(r.events) + dump(provider) + dump(reply.held))).toEqual([]);
    });

    it("both keys dead: the SDK's 401 after one refresh and one retry, and nothing loops", async () => {
      const r = await rig();
      const provider = await mock({ preset: sdk.preset, keys: [] });
      r.memory.set('K_v2', KEYS.v2);
      const fetchesBefore = r.fetches();
      const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
      const error = await mode.call(model).catch((e: unknown) => e);
      expect(statusOf(error)).toBe(401);
      expect((error as { lc_error_code?: unknown }).lc_error_code).toBe('MODEL_AUTHENTICATION');
      expect((error as object).constructor.name).toBe('AuthenticationError'); // the SDK's class
      expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
      expect(r.fetches() - fetchesBefore).toBe(1);
      expect(leaked(dump(error) + dump(r.events) + dump(provider))).toEqual([]);
    });
  });
});

describe('ChatOpenAI: the error LangChain rethrows', () => {
  it("is openai's own AuthenticationError (the top-level openai@6), with LangChain's code added", async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [] });
    const model = sdks[0]?.model(provider.url, authFetch(r.key, providers.openai)) as BaseChatModel;
    const error = await model.invoke('hello').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
    expect(provider.requests).toBe(1); // no v2 in the secret manager: no retry
    expect(leaked(dump(error))).toEqual([]);
  });
});

describe('ChatOpenAI with configuration.apiKey as a function instead of authFetch', () => {
  // @langchain/openai dist/chat_models/base.js takes a function `configuration.apiKey` and hands it to openai@6,
  // which calls it before each request: a rotation is followed, but nothing heals a key revoked before a refresh.
  const model = (baseURL: string, r: { key: { value: string } }): ChatOpenAI =>
    new ChatOpenAI({ model: 'gpt-mock', maxRetries: 0, configuration: { baseURL, apiKey: async () => r.key.value } });

  it('follows a rotation', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1, KEYS.v2] });
    const chat = model(provider.url, r);
    await chat.invoke('hello');
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    expect((await chat.invoke('hello')).text).toBe('ok');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
  });

  it('a key revoked before a refresh: the call fails with the 401 (authFetch would have retried it)', async () => {
    const r = await rig();
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1, KEYS.v2] });
    const chat = model(provider.url, r);
    await chat.invoke('hello');
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const error = await chat.invoke('hello').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 0]);
    expect(leaked(dump(error))).toEqual([]);
  });
});
