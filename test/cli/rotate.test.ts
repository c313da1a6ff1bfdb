/**
 * `keyflip rotate` and `keyflip audit` through the CLI entry (`main`), against the Secret Manager emulator
 * through the real client over gRPC, the mock provider (openai), and a collector fed by real resolvers'
 * beacons over HTTP. The last test runs the built-from-source CLI as a child process. No output may hold
 * a key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpSink, usageBeacon } from '../../src/beacon/index.js';
import { providers } from '../../src/clients/index.js';
import { authFetch } from '../../src/clients/auth-fetch.js';
import { startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import { createResolver, fingerprint, memorySource, type Resolver, type SecretHandle } from '../../src/index.js';
import { gcpSecretManager } from '../../src/sources/gcp.js';
import {
  startMockProvider,
  startSecretManagerEmulator,
  type MockProvider,
  type SecretManagerEmulator,
} from '../../src/testing/index.js';
import { leaks } from '../helpers.js';
import { type CliRun, runCli, runInProcess } from '../support/cli.js';

const KEYS = {
  v1: 'sk-rotcli-ONE-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  v2: 'sk-rotcli-TWO-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb',
  v3: 'sk-rotcli-THREE-cccccccccccccccccccccccccccccc',
  dead: 'sk-rotcli-DEAD-dddddddddddddddddddddddddddddd',
  a1: 'sk-rotcli-ALIAS1-eeeeeeeeeeeeeeeeeeeeeeeeeeeeee',
  a2: 'sk-rotcli-ALIAS2-ffffffffffffffffffffffffffffff',
  c1: 'sk-rotcli-CRASH1-gggggggggggggggggggggggggggggg',
  c2: 'sk-rotcli-CRASH2-hhhhhhhhhhhhhhhhhhhhhhhhhhhhhh',
};
const FP = Object.fromEntries(Object.entries(KEYS).map(([k, v]) => [k, fingerprint(v)])) as Record<
  keyof typeof KEYS,
  string
>;

let emulator: SecretManagerEmulator;
let mock: MockProvider;
let collector: CollectorServer;
const outputs: string[] = [];
const resolvers: Resolver[] = [];

type Run = CliRun & { code: number };
/** The apps' beacon interval: the shortest a beacon may declare (BEACON_LIMITS.intervalMs.min). */
const BEACON_MS = 1_000;

/** `keyflip ARGS…` in process, against the emulator; every output is kept for the leak check. */
async function run(args: string[], stdin?: string, env: Record<string, string> = {}): Promise<Run> {
  const result = await runInProcess(args, {
    stdin,
    env: { SECRET_MANAGER_EMULATOR_HOST: emulator.host, KEYFLIP_PROJECT: emulator.projectId, ...env },
  });
  outputs.push(result.stdout, result.stderr);
  return result;
}

interface JsonResult {
  outcome: string;
  refusal?: string;
  message: string;
  keys: {
    label: string;
    state: string;
    role: string;
    fingerprint?: string;
    records: Record<string, Record<string, unknown>>;
  }[];
  next: { command: string };
  notes: string[];
  steps: { description: string; done: boolean }[];
  verifications?: { key: string; result: { ok: boolean; offenders: { service: string; pid: number }[] } }[];
}
const json = (r: Run): JsonResult => JSON.parse(r.stdout) as JsonResult;

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An app: resolves the chain from the emulator, refreshes every 150 ms, beacons every second (the shortest interval
 * a beacon may declare), sends requests
 * through authFetch.
 */
async function app(service: string, chain: string) {
  const resolver = createResolver({
    sources: [gcpSecretManager({ projectId: emulator.projectId, clientOptions: emulator.clientOptions })],
    refreshMs: 150,
    beacon: usageBeacon({ service, sink: httpSink({ url: collector.url }), intervalMs: BEACON_MS }),
  });
  resolvers.push(resolver);
  const events: unknown[] = [];
  for (const event of ['resolve', 'rotate', 'fallback', 'error', 'revoke'] as const)
    resolver.on(event, (e: unknown) => events.push(e));
  let resolves = 0;
  resolver.on('resolve', () => resolves++);
  const key = resolver.secret('OPENAI_API_KEY', chain);
  await resolver.ready();
  const send = authFetch(key, providers.openai);
  const stats = { ok: 0, failed: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const res = await send(`${mock.url}/models`);
      await res.arrayBuffer();
      if (res.ok) stats.ok++;
      else stats.failed++;
      await new Promise((r) => setTimeout(r, 20)); // the app's pace; no assertion waits on it
    }
  })();
  return {
    resolver,
    key,
    stats,
    events,
    /** Successful resolutions so far: the first, then one per refresh. */
    resolves: () => resolves,
    async stop() {
      stopped = true;
      await loop;
      await resolver.close();
    },
  };
}

/** A stale process: read the key once (as `process.env` code does) and beacons it forever. */
async function staleApp(value: string) {
  const resolver = createResolver({
    sources: [memorySource({ OPENAI_API_KEY: value })],
    beacon: usageBeacon({ service: 'stale-worker', sink: httpSink({ url: collector.url }), intervalMs: BEACON_MS }),
  });
  resolvers.push(resolver);
  const key = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY');
  await resolver.ready();
  void key.value;
  return resolver;
}

beforeAll(async () => {
  emulator = await startSecretManagerEmulator();
  mock = await startMockProvider({
    preset: 'openai',
    keys: [KEYS.v1, KEYS.v2, KEYS.v3, KEYS.a1, KEYS.a2, KEYS.c1, KEYS.c2],
  });
  collector = await startCollectorServer({});
});

afterAll(async () => {
  await Promise.all(resolvers.map((r) => r.close()));
  await collector?.close();
  await mock?.close();
  await emulator?.close();
  // Not one output of any command held a key.
  expect(leaks(outputs.join('\n'), Object.values(KEYS))).toEqual([]);
});

const candidate = (key: SecretHandle<string>): string | undefined => key.info?.candidate;

describe('keyflip rotate, suffix layout: the whole playbook, with apps running', () => {
  const PLAYBOOK =
    'provision → probe → flip → verify (refused while a stale process beacons v1) → revoke; ' +
    'then an emergency to v3; zero failed requests';
  it(PLAYBOOK, async () => {
    // The first key: staged, probed, flipped.
    // Legacy: the layout is given on the first provision (the default is pair) and read from the labels after.
    const first = await run(
      ['rotate', 'provision', 'OPENAI_API_KEY', '--layout', 'suffix', '--environment', 'prod'],
      `${KEYS.v1}\n`,
    );
    expect(first.code).toBe(0);
    expect(
      (await run(['rotate', 'probe', 'OPENAI_API_KEY', '--provider', 'openai', '--base-url', mock.url], KEYS.v1)).code,
    ).toBe(0);
    expect((await run(['rotate', 'flip', 'OPENAI_API_KEY'])).code).toBe(0);

    const chain = 'OPENAI_API_KEY_v3 ?? OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1';
    const apps = [await app('checkout-api', chain), await app('billing-worker', chain)];
    expect(apps.map((a) => candidate(a.key))).toEqual(['OPENAI_API_KEY_v1', 'OPENAI_API_KEY_v1']);
    const stale = await staleApp(KEYS.v1);

    // 1. Provision v2: staged in OPENAI_API_KEY_next, a secret no app's chain names: invisible to the apps.
    const provisioned = await run(['rotate', 'provision', 'OPENAI_API_KEY', '--json'], KEYS.v2);
    expect(provisioned.code).toBe(0);
    expect(json(provisioned).keys.map((k) => [k.label, k.state, k.role, k.fingerprint])).toEqual([
      ['OPENAI_API_KEY_v1', 'ENABLED', 'live', FP.v1],
      ['OPENAI_API_KEY_next@2', 'ENABLED', 'staged', FP.v2],
    ]);
    expect(json(provisioned).next.command).toBe('probe');
    const staging = apps.map((a) => a.resolves());
    await eventually('two refreshes of every app after the provision', () =>
      apps.every((a, i) => a.resolves() >= (staging[i] ?? 0) + 2) ? true : undefined,
    );
    expect(apps.map((a) => [candidate(a.key), a.key.info?.fingerprint])).toEqual([
      ['OPENAI_API_KEY_v1', FP.v1],
      ['OPENAI_API_KEY_v1', FP.v1],
    ]);
    // Refusals: a second provision, an emergency while staged, a flip before the probe, a probe with another key.
    const twice = await run(['rotate', 'provision', 'OPENAI_API_KEY'], KEYS.v3);
    expect([twice.code, twice.stdout.split('\n')[0]]).toEqual([
      1,
      expect.stringMatching(/^REFUSED \(staged-exists\): OPENAI_API_KEY_next@2 .* is already staged/),
    ]);
    const emergencyWhileStaged = await run(['rotate', 'emergency', 'OPENAI_API_KEY', '--json'], KEYS.v3);
    expect([emergencyWhileStaged.code, json(emergencyWhileStaged).refusal]).toEqual([1, 'staged-exists']);
    const early = await run(['rotate', 'flip', 'OPENAI_API_KEY', '--json']);
    expect([early.code, json(early).refusal]).toEqual([1, 'not-probed']);
    const wrong = await run(
      ['rotate', 'probe', 'OPENAI_API_KEY', '--provider', 'openai', '--base-url', mock.url, '--json'],
      KEYS.v3,
    );
    expect([wrong.code, json(wrong).refusal]).toEqual([1, 'fingerprint-mismatch']);
    expect(mock.requestsFor(KEYS.v2)).toBe(0);

    // 2. Probe, 3. flip; the apps rotate on their next refresh.
    const probed = await run(
      ['rotate', 'probe', 'OPENAI_API_KEY', '--provider', 'openai', '--base-url', mock.url],
      KEYS.v2,
    );
    expect(probed.code).toBe(0);
    expect(probed.stdout).toContain(`OK: openai accepts OPENAI_API_KEY_next@2 (${FP.v2}): alive`);
    const flipped = await run(['rotate', 'flip', 'OPENAI_API_KEY']);
    expect(flipped.code).toBe(0);
    expect(flipped.stdout).toMatch(new RegExp(`^OK: OPENAI_API_KEY_v2 \\(${FP.v2}\\) is live`));
    expect((await run(['rotate', 'flip', 'OPENAI_API_KEY'])).stdout).toMatch(
      /^ALREADY DONE: OPENAI_API_KEY_v2 is live/,
    );
    await eventually('both apps on v2', () =>
      apps.every((a) => candidate(a.key) === 'OPENAI_API_KEY_v2') ? true : undefined,
    );

    // 4. Verify refuses while the stale process beacons v1, and names it; so does revoke.
    // The shortest window the evidence can back: twice the beacons' interval.
    const args = ['--window', '2s', '--collector', collector.url];
    const blocked = await eventually('verify to see the apps on v2 and the stale process on v1', async () => {
      const r = await run(['rotate', 'verify', 'OPENAI_API_KEY', ...args, '--json']);
      const offenders = json(r).verifications?.[0]?.result.offenders ?? [];
      return r.code === 1 && offenders.length > 0 && offenders.every((o) => o.service === 'stale-worker')
        ? r
        : undefined;
    });
    expect(json(blocked).verifications?.[0]?.result.offenders).toEqual([
      expect.objectContaining({ service: 'stale-worker', pid: process.pid }),
    ]);
    const text = await run(['rotate', 'verify', 'OPENAI_API_KEY', ...args]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`OPENAI_API_KEY_v1 (${FP.v1}) is still used: stale-worker on`);
    const refused = await run(['rotate', 'revoke', 'OPENAI_API_KEY', ...args]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(
      /^REFUSED \(not-verified\): revoke refused: OPENAI_API_KEY_v1 .* is still used: stale-worker/,
    );

    // The stale process goes; once a whole window passes without it, verify passes and revoke disables v1.
    await stale.close();
    await eventually('verify to pass', async () =>
      (await run(['rotate', 'verify', 'OPENAI_API_KEY', ...args])).code === 0 ? true : undefined,
    );
    const revoked = await run(['rotate', 'revoke', 'OPENAI_API_KEY', ...args, '--json']);
    expect(revoked.code).toBe(0);
    expect(json(revoked).keys.map((k) => [k.label, k.state, k.role])).toEqual([
      ['OPENAI_API_KEY_v1', 'DISABLED', 'revoked'],
      ['OPENAI_API_KEY_v2', 'ENABLED', 'live'],
    ]);
    expect(json(revoked).keys[0]?.records.revoked).toMatchObject({ windowMs: 2000 });
    expect((await run(['rotate', 'revoke', 'OPENAI_API_KEY', ...args])).stdout).toMatch(/^ALREADY DONE/);
    // Two more refreshes and ten more requests of every app, counted: not one request used v1.
    const v1After = mock.requestsFor(KEYS.v1);
    const sent = (a: (typeof apps)[number]): number => a.stats.ok + a.stats.failed;
    const since = apps.map((a) => ({ resolves: a.resolves(), sent: sent(a) }));
    await eventually('two refreshes and ten requests of every app after the revoke', () =>
      apps.every((a, i) => a.resolves() >= (since[i]?.resolves ?? 0) + 2 && sent(a) >= (since[i]?.sent ?? 0) + 10)
        ? true
        : undefined,
    );
    expect(mock.requestsFor(KEYS.v1)).toBe(v1After);
    expect(apps.map((a) => a.stats.failed)).toEqual([0, 0]);
    expect(apps.every((a) => a.stats.ok > 0)).toBe(true);

    // Emergency to v3: live at once, v2 disabled; then v2 dies at the provider and authFetch heals on the 401.
    const emergency = await run(
      [
        'rotate',
        'emergency',
        'OPENAI_API_KEY',
        '--provider',
        'openai',
        '--base-url',
        mock.url,
        '--refresh',
        '150ms',
        '--collector',
        collector.url,
      ],
      KEYS.v3,
    );
    expect(emergency.code).toBe(0);
    expect(emergency.stdout).toMatch(/^OK: OPENAI_API_KEY_v3 \(kf_[0-9a-f]{12}\) is live; OPENAI_API_KEY_v2 disabled/);
    expect(emergency.stdout).toContain('authFetch switch at their first 401');
    expect(emergency.stdout).toContain('on their next refresh');
    mock.revoke(KEYS.v2);
    await eventually('both apps on v3', () =>
      apps.every((a) => candidate(a.key) === 'OPENAI_API_KEY_v3') ? true : undefined,
    );
    const again = await run(['rotate', 'emergency', 'OPENAI_API_KEY'], KEYS.v3);
    expect(again.stdout).toMatch(/^ALREADY DONE: OPENAI_API_KEY_v3/);
    for (const a of apps) await a.stop();
    // A request in flight when v2 died is retried once with v3 by authFetch: none failed.
    expect(apps.map((a) => a.stats.failed)).toEqual([0, 0]);
    expect(leaks(JSON.stringify(apps.flatMap((a) => a.events)), Object.values(KEYS))).toEqual([]);

    // The schedule: audit sees the ring, live key v3, within 90 days; over a 1 ms policy.
    const audit = await run(['audit', '--json']);
    expect(audit.code).toBe(0);
    expect(JSON.parse(audit.stdout)).toMatchObject({
      ok: true,
      entries: [
        { name: 'OPENAI_API_KEY', layout: 'suffix', environment: 'prod', live: 'OPENAI_API_KEY_v3', overPolicy: false },
      ],
    });
    const strict = await run(['audit', '--max-age', '1ms', '--environment', 'prod']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/^NOT OK: 1 live key is older than 1ms/);
    expect((await run(['audit', '--max-age', '1ms', '--environment', 'staging'])).stdout).toMatch(
      /^OK: no secret is managed/,
    );
  }, 60_000);
});

describe('keyflip rotate, alias layout', () => {
  const PLAYBOOK =
    'provision → probe → flip moves current/previous; verify without beacons is not proof; ' +
    'revoke --force records its reason';
  it(PLAYBOOK, async () => {
    const name = 'ANTHROPIC_KEY';
    expect((await run(['rotate', 'provision', name, '--layout', 'alias'], KEYS.a1)).code).toBe(0);
    expect((await run(['rotate', 'flip', name, '--skip-probe'])).code).toBe(0);
    // The layout is read from the secret's label now.
    expect((await run(['rotate', 'provision', name], KEYS.a2)).code).toBe(0);
    expect((await run(['rotate', 'probe', name, '--provider', 'openai', '--base-url', mock.url], KEYS.a2)).code).toBe(
      0,
    );
    const flipped = await run(['rotate', 'flip', name, '--json']);
    expect(flipped.code).toBe(0);
    expect(json(flipped).keys.map((k) => [k.label, k.role, (k as { aliases?: string[] }).aliases])).toEqual([
      [`${name}@1`, 'old', ['previous']],
      [`${name}@2`, 'live', ['current']],
    ]);
    const mismatch = await run(['rotate', 'status', name, '--layout', 'suffix']);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toContain(`${name} is managed in the alias layout`);

    const noBeacons = await run([
      'rotate',
      'verify',
      name,
      '--window',
      '1s',
      '--collector',
      collector.url,
      '--beacon-name',
      'NOBODY_DECLARES_THIS',
    ]);
    expect(noBeacons.code).toBe(4);
    expect(noBeacons.stdout).toMatch(/^NOT OK: not yet: ANTHROPIC_KEY@1 \(kf_[0-9a-f]{12}\): no instance shows/);
    expect(noBeacons.stdout).toContain('no beacons is not proof of zero traffic');
    expect(noBeacons.stdout).toContain('\n  cannot prove: no instance reported NOBODY_DECLARES_THIS in the last 1s');
    expect(noBeacons.stdout).toContain('\n    → check that the services run with a beacon');
    const noBeaconsJson = await run([
      'rotate',
      'verify',
      name,
      '--window',
      '1s',
      '--collector',
      collector.url,
      '--beacon-name',
      'NOBODY_DECLARES_THIS',
      '--json',
    ]);
    expect(noBeaconsJson.code).toBe(4);
    expect(json(noBeaconsJson)).toMatchObject({ outcome: 'failed', refusal: 'evidence-incomplete' });
    const revokeNoBeacons = await run([
      'rotate',
      'revoke',
      name,
      '--window',
      '1s',
      '--collector',
      collector.url,
      '--beacon-name',
      'NOBODY_DECLARES_THIS',
    ]);
    expect(revokeNoBeacons.code).toBe(4);
    expect(revokeNoBeacons.stdout).toMatch(/^REFUSED \(evidence-incomplete\): revoke refused: ANTHROPIC_KEY@1 /);
    const noReason = await run(['rotate', 'revoke', name, '--force']);
    expect(noReason.code).toBe(2);
    const keyInReason = await run(['rotate', 'revoke', name, '--force', '--reason', `rotating ${KEYS.dead}`]);
    expect(keyInReason.code).toBe(2);
    expect(keyInReason.stderr).toContain('looks like it holds a key');
    const forced = await run([
      'rotate',
      'revoke',
      name,
      '--force',
      '--reason',
      'INC-4411: vendor confirmed the leak',
      '--json',
    ]);
    expect(forced.code).toBe(0);
    expect(json(forced).keys[0]).toMatchObject({
      state: 'DISABLED',
      role: 'revoked',
      records: { revoked: { forced: true, reason: 'INC-4411: vendor confirmed the leak' } },
    });
  }, 30_000);
});

describe('keyflip rotate: interrupted writes, dry runs, dead keys, bad usage', () => {
  it('a provision stopped between two writes exits 3; status explains; running it again finishes it', async () => {
    // The default (pair) layout: create CRASHY_KEY_next, add the key to it, record it. Stopped after the key is added.
    emulator.failNext('UpdateSecret', 14);
    const stopped = await run(['rotate', 'provision', 'CRASHY_KEY'], KEYS.c1);
    expect(stopped.code).toBe(3);
    expect(stopped.stderr).toMatch(/stopped at write 3 of 3 \(record on CRASHY_KEY_next: staged /);
    expect(stopped.stderr).toContain('keyflip rotate status CRASHY_KEY');
    const status = await run(['rotate', 'status', 'CRASHY_KEY', '--json']);
    expect(status.code).toBe(0);
    expect(json(status).next.command).toBe('provision');
    expect(json(status).notes.join(' ')).toContain(
      `a provision of ${FP.c1} stopped after adding CRASHY_KEY_next@1; run it again with the same key, or discard`,
    );
    // The key it added is only in CRASHY_KEY_next, which no app declares: no app can read it.
    expect(json(status).keys.map((k) => [k.label, k.state, k.role])).toEqual([
      ['CRASHY_KEY_next@1', 'ENABLED', 'pending'],
    ]);
    // Another key cannot slip in; the same key finishes the provision (records it, clears the mark).
    const other = await run(['rotate', 'provision', 'CRASHY_KEY', '--json'], KEYS.c2);
    expect([other.code, json(other).refusal]).toEqual([1, 'fingerprint-mismatch']);
    const resumed = await run(['rotate', 'provision', 'CRASHY_KEY', '--json'], KEYS.c1);
    expect(resumed.code).toBe(0);
    expect(json(resumed).steps.map((s) => s.description)).toEqual([
      `record on CRASHY_KEY_next: staged ${FP.c1} at ${json(resumed).keys[0]?.records.staged?.at}; ` +
        'clear the pending mark',
    ]);
    expect(json(resumed).keys.map((k) => [k.label, k.state, k.role])).toEqual([
      ['CRASHY_KEY_next@1', 'ENABLED', 'staged'],
    ]);
  });

  const DEAD_KEY =
    '--dry-run lists the writes and makes none; a dead key fails its probe and flip refuses it; ' +
    'discard clears the way';
  it(DEAD_KEY, async () => {
    const writes = (): number[] =>
      ['CreateSecret', 'UpdateSecret', 'AddSecretVersion', 'EnableSecretVersion', 'DisableSecretVersion'].map((m) =>
        emulator.calls(m),
      );
    const before = writes();
    const dry = await run(['rotate', 'provision', 'DRY_KEY', '--dry-run'], KEYS.dead);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^DRY RUN: would stage kf_[0-9a-f]{12} in DRY_KEY_next\n/);
    expect(dry.stdout).toContain(
      'Would write:\n  · create secret DRY_KEY_next (labels keyflip-managed=true, keyflip-layout=pair',
    );
    expect(writes()).toEqual(before);

    expect((await run(['rotate', 'provision', 'DRY_KEY'], KEYS.dead)).code).toBe(0);
    const probe = await run(['rotate', 'probe', 'DRY_KEY', '--provider', 'openai', '--base-url', mock.url], KEYS.dead);
    expect(probe.code).toBe(1);
    expect(probe.stdout).toMatch(
      /^NOT OK: openai does not accept DRY_KEY_next@1 \(kf_[0-9a-f]{12}\): invalid \(HTTP 401/,
    );
    const flip = await run(['rotate', 'flip', 'DRY_KEY', '--json']);
    expect([flip.code, json(flip).refusal, json(flip).next.command]).toEqual([1, 'probe-failed', 'discard']);
    const discarded = await run(['rotate', 'discard', 'DRY_KEY', '--json']);
    expect([discarded.code, json(discarded).keys[0]?.role]).toEqual([0, 'discarded']);
    expect((await run(['rotate', 'discard', 'DRY_KEY'])).stdout).toMatch(/^ALREADY DONE/);
  });

  it('bad usage exits 2 with a clear message, never echoing an argument that may be a key', async () => {
    const cases: [string[], RegExp][] = [
      [['rotate', 'status', 'X'], /--project is required/],
      [['rotate', 'verify', 'OPENAI_API_KEY'], /needs --window/],
      [['rotate', 'probe', 'OPENAI_API_KEY'], /needs --provider/],
      [['rotate', 'provision', 'OPENAI_API_KEY', KEYS.dead], /unexpected argument #2 \(not shown\)/],
      [['rotate', 'flip', 'OPENAI_API_KEY', '--window', '1h'], /rotate flip does not take --window/],
      [['rotate', 'status', 'OPENAI_API_KEY_v2'], /already ends in _vN/],
      [['rotate', KEYS.dead], /unknown command \(not shown\)/],
      [['audit', '--max-age', 'soon'], /--max-age: invalid duration/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args, undefined, args[2] === 'X' ? { KEYFLIP_PROJECT: '' } : {});
      expect([args.join(' ').replace(KEYS.dead, '<key>'), r.code]).toEqual([
        args.join(' ').replace(KEYS.dead, '<key>'),
        2,
      ]);
      expect(r.stderr).toMatch(message);
    }
    const empty = await run(['rotate', 'provision', 'EMPTY_KEY'], '  \n');
    expect([empty.code, empty.stderr]).toEqual([2, expect.stringContaining('no key was given')]);
  });

  it('--help for rotate, each command and audit: exit 0, with the exit codes', async () => {
    for (const args of [
      ['rotate', '--help'],
      ...['status', 'provision', 'probe', 'flip', 'verify', 'revoke', 'emergency', 'discard'].map((c) => [
        'rotate',
        c,
        '--help',
      ]),
      ['audit', '--help'],
    ]) {
      const r = await run(args);
      expect([args.join(' '), r.code]).toEqual([args.join(' '), 0]);
      expect(r.stdout).toContain('Exit codes');
    }
  });
});

describe('keyflip rotate as a child process', () => {
  it('reads the key on stdin, talks to the emulator named by SECRET_MANAGER_EMULATOR_HOST, prints no key', async () => {
    const { code, stdout, stderr } = await runCli(['rotate', 'provision', 'CHILD_KEY', '--json'], {
      env: { SECRET_MANAGER_EMULATOR_HOST: emulator.host, KEYFLIP_PROJECT: emulator.projectId },
      stdin: `${KEYS.dead}\n`,
      timeoutMs: 25_000,
    });
    outputs.push(stdout, stderr);
    expect([code, stderr]).toEqual([0, '']);
    expect(JSON.parse(stdout)).toMatchObject({
      outcome: 'done',
      keys: [{ label: 'CHILD_KEY_next@1', state: 'ENABLED', role: 'staged', fingerprint: FP.dead }],
    });
  }, 30_000);
});
