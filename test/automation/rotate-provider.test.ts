/**
 * `keyflip rotate` with the provider's management API, through the CLI entry (`main`), against the Secret Manager
 * emulator over gRPC and the mock provider's OpenAI management API (`startMockProvider({ management })`), with a
 * collector fed by a real resolver's beacons. A beacon-less straggler (a process that read the key once and sends
 * chat requests) blocks verify and revoke through the provider's evidence alone. No output may hold a key or the
 * admin key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSink, usageBeacon } from '../../src/beacon/index.js';
import { startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import { createResolver, type Resolver } from '../../src/index.js';
import { openSecretAdmin } from '../../src/rotation/index.js';
import { gcpSecretManager } from '../../src/sources/gcp.js';
import {
  startMockProvider,
  startSecretManagerEmulator,
  type MockProvider,
  type SecretManagerEmulator,
} from '../../src/testing/index.js';
import { leaks } from '../helpers.js';
import { runInProcess } from '../support/cli.js';

const ADMIN = 'sk-admin-rotprov-ADMIN-Zq8Xv3Lm9Tn2Rb7Kd4Hs6Wy1Pc5Gf0Ja';
const PROJECT = 'proj_keyflip';
const KEYS = {
  v1: 'sk-rotprov-ONE-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1111',
  v3: 'sk-rotprov-THREE-cccccccccccccccccccccccccccc3333',
  l1: 'sk-rotprov-LAG1-dddddddddddddddddddddddddddddd4444',
  l2: 'sk-rotprov-LAG2-eeeeeeeeeeeeeeeeeeeeeeeeeeeeee5555',
};
const NAME = 'OPENAI_API_KEY';

let emulator: SecretManagerEmulator;
let mock: MockProvider;
let collector: CollectorServer;
const outputs: string[] = [];
/** Keys the test learns as it goes (the minted one): the leak check covers them too. */
const learned: string[] = [];
const resolvers: Resolver[] = [];

type Run = Awaited<ReturnType<typeof runInProcess>>;

const baseEnv = (): Record<string, string> => ({
  SECRET_MANAGER_EMULATOR_HOST: emulator.host,
  KEYFLIP_PROJECT: emulator.projectId,
  KEYFLIP_PROVIDER_ADMIN_KEY: ADMIN,
  KEYFLIP_PROVIDER_PROJECT: PROJECT,
});

/** `keyflip ARGS…` in process; every output is kept for the leak check. */
async function run(args: string[], stdin?: string, env: Record<string, string | undefined> = baseEnv()): Promise<Run> {
  const result = await runInProcess(args, { stdin, env });
  outputs.push(result.stdout, result.stderr);
  return result;
}

/** The management options every provider command here takes: the mock's API, with no reporting lag. */
const P = (): string[] => ['--provider', 'openai', '--provider-base-url', mock.url, '--provider-lag', '0s'];

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A chat request with `key`, as a client would send it; its status. */
async function chat(key: string): Promise<number> {
  const res = await fetch(`${mock.url}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** A process that read the key from its environment once and sends no beacon: only the provider sees it. */
function straggler(key: string) {
  let stopped = false;
  const statuses: number[] = [];
  const loop = (async () => {
    while (!stopped) {
      statuses.push(await chat(key).catch(() => 0));
      await new Promise((r) => setTimeout(r, 100)); // its pace; no assertion waits on it
    }
  })();
  return {
    statuses,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

/** An app on `NAME_v2 ?? NAME_v1` that beacons to the collector every second. */
async function app(service: string) {
  const resolver = createResolver({
    sources: [gcpSecretManager({ projectId: emulator.projectId, clientOptions: emulator.clientOptions })],
    refreshMs: 150,
    beacon: usageBeacon({ service, sink: httpSink({ url: collector.url }), intervalMs: 1_000 }),
  });
  resolvers.push(resolver);
  const key = resolver.secret(NAME, `${NAME}_v2 ?? ${NAME}_v1`);
  await resolver.ready();
  return { resolver, key };
}

interface JsonResult {
  outcome: string;
  refusal?: string;
  keys: { label: string; role: string; state: string; records: { provider?: { keyId: string; minted?: boolean } } }[];
  verifications?: {
    windowElapsed: boolean;
    result: { reason: string };
    provider?: { reason: string; requests?: number; keyId?: string };
  }[];
  providerRevocations?: { keyId: string; outcome: string; status?: string }[];
  leak?: { keys: { keyId?: string; requests?: number; instances: string[] }[] };
}
const json = (r: Run): JsonResult => JSON.parse(r.stdout) as JsonResult;

beforeAll(async () => {
  emulator = await startSecretManagerEmulator();
  mock = await startMockProvider({
    preset: 'openai',
    keys: Object.values(KEYS),
    management: { adminKeys: [ADMIN], project: PROJECT, lagMs: 0 },
  });
  collector = await startCollectorServer({});
});

afterAll(async () => {
  await Promise.all(resolvers.map((r) => r.close()));
  await collector?.close();
  await mock?.close();
  await emulator?.close();
  // Not one output held a key, a minted key, or the admin key.
  expect(leaks(outputs.join('\n'), [...Object.values(KEYS), ...learned, ADMIN])).toEqual([]);
});

describe('the management options: checked before any request, the admin key never from argv', () => {
  const cases: [string, string[], Record<string, string | undefined>, RegExp][] = [
    [
      '--admin-key VALUE',
      ['rotate', 'verify', NAME, '--window', '2s', '--collector', 'http://127.0.0.1:1', '--admin-key', ADMIN],
      {},
      /an admin key is never given in argv.*KEYFLIP_PROVIDER_ADMIN_KEY or pass --admin-key-file/,
    ],
    [
      '--admin-key=VALUE',
      ['rotate', 'provision', NAME, '--provider', 'openai', '--mint', `--admin-key=${ADMIN}`],
      {},
      /an admin key is never given in argv/,
    ],
    ['audit --admin-key', ['audit', '--admin-key', ADMIN], {}, /an admin key is never given in argv/],
    ['--mint without --provider', ['rotate', 'provision', NAME, '--mint'], {}, /--provider is required/],
    [
      '--provider without an admin key',
      ['rotate', 'verify', NAME, '--window', '2s', '--collector', 'http://127.0.0.1:1', '--provider', 'openai'],
      { KEYFLIP_PROVIDER_ADMIN_KEY: undefined },
      /--provider openai needs an admin key: set KEYFLIP_PROVIDER_ADMIN_KEY or pass --admin-key-file/,
    ],
    [
      'openai without a project',
      ['rotate', 'discard', NAME, '--provider', 'openai'],
      { KEYFLIP_PROVIDER_PROJECT: undefined },
      /--provider openai needs --provider-project/,
    ],
    [
      '--mint with anthropic',
      ['rotate', 'provision', NAME, '--provider', 'anthropic', '--mint'],
      {},
      /anthropic cannot mint keys by API/,
    ],
    [
      '--mint with --value-file',
      ['rotate', 'provision', NAME, '--provider', 'openai', '--mint', '--value-file', '/nonexistent'],
      {},
      /--mint and --value-file do not go together/,
    ],
    [
      '--archive with openai',
      ['rotate', 'revoke', NAME, '--force', '--reason', 'a test reason', '--provider', 'openai', '--archive'],
      {},
      /--archive is for anthropic/,
    ],
    [
      '--keep-provider-key without --provider',
      ['rotate', 'revoke', NAME, '--force', '--reason', 'a test reason', '--keep-provider-key'],
      {},
      /--keep-provider-key needs the provider's management API/,
    ],
    [
      '--admin-key-file and KEYFLIP_PROVIDER_ADMIN_KEY',
      ['rotate', 'discard', NAME, '--provider', 'openai', '--admin-key-file', '/nonexistent'],
      {},
      /give the admin key once/,
    ],
    [
      '--admin-key-file that is the key itself',
      ['rotate', 'discard', NAME, '--provider', 'openai', '--admin-key-file', ADMIN],
      { KEYFLIP_PROVIDER_ADMIN_KEY: undefined },
      /--admin-key-file looks like a key \(not shown\)/,
    ],
    [
      'a provider keyflip cannot manage',
      ['rotate', 'verify', NAME, '--window', '2s', '--collector', 'http://127.0.0.1:1', '--provider', 'groq'],
      {},
      /management API of openai and anthropic only/,
    ],
    [
      '--provider-lag that is not a duration',
      ['rotate', 'verify', NAME, '--window', '2s', '--collector', 'http://127.0.0.1:1', '--provider', 'openai'].concat([
        '--provider-lag',
        '15',
      ]),
      {},
      /--provider-lag: invalid duration/,
    ],
  ];
  it.each(cases)('%s: exit 2, refused, nothing shown', async (_, args, env, message) => {
    const r = await run(args, undefined, { ...baseEnv(), SECRET_MANAGER_EMULATOR_HOST: '127.0.0.1:1', ...env });
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(message)]);
    expect(leaks(r.stdout + r.stderr, [ADMIN])).toEqual([]);
  });

  it('an unreadable --admin-key-file is named by its option, not its path; exit 2', async () => {
    const r = await run(
      ['rotate', 'discard', NAME, '--provider', 'openai', '--admin-key-file', '/nonexistent/admin-key.txt'],
      undefined,
      { ...baseEnv(), KEYFLIP_PROVIDER_ADMIN_KEY: undefined },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--admin-key-file: cannot read the file \(ENOENT\)/);
    expect(r.stderr).not.toContain('admin-key.txt');
  });

  it('the help lists the provider options and auto', async () => {
    const r = await run(['rotate', '--help']);
    expect(r.code).toBe(0);
    for (const option of ['--admin-key-file', '--provider-project', '--provider-lag', '--mint', '--since', 'auto'])
      expect(r.stdout).toContain(option);
    const revoke = await run(['rotate', 'revoke', '--help']);
    expect(revoke.stdout).toContain('--keep-provider-key');
    expect(revoke.stdout).toContain('KEYFLIP_PROVIDER_ADMIN_KEY');
  });
});

describe('keyflip rotate with the OpenAI management API', () => {
  it('provision records the id, --mint mints, verify sees a beacon-less straggler, revoke deletes', async () => {
    // The first key, from stdin: its id at the provider is found by its hint and recorded.
    const first = await run(['rotate', 'provision', NAME, ...P(), '--json'], KEYS.v1);
    expect([first.code, first.stderr]).toEqual([0, '']);
    const v1Id = mock.keyId(KEYS.v1);
    expect(json(first).keys.find((k) => k.role === 'staged')?.records.provider?.keyId).toBe(v1Id);
    expect((await run(['rotate', 'probe', NAME, '--provider', 'openai', '--base-url', mock.url], KEYS.v1)).code).toBe(
      0,
    );
    expect((await run(['rotate', 'flip', NAME])).code).toBe(0);
    const apps = [await app('checkout-api')];

    // The next key, minted at the provider and stored straight in Secret Manager: never printed.
    const before = mock.keys().length;
    const minted = await run(['rotate', 'provision', NAME, ...P(), '--mint', '--key-name', 'keyflip-cli-test-1']);
    expect(minted.code).toBe(0);
    expect(minted.stdout).toMatch(/^OK: /);
    const made = mock.keys().slice(before);
    expect(made).toEqual([expect.objectContaining({ status: 'active' })]);
    expect(made[0]?.serviceAccountId).toEqual(expect.stringMatching(/^svc_acct_/));
    expect(minted.stdout).toContain(`openai ${made[0]?.id} (minted)`);
    const admin = await openSecretAdmin({ projectId: emulator.projectId, clientOptions: emulator.clientOptions });
    const versions = await admin.listVersions(`${NAME}_next`);
    const value = await admin.access(`${NAME}_next`, Math.max(...versions.map((v) => v.version)));
    await admin.close();
    learned.push(value);
    expect(mock.keyId(value)).toBe(made[0]?.id);

    // Probed with nothing on stdin (keyflip reads the staged key from NAME_next: no one holds a minted key), and
    // flipped; the app moves to it.
    const probed = await run(['rotate', 'probe', NAME, '--provider', 'openai', '--base-url', mock.url]);
    expect([probed.code, probed.stdout]).toEqual([0, expect.stringMatching(/^OK: openai accepts/)]);
    expect((await run(['rotate', 'flip', NAME])).code).toBe(0);
    await eventually('the app on the minted key', async () =>
      apps.every((a) => a.key.value === value) ? true : undefined,
    );

    // A straggler that sends no beacon keeps using v1: the provider's evidence alone blocks verify.
    const slow = straggler(KEYS.v1);
    const verifyArgs = ['rotate', 'verify', NAME, '--window', '2s', '--collector', collector.url, ...P()];
    // (The provider is asked from the first whole minute after the flip: up to a minute after it.)
    const blocked = await eventually(
      'verify blocked by the provider',
      async () => {
        const r = await run([...verifyArgs, '--json']);
        const v = json(r).verifications?.[0];
        const beaconsClear = v?.result.reason === 'clear' && v.windowElapsed;
        return r.code === 1 && beaconsClear && v.provider?.reason === 'in-use' ? r : undefined;
      },
      90_000,
    );
    expect(json(blocked).verifications?.[0]?.provider).toMatchObject({ keyId: v1Id, requests: expect.any(Number) });
    const text = await run(verifyArgs);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/over 2s: in use \(the provider\)\n {2}beacons: unused\n/);
    expect(text.stdout).toMatch(
      new RegExp(`provider openai \\(${v1Id}\\): in use: [\\d,]+ requests? at the provider (in the last 2s|since )`),
    );
    expect(text.stdout).toMatch(/ requests?, /);
    // The next command keeps the provider: run as printed, it sees the provider's evidence too.
    expect(text.stdout).toMatch(
      new RegExp(`\nNext: keyflip rotate (verify|revoke) ${NAME} --provider openai --window`),
    );

    // revoke refuses too (exit 1) while the straggler runs.
    const refused = await run(['rotate', 'revoke', NAME, '--window', '2s', '--collector', collector.url, ...P()]);
    expect([refused.code, refused.stdout]).toEqual([1, expect.stringMatching(/^REFUSED \(not-verified\)/)]);
    expect(slow.statuses.every((s) => s === 200)).toBe(true);

    // Forced (the straggler is known and stopped): disabled in Secret Manager and deleted at the provider.
    await slow.stop();
    const forced = ['rotate', 'revoke', NAME, '--force', '--reason', 'the straggler was stopped by hand', ...P()];
    const revoked = await run(forced);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain('At the provider:');
    expect(revoked.stdout).toMatch(new RegExp(`${NAME}_v1@\\d+ \\(kf_[0-9a-f]{12}\\) ${v1Id}: revoked \\(deleted\\)`));
    expect(mock.keys().find((k) => k.id === v1Id)?.status).toBe('deleted');
    expect(await chat(KEYS.v1)).toBe(401);
    expect(await chat(value)).toBe(200);
    expect((await run(forced)).stdout).toMatch(/^ALREADY DONE/);

    // audit reads the provider: the live key's age from its creation there, and a minted key no secret holds.
    const orphan = mock.mint('keyflip-OPENAI_API_KEY-20260101T000000');
    const audit = await run([
      'audit',
      '--provider',
      'openai',
      '--provider-base-url',
      mock.url,
      '--expiry-warning',
      '30d',
    ]);
    expect(audit.stdout).toMatch(/^OK: every live key is within 90d/);
    expect(audit.stdout).toContain(`openai ${made[0]?.id} active`);
    expect(audit.stdout).toMatch(/\(provider\)/);
    expect(audit.stdout).toMatch(
      new RegExp(`1 key at the provider that no secret holds:\n {2}${orphan.id} \\(keyflip-`),
    );
    expect(audit.code).toBe(0);
    learned.push(orphan.value);

    // status shows each key's id at the provider.
    const shown = await run(['rotate', 'status', NAME]);
    expect(shown.stdout).toContain('PROVIDER KEY');
    expect(shown.stdout).toContain(`openai ${v1Id} deleted`);

    // An emergency: the minted key leaked. Revoked at the provider at once (its service account deleted), with the
    // leak report: its requests per hour there, and the instances that held it by the beacons.
    for (let i = 0; i < 3; i++) expect(await chat(value)).toBe(200);
    const emergency = await run(
      ['rotate', 'emergency', NAME, ...P(), '--base-url', mock.url, '--since', '2h', '--collector', collector.url],
      KEYS.v3,
    );
    expect(emergency.code).toBe(0);
    expect(emergency.stdout).toMatch(/^OK: /);
    expect(emergency.stdout).toContain('Leak report');
    expect(emergency.stdout).toMatch(/[1-9]\d* requests per hour/);
    expect(emergency.stdout).toMatch(/held by 1 beaconing instance:\n\s+checkout-api on /);
    expect(emergency.stdout).toMatch(new RegExp(`${made[0]?.id}: revoked \\(deleted\\)`));
    expect(mock.keys().find((k) => k.id === made[0]?.id)?.status).toBe('deleted');
    expect(await chat(value)).toBe(401);
    for (const a of apps) await a.resolver.close();
  }, 180_000);
});

describe('the provider lags', () => {
  it('an old key with no use reported, the data short of the window end: cannot prove, exit 4', async () => {
    const name = 'LAGGING_KEY';
    for (const key of [KEYS.l1, KEYS.l2]) {
      expect((await run(['rotate', 'provision', name, ...P()], key)).code).toBe(0);
      expect((await run(['rotate', 'probe', name, '--provider', 'openai', '--base-url', mock.url], key)).code).toBe(0);
      expect((await run(['rotate', 'flip', name])).code).toBe(0);
    }
    const args = ['rotate', 'verify', name, '--window', '1s', '--collector', collector.url, ...P().slice(0, -1), '1h'];
    const lagging = await eventually('the window to elapse since the flip', async () => {
      const r = await run(args);
      return r.stdout.includes('window not elapsed') ? undefined : r;
    });
    expect(lagging.code).toBe(4);
    expect(lagging.stdout).toMatch(/^CANNOT PROVE|^NOT OK/);
    expect(lagging.stdout).toMatch(
      new RegExp(
        `provider openai \\(${mock.keyId(KEYS.l1)}\\): cannot prove: ` +
          '.*(complete until|nothing to ask the provider yet).*verify again after',
      ),
    );
    const refused = await run(['rotate', 'revoke', name, '--window', '1s', '--collector', collector.url, ...P()]);
    expect(refused.code).not.toBe(0);
    expect(mock.keys().find((k) => k.id === mock.keyId(KEYS.l1))?.status).toBe('active');
  });
});

describe('a mint that was never stored (a crash between the mint and the store)', () => {
  it('status says so; discard with the provider revokes the key there and clears the mark', async () => {
    const name = 'CRASHED_KEY';
    const first = mock.mint('console key');
    learned.push(first.value);
    expect((await run(['rotate', 'provision', name, ...P()], first.value)).code).toBe(0);
    expect((await run(['rotate', 'probe', name, '--provider', 'openai', '--base-url', mock.url])).code).toBe(0);
    expect((await run(['rotate', 'flip', name])).code).toBe(0);
    // The crash: a key minted at the provider under the mark's name, the mark left on the staging secret.
    // (minted as keyflip mints: through a service account of that name, not a console key that has the name)
    const lost = await fetch(`${mock.url}/organization/projects/${PROJECT}/service_accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'keyflip-CRASHED_KEY-20261205T000000' }),
    })
      .then((r) => r.json() as Promise<{ api_key: { id: string; value: string } }>)
      .then((account) => account.api_key);
    learned.push(lost.value);
    const admin = await openSecretAdmin({ projectId: emulator.projectId, clientOptions: emulator.clientOptions });
    const meta = await admin.getSecret(`${name}_next`);
    if (meta === undefined) throw new Error('no staging secret');
    const mark = { provider: 'openai', name: 'keyflip-CRASHED_KEY-20261205T000000', at: '2026-12-05T00:00:00.000Z' };
    await admin.updateSecret(
      `${name}_next`,
      { annotations: { ...meta.annotations, 'keyflip-minting': JSON.stringify(mark) } },
      meta.etag,
    );
    await admin.close();

    const status = await run(['rotate', 'status', name]);
    expect(status.stdout).toMatch(/minted at 2026-12-05T00:00:00.000Z .*not stored/);
    const withoutProvider = await run(['rotate', 'discard', name]);
    // Without the provider it cannot revoke the lost key: exit 2, and it says what it needs.
    expect([withoutProvider.code, withoutProvider.stderr]).toEqual([2, expect.stringMatching(/management API/)]);
    const discarded = await run(['rotate', 'discard', name, ...P()]);
    expect(discarded.code).toBe(0);
    expect(discarded.stdout).toMatch(
      new RegExp(`keyflip-CRASHED_KEY-20261205T000000 ${lost.id}: revoked \\(deleted\\)`),
    );
    expect(mock.keys().find((k) => k.id === lost.id)?.status).toBe('deleted');
    expect((await run(['rotate', 'status', name])).stdout).not.toMatch(/not stored/);
  });
});
