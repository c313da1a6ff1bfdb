import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { joinUrl } from '../../src/clients/presets.js';
import { providers, type ProviderId } from '../../src/clients/index.js';
import { ConfigurationError } from '../../src/errors.js';
import { startMockProvider, type MockProvider } from '../../src/testing/index.js';

const KEY_A = 'mock-test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaa-1';
const KEY_B = 'mock-test-key-bbbbbbbbbbbbbbbbbbbbbbbbbbbb-2';

let open: MockProvider[] = [];
afterEach(async () => {
  const closing = open;
  open = [];
  await Promise.all(closing.map((m) => m.close()));
});
async function start(id: ProviderId, keys?: string[]): Promise<MockProvider> {
  const mock = await startMockProvider({ preset: providers[id], ...(keys ? { keys } : {}) });
  open.push(mock);
  return mock;
}

/** The request an SDK would make: the preset's header (and scheme), or none. */
function authHeaders(id: ProviderId, key: string | undefined): Record<string, string> {
  const p = providers[id];
  if (key === undefined) return {};
  return { [p.header]: p.scheme ? `${p.scheme} ${key}` : key };
}

async function probe(
  mock: MockProvider,
  id: ProviderId,
  key: string | undefined,
): Promise<{ status: number; body: string }> {
  const p = providers[id];
  const response = await fetch(joinUrl(mock.url, p.probe.path), {
    headers: { ...p.probe.headers, ...authHeaders(id, key) },
  });
  return { status: response.status, body: await response.text() };
}

async function chat(
  mock: MockProvider,
  id: ProviderId,
  key: string | undefined,
  body = '{"model":"m","messages":[]}',
): Promise<{ status: number; json: Record<string, unknown> }> {
  const p = providers[id];
  const response = await fetch(joinUrl(mock.url, p.chat.path.replace('{model}', 'gemini-mock')), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...authHeaders(id, key) },
    body,
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

/** The invalid-key answer each provider gives (from the research notes). */
const invalid: Record<ProviderId, [number, string]> = {
  openai: [401, '"code":"invalid_api_key"'],
  anthropic: [401, '"type":"authentication_error","message":"invalid x-api-key"'],
  groq: [401, '{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}'],
  gemini: [400, '"reason":"API_KEY_INVALID"'],
  mistral: [401, '"message":"Unauthorized"'],
  openrouter: [401, '"error":{"code":401'],
  together: [401, '"code":"invalid_api_key"'],
  'azure-openai': [401, '"message":"Access denied due to invalid subscription key or wrong API endpoint.'],
};

describe('startMockProvider', () => {
  it.each(Object.keys(providers) as ProviderId[])(
    '%s: answers the probe and chat for a live key, the real invalid-key body otherwise',
    async (id) => {
      const mock = await start(id, [KEY_A]);
      expect(mock.url.startsWith('http://127.0.0.1:')).toBe(true);
      expect((await probe(mock, id, KEY_A)).status).toBe(200);
      const ok = await chat(mock, id, KEY_A);
      expect(ok.status).toBe(200);
      expect(JSON.stringify(ok.json)).toContain('ok');
      const [status, body] = invalid[id];
      const wrong = await probe(mock, id, KEY_B);
      expect([wrong.status, wrong.body.includes(body), wrong.body.includes(KEY_B)]).toEqual([status, true, false]);
      const none = await probe(mock, id, undefined);
      expect(none.status).toBe(status);
      if (id === 'openai') expect(none.body).toContain("You didn't provide an API key");
      expect(mock.requestsFor(KEY_A)).toBe(2);
      expect(mock.requestsFor(KEY_B)).toBe(1);
      expect(mock.requests).toBe(4);
    },
  );

  it('accept and revoke at run time', async () => {
    const mock = await start('openai');
    expect((await chat(mock, 'openai', KEY_A)).status).toBe(401);
    mock.accept(KEY_A);
    expect((await chat(mock, 'openai', KEY_A)).status).toBe(200);
    mock.revoke(KEY_A);
    expect((await chat(mock, 'openai', KEY_A)).status).toBe(401);
    mock.accept(KEY_A);
    expect((await chat(mock, 'openai', KEY_A)).status).toBe(200);
    expect(mock.requestsFor(KEY_A)).toBe(4);
  });

  it('key states: rate-limited, no-quota give OpenAI’s 429 bodies; restricted fails only the model list', async () => {
    const mock = await start('openai');
    mock.accept(KEY_A, 'rate-limited');
    const limited = await chat(mock, 'openai', KEY_A);
    expect([limited.status, (limited.json.error as { code: string }).code]).toEqual([429, 'rate_limit_exceeded']);
    mock.accept(KEY_A, 'no-quota');
    const spent = await chat(mock, 'openai', KEY_A);
    expect([spent.status, (spent.json.error as { code: string }).code]).toEqual([429, 'insufficient_quota']);
    mock.accept(KEY_A, 'restricted');
    expect((await chat(mock, 'openai', KEY_A)).status).toBe(200);
    const models = await probe(mock, 'openai', KEY_A);
    expect([models.status, models.body.includes('Missing scopes')]).toEqual([401, true]);
  });

  it('Anthropic accepts x-api-key or Authorization: Bearer; two different credentials are refused', async () => {
    const mock = await start('anthropic', [KEY_A]);
    const send = (headers: Record<string, string>) =>
      fetch(`${mock.url}/v1/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"model":"m"}',
      }).then((r) => r.status);
    expect(await send({ 'x-api-key': KEY_A })).toBe(200);
    expect(await send({ authorization: `Bearer ${KEY_A}` })).toBe(200);
    expect(await send({ 'x-api-key': 'placeholder', authorization: `Bearer ${KEY_A}` })).toBe(401);
    expect(await send({ authorization: KEY_A })).toBe(401); // no scheme
    expect(mock.requestsFor(KEY_A)).toBe(4);
    expect(mock.requestsFor('placeholder')).toBe(1);
  });

  it('Gemini takes the key in x-goog-api-key or ?key=, and answers generateContent for any model', async () => {
    const mock = await start('gemini', [KEY_A]);
    const viaQuery = await fetch(`${mock.url}/v1beta/models?pageSize=1&key=${KEY_A}`);
    expect(viaQuery.status).toBe(200);
    const reply = await chat(mock, 'gemini', KEY_A);
    expect(reply.json.candidates).toBeDefined();
  });

  it('unknown routes get 404, a bad JSON body 400, and the mock still counts and answers', async () => {
    const mock = await start('openai', [KEY_A]);
    const missing = await fetch(`${mock.url}/nope`, { headers: authHeaders('openai', KEY_A) });
    expect(missing.status).toBe(404);
    expect((await chat(mock, 'openai', KEY_A, '{not json')).status).toBe(400);
    expect(mock.requests).toBe(2);
  });

  it('holds no key in anything it shows, and closes (idempotently)', async () => {
    const mock = await start('openai', [KEY_A]);
    mock.accept(KEY_B);
    await chat(mock, 'openai', KEY_A);
    const shown = [
      inspect(mock, { showHidden: true, depth: 10, getters: true }),
      JSON.stringify(mock),
      String(mock),
    ].join('\n');
    expect(shown).not.toContain(KEY_A);
    expect(shown).not.toContain(KEY_B);
    const url = mock.url;
    await mock.close();
    await mock.close();
    await expect(fetch(`${url}/models`)).rejects.toThrow();
  });

  it('rejects bad options', async () => {
    await expect(startMockProvider({ preset: 'nope' as ProviderId })).rejects.toThrow(/unknown provider/);
    await expect(startMockProvider({ preset: providers.openai, keys: [''] })).rejects.toThrow(ConfigurationError);
    await expect(startMockProvider({ preset: providers.openai, keys: [''] })).rejects.toThrow(
      'startMockProvider: a key must be a non-empty string',
    );
    await expect(startMockProvider(null as never)).rejects.toThrow(ConfigurationError);
    await expect(startMockProvider({ preset: providers.openai, host: '192.0.2.1' })).rejects.toThrow(
      ConfigurationError,
    );
    const mock = await start('openai', []);
    expect(() => mock.accept('')).toThrow(ConfigurationError);
    expect(() => mock.requestsFor(42 as never)).toThrow(ConfigurationError);
  });
});
