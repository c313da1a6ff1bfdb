import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  createResolver,
  isKeyflipError,
  memorySource,
  SecretRevokedError,
  type Source,
  type SourceResult,
} from '../../src/index.js';
import { authFetch, providers } from '../../src/clients/index.js';
import { ALL_KEYS, clientRig, dump, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();

interface Seen {
  headers: [string, string][];
  body: string;
  method: string;
}

/**
 * A fake transport: sees each request as the network would (through `new Request(input, init)`), answers
 * 200 when it carries `accepted` in any header, 401 (OpenAI's body) otherwise.
 */
function transport(
  accepted: readonly string[] = [KEYS.v1, KEYS.v2, KEYS.v3],
  deadStatus = 401,
  deadBody = '{"error":{"code":"invalid_api_key"}}',
) {
  const seen: Seen[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const headers = [...request.headers];
    seen.push({ headers, body: request.body ? await request.text() : '', method: request.method });
    const ok = headers.some(([, v]) => accepted.some((k) => v === k || v === `Bearer ${k}`));
    return ok ? new Response('{"ok":true}', { status: 200 }) : new Response(deadBody, { status: deadStatus });
  };
  return { fetch: fetch as typeof globalThis.fetch, seen };
}

const header = (seen: Seen | undefined, name: string): string[] =>
  (seen?.headers ?? []).filter(([n]) => n === name).map(([, v]) => v);
const URL_ = 'http://127.0.0.1:9/v1/chat/completions';

describe('authFetch sets the auth header, whatever shape the request has', () => {
  const shapes: [string, () => [string | URL | Request, RequestInit | undefined]][] = [
    [
      '(url, init) with a Headers object',
      () => [
        URL_,
        { method: 'POST', body: '{}', headers: new Headers({ Authorization: 'Bearer placeholder', 'x-extra': '1' }) },
      ],
    ],
    [
      '(url, init) with a plain object (other case)',
      () => [URL_, { method: 'POST', body: '{}', headers: { AUTHORIZATION: 'Bearer placeholder', 'x-extra': '1' } }],
    ],
    [
      '(url, init) with an array of pairs',
      () => [
        URL_,
        {
          method: 'POST',
          body: '{}',
          headers: [
            ['authorization', 'Bearer placeholder'],
            ['x-extra', '1'],
          ],
        },
      ],
    ],
    ['(url, init) with no headers', () => [URL_, { method: 'POST', body: '{}' }]],
    ['(URL) with no init', () => [new URL(URL_), undefined]],
    [
      '(url, init) with a Map (any iterable of pairs)',
      () => [
        URL_,
        {
          headers: new Map([
            ['Authorization', 'Bearer placeholder'],
            ['x-extra', '1'],
          ]) as unknown as NonNullable<RequestInit['headers']>,
        },
      ],
    ],
    [
      'a Request with no init (Mistral)',
      () => [
        new Request(URL_, {
          method: 'POST',
          body: '{}',
          headers: { authorization: 'Bearer placeholder', 'x-extra': '1' },
        }),
        undefined,
      ],
    ],
    [
      'a Request plus an init with headers',
      () => [
        new Request(URL_, { method: 'POST', body: '{}', headers: { 'x-other': '2' } }),
        { headers: { authorization: 'Bearer placeholder', 'x-extra': '1' } },
      ],
    ],
  ];

  it.each(shapes)('%s: exactly one Authorization, the current key; the caller’s objects untouched', async (_, make) => {
    const { key } = await rig();
    const t = transport();
    const f = authFetch(key, providers.openai, { fetch: t.fetch });
    const [input, init] = make();
    const before = init?.headers instanceof Headers ? [...init.headers] : JSON.stringify(init?.headers);
    const response = await f(input, init);
    expect(response.status).toBe(200);
    expect(t.seen).toHaveLength(1);
    expect(header(t.seen[0], 'authorization')).toEqual([`Bearer ${KEYS.v1}`]);
    if (JSON.stringify(init?.headers ?? (input instanceof Request ? [...input.headers] : null)).includes('x-extra')) {
      expect(header(t.seen[0], 'x-extra')).toEqual(['1']);
    }
    // The caller's headers still hold what the caller put there: the key was not written into them.
    expect(init?.headers instanceof Headers ? [...init.headers] : JSON.stringify(init?.headers)).toEqual(before);
    if (input instanceof Request) expect(leaked([...input.headers].join('\n'))).toEqual([]);
  });

  it('Anthropic: sets the header sent (SDK ≥ 1.0: Bearer; raw API: x-api-key), x-api-key when none', async () => {
    const { key } = await rig();
    const t = transport();
    const f = authFetch(key, providers.anthropic, { fetch: t.fetch });
    await f(URL_, { headers: { Authorization: 'Bearer placeholder', 'anthropic-version': '2026-10-21' } });
    await f(URL_, { headers: { 'X-Api-Key': 'placeholder', 'anthropic-version': '2023-06-01' } });
    await f(URL_, { headers: { 'anthropic-version': '2023-06-01' } });
    await f(URL_, { headers: { 'x-api-key': 'placeholder', authorization: 'Bearer placeholder' } });
    const [bearer, raw, none, both] = t.seen;
    expect(header(bearer, 'authorization')).toEqual([`Bearer ${KEYS.v1}`]);
    expect(header(bearer, 'x-api-key')).toEqual([]);
    expect(header(raw, 'x-api-key')).toEqual([KEYS.v1]);
    expect(header(raw, 'authorization')).toEqual([]);
    expect(header(none, 'x-api-key')).toEqual([KEYS.v1]);
    expect(header(both, 'x-api-key')).toEqual([KEYS.v1]);
    expect(header(both, 'authorization')).toEqual([`Bearer ${KEYS.v1}`]);
  });

  it('Gemini sends the bare key in x-goog-api-key; a custom { header } works too', async () => {
    const { key } = await rig();
    const t = transport();
    await authFetch(key, providers.gemini, { fetch: t.fetch })(URL_, { headers: { 'x-goog-api-key': 'placeholder' } });
    await authFetch(key, { header: 'Api-Key' }, { fetch: t.fetch })(URL_);
    await authFetch(
      key,
      { header: 'x-token', scheme: 'Token' },
      { fetch: t.fetch },
    )(URL_, { headers: [['X-Token', 'Token old']] });
    expect(header(t.seen[0], 'x-goog-api-key')).toEqual([KEYS.v1]);
    expect(header(t.seen[1], 'api-key')).toEqual([KEYS.v1]);
    expect(header(t.seen[2], 'x-token')).toEqual([`Token ${KEYS.v1}`]);
  });

  it('counts one use per request, like handle.value', async () => {
    const { key, uses } = await rig();
    const t = transport();
    const f = authFetch(key, providers.openai, { fetch: t.fetch });
    uses(); // from here on
    for (let i = 0; i < 7; i++) await f(URL_);
    expect(uses()).toBe(7);
  });

  it('follows a rotation: the request after it carries the new key', async () => {
    const r = await rig({ push: true });
    const t = transport();
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
    await f(URL_);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    await f(URL_);
    expect(t.seen.map((s) => header(s, 'authorization')[0])).toEqual([`Bearer ${KEYS.v1}`, `Bearer ${KEYS.v2}`]);
  });

  it('waits for the first resolution instead of failing a request made before it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const memory = memorySource({ K: KEYS.v1 });
    const slow: Source = {
      name: 'slow',
      fetch: async (ref, ctx) => {
        await gate;
        return memory.fetch(ref, ctx);
      },
    };
    const resolver = createResolver({ sources: [slow] });
    try {
      const key = resolver.secret('K');
      const t = transport();
      const pending = authFetch(key, providers.openai, { fetch: t.fetch })(URL_);
      expect(t.seen).toHaveLength(0);
      release();
      expect((await pending).status).toBe(200);
      expect(header(t.seen[0], 'authorization')).toEqual([`Bearer ${KEYS.v1}`]);
    } finally {
      await resolver.close();
    }
  });

  it('a revoked secret fails the request with SecretRevokedError, which holds no key', async () => {
    const r = await rig({ push: true });
    const t = transport();
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
    r.memory.disable('K_v1');
    await r.clock.flush();
    const error = await f(URL_).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SecretRevokedError);
    expect(t.seen).toHaveLength(0);
    expect(leaked(dump(error))).toEqual([]);
    expect(leaked(dump(r.events))).toEqual([]);
  });

  it('a value that cannot be a header value (a line break inside) fails with an error not quoting it', async () => {
    const bad = `${KEYS.v1}\nX-Injected: 1`;
    const { key } = await rig({ initial: { K_v1: bad } });
    const t = transport();
    const error = await authFetch(key, providers.openai, { fetch: t.fetch })(URL_).catch((e: unknown) => e);
    expect(isKeyflipError(error)).toBe(true);
    expect(t.seen).toHaveLength(0);
    expect(leaked(dump(error), [KEYS.v1, bad])).toEqual([]);
  });

  it.each([
    ['a character above U+00FF (€)', '\u20ac'],
    ['a line separator (U+2028)', '\u2028'],
    ['a control character (U+0001)', '\u0001'],
  ])('a key holding %s: a ConfigurationError naming the secret, not quoting it', async (_, char) => {
    const bad = `${KEYS.v1.slice(0, 10)}${char}${KEYS.v1.slice(10)}`;
    const { key } = await rig({ initial: { K_v1: bad } });
    const t = transport();
    const error = await authFetch(key, providers.openai, { fetch: t.fetch })(URL_).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain('secret K ');
    expect(t.seen).toHaveLength(0);
    expect(leaked(dump(error), [KEYS.v1, bad, KEYS.v1.slice(0, 10), KEYS.v1.slice(10)])).toEqual([]);
    expect(dump(error)).not.toContain(char);
  });

  it('rejects what is not a secret handle or a provider with a ConfigurationError', async () => {
    const { key } = await rig();
    expect(() => authFetch({} as never, providers.openai)).toThrow(ConfigurationError);
    expect(() => authFetch({} as never, providers.openai)).toThrow(
      'authFetch: the first argument must be a secret handle (resolver.secret(…))',
    );
    expect(() => authFetch(key, {} as never)).toThrow(ConfigurationError);
    expect(() => authFetch(key, providers.openai, { refreshCooldownMs: -1 })).toThrow(ConfigurationError);
    expect(() => authFetch(key, providers.openai, { maxBodyCopyBytes: -1 })).toThrow(ConfigurationError);
    expect(() => authFetch(key, providers.openai, { maxBodyCopyBytes: '1' as never })).toThrow(ConfigurationError);
    expect(() => authFetch(key, providers.openai, { fetch: 'x' as never })).toThrow(ConfigurationError);
    expect(() => authFetch(key, providers.openai, null as never)).toThrow(ConfigurationError);
    expect(() => authFetch(key, { header: 'x-key', alternates: [{}] } as never)).toThrow(ConfigurationError);
    expect(() => authFetch(key, { header: 'x-key', deadKey: [{ status: '401' }] } as never)).toThrow(
      ConfigurationError,
    );
  });
});

describe('authFetch on a dead key', () => {
  const bodies: [string, () => RequestInit['body']][] = [
    ['no body', () => undefined],
    ['a string', () => '{"model":"m"}'],
    ['a Uint8Array', () => new TextEncoder().encode('{"model":"m"}')],
    ['URLSearchParams', () => new URLSearchParams({ model: 'm' })],
    ['a Blob', () => new Blob(['{"model":"m"}'], { type: 'application/json' })],
    [
      'FormData',
      () => {
        const form = new FormData();
        form.set('model', 'm');
        form.set('file', new Blob(['data']), 'a.txt');
        return form;
      },
    ],
  ];

  it.each(bodies)(
    'the key rotated in the secret manager: one refresh, one retry with the new key and the same body (%s)',
    async (_, body) => {
      const r = await rig();
      r.memory.set('K_v2', KEYS.v2); // polled: the resolver has not seen it
      const t = transport([KEYS.v2]);
      const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
      const fetchesBefore = r.fetches();
      const made = body();
      const response = await f(URL_, made === undefined ? { method: 'GET' } : { method: 'POST', body: made });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe('{"ok":true}');
      expect(t.seen.map((s) => header(s, 'authorization')[0])).toEqual([`Bearer ${KEYS.v1}`, `Bearer ${KEYS.v2}`]);
      const boundaryFree = (text: string | undefined): string | undefined =>
        text?.replace(/formdata-undici-\d+/g, 'formdata-undici-N');
      expect(boundaryFree(t.seen[1]?.body)).toBe(boundaryFree(t.seen[0]?.body));
      if (made !== undefined) expect(t.seen[0]?.body.length).toBeGreaterThan(0);
      expect(r.fetches() - fetchesBefore).toBe(1); // one refresh: K_v2 found first
      expect(r.key.info?.fingerprint).not.toBe(undefined);
      expect(r.key.info?.candidate).toBe('K_v2');
    },
  );

  it('a ReadableStream body is not retried (the caller gets the 401), but the next request heals', async () => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([KEYS.v2]);
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"model":'));
        controller.enqueue(new TextEncoder().encode('"m"}'));
        controller.close();
      },
    });
    const response = await f(URL_, { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    expect(response.status).toBe(401);
    expect(t.seen).toHaveLength(1);
    expect(t.seen[0]?.body).toBe('{"model":"m"}');
    expect(r.key.info?.candidate).toBe('K_v2');
    const next = await f(URL_, { method: 'POST', body: '{}' });
    expect(next.status).toBe(200);
    expect(t.seen).toHaveLength(2);
  });

  it('a Request without a body is retried', async () => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([KEYS.v2]);
    const noBody = await authFetch(r.key, providers.openai, { fetch: t.fetch })(new Request(URL_));
    expect(noBody.status).toBe(200);
    expect(t.seen.map((s) => header(s, 'authorization')[0])).toEqual([`Bearer ${KEYS.v1}`, `Bearer ${KEYS.v2}`]);
  });

  const textRequests: [string, () => Request][] = [
    [
      'JSON, no init (what Mistral’s HTTPClient hands its fetcher)',
      () =>
        new Request(URL_, {
          method: 'POST',
          body: '{"model":"m","messages":[]}',
          headers: { 'content-type': 'application/json', 'x-extra': '1', authorization: 'Bearer placeholder' },
        }),
    ],
    [
      'JSON, a clone (Mistral sends request.clone() on each attempt)',
      () =>
        new Request(URL_, {
          method: 'POST',
          body: '{"model":"m"}',
          headers: { 'Content-Type': 'application/vnd.api+json; charset=utf-8', 'x-extra': '1' },
        }).clone(),
    ],
    ['a string (text/plain by default)', () => new Request(URL_, { method: 'PUT', body: '{"a":1}' })],
    ['URLSearchParams', () => new Request(URL_, { method: 'POST', body: new URLSearchParams({ model: 'm' }) })],
  ];

  it.each(textRequests)('a Request with a text body is retried once with the same body: %s', async (_, make) => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([KEYS.v2]);
    const request = make();
    const expected = await request.clone().text();
    const response = await authFetch(r.key, providers.openai, { fetch: t.fetch })(request);
    expect(response.status).toBe(200);
    expect(t.seen.map((s) => header(s, 'authorization'))).toEqual([[`Bearer ${KEYS.v1}`], [`Bearer ${KEYS.v2}`]]);
    expect(t.seen.map((s) => [s.method, s.body])).toEqual([
      [request.method, expected],
      [request.method, expected],
    ]);
    expect(t.seen.map((s) => header(s, 'content-type'))).toEqual([
      [request.headers.get('content-type')],
      [request.headers.get('content-type')],
    ]);
    if (request.headers.has('x-extra')) expect(t.seen.map((s) => header(s, 'x-extra'))).toEqual([['1'], ['1']]);
    expect(leaked([...request.headers].join('\n'))).toEqual([]); // the caller's Request was not written to
  });

  it('a Request with a text body that is answered at once: one send, the body as it came', async () => {
    const r = await rig();
    const t = transport();
    const request = new Request(URL_, {
      method: 'POST',
      body: '{"x":"é"}',
      headers: { 'content-type': 'application/json' },
    });
    const response = await authFetch(r.key, providers.openai, { fetch: t.fetch })(request);
    expect(response.status).toBe(200);
    expect(t.seen.map((s) => s.body)).toEqual(['{"x":"é"}']);
    expect(request.bodyUsed).toBe(true); // read once, as fetch itself would
  });

  const uploads: [string, () => Request][] = [
    [
      'bytes as application/octet-stream',
      () =>
        new Request(URL_, {
          method: 'POST',
          body: new Uint8Array([1, 2, 3]),
          headers: { 'content-type': 'application/octet-stream' },
        }),
    ],
    [
      'a ReadableStream upload',
      () =>
        new Request(URL_, {
          method: 'POST',
          body: new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(new Uint8Array([1, 2, 3]));
              controller.close();
            },
          }),
          duplex: 'half',
        } as RequestInit),
    ],
    [
      'multipart FormData (a file upload)',
      () => {
        const form = new FormData();
        form.set('file', new Blob(['data']), 'a.jsonl');
        return new Request(URL_, { method: 'POST', body: form });
      },
    ],
  ];

  it.each(uploads)('a Request upload (%s) is streamed, not retried; the next request heals', async (_, make) => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([KEYS.v2]);
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
    const response = await f(make());
    expect(response.status).toBe(401);
    expect(t.seen).toHaveLength(1);
    expect(t.seen[0]?.body.length).toBeGreaterThan(0);
    expect(r.key.info?.candidate).toBe('K_v2'); // the refresh happened
    expect((await f(make())).status).toBe(200);
    expect(t.seen).toHaveLength(2);
  });

  it("a Request plus an init: the init's content-type decides, and the init's own body is used as is", async () => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([KEYS.v2]);
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch, refreshCooldownMs: 0 });
    const binary = new Request(URL_, { method: 'POST', body: 'abc', headers: { 'content-type': 'text/plain' } });
    const notText = await f(binary, { headers: { 'content-type': 'application/octet-stream' } });
    expect(notText.status).toBe(401); // declared binary by the init: not copied, not retried
    const second = await rig(); // the init's body (a string) replaces the Request's and is what is retried
    second.memory.set('K_v2', KEYS.v2);
    const t2 = transport([KEYS.v2]);
    const g = authFetch(second.key, providers.openai, { fetch: t2.fetch });
    const initBody = await g(new Request(URL_, { method: 'POST', body: 'ignored' }), { body: '{"b":2}' });
    expect(initBody.status).toBe(200);
    expect(t2.seen.map((s) => s.body)).toEqual(['{"b":2}', '{"b":2}']);
  });

  it.each([
    ['a Headers object', () => new Headers({ 'Content-Type': 'application/json' })],
    ['pairs', () => [['Content-Type', 'application/json']] as [string, string][]],
    ['a plain object', () => ({ 'CONTENT-TYPE': 'application/json; charset=utf-8' })],
  ])("the init's content-type is found in %s: the Request's body is copied and retried", async (_, headers) => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([KEYS.v2]);
    const request = new Request(URL_, { method: 'POST', body: new Uint8Array([123, 125]) }); // no type of its own
    const response = await authFetch(r.key, providers.openai, { fetch: t.fetch })(request, { headers: headers() });
    expect(response.status).toBe(200);
    expect(t.seen.map((s) => s.body)).toEqual(['{}', '{}']);
  });

  it('a Request with a text body follows a same-origin 307 with the same body', async () => {
    const r = await rig();
    const seen: [string, string, string][] = [];
    const redirecting = (async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(input, init);
      seen.push([new URL(request.url).pathname, request.method, await request.text()]);
      return request.url.endsWith('/a')
        ? new Response(null, { status: 307, headers: { location: '/b' } })
        : new Response('{"ok":true}', { status: 200 });
    }) as typeof fetch;
    const request = new Request('http://127.0.0.1:9/a', {
      method: 'POST',
      body: '{"m":1}',
      headers: { 'content-type': 'application/json' },
    });
    const response = await authFetch(r.key, providers.openai, { fetch: redirecting })(request);
    expect(response.status).toBe(200);
    expect(seen).toEqual([
      ['/a', 'POST', '{"m":1}'],
      ['/b', 'POST', '{"m":1}'],
    ]);
  });

  it('a Request body over maxBodyCopyBytes is sent whole as it comes, not retried; under it, retried', async () => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([KEYS.v2]);
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch, maxBodyCopyBytes: 8, refreshCooldownMs: 0 });
    const chunked = (): Request =>
      new Request(URL_, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream<Uint8Array>({
          start(controller) {
            for (const part of ['{"model":', '"m",', '"n":1}']) controller.enqueue(new TextEncoder().encode(part));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
    const big = await f(chunked());
    expect(big.status).toBe(401); // the dead-key answer, as it came: no copy, no retry
    expect(t.seen.map((s) => s.body)).toEqual(['{"model":"m","n":1}']);
    expect(r.key.info?.candidate).toBe('K_v2'); // the refresh happened: the next request heals
    const small = await f(
      new Request(URL_, { method: 'POST', body: '{"n":1}', headers: { 'content-type': 'text/plain' } }),
    );
    expect(small.status).toBe(200);
    const none = authFetch(r.key, providers.openai, { fetch: transport([KEYS.v3]).fetch, maxBodyCopyBytes: 0 });
    expect((await none(new Request(URL_, { method: 'POST', body: '{}' }))).status).toBe(401);
  });

  it.each(['the Request', 'the init'])(
    'an abort while the body is read (signal of %s) rejects at once with its reason and cancels the body',
    async (where) => {
      const r = await rig();
      const t = transport();
      const controller = new AbortController();
      let cancelled: unknown;
      const request = new Request(URL_, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(new TextEncoder().encode('{"a":')); // and never more: an upload that stalls
          },
          cancel(reason) {
            cancelled = reason;
          },
        }),
        duplex: 'half',
        ...(where === 'the Request' ? { signal: controller.signal } : {}),
      } as RequestInit);
      const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
      const pending = f(request, where === 'the init' ? { signal: controller.signal } : undefined);
      const outcome = pending.then(
        () => 'resolved',
        (error: unknown) => error,
      );
      const reason = new Error('caller gave up');
      controller.abort(reason);
      // Settled before any I/O turn: the abort is not waiting for the stalled body.
      const first = await Promise.race([outcome, new Promise((resolve) => setImmediate(() => resolve('pending')))]);
      expect(first).toBe(reason);
      expect(t.seen).toHaveLength(0);
      expect(cancelled).toBe(reason);
      const already = new AbortController();
      already.abort(reason);
      const again = new Request(URL_, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      await expect(f(again, { signal: already.signal })).rejects.toBe(reason);
    },
  );

  it('same-origin 307: an upload in a Request is returned unfollowed; as (url, { body }), followed', async () => {
    const r = await rig();
    const seen: string[] = [];
    const redirecting = (async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(input, init);
      seen.push(`${new URL(request.url).pathname} ${(await request.arrayBuffer()).byteLength > 0}`);
      return request.url.endsWith('/a')
        ? new Response(null, { status: 307, headers: { location: '/b' } })
        : new Response('{"ok":true}', { status: 200 });
    }) as typeof fetch;
    const f = authFetch(r.key, providers.openai, { fetch: redirecting });
    const form = (): FormData => {
      const data = new FormData();
      data.set('file', new Blob(['data']), 'a.jsonl');
      return data;
    };
    const unfollowed = await f(new Request('http://127.0.0.1:9/a', { method: 'POST', body: form() }));
    expect([unfollowed.status, unfollowed.headers.get('location')]).toEqual([307, '/b']);
    expect((await f('http://127.0.0.1:9/a', { method: 'POST', body: form() })).status).toBe(200);
    expect(seen).toEqual(['/a true', '/a true', '/b true']);
  });

  it('holds no copy of a Request body after the response (no retry): it can be garbage-collected', async () => {
    const gc = collectGarbage();
    const r = await rig();
    let sent: WeakRef<object> | undefined;
    const t = transport();
    const watching = (async (input: string | URL | Request, init?: RequestInit) => {
      sent = new WeakRef(init?.body as object); // the bytes authFetch made for this request
      return t.fetch(input, init);
    }) as typeof fetch;
    const f = authFetch(r.key, providers.openai, { fetch: watching });
    const big = JSON.stringify({ text: 'x'.repeat(1 << 16) });
    const response = await f(
      new Request(URL_, { method: 'POST', body: big, headers: { 'content-type': 'application/json' } }),
    );
    expect(response.status).toBe(200);
    // Looked at without keeping a reference in this function's scope.
    const sentLength = (): number | undefined => (sent?.deref() as ArrayBuffer | undefined)?.byteLength;
    expect(sentLength()).toBe(big.length);
    t.seen.length = 0;
    await new Promise((resolve) => setImmediate(resolve)); // WeakRef targets are kept to the end of the job
    gc();
    expect(sent?.deref()).toBeUndefined();
  });

  it('both keys dead: exactly one refresh, one retry, then the 401 is returned (no loop)', async () => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const t = transport([]);
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
    const before = r.fetches();
    const response = await f(URL_, { method: 'POST', body: '{}' });
    expect(response.status).toBe(401);
    expect(t.seen).toHaveLength(2);
    expect(r.fetches() - before).toBe(1);
  });

  it('no new key in the secret manager: one refresh, no retry', async () => {
    const r = await rig();
    const t = transport([]);
    const f = authFetch(r.key, providers.openai, { fetch: t.fetch });
    const before = r.fetches();
    const response = await f(URL_);
    expect(response.status).toBe(401);
    expect(t.seen).toHaveLength(1);
    expect(r.fetches() - before).toBe(2); // one walk: K_v2 absent, K_v1 found
  });

  it('once a forced refresh confirmed the dead key, more dead answers wait out the cooldown', async () => {
    const r = await rig();
    const t = transport([]);
    const slowToRetry = authFetch(r.key, providers.openai, { fetch: t.fetch, refreshCooldownMs: 3_600_000 });
    const before = r.fetches();
    for (let i = 0; i < 5; i++) expect((await slowToRetry(URL_)).status).toBe(401);
    expect(r.fetches() - before).toBe(2); // one walk of two candidates
    const eager = authFetch(r.key, providers.openai, { fetch: t.fetch, refreshCooldownMs: 0 });
    for (let i = 0; i < 3; i++) await eager(URL_);
    expect(r.fetches() - before).toBe(2 + 3 * 2);
  });

  it('concurrent dead-key answers share one refresh and all succeed on the new key', async () => {
    const memory = memorySource({ K_v1: KEYS.v1 });
    let gate: Promise<void> | undefined;
    let release = (): void => undefined;
    let fetches = 0;
    const source: Source = {
      name: 'memory',
      fetch: async (ref, ctx): Promise<SourceResult> => {
        fetches++;
        if (gate) await gate;
        return memory.fetch(ref, ctx);
      },
    };
    const resolver = createResolver({ sources: [source], refreshMs: 3_600_000 });
    try {
      const key = resolver.secret('K', 'K_v2 ?? K_v1');
      await resolver.ready();
      memory.set('K_v2', KEYS.v2);
      gate = new Promise<void>((resolve) => (release = resolve));
      const provider = await mock({ preset: providers.openai, keys: [KEYS.v2] });
      // The network (global fetch), with a signal once all 20 first attempts have had their dead-key answer.
      let deadAnswers = 0;
      let allDead = (): void => undefined;
      const allDeadSeen = new Promise<void>((resolve) => {
        allDead = resolve;
      });
      const network: typeof fetch = async (input, init) => {
        const response = await fetch(input, init);
        if (response.status === 401) {
          deadAnswers++;
          if (deadAnswers === 20) allDead();
        }
        return response;
      };
      const f = authFetch(key, providers.openai, { fetch: network });
      const before = fetches;
      const calls = Array.from({ length: 20 }, () =>
        f(`${provider.url}/chat/completions`, {
          method: 'POST',
          body: '{"model":"m"}',
          headers: { 'content-type': 'application/json' },
        }),
      );
      // Every first attempt fails on the old key while the refresh is held at the gate; then it may finish.
      await allDeadSeen;
      expect(provider.requestsFor(KEYS.v1)).toBe(20);
      release();
      const responses = await Promise.all(calls);
      expect(responses.map((res) => res.status)).toEqual(Array(20).fill(200));
      expect(fetches - before).toBe(1); // one refresh (K_v2 found at once), shared by 20 dead answers
      expect(provider.requestsFor(KEYS.v2)).toBe(20);
      expect(leaked(dump(provider))).toEqual([]);
    } finally {
      release();
      await resolver.close();
    }
  });

  it('only dead-key answers trigger a refresh: 400, 403, 429 and 500 from OpenAI do not', async () => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    for (const status of [400, 403, 429, 500]) {
      const t = transport([], status, '{"error":{"code":"something"}}');
      const response = await authFetch(r.key, providers.openai, { fetch: t.fetch, refreshCooldownMs: 0 })(URL_);
      expect(response.status).toBe(status);
      expect(t.seen).toHaveLength(1);
    }
    expect(r.key.info?.candidate).toBe('K_v1');
  });

  it('Gemini: 400 API_KEY_INVALID is a dead key (refresh and retry), another 400 is not', async () => {
    const r = await rig();
    r.memory.set('K_v2', KEYS.v2);
    const other = transport(
      [KEYS.v2],
      400,
      '{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"bad request"}}',
    );
    expect((await authFetch(r.key, providers.gemini, { fetch: other.fetch })(URL_)).status).toBe(400);
    expect(other.seen).toHaveLength(1);
    expect(r.key.info?.candidate).toBe('K_v1');
    const invalid = transport([KEYS.v2], 400, '{"error":{"code":400,"details":[{"reason":"API_KEY_INVALID"}]}}');
    const response = await authFetch(r.key, providers.gemini, { fetch: invalid.fetch })(URL_);
    expect(response.status).toBe(200);
    expect(invalid.seen.map((s) => header(s, 'x-goog-api-key')[0])).toEqual([KEYS.v1, KEYS.v2]);
  });

  it('a refresh that finds the secret revoked returns the dead-key answer as it came', async () => {
    const r = await rig();
    r.memory.disable('K_v1');
    const t = transport([]);
    const response = await authFetch(r.key, providers.openai, { fetch: t.fetch })(URL_);
    expect(response.status).toBe(401);
    expect(await response.text()).toContain('invalid_api_key');
    expect(t.seen).toHaveLength(1);
    expect(leaked(dump(r.events), ALL_KEYS)).toEqual([]);
  });
});

/** V8's full garbage collection, exposed for one test (`--expose-gc` for a fresh context). */
function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
