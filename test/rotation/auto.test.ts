/**
 * `auto`, the scheduled pipeline, on the emulator with the mock's management API through `openProvider` and apps
 * that beacon: each run advances by at most one step. A young key → nothing; over the policy → mint + stage + probe +
 * flip (the minted value never leaves Secret Manager); then "waiting for …" (ok) until the gate is clear by the
 * beacons and the provider; then revoke at Secret Manager and the provider. A beacon-less straggler holds the gate
 * through the provider's evidence alone, and what only a person can fix is refused, saying why.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  auto,
  flip,
  probe,
  provision,
  revoke,
  type AutoOptions,
  type RotationResult,
} from '../../src/rotation/index.js';
import { expectNoSecrets, failingFirstRevoke, managed } from './auto-provider-rig.js';
import { fp, KEYS, MINUTE, refreshAll, rotationRig, WINDOW, type World } from './rig.js';

const rig = rotationRig();
const DAY = 86_400_000;
const POLICY = 90 * DAY;
const NAME = 'OPENAI_API_KEY';
/** More than the mock provider's lag plus one usage bucket (a minute). */
const LAG_AND_BUCKET = 3 * MINUTE;

let w: World;
let closers: (() => Promise<void>)[] = [];
beforeEach(() => {
  w = rig.world();
});
afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
});

const options = (url: string, extra: Partial<AutoOptions> = {}): AutoOptions => ({
  maxAgeMs: POLICY,
  windowMs: WINDOW,
  probe: { provider: 'openai', baseUrl: url },
  ...extra,
});

describe('auto with a provider that mints (OpenAI)', () => {
  it('nothing → mint, probe, flip → waiting → revoke at Secret Manager and the provider → nothing', async () => {
    const { mock, provider, call } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive(NAME, 'pair', KEYS.k1); // a key made in the console, live before keyflip
    const oldId = mock.keyId(KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    const outputs: RotationResult[] = [];
    const run = async (): Promise<RotationResult> => {
      const result = await w.run(auto(ctx, options(mock.url)));
      outputs.push(result);
      expect(result.command).toBe('auto');
      return result;
    };

    // 1. Young by the provider's creation time: nothing to do, nothing written.
    const young = await w.noWrites(run);
    expect(young).toMatchObject({ outcome: 'already-done', ok: true });
    expect(young.message).toMatch(/^nothing to do: OPENAI_API_KEY_v1@1 is .* old \(created at openai .*\), within/);

    // 2. Over the policy: a dry run plans the mint and makes nothing, at the provider or in Secret Manager.
    await w.clock.advance(POLICY + DAY);
    const keysBefore = mock.keys().length;
    const planned = await w.noWrites(() => w.run(auto({ ...ctx, dryRun: true }, options(mock.url))));
    expect(planned).toMatchObject({ outcome: 'planned', ok: true });
    expect(planned.message).toMatch(/over the 90d policy: would stage a new key, probe and flip it: would mint/);
    expect(mock.keys()).toHaveLength(keysBefore);
    // One run mints, stages, probes and flips.
    const rotated = await run();
    expect(rotated).toMatchObject({ outcome: 'done', ok: true });
    expect(rotated.message).toMatch(/over the 90d policy: rotated: /);
    const descriptions = rotated.steps.map((s) => s.description).join('\n');
    expect(descriptions).toMatch(/mint a key named keyflip-OPENAI_API_KEY-\d{8}T\d{6} at openai/);
    expect(descriptions).toMatch(/probed .* with openai: alive/);
    expect(rotated.probe).toMatchObject({ provider: 'openai', ok: true });
    const minted = mock.keys().find((k) => k.serviceAccountId !== undefined);
    expect(minted?.status).toBe('active');
    const afterFlip = await w.ring(NAME, 'pair');
    expect(afterFlip.live?.records.flipped).toBeDefined();
    expect(afterFlip.live?.fingerprint).not.toBe(fp(KEYS.k1));
    expect(rotated.next.command).toBe('auto');

    // Apps start now and read the minted key; they beacon it.
    const apps = await w.apps(2, NAME, 'pair');
    expect(apps.every((a) => a.handle.info?.fingerprint === afterFlip.live?.fingerprint)).toBe(true);

    // 3. The window since the flip has not passed: waiting (ok), nothing written.
    await w.clock.advance(WINDOW / 2);
    const early = await w.noWrites(run);
    expect(early).toMatchObject({ outcome: 'already-done', ok: true, refusal: 'window-not-elapsed' });
    expect(early.message).toMatch(/^waiting for the 10m window since the flip: auto revokes the old key after /);
    expect(mock.keys().find((k) => k.id === oldId)?.status).toBe('active'); // still valid at the provider

    // 4. Window and provider lag past, no use anywhere: revoked in Secret Manager and at the provider.
    await w.clock.advance(WINDOW / 2 + 2 * MINUTE);
    const revoked = await run();
    expect(revoked, revoked.message).toMatchObject({ outcome: 'done', ok: true });
    expect(revoked.message).toMatch(/^revoked the old key \(rotation complete\)/);
    expect(revoked.providerRevocations).toEqual([
      expect.objectContaining({ keyId: oldId, fingerprint: fp(KEYS.k1), outcome: 'revoked', status: 'deleted' }),
    ]);
    expect(await call(KEYS.k1)).toBe(401);
    const end = await w.ring(NAME, 'pair');
    expect(end.old).toEqual([]);

    // 5. The new key is young: nothing to do again; the apps were served throughout.
    const after = await w.noWrites(run);
    expect(after).toMatchObject({ outcome: 'already-done', ok: true });
    await refreshAll(apps);
    expect(apps.every((a) => a.handle.info?.fingerprint === end.live?.fingerprint)).toBe(true);
    expectNoSecrets(outputs, [KEYS.k1]);
  });

  it('a beacon-less straggler on the old key holds the gate through the provider evidence alone', async () => {
    const { provider, mock, call } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    await w.clock.advance(POLICY + DAY);
    expect((await w.run(auto(ctx, options(mock.url)))).outcome).toBe('done');
    const apps = await w.apps(1, NAME, 'pair');
    // A process that read K1 from its environment once, sends no beacon, and keeps calling.
    await w.clock.advance(MINUTE);
    expect(await call(KEYS.k1)).toBe(200);
    // Before the window has passed: waiting for processes to move.
    await w.clock.advance(2 * MINUTE); // past the provider's lag
    const early = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(early, early.message).toMatchObject({ ok: true, outcome: 'already-done', refusal: 'not-verified' });
    expect(early.message).toMatch(/^waiting for processes to move to the new key/);
    // A whole window after the flip, still used: a person must act; nothing revoked.
    await w.clock.advance(WINDOW);
    expect(await call(KEYS.k1)).toBe(200);
    await w.clock.advance(2 * MINUTE);
    const held = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(held).toMatchObject({ ok: false, outcome: 'refused', refusal: 'not-verified' });
    expect(held.message).toMatch(/still in use a whole 10m window after the flip/);
    expect(held.message).toMatch(/requests? .*at the provider/);
    // The straggler stops; once a window without its requests has passed (and the provider's lag), auto revokes.
    await w.clock.advance(WINDOW + 2 * MINUTE);
    const revoked = await w.run(auto(ctx, options(mock.url)));
    expect(revoked).toMatchObject({ ok: true, outcome: 'done' });
    expect(await call(KEYS.k1)).toBe(401);
    expect(apps[0]?.handle.info?.fingerprint).not.toBe(fp(KEYS.k1));
    expectNoSecrets([early, held, revoked], [KEYS.k1]);
  });

  it('apps that moved late in the window: waiting for their last use to leave it, then revoked', async () => {
    const { provider, mock, call } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    // Apps on the old key before the rotation.
    const apps = await w.apps(2, NAME, 'pair');
    await w.clock.advance(POLICY + DAY);
    expect((await w.run(auto(ctx, options(mock.url)))).outcome).toBe('done');
    // They refresh late: near the end of the window since the flip they still hold the old key, then move.
    await w.clock.advance(WINDOW - MINUTE);
    await refreshAll(apps);
    await w.clock.advance(2 * MINUTE);
    // A whole window after the flip the beacons still show the old key in the window, held earlier: nobody holds it
    // now, so this is not a person's problem: auto waits for those uses to leave the window.
    const moving = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(moving, moving.message).toMatchObject({ ok: true, outcome: 'already-done', refusal: 'not-verified' });
    expect(moving.message).toMatch(/^waiting for the old key's last uses to leave the window/);
    await w.clock.advance(WINDOW + LAG_AND_BUCKET);
    const revoked = await w.run(auto(ctx, options(mock.url)));
    expect(revoked, revoked.message).toMatchObject({ ok: true, outcome: 'done' });
    expect(await call(KEYS.k1)).toBe(401);
  });

  it('evidence that cannot come by waiting (no app beacons): waiting, then a person is needed (exit 4)', async () => {
    const { provider, mock } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    await w.clock.advance(POLICY + DAY);
    expect((await w.run(auto(ctx, options(mock.url)))).outcome).toBe('done');
    // No app beacons the secret: the beacons can never prove the old key unused.
    await w.clock.advance(WINDOW + 2 * MINUTE);
    const waiting = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(waiting, waiting.message).toMatchObject({ ok: true, refusal: 'evidence-incomplete' });
    expect(waiting.message).toMatch(/^waiting for the evidence to cover the window/);
    // A whole window after the gate could first have passed, still nothing: waiting will not fix it.
    await w.clock.advance(WINDOW);
    const stuck = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(stuck, stuck.message).toMatchObject({ ok: false, outcome: 'refused', refusal: 'evidence-incomplete' });
    expect(stuck.message).toMatch(/waiting will not fix it/);
    expect(mock.keys().find((k) => k.id === mock.keyId(KEYS.k1))?.status).toBe('active');
  });

  it('a staged key left by an earlier run (probe not made) is probed and flipped first', async () => {
    const { provider, mock } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    const result = await w.run(auto(ctx, options(mock.url)));
    expect(result).toMatchObject({ outcome: 'done', ok: true });
    expect(result.message).toMatch(/^flipped the staged key: /);
    expect((await w.ring(NAME, 'pair')).live?.fingerprint).toBe(fp(KEYS.k2));
  });

  it('a staged key the provider refused is left to a person', async () => {
    const { provider, mock } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair');
    expect((await w.run(provision(ctx, KEYS.dead))).outcome).toBe('done');
    expect((await w.run(probe(ctx, KEYS.dead, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('failed');
    const result = await w.noWrites(() => w.run(auto({ ...ctx, provider }, options(mock.url))));
    expect(result).toMatchObject({ ok: false, outcome: 'refused', refusal: 'probe-failed' });
    expect(result.message).toMatch(/failed its probe .*rotate discard it/);
  });
});

describe('auto without minting', () => {
  it('Anthropic cannot mint: refused saying so; with a key given, it is staged, probed and flipped', async () => {
    const { provider, mock } = await managed(w, closers, { preset: 'anthropic' });
    const old = mock.mint({ name: 'console key', createdAtMs: w.clock.now() - POLICY - DAY });
    const next = mock.mint('next console key');
    const name = 'ANTHROPIC_API_KEY';
    w.seedLive(name, 'pair', old.value);
    const ctx = w.ctx(name, 'pair', { provider });
    const probeWith = { provider: 'anthropic' as const, baseUrl: mock.url };
    const refused = await w.noWrites(() => w.run(auto(ctx, { maxAgeMs: POLICY, windowMs: WINDOW, probe: probeWith })));
    expect(refused).toMatchObject({ ok: false, outcome: 'refused', refusal: 'cannot-mint' });
    expect(refused.message).toMatch(/over the 90d policy: anthropic cannot mint keys by API: make a key/);
    const rotated = await w.run(auto(ctx, { maxAgeMs: POLICY, windowMs: WINDOW, probe: probeWith, value: next.value }));
    expect(rotated).toMatchObject({ ok: true, outcome: 'done' });
    const ring = await w.ring(name, 'pair');
    expect(ring.live?.records.provider ?? ring.keys.find((k) => k.records.provider)?.records.provider).toMatchObject({
      keyId: next.id,
    });
    expectNoSecrets([refused, rotated], [old.value, next.value]);
  });

  it('without a provider: the age is the live key’s flip time; a key must be given', async () => {
    const mock = await w.mock([KEYS.k1, KEYS.k2]);
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair');
    const young = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(young.message).toMatch(/\(live since .*\), within the 90d policy/);
    await w.clock.advance(POLICY + DAY);
    const refused = await w.run(auto(ctx, options(mock.url)));
    expect(refused).toMatchObject({ ok: false, refusal: 'cannot-mint' });
    expect(refused.message).toMatch(/give a provider that can mint keys .*or the new key/);
    const rotated = await w.run(auto(ctx, options(mock.url, { value: KEYS.k2 })));
    expect(rotated).toMatchObject({ ok: true, outcome: 'done' });
    expect((await w.ring(NAME, 'pair')).live?.fingerprint).toBe(fp(KEYS.k2));
  });

  it('no usage source: auto refuses before any write or mint (it could never revoke) unless none is due', async () => {
    const { mock, provider } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = { ...w.ctx(NAME, 'pair', { provider }), usage: undefined };
    const young = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(young).toMatchObject({ ok: true, outcome: 'already-done' });
    expect(young.message).toMatch(/^nothing to do: /);

    await w.clock.advance(POLICY + DAY);
    const keysBefore = mock.keys().length;
    for (const extra of [{}, { value: KEYS.k2 }]) {
      const result = await w.noWrites(() => w.run(auto(ctx, options(mock.url, extra))));
      expect(result).toMatchObject({ ok: false, outcome: 'refused', refusal: 'no-usage-source' });
      expect(result.message).toMatch(/over the 90d policy; auto needs a usage source \(ctx\.usage: --collector URL/);
    }
    expect(mock.keys()).toHaveLength(keysBefore); // nothing minted

    // A rotation started by hand (staged, or flipped with an old key left): auto does not touch it without one.
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    const staged = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(staged).toMatchObject({ ok: false, refusal: 'no-usage-source' });
    expect((await w.run(probe(ctx, KEYS.k2, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
    expect((await w.run(flip(ctx))).outcome).toBe('done');
    await w.clock.advance(WINDOW * 2);
    const old = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(old).toMatchObject({ ok: false, outcome: 'refused', refusal: 'no-usage-source' });
  });

  it('rejects bad options before reading anything', async () => {
    const ctx = w.ctx(NAME, 'pair');
    const probe = { provider: 'openai' as const };
    await w.rejects(auto(ctx, { maxAgeMs: 0, windowMs: WINDOW, probe }), 'INVALID_INPUT');
    await expect(auto(ctx, { maxAgeMs: POLICY, windowMs: -1, probe })).rejects.toThrow(/windowMs/);
    await w.rejects(auto(ctx, { maxAgeMs: POLICY, windowMs: WINDOW, probe, value: '  ' }), 'INVALID_INPUT');
  });
});

describe('auto finishes what stopped part-way first', () => {
  it('a flip stopped by a failed write: the next run finishes it', async () => {
    const { provider, mock } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    expect((await w.run(probe(ctx, KEYS.k2, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
    // The flip's second write fails: its mark is left.
    await w.rejects(flip({ ...ctx, admin: await w.faultyAdmin({ nthWrite: 2 }) }), 'INTERRUPTED');
    expect((await w.ring(NAME, 'pair')).pending?.record.op).toBe('flip');
    const result = await w.run(auto(ctx, options(mock.url)));
    expect(result, result.message).toMatchObject({ ok: true, outcome: 'done' });
    expect(result.message).toMatch(/^finished the flip that had stopped part-way: /);
    const ring = await w.ring(NAME, 'pair');
    expect(ring.live?.fingerprint).toBe(fp(KEYS.k2));
    expect(ring.live?.records.flipped).toBeDefined();
    expect(ring.pending).toBeUndefined();
  });

  it('a revoke that disabled the old key but could not revoke it at the provider: the next run does', async () => {
    const { provider, mock, call } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    await w.clock.advance(POLICY + DAY);
    expect((await w.run(auto(ctx, options(mock.url)))).outcome).toBe('done');
    await w.apps(1, NAME, 'pair');
    await w.clock.advance(WINDOW + 2 * MINUTE);
    const flaky = { ...ctx, provider: failingFirstRevoke(provider) };
    await w.rejects(revoke(flaky, { windowMs: WINDOW }), 'INTERRUPTED');
    expect((await w.ring(NAME, 'pair')).old).toEqual([]); // disabled in Secret Manager
    expect(await call(KEYS.k1)).toBe(200); // still valid at the provider
    const result = await w.run(auto(ctx, options(mock.url)));
    expect(result, result.message).toMatchObject({ ok: true, outcome: 'done' });
    expect(result.providerRevocations).toEqual([
      expect.objectContaining({ keyId: mock.keyId(KEYS.k1), outcome: 'revoked' }),
    ]);
    expect(await call(KEYS.k1)).toBe(401);
    const after = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(after.message).toMatch(/^nothing to do/);
  });

  it('a mint that never stored its key: waited for, then discarded (revoked at the provider) once stale', async () => {
    const { provider, mock } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const keyName = 'keyflip-OPENAI_API_KEY-20261205T000000';
    // A crash between the mint and the store: the mark on the staging secret, the key at the provider.
    w.emulator.createSecret(`${NAME}_next`, {
      labels: { 'keyflip-managed': 'true', 'keyflip-layout': 'pair', 'keyflip-role': 'staging' },
      annotations: {
        'keyflip-name': NAME,
        'keyflip-minting': JSON.stringify({
          provider: 'openai',
          name: keyName,
          at: new Date(w.clock.now()).toISOString(),
        }),
      },
    });
    const lost = await provider.mintKey({ name: keyName });
    const ctx = w.ctx(NAME, 'pair', { provider });
    const early = await w.noWrites(() => w.run(auto(ctx, options(mock.url))));
    expect(early).toMatchObject({ ok: true, outcome: 'already-done', refusal: 'pending' });
    expect(early.message).toMatch(/^waiting for the mint of keyflip-OPENAI_API_KEY-20261205T000000 started at /);
    await w.clock.advance(61 * MINUTE);
    const cleaned = await w.run(auto(ctx, options(mock.url)));
    expect(cleaned, cleaned.message).toMatchObject({ ok: true, outcome: 'done' });
    expect(cleaned.message).toMatch(/^discarded a mint that never stored its key/);
    expect(mock.keys().find((k) => k.id === lost.key.id)?.status).toBe('deleted');
    expect((await w.ring(NAME, 'pair')).minting).toBeUndefined();
    expectNoSecrets([early, cleaned], [KEYS.k1, lost.value]);
  });
});
