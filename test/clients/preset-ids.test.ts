import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigurationError } from '../../src/index.js';
import { authFetch, type ProviderId, type probeKey, providers } from '../../src/clients/index.js';
import { joinUrl } from '../../src/clients/presets.js';
import { clientRig, dump, KEYS } from './rig.js';

const { rig, mock } = clientRig();

describe('a preset id goes wherever a preset goes', () => {
  it('authFetch, probeKey and startMockProvider take ids (types, checked by tsc over this file)', () => {
    expectTypeOf<ProviderId>().toMatchTypeOf<Parameters<typeof authFetch>[1]>();
    expectTypeOf<ProviderId>().toMatchTypeOf<Parameters<typeof probeKey>[1]>();
    // The calls themselves: a type error here fails `tsc --noEmit`.
    const typed = (handle: Parameters<typeof authFetch>[0]): (typeof fetch)[] => [
      authFetch(handle, 'openai'),
      authFetch(handle, 'anthropic', { refreshCooldownMs: 10 }),
      authFetch(handle, providers.gemini),
      authFetch(handle, { header: 'api-key' }),
      // @ts-expect-error an unknown id is a type error
      authFetch(handle, 'opneai'),
    ];
    expect(typeof typed).toBe('function');
  });

  it.each(Object.keys(providers) as ProviderId[])(
    "authFetch(key, '%s') sends the key as that preset does, to a mock started with the id",
    async (id) => {
      const { key } = await rig();
      const provider = await mock({ preset: id, keys: [KEYS.v1] });
      const response = await authFetch(key, id)(joinUrl(provider.url, providers[id].probe.path), {
        headers: providers[id].probe.headers ?? {},
      });
      expect(response.status).toBe(200);
      expect(provider.requestsFor(KEYS.v1)).toBe(1);
    },
  );

  it('an unknown id throws a ConfigurationError naming the known ids, never quoting a key passed there', async () => {
    const { key } = await rig();
    expect(() => authFetch(key, 'opneai' as ProviderId)).toThrow(ConfigurationError);
    expect(() => authFetch(key, 'opneai' as ProviderId)).toThrow(/known: openai, anthropic/);
    let thrown: unknown;
    try {
      authFetch(key, KEYS.v2 as ProviderId);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect(dump(thrown)).not.toContain(KEYS.v2);
  });
});
