import { inspect } from 'node:util';
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  NotReadyError,
  SecretRevokedError,
  createResolver,
  memorySource,
} from '../../src/index.js';
import { liveClient, providers } from '../../src/clients/index.js';
import { clientRig, dump, KEYS, leaked } from './rig.js';

const { rig, mock } = clientRig();

/** A client shaped like the SDKs: a private field, top-level methods, nested namespaces with a back-reference. */
class FakeClient {
  readonly #key: string;
  readonly apiKey: string;
  readonly chat: { completions: { create(): string; client: FakeClient } };
  static built = 0;
  constructor(key: string) {
    FakeClient.built++;
    this.#key = key;
    this.apiKey = key;
    this.chat = {
      completions: {
        client: this,
        create(this: { client: FakeClient }): string {
          return this.client.whoami();
        },
      },
    };
  }
  whoami(): string {
    return this.#key; // a private field: throws when `this` is the proxy
  }
  withSuffix(suffix: string): string {
    return `${this.#key}${suffix}`;
  }
}

describe('liveClient', () => {
  it('builds lazily, once per value, and rebuilds once on the first use after a rotation', async () => {
    const r = await rig({ push: true });
    const builds: string[] = [];
    const client = liveClient(r.key, (key) => {
      builds.push(key);
      return new FakeClient(key);
    });
    expect(builds).toEqual([]);
    for (let i = 0; i < 10; i++) expect(client.whoami()).toBe(KEYS.v1);
    expect(builds).toEqual([KEYS.v1]);
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    expect(builds).toHaveLength(1); // nothing is built until the client is used
    for (let i = 0; i < 10; i++) expect(client.chat.completions.create()).toBe(KEYS.v2);
    expect(builds).toEqual([KEYS.v1, KEYS.v2]);
  });

  it('keeps `this` right: private fields, methods, nested namespaces, method identity, instanceof', async () => {
    const { key } = await rig();
    const client = liveClient(key, (k) => new FakeClient(k));
    expect(client.whoami()).toBe(KEYS.v1);
    const { whoami } = client; // detached: still bound to the real client
    expect(whoami()).toBe(KEYS.v1);
    expect(client.withSuffix('!')).toBe(`${KEYS.v1}!`);
    expect(client.chat.completions.create()).toBe(KEYS.v1);
    expect(client.whoami).toBe(client.whoami);
    expect(client instanceof FakeClient).toBe(true);
    expect('chat' in client).toBe(true);
    // The client's own names, none enumerable (an enumerable `apiKey` would leak through entries and spread).
    expect(Reflect.ownKeys(client)).toEqual(['apiKey', 'chat']);
    expect(Object.keys(client)).toEqual([]);
  });

  it('counts one use per property read on the proxy', async () => {
    const { key, uses } = await rig();
    const client = liveClient(key, (k) => new FakeClient(k));
    uses(); // from here on
    client.chat.completions.create();
    client.whoami();
    expect(uses()).toBe(2);
  });

  it('JSON.stringify, util.inspect and String show a label, not the client (which holds the key)', async () => {
    const { key } = await rig();
    const client = liveClient(key, (k) => new FakeClient(k));
    client.whoami();
    const shown = [
      JSON.stringify(client),
      inspect(client),
      inspect({ client }, { depth: 5 }),
      `${JSON.stringify({ client })}`,
    ];
    for (const text of shown) expect(text).toContain(`[keyflip client K ${key.info?.fingerprint}]`);
    expect(leaked(shown.join('\n'))).toEqual([]);
  });

  it('Object.entries, Object.keys, spread, Object.assign and for…in see no property (it holds the key)', async () => {
    const { key } = await rig();
    const client = liveClient(key, (k) => new FakeClient(k));
    client.whoami();
    const forIn: string[] = [];
    for (const name in client) forIn.push(name);
    const copies: unknown[] = [
      Object.entries(client),
      Object.keys(client),
      Object.values(client),
      { ...client },
      Object.assign({}, client),
      Object.fromEntries(Object.entries(client)),
      forIn,
    ];
    expect(copies).toEqual([[], [], [], {}, {}, {}, []]);
    expect(leaked(dump(copies))).toEqual([]);
    // Read by name, the client's properties are still there; `in` and the names are unchanged.
    expect(client.apiKey).toBe(KEYS.v1);
    expect('chat' in client).toBe(true);
    expect(Reflect.ownKeys(client)).toEqual(['apiKey', 'chat']);
    expect(Object.getOwnPropertyDescriptor(client, 'chat')?.enumerable).toBe(false);
  });

  it('a revoked secret makes the proxy throw SecretRevokedError; an unresolved one NotReadyError', async () => {
    const r = await rig({ push: true });
    const client = liveClient(r.key, (k) => new FakeClient(k));
    client.whoami();
    r.memory.disable('K_v1');
    await r.clock.flush();
    let error: unknown;
    try {
      client.whoami();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SecretRevokedError);
    expect(leaked(dump(error))).toEqual([]);

    const resolver = createResolver({ sources: [memorySource()] });
    try {
      const pending = liveClient(resolver.secret('NOPE'), (k) => new FakeClient(k));
      expect(() => pending.whoami()).toThrow(NotReadyError);
    } finally {
      await resolver.close();
    }
  });

  it('new OpenAI({ apiKey }): 1 000 calls over a rotation, one rebuild, no failure, no revoked key', async () => {
    const r = await rig({ push: true });
    const provider = await mock({ preset: providers.openai, keys: [KEYS.v1, KEYS.v2] });
    let builds = 0;
    const client = liveClient(r.key, (apiKey) => {
      builds++;
      return new OpenAI({ apiKey, baseURL: provider.url, maxRetries: 0 });
    });
    const call = (): Promise<unknown> =>
      client.chat.completions.create({ model: 'gpt-mock', messages: [{ role: 'user', content: 'hi' }] });
    const failures: unknown[] = [];
    const track = (p: Promise<unknown>): Promise<void> =>
      p.then(
        () => undefined,
        (e: unknown) => void failures.push(e),
      );

    // 400 calls on v1, in waves of 50; the last wave is still in flight when the rotation lands.
    for (let wave = 0; wave < 7; wave++) await Promise.all(Array.from({ length: 50 }, () => track(call())));
    const inFlight = Array.from({ length: 50 }, () => track(call()));
    r.memory.set('K_v2', KEYS.v2);
    await r.clock.flush();
    expect(r.key.info?.candidate).toBe('K_v2');
    // 100 more calls start after the rotation: the first rebuilds, all go out on v2.
    const after = Array.from({ length: 100 }, () => track(call()));
    await Promise.all([...inFlight, ...after]); // the old client finishes its calls on v1
    expect(builds).toBe(2);
    provider.revoke(KEYS.v1);
    const v1AtRevoke = provider.requestsFor(KEYS.v1);
    for (let wave = 0; wave < 10; wave++) await Promise.all(Array.from({ length: 50 }, () => track(call())));
    expect(failures).toEqual([]);
    expect(builds).toBe(2);
    expect(v1AtRevoke).toBe(400);
    expect(provider.requestsFor(KEYS.v1)).toBe(400);
    expect(provider.requestsFor(KEYS.v2)).toBe(600);
    expect(provider.requestsFor(KEYS.v1) + provider.requestsFor(KEYS.v2)).toBe(1_000);
    expect(leaked(dump(provider) + dump(r.events) + JSON.stringify(client) + inspect(client))).toEqual([]);
  });

  it('rejects a bad handle or builder, and a builder that returns no object, with a ConfigurationError', async () => {
    const { key } = await rig();
    expect(() => liveClient({} as never, () => ({}))).toThrow(ConfigurationError);
    expect(() => liveClient({} as never, () => ({}))).toThrow(
      'liveClient: the first argument must be a secret handle (resolver.secret(…))',
    );
    expect(() => liveClient(key, 'x' as never)).toThrow(ConfigurationError);
    const broken = liveClient(key, () => null as unknown as object);
    expect(() => (broken as { x?: unknown }).x).toThrow(ConfigurationError);
    // A builder that returns the key itself: the error does not quote it.
    const echo = liveClient(key, (k) => k as unknown as object);
    const error = (() => {
      try {
        return (echo as { x?: unknown }).x;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(leaked(dump(error))).toEqual([]);
  });
});
