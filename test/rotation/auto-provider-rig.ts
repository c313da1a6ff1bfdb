/**
 * What the provider tests of auto, emergency and audit share: a mock provider serving its management API on the
 * rig's clock, `openProvider` over it (the real client, the real HTTP), a direct caller standing for a process
 * that sends no beacon, and the check that no key and no admin key is in anything a command answered.
 */
import { expect } from 'vitest';
import { openProvider, type ManagedProviderId, type ProviderAdmin } from '../../src/providers/index.js';
import { startMockProvider, type MockProvider } from '../../src/testing/index.js';
import type { World } from './rig.js';

/** Admin keys made up for these tests. */
export const ADMIN = {
  openai: `sk-admin-${'Ab3Cd4Ef5G'.repeat(5)}`,
  anthropic: `sk-ant-admin01-${'Hj6Kl7Mn8P'.repeat(8)}`,
} as const;

/** A mock with its management API, and the provider admin over it. */
export interface Managed {
  readonly mock: MockProvider;
  readonly provider: ProviderAdmin;
  /** A chat request with `key` straight to the mock (a process that sends no beacon); the HTTP status. */
  call(key: string): Promise<number>;
}

/** Starts the mock (closed by `closers`) and opens the provider admin over it, both on the rig's clock. */
export async function managed(
  w: World,
  closers: (() => Promise<void>)[],
  options: { preset?: ManagedProviderId; keys?: readonly string[]; lagMs?: number; mockLagMs?: number } = {},
): Promise<Managed> {
  const preset = options.preset ?? 'openai';
  const now = (): number => w.clock.now();
  const mock = await startMockProvider({
    preset,
    keys: options.keys ?? [],
    management: { adminKeys: [ADMIN[preset]], lagMs: options.mockLagMs ?? 0, now },
  });
  closers.push(() => mock.close());
  const provider = openProvider({
    provider: preset,
    adminKey: ADMIN[preset],
    baseUrl: mock.url,
    ...(preset === 'openai' ? { project: 'proj_keyflip' } : {}),
    lagMs: options.lagMs ?? 60_000,
    now,
    retries: 0,
  });
  const call = async (key: string): Promise<number> => {
    const res =
      preset === 'openai'
        ? await fetch(`${mock.url}/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
          })
        : await fetch(`${mock.url}/v1/messages`, {
            method: 'POST',
            headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
            body: JSON.stringify({
              model: 'claude-haiku-4-5',
              max_tokens: 16,
              messages: [{ role: 'user', content: 'ping' }],
            }),
          });
    await res.text();
    return res.status;
  };
  return { mock, provider, call };
}

/** Asserts that none of `secrets` (keys, admin keys, any minted key's prefix) is in `things`. */
export function expectNoSecrets(things: readonly unknown[], secrets: readonly string[]): void {
  const text = JSON.stringify(things);
  for (const secret of [...secrets, ...Object.values(ADMIN), 'sk-svcacct-'])
    expect(text.includes(secret), `${secret.slice(0, 10)}… in the output`).toBe(false);
}

/** `provider` whose first `revokeKey` fails (no answer), as a provider outage would. */
export function failingFirstRevoke(provider: ProviderAdmin): ProviderAdmin {
  let fail = true;
  return {
    id: provider.id,
    canMint: provider.canMint,
    lagMs: provider.lagMs,
    scope: provider.scope,
    listKeys: () => provider.listKeys(),
    getKey: (id) => provider.getKey(id),
    findKey: (value) => provider.findKey(value),
    usage: (ids, range) => provider.usage(ids, range),
    mintKey: (options) => provider.mintKey(options),
    async revokeKey(id, options) {
      if (fail) {
        fail = false;
        throw new Error('the provider did not answer (injected)');
      }
      return provider.revokeKey(id, options);
    },
  };
}
