/**
 * Google's @google/genai@2.32 (the release Node 20 picks) built with `httpOptions: { baseUrl, fetch }` against the
 * mock Gemini API, with a memory source as the secret manager. One client per test: the key changes under it.
 *
 * What the SDK does (dist/node/index.mjs of 2.32.0):
 * - `HttpOptions.fetch` is used for every call (`apiCall`: `fetchFn ?? fetch`), unary and streaming alike.
 * - The key goes in `x-goog-api-key`, added by `NodeAuth.addKeyHeader` to a `Headers` object unless the request
 *   already has one; authFetch sets that header to the current key, so the placeholder never leaves.
 * - No retries unless `httpOptions.retryOptions` is given (`apiCall`: `if (!retryOptions) return runFetch()`).
 * - A non-2xx answer becomes `ApiError` with `status` and the JSON body as its message (`throwErrorIfNotOK`).
 * - Gemini answers a bad key with **400** `API_KEY_INVALID` (not 401), a key reported as leaked with 403
 *   `PERMISSION_DENIED`: both are dead-key answers in `providers.gemini`.
 */
import { ApiError, GoogleGenAI } from '@google/genai';
import { describe, expect, it } from 'vitest';
import { authFetch, providers } from '../../src/clients/index.js';
import { clientRig, dump, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();
const preset = providers.gemini;

function client(baseUrl: string, fetch: typeof globalThis.fetch): GoogleGenAI {
  return new GoogleGenAI({ apiKey: 'placeholder', httpOptions: { baseUrl, fetch } });
}

interface Mode {
  name: 'generateContent' | 'generateContentStream';
  /** How many pieces of text the mock's answer arrives in (a stream sends `ok` as `o`, `k`). */
  pieces: number;
  /** One call; the text of the answer, the pieces it came in, and what the caller holds (checked for leaks). */
  call(ai: GoogleGenAI): Promise<{ text: string; pieces: number; held: unknown }>;
}

const request = { model: 'gemini-mock', contents: 'hello' };
const modes: Mode[] = [
  {
    name: 'generateContent',
    pieces: 1,
    call: async (ai) => {
      const response = await ai.models.generateContent(request);
      return { text: response.text ?? '', pieces: 1, held: response };
    },
  },
  {
    name: 'generateContentStream',
    pieces: 2,
    call: async (ai) => {
      const chunks = [];
      for await (const chunk of await ai.models.generateContentStream(request)) chunks.push(chunk);
      const texts = chunks.map((c) => c.text ?? '');
      return { text: texts.join(''), pieces: texts.filter((t) => t !== '').length, held: chunks };
    },
  },
];

describe.each(modes)('@google/genai models.$name with httpOptions.fetch: authFetch(…)', (mode) => {
  it('rotating the secret: the next call carries the new key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset, keys: [KEYS.v1, KEYS.v2] });
    const ai = client(provider.url, authFetch(r.key, preset));
    expect((await mode.call(ai)).text).toBe('ok');
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await mode.call(ai);
    const last = await mode.call(ai);
    expect([last.text, last.pieces]).toEqual(['ok', mode.pieces]);
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requestsFor('placeholder')]).toEqual(
      [1, 2, 0],
    );
    expect(leaked(dump(r.events) + dump(provider) + dump(last.held))).toEqual([]);
  });

  it('old key revoked at the provider before a refresh: the 400 API_KEY_INVALID is retried once', async () => {
    const r = await rig(); // polled secret manager: the resolver does not know about v2 yet
    const provider = await mock({ preset, keys: [KEYS.v1, KEYS.v2] });
    const ai = client(provider.url, authFetch(r.key, preset));
    await mode.call(ai);
    r.memory.set('K_v2', KEYS.v2);
    provider.revoke(KEYS.v1);
    const resolvesBefore = r.resolves();
    const fetchesBefore = r.fetches();
    const reply = await mode.call(ai);
    expect(reply.text).toBe('ok');
    expect(provider.requestsFor(KEYS.v1)).toBe(2); // the first call, then the one that got 400
    expect(provider.requestsFor(KEYS.v2)).toBe(1); // its retry
    expect(r.resolves() - resolvesBefore).toBe(1); // exactly one refresh
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(r.events.filter((e) => e.event === 'rotate')).toHaveLength(1);
    expect((await mode.call(ai)).text).toBe('ok');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([2, 2, 4]);
    expect(leaked(dump(r.events) + dump(provider) + dump(reply.held))).toEqual([]);
  });

  it('old key reported as leaked (403 PERMISSION_DENIED): one refresh, one retry on the new key', async () => {
    const r = await rig();
    const provider = await mock({ preset, keys: [KEYS.v2] });
    provider.accept(KEYS.v1, 'forbidden');
    r.memory.set('K_v2', KEYS.v2);
    const ai = client(provider.url, authFetch(r.key, preset));
    const reply = await mode.call(ai);
    expect(reply.text).toBe('ok');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2)]).toEqual([1, 1]);
    expect(leaked(dump(r.events) + dump(reply.held))).toEqual([]);
  });

  it("both keys dead: the SDK's ApiError 400 API_KEY_INVALID after one refresh and one retry, no loop", async () => {
    const r = await rig();
    const provider = await mock({ preset, keys: [] });
    r.memory.set('K_v2', KEYS.v2);
    const fetchesBefore = r.fetches();
    const error = await mode.call(client(provider.url, authFetch(r.key, preset))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(400);
    expect((error as ApiError).message).toContain('API_KEY_INVALID');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor(KEYS.v2), provider.requests]).toEqual([1, 1, 2]);
    expect(r.fetches() - fetchesBefore).toBe(1);
    expect(leaked(dump(error) + dump(r.events) + dump(provider))).toEqual([]);
  });

  it('a dead key and no new one in the secret manager: one refresh, no retry, the SDK sees the 400', async () => {
    const r = await rig();
    const provider = await mock({ preset, keys: [] });
    const resolvesBefore = r.resolves();
    const error = await mode.call(client(provider.url, authFetch(r.key, preset))).catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(400);
    expect(provider.requests).toBe(1);
    expect(r.resolves() - resolvesBefore).toBe(1);
    expect(leaked(dump(error))).toEqual([]);
  });
});

describe('@google/genai: a key set per request', () => {
  it("httpOptions.headers['x-goog-api-key'] on a call is overwritten by authFetch too", async () => {
    const r = await rig();
    const provider = await mock({ preset, keys: [KEYS.v1] });
    const ai = client(provider.url, authFetch(r.key, preset));
    const response = await ai.models.generateContent({
      ...request,
      config: { httpOptions: { headers: { 'x-goog-api-key': 'per-call-placeholder' } } },
    });
    expect(response.text).toBe('ok');
    expect([provider.requestsFor(KEYS.v1), provider.requestsFor('per-call-placeholder')]).toEqual([1, 0]);
  });
});
