/**
 * The Vercel AI SDK (`ai@6` with `@ai-sdk/openai@3`, `@ai-sdk/anthropic@3`, `@ai-sdk/google@3`, as they run on
 * Node 20) built with `fetch: authFetch(...)` against the mock provider, with a memory source as the secret manager.
 * `generateText` and `streamText`, `maxRetries: 0` so the request counts are exact.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import { APICallError, generateText, type LanguageModel, streamText } from 'ai';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { authFetch, providers, type ProviderPreset } from '../../src/clients/index.js';
import { clientRig, dump, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();

interface AiSdk {
  name: string;
  preset: ProviderPreset;
  /** A model of this provider, built with `baseURL` (the mock's) and `fetch`; the apiKey is a placeholder. */
  model(mockUrl: string, fetch: typeof globalThis.fetch): LanguageModel;
  /** The status the provider answers a dead key with. */
  deadStatus: number;
}

const sdks: AiSdk[] = [
  {
    name: '@ai-sdk/openai openai.chat(model) (chat completions)',
    preset: providers.openai,
    model: (url, fetch) => createOpenAI({ apiKey: 'placeholder', baseURL: url, fetch }).chat('gpt-mock'),
    deadStatus: 401,
  },
  {
    name: '@ai-sdk/openai openai(model) (Responses API)',
    preset: providers.openai,
    model: (url, fetch) => createOpenAI({ apiKey: 'placeholder', baseURL: url, fetch })('gpt-mock'),
    deadStatus: 401,
  },
  {
    name: '@ai-sdk/anthropic',
    preset: providers.anthropic,
    model: (url, fetch) => createAnthropic({ apiKey: 'placeholder', baseURL: `${url}/v1`, fetch })('claude-mock'),
    deadStatus: 401,
  },
  {
    name: '@ai-sdk/google',
    preset: providers.gemini,
    model: (url, fetch) =>
      createGoogleGenerativeAI({ apiKey: 'placeholder', baseURL: `${url}/v1beta`, fetch })('gemini-mock'),
    deadStatus: 400, // API_KEY_INVALID
  },
];

/** One `generateText` call; resolves to the text, rejects with the SDK's error. */
async function generate(model: LanguageModel): Promise<{ text: string; dumped: string; finish: string }> {
  const result = await generateText({ model, prompt: 'hello', maxOutputTokens: 16, maxRetries: 0 });
  const { inputTokens, outputTokens } = result.usage;
  return { text: result.text, dumped: dump(result), finish: `${result.finishReason} ${inputTokens}/${outputTokens}` };
}

/** One `streamText` call, read to the end: the text, and the errors the stream carried. */
async function stream(
  model: LanguageModel,
): Promise<{ text: string; errors: unknown[]; parts: string[]; finish: string | undefined }> {
  const result = streamText({
    model,
    prompt: 'hello',
    maxOutputTokens: 16,
    maxRetries: 0,
    onError: () => undefined, // the error is read from the stream
  });
  let text = '';
  const errors: unknown[] = [];
  const parts: string[] = [];
  let finish: string | undefined;
  for await (const part of result.fullStream) {
    parts.push(part.type);
    if (part.type === 'text-delta') text += part.text;
    if (part.type === 'error') errors.push(part.error);
    if (part.type === 'finish') {
      const { inputTokens, outputTokens } = part.totalUsage;
      finish = `${part.finishReason} ${inputTokens}/${outputTokens}`;
    }
  }
  return { text, errors, parts, finish };
}

const status = (error: unknown): number | undefined => (APICallError.isInstance(error) ? error.statusCode : undefined);

describe.each(sdks)('$name with fetch: authFetch(…): generateText', (sdk) => {
  it('rotating the secret: the next request carries the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
    const first = await generate(model);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    const second = await generate(model);
    await generate(model);
    expect([first.text, second.text]).toEqual(['ok', 'ok']);
    expect(second.finish).toBe('stop 1/1'); // the whole answer parsed: finish reason and usage
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requestsFor('placeholder')]).toEqual(
      [1, 2, 0],
    );
    expect(leaked(dump(r.events) + dump(provider) + first.dumped + second.dumped)).toEqual([]);
  });

  it('old key revoked at the provider before a refresh: one refresh, one retry, zero failed calls', async () => {
    const r = await rig(); // polled secret manager: the resolver does not know about v2 yet
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
    await generate(model);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const fetchesBefore = r.fetches();
    const reply = await generate(model); // does not throw: zero failed calls
    expect(reply.text).toBe('ok');
    expect(provider.requestsFor(KEYS.v1)).toBe(2); // the first call, then the one that got the dead-key answer
    expect(provider.requestsFor(KEYS.v2)).toBe(1); // its retry
    expect(r.resolves() - resolvesBefore).toBe(1); // exactly one refresh
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(r.events.filter((e) => e.event === 'rotate')).toHaveLength(1);
    await generate(model);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 2]);
    expect(leaked(dump(r.events) + dump(provider) + reply.dumped)).toEqual([]);
  });

  it('revoked while three calls are in flight: they share one refresh, each is retried once, none fails', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
    await generate(model);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const replies = await Promise.all([generate(model), generate(model), generate(model)]);
    expect(replies.map((x) => x.text)).toEqual(['ok', 'ok', 'ok']);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([4, 3]);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(leaked(dump(r.events) + replies.map((x) => x.dumped).join(''))).toEqual([]);
  });

  it("both keys dead: the SDK's own APICallError with the status, after one refresh and one retry", async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const fetchesBefore = r.fetches();
    const error = await generate(sdk.model(provider.url, authFetch(r.key, sdk.preset))).catch((e: unknown) => e);
    expect(APICallError.isInstance(error)).toBe(true);
    expect(status(error)).toBe(sdk.deadStatus);
    expect((error as APICallError).isRetryable).toBe(false);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(leaked(dump(error) + dump(r.events) + dump(provider))).toEqual([]);
  });

  it('a dead key and no new one in the secret manager: one refresh, no retry, the SDK sees the status', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [] });
    const resolvesBefore = r.resolves();
    const error = await generate(sdk.model(provider.url, authFetch(r.key, sdk.preset))).catch((e: unknown) => e);
    expect(status(error)).toBe(sdk.deadStatus);
    expect(provider.requests).toBe(1);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(leaked(dump(error))).toEqual([]);
  });
});

describe.each(sdks)('$name with fetch: authFetch(…): streamText', (sdk) => {
  it('rotating the secret: the next stream carries the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
    const first = await stream(model);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    const second = await stream(model);
    await stream(model);
    expect([first.errors, second.errors]).toEqual([[], []]);
    expect([first.text, second.text]).toEqual(['ok', 'ok']);
    expect(second.parts.at(-1)).toBe('finish');
    expect(second.finish).toBe('stop 1/1'); // the whole stream parsed: finish reason and usage
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requestsFor('placeholder')]).toEqual(
      [1, 2, 0],
    );
    expect(leaked(dump(r.events) + dump(provider) + dump(first) + dump(second))).toEqual([]);
  });

  it('old key revoked at the provider before a refresh: the stream is retried once, no error part', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [KEYS.v1, KEYS.v2] });
    const model = sdk.model(provider.url, authFetch(r.key, sdk.preset));
    const first = await stream(model);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const fetchesBefore = r.fetches();
    const reply = await stream(model);
    expect(reply.errors).toEqual([]);
    expect([first.text, reply.text]).toEqual(['ok', 'ok']);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 1]);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(r.fetches() - fetchesBefore).toBe(1);
    await stream(model);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([2, 2]);
    expect(leaked(dump(r.events) + dump(provider) + dump(reply))).toEqual([]);
  });

  it('both keys dead: one error part, the APICallError with the status, the stream ends, nothing loops', async () => {
    const r = await rig();
    const provider = await mock({ preset: sdk.preset, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const fetchesBefore = r.fetches();
    const result = await stream(sdk.model(provider.url, authFetch(r.key, sdk.preset)));
    expect(result.text).toBe('');
    expect(result.errors).toHaveLength(1);
    expect(status(result.errors[0])).toBe(sdk.deadStatus);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(leaked(dump(result) + dump(r.events) + dump(provider))).toEqual([]);
  });
});

/** The installed major of a package (read from its package.json: `ai` and `@ai-sdk/*` do not export it). */
function majorOf(pkg: string): number {
  const url = new URL(`../../node_modules/${pkg}/package.json`, import.meta.url);
  return Number((JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version.split('.')[0]);
}

describe('@ai-sdk/* and the key (what the installed major does)', () => {
  const makers = [
    {
      name: 'openai',
      preset: providers.openai,
      model: (apiKey: string, url: string) => createOpenAI({ apiKey, baseURL: url }).chat('gpt-mock'),
    },
    {
      name: 'anthropic',
      preset: providers.anthropic,
      model: (apiKey: string, url: string) => createAnthropic({ apiKey, baseURL: `${url}/v1` })('claude-mock'),
    },
    {
      name: 'google',
      preset: providers.gemini,
      model: (apiKey: string, url: string) =>
        createGoogleGenerativeAI({ apiKey, baseURL: `${url}/v1beta` })('gemini-mock'),
    },
  ];

  // 3.x (what Node 20 installs) takes a string only; 4.x (AI SDK 7, Node >= 22: CI's newest-majors leg) takes a
  // function for openai and google, called before each request (@ai-sdk/anthropic 4.x: `apiKey` is still a string).
  const takesFunction = (name: string): boolean => name !== 'anthropic' && majorOf(`@ai-sdk/${name}`) >= 4;
  it.each(makers)('$name: an apiKey function — 3.x refuses it before sending; 4.x calls it per request', async (m) => {
    const provider = await mock({ preset: m.preset, keys: [KEYS.v1, KEYS.v2] });
    let current: string = KEYS.v1;
    const getter = (async () => current) as unknown as string; // what a 4.x user writes
    const model = m.model(getter, provider.url);
    if (takesFunction(m.name)) {
      await generate(model);
      current = KEYS.v2;
      await generate(model);
      expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
      return;
    }
    const error = await generate(model).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AI_LoadAPIKeyError');
    expect((error as Error).message).toMatch(/API key must be a string/);
    expect(provider.requests).toBe(0);
    expect(leaked(dump(error))).toEqual([]);
  });

  it.each(makers)('$name: with no apiKey, its env var is read again on every request', async (m) => {
    const name = { openai: 'OPENAI_API_KEY', anthropic: 'ANTHROPIC_API_KEY', google: 'GOOGLE_GENERATIVE_AI_API_KEY' }[
      m.name
    ] as string;
    const saved = process.env[name];
    try {
      const provider = await mock({ preset: m.preset, keys: [KEYS.v1, KEYS.v2] });
      const model = m.model(undefined as unknown as string, provider.url); // one model, built once
      process.env[name] = KEYS.v1;
      await generate(model);
      process.env[name] = KEYS.v2;
      await generate(model);
      expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
    } finally {
      if (saved === undefined) delete process.env[name];
      else process.env[name] = saved;
    }
  });
});
