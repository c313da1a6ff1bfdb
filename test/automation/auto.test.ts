/**
 * `keyflip rotate auto`, the scheduled rotation, through the CLI entry (`main`) as cron would run it, again and
 * again: against the Secret Manager emulator over gRPC, the mock provider's management API (OpenAI mints, Anthropic
 * cannot), and a collector fed by a real app's beacons. Each run advances one step; its exit code says whether a
 * person must act. No output may hold a key or the admin key.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSink, usageBeacon } from '../../src/beacon/index.js';
import { startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import { createResolver, type Resolver } from '../../src/index.js';
import { gcpSecretManager } from '../../src/sources/gcp.js';
import {
  startMockProvider,
  startSecretManagerEmulator,
  type MockProvider,
  type SecretManagerEmulator,
} from '../../src/testing/index.js';
import { leaks } from '../helpers.js';
import { runInProcess } from '../support/cli.js';

const ADMIN = 'sk-admin-autocli-ADMIN-Zq8Xv3Lm9Tn2Rb7Kd4Hs6Wy1Pc5Gf0Ja';
const ANTHROPIC_ADMIN = 'sk-ant-admin01-autocli-Xv3Lm9Tn2Rb7Kd4Hs6Wy1Pc5Gf0JaZq8';
const WRONG_ADMIN = 'sk-admin-autocli-WRONG-Lm9Tn2Rb7Kd4Hs6Wy1Pc5Gf0JaZq8Xv3';
const KEYS = {
  o1: 'sk-autocli-ONE-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1111',
  a1: 'sk-ant-api03-autocli-A1-bbbbbbbbbbbbbbbbbbbbbbbbbbbb2222',
  a2: 'sk-ant-api03-autocli-A2-cccccccccccccccccccccccccccc3333',
};

let emulator: SecretManagerEmulator;
let openai: MockProvider;
let anthropic: MockProvider;
let collector: CollectorServer;
let dir: string;
const outputs: string[] = [];
/** Keys learned as the test goes (the minted one, read from the emulator): the leak check covers them too. */
const learned: string[] = [];
const resolvers: Resolver[] = [];

type Run = Awaited<ReturnType<typeof runInProcess>>;

async function run(args: string[], stdin?: string, env: Record<string, string | undefined> = {}): Promise<Run> {
  const result = await runInProcess(args, {
    stdin,
    env: {
      SECRET_MANAGER_EMULATOR_HOST: emulator.host,
      KEYFLIP_PROJECT: emulator.projectId,
      KEYFLIP_PROVIDER_ADMIN_KEY: ADMIN,
      KEYFLIP_PROVIDER_PROJECT: 'proj_keyflip',
      ...env,
    },
  });
  outputs.push(result.stdout, result.stderr);
  return result;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** An app on `NAME_v2 ?? NAME_v1` that beacons to the collector every second. */
async function app(name: string, service: string) {
  const resolver = createResolver({
    sources: [gcpSecretManager({ projectId: emulator.projectId, clientOptions: emulator.clientOptions })],
    refreshMs: 150,
    beacon: usageBeacon({ service, sink: httpSink({ url: collector.url }), intervalMs: 1_000 }),
  });
  resolvers.push(resolver);
  const key = resolver.secret(name, `${name}_v2 ?? ${name}_v1`);
  await resolver.ready();
  return key;
}

/** The first key of a ring, by hand: provision (its id found by its hint), probe, flip. */
async function firstKey(name: string, key: string, provider: string[], probeUrl: string): Promise<void> {
  expect((await run(['rotate', 'provision', name, ...provider], key)).code).toBe(0);
  const probed = await run(['rotate', 'probe', name, '--provider', provider[1] as string, '--base-url', probeUrl], key);
  expect(probed.code).toBe(0);
  expect((await run(['rotate', 'flip', name])).code).toBe(0);
}

interface JsonResult {
  command: string;
  outcome: string;
  ok: boolean;
  refusal?: string;
  message: string;
  keys: { role: string; state: string; records: { provider?: { keyId: string; minted?: boolean } } }[];
}
const json = (r: Run): JsonResult => JSON.parse(r.stdout) as JsonResult;

beforeAll(async () => {
  emulator = await startSecretManagerEmulator();
  openai = await startMockProvider({ preset: 'openai', keys: [KEYS.o1], management: { adminKeys: [ADMIN] } });
  anthropic = await startMockProvider({
    preset: 'anthropic',
    keys: [KEYS.a1, KEYS.a2],
    management: { adminKeys: [ANTHROPIC_ADMIN] },
  });
  collector = await startCollectorServer({});
  dir = await mkdtemp(join(tmpdir(), 'keyflip-auto-'));
});

afterAll(async () => {
  await Promise.all(resolvers.map((r) => r.close()));
  await collector?.close();
  await openai?.close();
  await anthropic?.close();
  await emulator?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
  const secrets = [...Object.values(KEYS), ...learned, ADMIN, ANTHROPIC_ADMIN, WRONG_ADMIN];
  expect(leaks(outputs.join('\n'), secrets)).toEqual([]);
});

describe('rotate auto with OpenAI: mint, probe and flip; wait for the gate; revoke at both ends', () => {
  it('each run advances one step; exit 0 throughout; the old key ends deleted at the provider', async () => {
    const name = 'OPENAI_API_KEY';
    const provider = ['--provider', 'openai', '--provider-base-url', openai.url];
    await firstKey(name, KEYS.o1, provider, openai.url);
    const key = await app(name, 'checkout-api');
    const auto = (maxAge: string, ...more: string[]) =>
      run([
        'rotate',
        'auto',
        name,
        ...provider,
        '--base-url',
        openai.url,
        '--provider-lag',
        '0s',
        '--window',
        '2s',
        '--collector',
        collector.url,
        '--max-age',
        maxAge,
        ...more,
      ]);

    // The live key is young: nothing to do.
    const young = await auto('90d');
    expect([young.code, young.stdout]).toEqual([0, expect.stringMatching(/^OK: nothing to do: .* within the 90d/)]);

    // Over the policy: one run mints, stages, probes and flips. The value is never printed.
    const rotated = await auto('1ms', '--json');
    expect([rotated.code, json(rotated).command, json(rotated).ok]).toEqual([0, 'auto', true]);
    const live = json(rotated).keys.find((k) => k.role === 'live');
    expect(live?.records.provider?.minted).toBe(true);
    const mintedId = live?.records.provider?.keyId;
    expect(openai.keys().find((k) => k.id === mintedId)?.status).toBe('active');
    await eventually('the app on the minted key', async () =>
      openai.keyId(key.value) === mintedId ? true : undefined,
    );
    learned.push(key.value);

    // The next run waits for the gate: exit 0, "waiting for …".
    const waiting = await auto('90d');
    expect([waiting.code, waiting.stdout]).toEqual([0, expect.stringMatching(/^WAITING: waiting for /)]);

    // Run after run, until the gate is clear: then the old key is disabled and deleted at the provider.
    const v1Id = openai.keyId(KEYS.o1);
    const revoked = await eventually(
      'auto to revoke the old key',
      async () => {
        const r = await auto('90d');
        expect(r.code).toBe(0);
        return r.stdout.includes('At the provider:') ? r : undefined;
        // The provider's usage is read from the first whole minute after the flip: up to a minute more than the window.
      },
      100_000,
    );
    expect(revoked.stdout).toMatch(new RegExp(`${v1Id}: revoked \\(deleted\\)`));
    expect(openai.keys().find((k) => k.id === v1Id)?.status).toBe('deleted');
    const after = await auto('90d');
    expect([after.code, after.stdout]).toEqual([0, expect.stringMatching(/^OK: nothing to do/)]);
  }, 150_000);

  it('a refused admin key: exit 2, the admin key not shown; the help documents the exit codes', async () => {
    const r = await run(
      ['rotate', 'auto', 'OPENAI_API_KEY', '--provider', 'openai', '--provider-base-url', openai.url].concat([
        '--window',
        '2s',
        '--collector',
        collector.url,
        '--max-age',
        '1ms',
      ]),
      undefined,
      { KEYFLIP_PROVIDER_ADMIN_KEY: WRONG_ADMIN },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^keyflip rotate auto: /);
    const help = await run(['rotate', 'auto', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Exit codes: 0 done, nothing to do, or waiting/);
    expect(help.stdout).toContain('4 the gate cannot prove');
    const missing = await run(['rotate', 'auto', 'OPENAI_API_KEY', '--collector', collector.url, '--window', '2s']);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/--provider is required/)]);
  });

  it('without --collector or --prometheus: a usage error before anything is read, minted or written', async () => {
    const keysBefore = openai.keys().length;
    const writes = (): number =>
      ['CreateSecret', 'AddSecretVersion', 'UpdateSecret'].reduce((n, method) => n + emulator.calls(method), 0);
    const writesBefore = writes();
    const r = await run(
      ['rotate', 'auto', 'NO_USAGE_KEY', '--provider', 'openai', '--provider-base-url', openai.url].concat([
        '--base-url',
        openai.url,
        '--window',
        '2s',
        '--max-age',
        '1ms',
      ]),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^keyflip rotate auto: rotate auto needs --collector URL or --prometheus URL: /);
    expect(r.stdout).toBe('');
    expect(openai.keys()).toHaveLength(keysBefore);
    expect(writes()).toBe(writesBefore);
  });
});

describe('rotate auto with Anthropic: it cannot mint', () => {
  it('over the policy without --value-file: exit 1 and why; with the key in a file: rotated', async () => {
    const name = 'ANTHROPIC_API_KEY';
    const env = { KEYFLIP_PROVIDER_ADMIN_KEY: ANTHROPIC_ADMIN, KEYFLIP_PROVIDER_PROJECT: undefined };
    const provider = ['--provider', 'anthropic', '--provider-base-url', anthropic.url];
    for (const step of [
      ['rotate', 'provision', name, ...provider],
      ['rotate', 'probe', name, '--provider', 'anthropic', '--base-url', anthropic.url],
    ])
      expect((await run(step, KEYS.a1, env)).code).toBe(0);
    expect((await run(['rotate', 'flip', name], undefined, env)).code).toBe(0);
    const args = ['rotate', 'auto', name, ...provider, '--base-url', anthropic.url, '--window', '2s'].concat([
      '--collector',
      collector.url,
      '--max-age',
      '1ms',
    ]);
    const stuck = await run(args, undefined, env);
    expect(stuck.code).toBe(1);
    expect(stuck.stdout).toMatch(/^REFUSED \(cannot-mint\): .*anthropic cannot mint keys by API/);
    const file = join(dir, 'new-key.txt');
    await writeFile(file, `${KEYS.a2}\n`);
    const rotated = await run([...args, '--value-file', file, '--json'], undefined, env);
    expect([rotated.code, json(rotated).outcome]).toEqual([0, 'done']);
    expect(json(rotated).keys.find((k) => k.role === 'live')?.records.provider?.keyId).toBe(anthropic.keyId(KEYS.a2));
  });
});
