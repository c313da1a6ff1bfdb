/**
 * What the provider-identity and mint tests share: a mock provider serving its management API (on the test's clock),
 * the management API opened on it (`openProvider`), and a check that no admin key and no key value (minted ones
 * included: read back from the emulator) appears in what the test saw.
 */
import { afterEach, expect } from 'vitest';
import { openProvider, type ProviderAdmin } from '../../src/providers/index.js';
import { startMockProvider, type MockProvider } from '../../src/testing/index.js';
import type { World } from './rig.js';

/** Admin keys made up for these tests (valid nowhere). */
export const ADMIN_KEYS = {
  openai: `sk-admin-${'Ad1Mn2Ky3Q'.repeat(4)}`,
  anthropic: `sk-ant-admin01-${'Ad4Mn5Ky6W'.repeat(8)}-AAAA`,
} as const;

/** An Anthropic-shaped key made up for these tests. */
export const ANTHROPIC_KEYS = {
  a1: `sk-ant-api03-${'Rq1St2Uv3W'.repeat(9)}-${'xY1zA2'.repeat(2)}AA`,
  a2: `sk-ant-api03-${'Lm4No5Pq6R'.repeat(9)}-${'bC3dE4'.repeat(2)}AA`,
} as const;

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** A mock of `preset` accepting `keys` (listed by its management API as console keys), and the API opened on it. */
export async function providerWorld(
  w: World,
  keys: readonly string[],
  preset: 'openai' | 'anthropic' = 'openai',
): Promise<{ mock: MockProvider; provider: ProviderAdmin }> {
  const now = (): number => w.clock.now();
  const mock = await startMockProvider({ preset, keys, management: { adminKeys: [ADMIN_KEYS[preset]], now } });
  closers.push(() => mock.close());
  const provider = openProvider({
    provider: preset,
    adminKey: ADMIN_KEYS[preset],
    baseUrl: mock.url,
    ...(preset === 'openai' ? { project: 'proj_keyflip' } : {}),
    now,
    retries: 0,
  });
  return { mock, provider };
}

/** Every value of every version of the project's secrets (minted keys included), read from the emulator. */
export async function storedValues(w: World): Promise<string[]> {
  const out: string[] = [];
  for (const s of await w.admin.listSecrets()) {
    for (const v of await w.admin.listVersions(s.id)) {
      if (v.state !== 'ENABLED') continue;
      out.push(await w.admin.access(s.id, v.version));
    }
  }
  return out;
}

/** Asserts that no admin key and none of `values` is in anything the test saw (`seen`: results, errors, snapshots). */
export function expectNoSecrets(seen: readonly unknown[], values: readonly string[]): void {
  const text = seen.map((s) => (s instanceof Error ? `${s.message} ${s.stack} ${String(s.cause)}` : JSON.stringify(s)));
  for (const secret of [...Object.values(ADMIN_KEYS), ...values]) {
    for (const t of text)
      expect(t.includes(secret), `a secret (${secret.slice(0, 10)}…) in ${t.slice(0, 120)}`).toBe(false);
  }
}
