/**
 * `keyflip audit` and a mint whose key was never stored (a crash between the mint and the store, named with
 * `--key-name`): the real CLI against the emulator and the mock provider's management API. Audit reports the mark
 * with what revokes the key, and lists the key minted under it as an orphan, never a person's key that only has the
 * same name; then `rotate discard` revokes the one and leaves the other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSecretAdmin } from '../../src/rotation/index.js';
import {
  startMockProvider,
  startSecretManagerEmulator,
  type MockProvider,
  type SecretManagerEmulator,
} from '../../src/testing/index.js';
import { leaks } from '../helpers.js';
import { runInProcess } from '../support/cli.js';

const ADMIN = 'sk-admin-auditmint-ADMIN-Zq8Xv3Lm9Tn2Rb7Kd4Hs6Wy1Pc5Gf0Ja';
const PROJECT = 'proj_keyflip';
const LIVE = 'sk-auditmint-ONE-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1111';
const NAME = 'OPENAI_API_KEY';

let emulator: SecretManagerEmulator;
let mock: MockProvider;
const outputs: string[] = [];
const learned: string[] = [];

async function run(args: string[], stdin?: string): Promise<Awaited<ReturnType<typeof runInProcess>>> {
  const result = await runInProcess(args, {
    stdin,
    env: {
      SECRET_MANAGER_EMULATOR_HOST: emulator.host,
      KEYFLIP_PROJECT: emulator.projectId,
      KEYFLIP_PROVIDER_ADMIN_KEY: ADMIN,
      KEYFLIP_PROVIDER_PROJECT: PROJECT,
    },
  });
  outputs.push(result.stdout, result.stderr);
  return result;
}

const P = (): string[] => ['--provider', 'openai', '--provider-base-url', mock.url];

beforeAll(async () => {
  emulator = await startSecretManagerEmulator();
  mock = await startMockProvider({
    preset: 'openai',
    keys: [LIVE],
    management: { adminKeys: [ADMIN], project: PROJECT, lagMs: 0 },
  });
});

afterAll(async () => {
  await mock?.close();
  await emulator?.close();
  expect(leaks(outputs.join('\n'), [LIVE, ADMIN, ...learned])).toEqual([]);
});

describe('audit: a mint named with --key-name that was never stored', () => {
  it('reports the mark and its key as an orphan (not a namesake console key); discard revokes only it', async () => {
    for (const step of [
      ['rotate', 'provision', NAME, ...P()],
      ['rotate', 'probe', NAME, '--provider', 'openai', '--base-url', mock.url],
    ])
      expect((await run(step, LIVE)).code).toBe(0);
    expect((await run(['rotate', 'flip', NAME])).code).toBe(0);

    // The crash: the mark on the staging secret, the key minted through a service account named prod-main.
    const at = '2026-12-05T06:00:00.000Z';
    const admin = await openSecretAdmin({ projectId: emulator.projectId, clientOptions: emulator.clientOptions });
    const meta = await admin.getSecret(`${NAME}_next`);
    if (meta === undefined) throw new Error('no staging secret');
    const mark = JSON.stringify({ provider: 'openai', name: 'prod-main', at });
    await admin.updateSecret(
      `${NAME}_next`,
      { annotations: { ...meta.annotations, 'keyflip-minting': mark } },
      meta.etag,
    );
    await admin.close();
    const lost = await fetch(`${mock.url}/organization/projects/${PROJECT}/service_accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'prod-main' }),
    })
      .then((r) => r.json() as Promise<{ api_key: { id: string; value: string } }>)
      .then((account) => account.api_key);
    const person = mock.mint({ name: 'prod-main' }); // a person's console key with the same name
    learned.push(lost.value, person.value);

    const audited = await run(['audit', ...P()]);
    expect(audited.code).toBe(0);
    expect(audited.stdout).toMatch(/^OK: every live key is within 90d; 1 minted key was not stored \(below\)/);
    expect(audited.stdout).toContain(
      `1 mint whose key was not stored:\n  ${NAME}: a key minted at ${at} (openai, named prod-main) was not ` +
        `stored: rotate discard ${NAME} --provider openai revokes it`,
    );
    expect(audited.stdout).toContain(
      `1 key at the provider that no secret holds:\n  ${lost.id} (prod-main) was minted by keyflip at ${at} for ` +
        `${NAME} and never stored: rotate discard ${NAME} revokes it`,
    );
    expect(audited.stdout).not.toContain(person.id);
    const asJson = JSON.parse((await run(['audit', ...P(), '--json'])).stdout) as {
      unstoredMints: number;
      entries: { minting?: { name: string } }[];
      orphans: { keyId: string }[];
    };
    expect(asJson.unstoredMints).toBe(1);
    expect(asJson.entries[0]?.minting?.name).toBe('prod-main');
    expect(asJson.orphans.map((o) => o.keyId)).toEqual([lost.id]);
    // Without the provider, the mark (in Secret Manager) is still reported.
    expect((await run(['audit'])).stdout).toContain('1 mint whose key was not stored:');

    const discarded = await run(['rotate', 'discard', NAME, ...P()]);
    expect(discarded.code).toBe(0);
    expect(mock.keys().find((k) => k.id === lost.id)?.status).toBe('deleted');
    expect(mock.keys().find((k) => k.id === person.id)?.status).toBe('active');
    const after = await run(['audit', ...P()]);
    expect(after.stdout).not.toMatch(/not stored|no secret holds/);
  });
});
