/**
 * The mock provider's streams and the OpenAI Responses API, parsed by the real SDKs (openai@6, @anthropic-ai/sdk@1,
 * @google/genai, @mistralai/mistralai, the Vercel AI SDK providers): if an SDK reads the text back, the shapes fit.
 */
import { createAnthropic } from '@ai-sdk/anthropic';
import { createGoogleGenerativeAI } from '@ai-sdk/google';
import { createOpenAI } from '@ai-sdk/openai';
import Anthropic from '@anthropic-ai/sdk';
import { ApiError, GoogleGenAI } from '@google/genai';
import { Mistral } from '@mistralai/mistralai';
import { MistralError } from '@mistralai/mistralai/models/errors/mistralerror.js';
import { generateText, streamText } from 'ai';
import Groq from 'groq-sdk';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { providers } from '../../src/clients/index.js';
import { startMockProvider, type MockProvider, type MockProviderOptions } from '../../src/testing/index.js';

const KEY = 'mock-stream-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaa-1';
const messages = [{ role: 'user' as const, content: 'hello' }];

let open: MockProvider[] = [];
afterEach(async () => {
  const closing = open;
  open = [];
  await Promise.all(closing.map((m) => m.close()));
});
async function start(options: MockProviderOptions): Promise<MockProvider> {
  const mock = await startMockProvider({ keys: [KEY], ...options });
  open.push(mock);
  return mock;
}

/** The names of the request's headers that could carry a key. */
const keyHeaders = (request: Request): string[] => [...request.headers.keys()].filter((h) => /key|auth/.test(h));

async function raw(mock: MockProvider, path: string, body: unknown, headers: Record<string, string>): Promise<string> {
  const response = await fetch(mock.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  return response.text();
}

describe('mock provider streams, read by the real SDKs', () => {
  it('openai chat.completions stream: chunks, include_usage honoured, [DONE]', async () => {
    const mock = await start({ preset: providers.openai });
    const client = new OpenAI({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
    const stream = await client.chat.completions.create({
      model: 'gpt-mock',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('ok');
    expect(usage).toEqual({ prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 });
    const final = await client.chat.completions.stream({ model: 'gpt-mock', messages }).finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('ok');
    const text2 = await raw(
      mock,
      '/chat/completions',
      { model: 'm', messages, stream: true },
      { authorization: `Bearer ${KEY}` },
    );
    expect(text2.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text2).not.toContain('"usage"'); // not asked for
  });

  it('openai responses: create, create({ stream: true }) with the documented events, responses.stream', async () => {
    const mock = await start({ preset: providers.openai });
    const client = new OpenAI({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
    const response = await client.responses.create({ model: 'gpt-mock', input: 'hello' });
    expect([response.output_text, response.status, response.usage?.total_tokens]).toEqual(['ok', 'completed', 2]);
    const events: string[] = [];
    let text = '';
    for await (const event of await client.responses.create({ model: 'gpt-mock', input: 'hello', stream: true })) {
      events.push(event.type);
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    expect(text).toBe('ok');
    expect(events[0]).toBe('response.created');
    expect(events.at(-1)).toBe('response.completed');
    expect(events).toContain('response.output_item.added');
    const final = await client.responses.stream({ model: 'gpt-mock', input: 'hello' }).finalResponse();
    expect(final.output_text).toBe('ok');
  });

  it('wire formats: the Responses events in the documented order; Gemini with and without alt=sse', async () => {
    const o = await start({ preset: providers.openai });
    const text = await raw(
      o,
      '/responses',
      { model: 'm', input: 'x', stream: true },
      { authorization: `Bearer ${KEY}` },
    );
    const names = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(names).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const sequence = [...text.matchAll(/"sequence_number":(\d+)/g)].map((m) => Number(m[1]));
    expect(sequence).toEqual(names.map((_, i) => i));
    expect(text).not.toContain('[DONE]');

    const g = await start({ preset: providers.gemini });
    const path = '/v1beta/models/gemini-mock:streamGenerateContent';
    const sse = await raw(g, `${path}?alt=sse`, { contents: [] }, { 'x-goog-api-key': KEY });
    expect(
      sse
        .split('\r\n\r\n')
        .filter(Boolean)
        .every((e) => e.startsWith('data: {"candidates"')),
    ).toBe(true);
    const array = await fetch(g.url + path, {
      method: 'POST',
      headers: { 'x-goog-api-key': KEY, 'content-type': 'application/json' },
      body: '{}',
    });
    const chunks = (await array.json()) as { candidates: { content: { parts: { text: string }[] } }[] }[];
    expect(chunks.map((c) => c.candidates[0]?.content.parts[0]?.text).join('')).toBe('ok');
  });

  it('@anthropic-ai/sdk messages.stream: message_start … message_stop', async () => {
    const mock = await start({ preset: providers.anthropic });
    const client = new Anthropic({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
    const stream = client.messages.stream({ model: 'claude-mock', max_tokens: 8, messages });
    const types: string[] = [];
    stream.on('streamEvent', (e) => types.push(e.type));
    expect(await stream.finalText()).toBe('ok');
    expect((await stream.finalMessage()).usage.output_tokens).toBe(1);
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  it('@google/genai generateContentStream (alt=sse) and generateContent', async () => {
    const mock = await start({ preset: providers.gemini });
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: mock.url } });
    let text = '';
    for await (const chunk of await ai.models.generateContentStream({ model: 'gemini-mock', contents: 'hello' }))
      text += chunk.text ?? '';
    expect(text).toBe('ok');
    const whole = await ai.models.generateContent({ model: 'gemini-mock', contents: 'hello' });
    expect(whole.text).toBe('ok');
  });

  it('@mistralai/mistralai chat.stream and chat.complete', async () => {
    const mock = await start({ preset: providers.mistral });
    const client = new Mistral({ apiKey: KEY, serverURL: mock.url });
    let text = '';
    let usage: unknown;
    for await (const event of await client.chat.stream({ model: 'mistral-mock', messages })) {
      const content = event.data.choices[0]?.delta.content;
      if (typeof content === 'string') text += content;
      if (event.data.usage) usage = event.data.usage.totalTokens;
    }
    expect([text, usage]).toEqual(['ok', 2]);
    const whole = await client.chat.complete({ model: 'mistral-mock', messages });
    expect(whole.choices[0]?.message?.content).toBe('ok');
  });

  it('groq-sdk stream (OpenAI-compatible chunks)', async () => {
    const mock = await start({ preset: providers.groq });
    const client = new Groq({ apiKey: KEY, baseURL: mock.url, maxRetries: 0 });
    let text = '';
    for await (const chunk of await client.chat.completions.create({ model: 'llama-mock', messages, stream: true }))
      text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('ok');
  });

  it('Vercel AI SDK: openai(model) (Responses), openai.chat, anthropic, google: generateText, streamText', async () => {
    const [o, a, g] = await Promise.all([
      start({ preset: providers.openai }),
      start({ preset: providers.anthropic }),
      start({ preset: providers.gemini }),
    ]);
    const openai = createOpenAI({ apiKey: KEY, baseURL: o.url });
    const anthropic = createAnthropic({ apiKey: KEY, baseURL: `${a.url}/v1` });
    const google = createGoogleGenerativeAI({ apiKey: KEY, baseURL: `${g.url}/v1beta` });
    for (const model of [
      openai('gpt-mock'),
      openai.chat('gpt-mock'),
      anthropic('claude-mock'),
      google('gemini-mock'),
    ]) {
      const generated = await generateText({ model, prompt: 'hello', maxRetries: 0 });
      expect(generated.text).toBe('ok');
      const streamed = streamText({ model, prompt: 'hello', maxRetries: 0 });
      expect(await streamed.text).toBe('ok');
      expect((await streamed.usage).outputTokens).toBe(1);
    }
  });

  it('streamed calls and Responses API calls count in the management usage (served)', async () => {
    const mock = await start({
      preset: providers.openai,
      keys: [],
      management: { adminKeys: ['admin-key-for-stream-test-1'] },
    });
    const minted = mock.mint('streaming');
    const client = new OpenAI({ apiKey: minted.value, baseURL: mock.url, maxRetries: 0 });
    for await (const _ of await client.chat.completions.create({ model: 'gpt-mock', messages, stream: true })) {
    }
    await client.responses.create({ model: 'gpt-mock', input: 'hello' });
    await client.responses.stream({ model: 'gpt-mock', input: 'hello' }).finalResponse();
    expect(mock.keys().find((k) => k.name === 'streaming')?.requests).toBe(3);
    expect(mock.requestsFor(minted.value)).toBe(3);

    const anth = await start({
      preset: providers.anthropic,
      keys: [],
      management: { adminKeys: ['admin-key-for-stream-test-2'] },
    });
    const key = anth.mint('streaming');
    const claude = new Anthropic({ apiKey: key.value, baseURL: anth.url, maxRetries: 0 });
    await claude.messages.stream({ model: 'claude-mock', max_tokens: 8, messages }).finalText();
    expect(anth.keys().find((k) => k.name === 'streaming')?.requests).toBe(1);
  });

  it('a dead key gets the invalid-key answer, not a stream', async () => {
    const mock = await start({ preset: providers.openai });
    const client = new OpenAI({ apiKey: 'sk-wrong-key-zzzzzzzzzzzzzzzzzzzzzz', baseURL: mock.url, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: 'gpt-mock', messages, stream: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    const error2 = await client.responses.create({ model: 'gpt-mock', input: 'x', stream: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error2 as { status?: number }).status).toBe(401);
  });
});

/** What the SDKs send and how they see the mock's dead-key answers (the presets' `deadKey` rules must match). */
describe('Gemini and Mistral: the requests the SDKs make and their errors on a dead key', () => {
  it('@google/genai: x-goog-api-key on …:generateContent; dead key: ApiError 400 API_KEY_INVALID', async () => {
    const mock = await start({ preset: providers.gemini });
    const seen: string[] = [];
    const spy: typeof fetch = (input, init) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      seen.push(`${request.method} ${url.pathname}${url.search} ${keyHeaders(request)}`);
      return fetch(request);
    };
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: mock.url, fetch: spy } });
    await ai.models.generateContent({ model: 'gemini-mock', contents: 'hello' });
    for await (const _ of await ai.models.generateContentStream({ model: 'gemini-mock', contents: 'hello' })) {
    }
    expect(seen).toEqual([
      'POST /v1beta/models/gemini-mock:generateContent x-goog-api-key',
      'POST /v1beta/models/gemini-mock:streamGenerateContent?alt=sse x-goog-api-key',
    ]);
    const dead = new GoogleGenAI({ apiKey: 'AIza-dead-key-for-the-test', httpOptions: { baseUrl: mock.url } });
    const error = await dead.models.generateContent({ model: 'gemini-mock', contents: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    const rule = providers.gemini.deadKey.find((r) => r.status === 400);
    expect((error as ApiError).message).toContain(rule?.bodyIncludes);
    expect((error as ApiError).message).not.toContain('AIza-dead-key-for-the-test');
  });

  it('@mistralai/mistralai: Bearer on /v1/chat/completions; a dead key is MistralError 401', async () => {
    const mock = await start({ preset: providers.mistral });
    const seen: string[] = [];
    const spy: typeof fetch = (input, init) => {
      const request = new Request(input, init);
      seen.push(
        `${request.method} ${new URL(request.url).pathname} ${request.headers.get('authorization')?.split(' ')[0]}`,
      );
      return fetch(request);
    };
    const { HTTPClient } = await import('@mistralai/mistralai/lib/http.js');
    const client = new Mistral({ apiKey: KEY, serverURL: mock.url, httpClient: new HTTPClient({ fetcher: spy }) });
    await client.chat.complete({ model: 'mistral-mock', messages });
    for await (const _ of await client.chat.stream({ model: 'mistral-mock', messages })) {
    }
    await client.models.list();
    expect(seen).toEqual([
      'POST /v1/chat/completions Bearer',
      'POST /v1/chat/completions Bearer',
      'GET /v1/models Bearer',
    ]);
    const dead = new Mistral({ apiKey: 'dead-mistral-key', serverURL: mock.url });
    const error = await dead.chat.complete({ model: 'm', messages }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(MistralError);
    expect((error as MistralError).statusCode).toBe(401);
    expect(providers.mistral.deadKey).toEqual([{ status: 401 }]);
    expect(String((error as MistralError).body)).not.toContain('dead-mistral-key');
  });
});
