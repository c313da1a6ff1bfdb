/**
 * The Azure OpenAI preset and its mock, driven by openai@6's `AzureOpenAI` (api-key header, deployment paths) and
 * `OpenAI` (the v1 API, `Authorization: Bearer`), with `probeKey` and `authFetch`.
 */
import OpenAI, { AzureOpenAI } from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { authFetch, azureOpenai, probeKey, providers, redactProviderKeys } from '../../src/clients/index.js';
import { startMockProvider, type MockProvider } from '../../src/testing/index.js';
import { clientRig, dump, KEYS, leaked } from '../clients/rig.js';

const { rig } = clientRig();
const KEY = `${'a1B2c3D4e5'.repeat(5)}x9JQQJ99BFAC77bzfXJ3w3AAABACOGwe7q`;
const messages = [{ role: 'user' as const, content: 'hello' }];

let open: MockProvider[] = [];
afterEach(async () => {
  const closing = open;
  open = [];
  await Promise.all(closing.map((m) => m.close()));
});
async function start(keys: string[] = [KEY]): Promise<MockProvider> {
  const mock = await startMockProvider({ preset: 'azure-openai', keys });
  open.push(mock);
  return mock;
}
/** The endpoint `AzureOpenAI` takes: the mock's origin (the SDK appends `/openai`). */
const endpointOf = (mock: MockProvider): string => mock.url.replace(/\/openai$/, '');

describe('Azure OpenAI preset and mock', () => {
  it('is a built-in preset: api-key, Bearer on v1, Models - List probe, 401 dead key, two key formats', () => {
    expect(providers['azure-openai']).toBe(azureOpenai);
    expect(azureOpenai).toMatchObject({
      id: 'azure-openai',
      header: 'api-key',
      alternates: [{ header: 'authorization', scheme: 'Bearer' }],
      envVar: 'AZURE_OPENAI_API_KEY',
      probe: { method: 'GET', path: '/models?api-version=2024-10-21' },
      chat: { method: 'POST', path: '/deployments/{model}/chat/completions?api-version=2024-10-21' },
      deadKey: [{ status: 401 }],
      keyFormats: ['azure-openai', 'azure-openai-legacy'],
    });
    expect(KEY).toHaveLength(84);
  });

  it('AzureOpenAI: chat on the deployment path (api-key), streaming, models.list', async () => {
    const mock = await start();
    const client = new AzureOpenAI({
      apiKey: KEY,
      endpoint: endpointOf(mock),
      apiVersion: '2024-10-21',
      deployment: 'my-gpt',
      maxRetries: 0,
    });
    const completion = await client.chat.completions.create({ model: 'ignored', messages });
    expect([completion.choices[0]?.message.content, completion.model]).toEqual(['ok', 'ignored']);
    let text = '';
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe('ok');
    expect((await client.models.list()).data[0]?.id).toBe('gpt-4o-mini');
    expect(mock.requestsFor(KEY)).toBe(3);
  });

  it('OpenAI on the v1 path: Bearer key, chat, stream, Responses API', async () => {
    const mock = await start();
    const client = new OpenAI({ apiKey: KEY, baseURL: `${mock.url}/v1`, maxRetries: 0 });
    expect((await client.chat.completions.create({ model: 'my-gpt', messages })).choices[0]?.message.content).toBe(
      'ok',
    );
    expect((await client.responses.create({ model: 'my-gpt', input: 'hello' })).output_text).toBe('ok');
    const final = await client.responses.stream({ model: 'my-gpt', input: 'hello' }).finalResponse();
    expect(final.output_text).toBe('ok');
  });

  it('refuses a Bearer key outside v1 and a wrong key with the documented 401 body; never echoes the key', async () => {
    const mock = await start();
    const bearerOnDeployment = await fetch(`${mock.url}/deployments/d/chat/completions?api-version=2024-10-21`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: '{"messages":[]}',
    });
    const body = await bearerOnDeployment.text();
    expect(bearerOnDeployment.status).toBe(401);
    const noVersion = await fetch(`${mock.url}/deployments/d/chat/completions`, {
      method: 'POST',
      headers: { 'api-key': KEY, 'content-type': 'application/json' },
      body: '{"messages":[]}',
    });
    expect([noVersion.status, await noVersion.json()]).toEqual([
      404,
      { error: { code: '404', message: 'Resource not found' } },
    ]);
    expect(JSON.parse(body)).toEqual({
      error: {
        code: '401',
        message:
          'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key ' +
          'for an active subscription and use a correct regional API endpoint for your resource.',
      },
    });
    const wrong = new AzureOpenAI({
      apiKey: KEYS.v3,
      endpoint: endpointOf(mock),
      apiVersion: '2024-10-21',
      deployment: 'd',
      maxRetries: 0,
    });
    const error = await wrong.chat.completions.create({ model: 'd', messages }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(leaked(dump(error))).toEqual([]);
  });

  it('checks api-version as Azure does: dated paths need a dated one, v1 takes none, v1 or preview', async () => {
    const mock = await start();
    const call = async (path: string): Promise<[number, unknown]> => {
      const r = await fetch(`${mock.url}${path}`, { headers: { 'api-key': KEY } });
      const text = await r.text();
      expect(text).not.toContain(KEY);
      return [r.status, r.status === 200 ? 'ok' : JSON.parse(text)];
    };
    const notFound = [404, { error: { code: '404', message: 'Resource not found' } }];
    const unsupported = [400, { error: { code: 'BadRequest', message: 'API version not supported' } }];
    expect(await call('/models?api-version=2024-10-21')).toEqual([200, 'ok']);
    expect(await call('/models?api-version=2025-04-01-preview')).toEqual([200, 'ok']);
    expect(await call('/models')).toEqual(notFound);
    expect(await call('/models?api-version=v1')).toEqual(notFound);
    expect(await call('/models?api-version=preview')).toEqual(notFound);
    expect(await call('/v1/models')).toEqual([200, 'ok']);
    expect(await call('/v1/models?api-version=v1')).toEqual([200, 'ok']);
    expect(await call('/v1/models?api-version=preview')).toEqual([200, 'ok']);
    expect(await call('/v1/models?api-version=2024-10-21')).toEqual(unsupported);
    expect(await call('/v1/models?api-version=2025-04-01-preview')).toEqual(unsupported);
    // The openai SDK on the v1 path with a dated api-version (a leftover AzureOpenAI setting): the SDK's 400.
    const dated = new OpenAI({
      apiKey: KEY,
      baseURL: `${mock.url}/v1`,
      defaultQuery: { 'api-version': '2024-10-21' },
      maxRetries: 0,
    });
    const error = await dated.chat.completions.create({ model: 'd', messages }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('API version not supported');
    expect([leaked(dump(error)), dump(error).includes(KEY)]).toEqual([[], false]);
    const preview = new OpenAI({
      apiKey: KEY,
      baseURL: `${mock.url}/v1`,
      defaultQuery: { 'api-version': 'preview' },
      maxRetries: 0,
    });
    expect((await preview.chat.completions.create({ model: 'd', messages })).choices[0]?.message.content).toBe('ok');
    // probeKey on the v1 base URL sends no dated api-version, so the v1 API answers it.
    expect(await probeKey('azure-openai', KEY, { baseUrl: `${mock.url}/v1` })).toEqual({
      ok: true,
      status: 200,
      reason: 'alive',
    });
  });

  it('probeKey: alive, invalid (401), rate-limited; the key appears in no result', async () => {
    const mock = await start();
    mock.accept(KEYS.v2, 'rate-limited');
    expect(await probeKey('azure-openai', KEY, { baseUrl: mock.url })).toEqual({
      ok: true,
      status: 200,
      reason: 'alive',
    });
    expect(await probeKey(azureOpenai, KEYS.v1, { baseUrl: mock.url })).toEqual({
      ok: false,
      status: 401,
      reason: 'invalid',
    });
    const limited = await probeKey(azureOpenai, KEYS.v2, { baseUrl: mock.url });
    expect([limited.ok, limited.reason]).toEqual([true, 'rate-limited']);
    // The preset's URL is a placeholder: probing without your resource's URL is a configuration error.
    await expect(probeKey(azureOpenai, KEY)).rejects.toThrow(/pass your resource's URL as baseUrl/);
    await expect(probeKey(azureOpenai, KEY)).rejects.not.toThrow(KEY);
  });

  it('authFetch with the preset: AzureOpenAI (api-key) and OpenAI on v1 (Bearer) follow a rotation', async () => {
    const r = await rig({ push: true });
    const mock = await start([KEYS.v1, KEYS.v2]);
    const fetch = authFetch(r.key, azureOpenai);
    const azure = new AzureOpenAI({
      apiKey: 'placeholder',
      endpoint: endpointOf(mock),
      apiVersion: '2024-10-21',
      deployment: 'd',
      maxRetries: 0,
      fetch,
    });
    const v1 = new OpenAI({ apiKey: 'placeholder', baseURL: `${mock.url}/v1`, maxRetries: 0, fetch });
    await azure.chat.completions.create({ model: 'd', messages });
    await v1.chat.completions.create({ model: 'd', messages });
    expect([mock.requestsFor(KEYS.v1), mock.requestsFor('placeholder')]).toEqual([2, 0]);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await azure.chat.completions.create({ model: 'd', messages });
    await v1.chat.completions.create({ model: 'd', messages });
    expect([mock.requestsFor(KEYS.v1), mock.requestsFor(KEYS.v2)]).toEqual([2, 2]);
  });

  it('redaction knows both Azure key shapes', () => {
    const legacy = '0123456789abcdef0123456789abcdef';
    expect(redactProviderKeys(`AZURE_OPENAI_API_KEY=${KEY}`)).toBe('AZURE_OPENAI_API_KEY=[redacted azure openai key]');
    expect(redactProviderKeys(`AZURE_OPENAI_API_KEY=${legacy}`)).toBe(
      'AZURE_OPENAI_API_KEY=[redacted azure openai key]',
    );
    expect(redactProviderKeys(`md5 ${legacy}`)).toBe(`md5 ${legacy}`); // no key name before it
    expect(redactProviderKeys(`headers: { 'api-key': '${legacy}' }`)).toBe(
      "headers: { 'api-key': '[redacted azure openai key]' }",
    );
  });
});
