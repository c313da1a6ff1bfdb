/**
 * What the provider evidence and provider revoke tests share: a pair ring flipped from K1 to K2 with beaconing apps,
 * the mock provider's management API (with a reporting lag, on the rig's clock) read through `openProvider`, and a
 * client that sends no beacon.
 */
import { expect } from 'vitest';
import { openProvider, type ManagedProviderId, type ProviderAdmin } from '../../src/providers/index.js';
import { flip, probe, provision, type Layout, type RotationContext } from '../../src/rotation/index.js';
import { startMockProvider, type MockProvider } from '../../src/testing/index.js';
import { KEYS, MINUTE, type App, type World } from './rig.js';

let n = 0;
/** An admin key of the mock's management API (made up; valid nowhere). */
export const ADMIN_KEY = `sk-admin-${'Zq9Xw8Vu7T'.repeat(4)}`;
/** The provider's reporting lag in these tests. */
export const LAG = 15 * MINUTE;

/** A ring with K1 live and beaconing apps, then K2 provisioned, probed and flipped, the apps refreshed onto K2. */
export async function flippedWithProvider(
  w: World,
  options: {
    lagMs?: number;
    knows?: readonly string[];
    preset?: ManagedProviderId;
    prefix?: string;
    /** The old key is one minted through the management API (OpenAI: in a service account of its own). */
    mintOld?: boolean;
    /** @default 'pair' */
    layout?: Layout;
    /**
     * Chat requests a client that sends no beacon makes with the old key just before the flip (then the clock moves
     * on a second): use the provider reports and that is no reason to keep the old key. @default 0
     */
    usedBeforeFlip?: number;
  } = {},
): Promise<{
  name: string;
  ctx: RotationContext;
  provider: ProviderAdmin;
  mock: MockProvider;
  apps: App[];
  old: string;
  /** The old key's label (`NAME_v1@1`, `NAME_v1`, `NAME@1`). */
  oldLabel: string;
}> {
  const layout = options.layout ?? 'pair';
  const name = `${options.prefix ?? 'PE'}_${++n}_${Date.now() % 100_000}`;
  const lagMs = options.lagMs ?? LAG;
  const preset = options.preset ?? 'openai';
  const mock = await startMockProvider({
    preset,
    keys: options.knows ?? [KEYS.k1, KEYS.k2],
    management: { adminKeys: [ADMIN_KEY], lagMs, now: () => w.clock.now() },
  });
  const provider = openProvider({
    provider: preset,
    adminKey: ADMIN_KEY,
    baseUrl: mock.url,
    ...(preset === 'openai' ? { project: 'proj_keyflip' } : {}),
    lagMs,
    now: () => w.clock.now(),
    sleep: async () => {},
  });
  const old = options.mintOld ? (await provider.mintKey({ name: `keyflip-${name}-old` })).value : KEYS.k1;
  w.seedLive(name, layout, old);
  const plain = w.ctx(name, layout);
  const apps = await w.apps(2, name, layout);
  await w.clock.advance(MINUTE);
  expect((await w.run(provision(plain, KEYS.k2))).outcome).toBe('done');
  expect((await w.run(probe(plain, KEYS.k2, { provider: preset, baseUrl: mock.url }))).outcome).toBe('done');
  if (options.usedBeforeFlip) {
    // 20 s into a minute, so that the flip (a second later) falls inside the minute of these requests.
    await w.clock.advance(MINUTE - (w.clock.now() % MINUTE) + 20_000);
    const statuses = await beaconless(mock, old, options.usedBeforeFlip);
    expect(statuses).toEqual(statuses.map(() => 200));
    await w.clock.advance(1000);
  }
  expect((await w.run(flip(plain))).outcome).toBe('done');
  await Promise.all(apps.map((a) => a.resolver.refresh()));
  const oldLabel = layout === 'pair' ? `${name}_v1@1` : layout === 'suffix' ? `${name}_v1` : `${name}@1`;
  return { name, ctx: { ...plain, provider }, provider, mock, apps, old, oldLabel };
}

/** A client that read the key once and sends no beacon: `count` chat requests with it now. */
export async function beaconless(mock: MockProvider, key: string, count: number): Promise<number[]> {
  const statuses: number[] = [];
  const { header, scheme } = mock.preset;
  const openai = mock.preset.id === 'openai';
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${mock.url}${mock.preset.chat.path}`, {
      method: 'POST',
      headers: {
        [header]: scheme ? `${scheme} ${key}` : key,
        'content-type': 'application/json',
        ...(openai ? {} : { 'anthropic-version': '2023-06-01' }),
      },
      body: JSON.stringify({
        model: openai ? 'gpt-4o-mini' : 'claude-haiku-4-5',
        max_tokens: 8,
        messages: [{ role: 'user', content: 'ping' }],
      }),
    });
    await res.text();
    statuses.push(res.status);
  }
  return statuses;
}

/** No text the test saw holds the admin key. */
export function noAdminKey(w: World, ...things: unknown[]): void {
  for (const thing of things) expect(JSON.stringify(w.witness.see(thing))).not.toContain(ADMIN_KEY);
}
