import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { probeKey, providers, type ProbeReason, type ProviderId } from '../../src/clients/index.js';
import type { MockKeyState } from '../../src/testing/index.js';
import { clientRig, dump, KEYS, leaked } from './rig.js';

const { mock } = clientRig();
const ids = Object.keys(providers) as ProviderId[];

/** What probeKey says for a key in each state of the mock provider, per provider. */
const expected: Record<
  ProviderId,
  Record<MockKeyState | 'unknown', [ok: boolean, status: number, reason: ProbeReason]>
> = {
  openai: {
    alive: [true, 200, 'alive'],
    restricted: [true, 401, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [false, 429, 'no-quota'],
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 401, 'invalid'],
  },
  anthropic: {
    alive: [true, 200, 'alive'],
    restricted: [true, 200, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [false, 400, 'no-quota'],
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 401, 'invalid'],
  },
  groq: {
    alive: [true, 200, 'alive'],
    restricted: [true, 200, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [false, 429, 'no-quota'],
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 401, 'invalid'],
  },
  gemini: {
    alive: [true, 200, 'alive'],
    restricted: [true, 200, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [true, 429, 'rate-limited'], // Gemini answers both with the same 429 RESOURCE_EXHAUSTED
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 400, 'invalid'],
  },
  mistral: {
    alive: [true, 200, 'alive'],
    restricted: [true, 200, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [false, 429, 'no-quota'],
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 401, 'invalid'],
  },
  'azure-openai': {
    alive: [true, 200, 'alive'],
    restricted: [true, 200, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [true, 429, 'rate-limited'], // Azure bills the subscription: a spent quota is the same 429
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 401, 'invalid'],
  },
  openrouter: {
    alive: [true, 200, 'alive'],
    restricted: [true, 200, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [false, 402, 'no-quota'],
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 401, 'invalid'],
  },
  together: {
    alive: [true, 200, 'alive'],
    restricted: [true, 200, 'alive'],
    'rate-limited': [true, 429, 'rate-limited'],
    'no-quota': [false, 429, 'no-quota'],
    forbidden: [false, 403, 'forbidden'],
    unknown: [false, 401, 'invalid'],
  },
};

describe('probeKey against the mock provider', () => {
  it.each(ids)('%s: every key state gets its verdict; no result holds the key', async (id) => {
    const provider = await mock({ preset: providers[id] });
    const states: MockKeyState[] = ['alive', 'restricted', 'rate-limited', 'no-quota', 'forbidden'];
    const results: unknown[] = [];
    for (const state of states) {
      provider.accept(KEYS.v1, state);
      const result = await probeKey(providers[id], KEYS.v1, { baseUrl: provider.url });
      results.push(result);
      expect([result.ok, result.status, result.reason], state).toEqual(expected[id][state]);
    }
    provider.revoke(KEYS.v1);
    const dead = await probeKey(id, KEYS.v1, { baseUrl: provider.url });
    results.push(dead);
    expect([dead.ok, dead.status, dead.reason]).toEqual(expected[id].unknown);
    expect(provider.requestsFor(KEYS.v1)).toBe(6);
    expect(leaked(dump(results))).toEqual([]);
  });

  it('details: OpenAI invalid_api_key, missing-scopes and insufficient_quota; Gemini API_KEY_INVALID', async () => {
    const openai = await mock({ preset: providers.openai, keys: [] });
    expect((await probeKey(providers.openai, KEYS.v1, { baseUrl: openai.url })).detail).toBe('invalid_api_key');
    openai.accept(KEYS.v1, 'restricted');
    expect((await probeKey(providers.openai, KEYS.v1, { baseUrl: openai.url })).detail).toBe('missing-scopes');
    openai.accept(KEYS.v1, 'no-quota');
    expect((await probeKey(providers.openai, KEYS.v1, { baseUrl: openai.url })).detail).toBe('insufficient_quota');
    const gemini = await mock({ preset: providers.gemini, keys: [] });
    expect((await probeKey(providers.gemini, KEYS.v1, { baseUrl: gemini.url })).detail).toBe('API_KEY_INVALID');
  });

  it('probes with the preset’s request: OpenRouter /key, Anthropic’s version, Gemini x-goog-api-key', async () => {
    const seen: { url: string; headers: Record<string, string> }[] = [];
    const fetch = (async (url: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(url), headers: Object.fromEntries(new Headers(init?.headers)) });
      return new Response('{}', { status: 200 });
    }) as typeof globalThis.fetch;
    await probeKey(providers.openrouter, KEYS.v1, { fetch });
    await probeKey(providers.anthropic, KEYS.v1, { fetch });
    await probeKey(providers.gemini, KEYS.v1, { fetch });
    await probeKey(providers.together, KEYS.v1, { fetch, baseUrl: 'http://proxy.local/together/' });
    expect(seen.map((s) => s.url)).toEqual([
      'https://openrouter.ai/api/v1/key',
      'https://api.anthropic.com/v1/models',
      'https://generativelanguage.googleapis.com/v1beta/models?pageSize=1',
      'http://proxy.local/together/whoami',
    ]);
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${KEYS.v1}`);
    expect(seen[1]?.headers).toMatchObject({ 'x-api-key': KEYS.v1, 'anthropic-version': '2023-06-01' });
    expect(seen[2]?.headers['x-goog-api-key']).toBe(KEYS.v1);
  });

  it('Azure OpenAI: classic base: the dated api-version; v1 base (…/openai/v1): none, or its own', async () => {
    const provider = await mock({ preset: providers['azure-openai'], keys: [KEYS.v1] });
    const urls: string[] = [];
    const recording = ((input: string | URL | Request, init?: RequestInit) => {
      urls.push(String(input));
      return globalThis.fetch(input, init);
    }) as typeof globalThis.fetch;
    const results = [
      await probeKey('azure-openai', KEYS.v1, { baseUrl: provider.url, fetch: recording }),
      await probeKey('azure-openai', KEYS.v1, { baseUrl: `${provider.url}/v1`, fetch: recording }),
      await probeKey('azure-openai', KEYS.v1, { baseUrl: `${provider.url}/v1/`, fetch: recording }),
      // a base URL with a query: the path goes before it
      await probeKey('azure-openai', KEYS.v1, { baseUrl: `${provider.url}/v1?api-version=preview`, fetch: recording }),
    ];
    expect(results.map((r) => r.reason)).toEqual(['alive', 'alive', 'alive', 'alive']);
    const paths = urls.map((u) => new URL(u).pathname + new URL(u).search);
    expect(paths).toEqual([
      '/openai/models?api-version=2024-10-21',
      '/openai/v1/models',
      '/openai/v1/models',
      '/openai/v1/models?api-version=preview',
    ]);
    expect(leaked(dump(results))).toEqual([]);
  });

  it('unreachable: nothing listening, a 5xx, an abort; never a throw', async () => {
    const server = createServer((_req, res) => {
      res.writeHead(529, { 'content-type': 'application/json' });
      res.end('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const overloaded = await probeKey(providers.anthropic, KEYS.v1, { baseUrl: `http://127.0.0.1:${port}` });
      expect(overloaded).toEqual({ ok: false, status: 529, reason: 'unreachable', detail: 'overloaded_error' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const closed = await probeKey(providers.openai, KEYS.v1, { baseUrl: `http://127.0.0.1:${port}/v1` });
    expect(closed).toEqual({ ok: false, status: 0, reason: 'unreachable' });
    const aborted = await probeKey(providers.openai, KEYS.v1, {
      baseUrl: 'http://127.0.0.1:9/v1',
      signal: AbortSignal.abort(),
    });
    expect(aborted.reason).toBe('unreachable');
  });

  it('drops a detail that echoes the key; bad arguments: ConfigurationError without the key', async () => {
    const fetch = (async () =>
      new Response(JSON.stringify({ error: { code: KEYS.v2 } }), {
        status: 401,
      })) as unknown as typeof globalThis.fetch;
    const result = await probeKey(providers.openai, KEYS.v2, { fetch });
    expect(result).toEqual({ ok: false, status: 401, reason: 'invalid' });
    await expect(probeKey(providers.openai, `${KEYS.v1}\n`)).rejects.toThrow(ConfigurationError);
    const error = await probeKey(providers.openai, `${KEYS.v1}\n`).catch((e: unknown) => e);
    expect(leaked(dump(error))).toEqual([]);
    await expect(probeKey('nope' as ProviderId, KEYS.v1)).rejects.toThrow(ConfigurationError);
    await expect(probeKey('nope' as ProviderId, KEYS.v1)).rejects.toThrow(/unknown provider/);
    // The key given where the provider goes: named by its length, never quoted.
    const swapped = await probeKey(KEYS.v1 as ProviderId, 'x').catch((e: unknown) => e);
    expect(swapped).toBeInstanceOf(ConfigurationError);
    expect(leaked(dump(swapped))).toEqual([]);
    // A key fetch refuses in a header (above U+00FF, a control character): refused here, not sent, not quoted.
    let sent = 0;
    const counting = (async () => {
      sent++;
      return new Response('{}');
    }) as unknown as typeof globalThis.fetch;
    for (const char of ['\u20ac', '\u2028', '\u0001']) {
      const bad = `${KEYS.v1.slice(0, 10)}${char}${KEYS.v1.slice(10)}`;
      const refused = await probeKey(providers.openai, bad, { fetch: counting }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ConfigurationError);
      expect(leaked(dump(refused), [bad, KEYS.v1.slice(0, 10), KEYS.v1.slice(10)])).toEqual([]);
      expect(dump(refused)).not.toContain(char);
    }
    expect(sent).toBe(0);
    for (const options of [{ timeoutMs: 0 }, { fetch: 'x' }, { baseUrl: 1 }, { signal: {} }]) {
      await expect(probeKey(providers.openai, KEYS.v1, options as never)).rejects.toThrow(ConfigurationError);
    }
  });
});
