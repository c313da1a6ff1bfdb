/**
 * `keyflip rotate rollback` and `keyflip rotate migrate` through the CLI entry (`main`), against the Secret Manager
 * emulator through the real client, with an app (a real resolver refreshing every 150 ms) on `NAME_v2 ?? NAME_v1`:
 * exit codes 0 (done, already done, dry run), 1 (refused), 2 (usage, bad input), 3 (stopped part-way, finished by
 * running it again), the text and JSON output, and no key in any output.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, fingerprint, type Resolver } from '../../src/index.js';
import { gcpSecretManager } from '../../src/sources/gcp.js';
import {
  startMockProvider,
  startSecretManagerEmulator,
  type MockProvider,
  type SecretManagerEmulator,
} from '../../src/testing/index.js';
import { leaks } from '../helpers.js';
import { runInProcess } from '../support/cli.js';

const KEYS = {
  v1: 'sk-rollcli-ONE-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  v2: 'sk-rollcli-TWO-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  v3: 'sk-rollcli-THREE-cccccccccccccccccccccccccccccc',
  m1: 'sk-rollcli-MIG1-dddddddddddddddddddddddddddddd',
  m2: 'sk-rollcli-MIG2-eeeeeeeeeeeeeeeeeeeeeeeeeeeeee',
  m3: 'sk-rollcli-MIG3-ffffffffffffffffffffffffffffff',
};
const FP = Object.fromEntries(Object.entries(KEYS).map(([k, v]) => [k, fingerprint(v)])) as Record<
  keyof typeof KEYS,
  string
>;

let emulator: SecretManagerEmulator;
let mock: MockProvider;
const outputs: string[] = [];
const resolvers: Resolver[] = [];

type Run = { code: number; stdout: string; stderr: string };
async function run(args: string[], stdin?: string): Promise<Run> {
  const result = await runInProcess(args, {
    stdin,
    env: { SECRET_MANAGER_EMULATOR_HOST: emulator.host, KEYFLIP_PROJECT: emulator.projectId },
  });
  outputs.push(result.stdout, result.stderr);
  return result;
}
const json = (r: Run) =>
  JSON.parse(r.stdout) as {
    outcome: string;
    refusal?: string;
    layout: string;
    message: string;
    steps: { description: string; done: boolean }[];
    next: { command: string };
    keys: { label: string; role: string; fingerprint?: string; records: Record<string, unknown> }[];
  };

async function eventually<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** An app on `chain`, refreshing every 150 ms. */
async function app(name: string, chain: string) {
  const resolver = createResolver({
    sources: [gcpSecretManager({ projectId: emulator.projectId, clientOptions: emulator.clientOptions })],
    refreshMs: 150,
  });
  resolvers.push(resolver);
  const handle = resolver.secret(name, chain);
  await resolver.ready();
  return handle;
}

/** provision → probe → flip, through the CLI. */
async function rotateTo(name: string, value: string): Promise<void> {
  expect((await run(['rotate', 'provision', name], value)).code).toBe(0);
  expect((await run(['rotate', 'probe', name, '--provider', 'openai', '--base-url', mock.url], value)).code).toBe(0);
  expect((await run(['rotate', 'flip', name])).code).toBe(0);
}

beforeAll(async () => {
  emulator = await startSecretManagerEmulator();
  mock = await startMockProvider({ preset: 'openai', keys: Object.values(KEYS) });
});

afterAll(async () => {
  await Promise.all(resolvers.map((r) => r.close()));
  await mock?.close();
  await emulator?.close();
  // Not one output of any command held a key.
  expect(leaks(outputs.join('\n'), Object.values(KEYS))).toEqual([]);
});

describe('keyflip rotate rollback', () => {
  it('exit 0 when done, already done or a dry run; 1 when refused; the app returns to the previous key', async () => {
    const name = 'ROLL_KEY';
    emulator.addVersion(`${name}_v1`, KEYS.v1);
    const key = await app(name, `${name}_v2 ?? ${name}_v1`);
    expect(key.info?.fingerprint).toBe(FP.v1);

    const nothing = await run(['rotate', 'rollback', name]);
    expect([nothing.code, nothing.stdout.split('\n')[0]]).toEqual([
      1,
      expect.stringMatching(/^REFUSED \(nothing-to-roll-back\): /),
    ]);

    await rotateTo(name, KEYS.v2);
    await eventually('the app on v2', () => (key.info?.fingerprint === FP.v2 ? true : undefined));

    const dry = await run(['rotate', 'rollback', name, '--reason', 'the new key gets 429s', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^DRY RUN: would roll back /);
    expect(dry.stdout).toContain('Would write:');

    const done = await run(['rotate', 'rollback', name, '--reason', 'the new key gets 429s']);
    expect(done.code).toBe(0);
    expect(done.stdout).toMatch(
      new RegExp(`^OK: rolled back ${name}_v2@1 \\(${FP.v2}\\) to ${name}_v1@1 \\(${FP.v1}\\)`),
    );
    expect(done.stdout).toContain(`rolled back: ${name}_v2@1 (${FP.v2}) at `);
    expect(done.stdout).toContain(`, to ${FP.v1}: the new key gets 429s`);
    expect((await run(['rotate', 'status', name])).stdout).toContain(`rolled back: ${name}_v2@1 (${FP.v2})`);
    await eventually('the app back on v1', () => (key.info?.fingerprint === FP.v1 ? true : undefined));

    const again = await run(['rotate', 'rollback', name, '--json']);
    expect(again.code).toBe(0);
    const answer = json(again);
    expect(answer).toMatchObject({ outcome: 'already-done', layout: 'pair' });
    expect(answer.keys.flatMap((k) => (k.records['rolled-back'] ? [k.records['rolled-back']] : []))).toEqual([
      expect.objectContaining({ fingerprint: FP.v2, to: FP.v1, reason: 'the new key gets 429s' }),
    ]);
    expect((await run(['rotate', 'rollback', name])).stdout).toMatch(/^ALREADY DONE: /);

    // Once the old key is revoked, refused.
    await rotateTo(name, KEYS.v3);
    await eventually('the app on v3', () => (key.info?.fingerprint === FP.v3 ? true : undefined));
    expect((await run(['rotate', 'revoke', name, '--force', '--reason', 'v1 retired'])).code).toBe(0);
    const late = await run(['rotate', 'rollback', name, '--json']);
    expect([late.code, json(late).outcome, json(late).refusal]).toEqual([1, 'refused', 'old-key-revoked']);
    const text = await run(['rotate', 'rollback', name]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^REFUSED \(old-key-revoked\): /);
    expect(key.info?.fingerprint).toBe(FP.v3);
  });

  it('exit 3 when stopped part-way; status names it; running it again finishes it', async () => {
    const name = 'STOP_KEY';
    emulator.addVersion(`${name}_v1`, KEYS.v1);
    await rotateTo(name, KEYS.v2);
    emulator.failNext('DisableSecretVersion', 14);
    const stopped = await run(['rotate', 'rollback', name]);
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toMatch(/^keyflip rotate rollback: rotate rollback STOP_KEY stopped at write 3 of 4 /);
    const state = await run(['rotate', 'status', name, '--json']);
    expect([state.code, json(state).next.command]).toEqual([0, 'rollback']);
    const blocked = await run(['rotate', 'revoke', name, '--force', '--reason', 'not now', '--json']);
    expect([blocked.code, json(blocked).refusal]).toEqual([1, 'pending']);
    const finished = await run(['rotate', 'rollback', name]);
    expect(finished.code).toBe(0);
    expect(finished.stdout).toContain('finished the rollback that had stopped part-way');
  });

  it('exit 2 for bad usage or input; --help', async () => {
    expect((await run(['rotate', 'rollback'])).code).toBe(2);
    expect((await run(['rotate', 'rollback', 'X', '--force'])).code).toBe(2);
    expect((await run(['rotate', 'rollback', 'X', '--reason', 'ab'])).code).toBe(2);
    const keyAsReason = await run(['rotate', 'rollback', 'X', '--reason', `oops ${KEYS.v3}`]);
    expect(keyAsReason.code).toBe(2);
    expect(keyAsReason.stderr).toContain('looks like it holds a key');
    const help = await run(['rotate', 'rollback', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('keyflip rotate rollback SECRET [--reason "why"]');
    expect((await run(['rotate', '--help'])).stdout).toMatch(/rollback {3}SECRET/);
  });
});

describe('keyflip rotate migrate', () => {
  it('moves a legacy suffix ring to pair (exit 0), then ALREADY DONE; refuses --layout (exit 2)', async () => {
    const name = 'MIG_KEY';
    for (const [n, value] of [
      [1, KEYS.m1],
      [2, KEYS.m2],
      [3, KEYS.m3],
    ] as const) {
      emulator.createSecret(`${name}_v${n}`, {
        labels: { 'keyflip-managed': 'true', 'keyflip-layout': 'suffix' },
        annotations: { 'keyflip-name': name },
      });
      emulator.addVersion(`${name}_v${n}`, value);
    }
    emulator.disableVersion(`${name}_v1`, '1');
    const short = await app(name, `${name}_v2 ?? ${name}_v1`);
    const long = await app(name, `${name}_v3 ?? ${name}_v2 ?? ${name}_v1`);
    expect([short.info?.fingerprint, long.info?.fingerprint]).toEqual([FP.m2, FP.m3]);

    expect((await run(['rotate', 'migrate', name, '--layout', 'pair'])).code).toBe(2);
    const migrated = await run(['rotate', 'migrate', name]);
    expect(migrated.code).toBe(0);
    expect(migrated.stdout).toMatch(new RegExp(`^OK: ${name} is in the pair layout since `));
    expect(migrated.stdout).toContain(`${name}_v3 stays enabled`);
    await eventually('the short chain on the live key', () => (short.info?.fingerprint === FP.m3 ? true : undefined));
    expect(long.info?.fingerprint).toBe(FP.m3);
    const again = await run(['rotate', 'migrate', name, '--json']);
    expect([again.code, json(again).outcome, json(again).layout]).toEqual([0, 'already-done', 'pair']);
    const status = await run(['rotate', 'status', name, '--json']);
    expect(json(status).layout).toBe('pair');
  });

  it('exit 1 while a rotation is in flight; --help', async () => {
    const name = 'MIG_STAGED';
    for (const n of [1, 2, 3]) {
      emulator.createSecret(`${name}_v${n}`, {
        labels: { 'keyflip-managed': 'true', 'keyflip-layout': 'suffix' },
        annotations: { 'keyflip-name': name },
      });
    }
    emulator.addVersion(`${name}_v3`, KEYS.m3);
    expect((await run(['rotate', 'provision', name], KEYS.m1)).code).toBe(0);
    const refused = await run(['rotate', 'migrate', name]);
    expect([refused.code, refused.stdout.split('\n')[0]]).toEqual([
      1,
      expect.stringMatching(/^REFUSED \(staged-exists\): MIG_STAGED_next@1 is staged/),
    ]);
    const help = await run(['rotate', 'migrate', '--help']);
    expect([help.code, help.stdout]).toEqual([0, expect.stringContaining('keyflip rotate migrate SECRET')]);
    expect(help.stdout).toContain('Exit codes');
  });
});
