/**
 * `emergency` with a provider (the emulator, the mock's management API through `openProvider`): the leaked key is
 * revoked at the provider at once (no window), its requests get 401 from then on, the leak report gives its use per
 * hour at the provider over the exposure window and the instances the beacons saw holding it; `keepProviderKey`
 * opts out; a revocation that fails is finished by running the emergency again.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { emergency, flip, probe, provision, RotationError, type Layout } from '../../src/rotation/index.js';
import { ADMIN, expectNoSecrets, failingFirstRevoke, managed } from './auto-provider-rig.js';
import { fp, KEYS, MINUTE, refreshAll, rotationRig, type World } from './rig.js';

const rig = rotationRig();
const HOUR = 3_600_000;
const NAME = 'OPENAI_API_KEY';

let w: World;
let closers: (() => Promise<void>)[] = [];
beforeEach(() => {
  w = rig.world();
});
afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
});

describe('emergency with a provider', () => {
  for (const layout of ['pair', 'suffix', 'alias'] as const satisfies readonly Layout[]) {
    it(`${layout}: revokes the leaked key at the provider at once and reports its use per hour`, async () => {
      const { mock, provider, call } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
      w.seedLive(NAME, layout, KEYS.k1); // made outside keyflip: its id is found by its hint
      const leakedId = mock.keyId(KEYS.k1);
      expect(leakedId).toBeDefined();
      const start = w.clock.now();
      // The leaked key in use: 3 requests in the first hour, 2 in the third.
      for (let i = 0; i < 3; i++) expect(await call(KEYS.k1)).toBe(200);
      await w.clock.advance(2 * HOUR);
      for (let i = 0; i < 2; i++) expect(await call(KEYS.k1)).toBe(200);
      await w.clock.advance(MINUTE);

      const ctx = w.ctx(NAME, layout, { provider });
      const result = await w.run(
        emergency(ctx, KEYS.k2, { probe: { provider: 'openai', baseUrl: mock.url }, sinceMs: start - HOUR }),
      );
      expect(result.outcome).toBe('done');
      expect(result.providerRevocations).toEqual([
        expect.objectContaining({ fingerprint: fp(KEYS.k1), keyId: leakedId, outcome: 'revoked', status: 'deleted' }),
      ]);
      expect(result.message).toContain(`revoked at openai: ${leakedId} (deleted)`);
      // At the provider: deleted, and its requests refused; the new key works.
      expect(mock.keys().find((k) => k.id === leakedId)?.status).toBe('deleted');
      expect(await call(KEYS.k1)).toBe(401);
      expect(await call(KEYS.k2)).toBe(200);
      // The leak report: per hour at the provider, over the exposure window asked.
      const leak = result.leak;
      expect(leak).toMatchObject({ sinceMs: start - HOUR, untilMs: w.clock.now() });
      expect(leak?.keys).toHaveLength(1);
      const [report] = leak?.keys ?? [];
      expect(report).toMatchObject({ fingerprint: fp(KEYS.k1), keyId: leakedId, requests: 5 });
      expect(report?.hourly.map((h) => h.requests)).toEqual([3, 2]);
      expect(report?.hourly.every((h) => h.endMs - h.startMs === HOUR && h.startMs % HOUR === 0)).toBe(true);
      expect((report?.hourly[1]?.startMs ?? 0) - (report?.hourly[0]?.startMs ?? 0)).toBe(2 * HOUR);
      // The last minute is within the provider's lag: said, not hidden.
      expect(report?.coveredUntilMs).toBe(w.clock.now() - MINUTE);
      expect(leak?.gaps).toEqual([expect.stringMatching(/complete until .* \(it lags up to 1m\)/)]);
      // Recorded: the key's id (found by hint before it was disabled) and its revocation at the provider.
      const ring = await w.ring(NAME, layout);
      const revoked = ring.keys.filter((k) => k.fingerprint === fp(KEYS.k1) && k.records['provider-revoked']);
      expect(revoked.length).toBeGreaterThan(0);
      for (const k of revoked) {
        expect(k.records['provider-revoked']).toMatchObject({
          provider: 'openai',
          keyId: leakedId,
          outcome: 'revoked',
        });
        expect(k.records.provider).toMatchObject({ provider: 'openai', keyId: leakedId, fingerprint: fp(KEYS.k1) });
        expect(k.state).toBe('DISABLED');
      }
      // The new key's id is recorded where it was staged, as provision records it.
      expect(ring.live?.records.provider).toMatchObject({ keyId: mock.keyId(KEYS.k2), fingerprint: fp(KEYS.k2) });
      expect(result.notes.join('\n')).toContain('the old key is revoked at the provider');
      expectNoSecrets([result, ring.notes], [KEYS.k1, KEYS.k2]);
    });
  }

  it('the leak report names every instance that held the key by the beacons, and the lag as a gap', async () => {
    const { provider, call } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2], lagMs: 2 * HOUR });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const apps = await w.apps(2, NAME, 'pair');
    await w.clock.advance(5 * MINUTE); // the apps beacon K1
    expect(await call(KEYS.k1)).toBe(200);
    const ctx = w.ctx(NAME, 'pair', { provider });
    const result = await w.run(emergency(ctx, KEYS.k2, { sinceMs: w.clock.now() - HOUR }));
    expect(result.outcome).toBe('done');
    const [report] = result.leak?.keys ?? [];
    expect([...(report?.instances ?? [])].sort()).toEqual([
      expect.stringMatching(/^app-1 on .+ pid \d+$/),
      expect.stringMatching(/^app-2 on .+ pid \d+$/),
    ]);
    // The provider's data lags two hours: the request made a moment ago is not in it yet, and the report says so.
    expect(report?.requests).toBe(0);
    expect(report?.coveredUntilMs).toBe(w.clock.now() - 2 * HOUR);
    expect(result.leak?.gaps.join('\n')).toMatch(/usage data is complete until .*not in this report yet/);
    // The key is revoked all the same; the apps move to the new key on their next refresh.
    expect(await call(KEYS.k1)).toBe(401);
    await refreshAll(apps);
    expect(apps.every((a) => a.handle.info?.fingerprint === fp(KEYS.k2))).toBe(true);
    expectNoSecrets([result], [KEYS.k1, KEYS.k2]);
  });

  it('keepProviderKey: Secret Manager stops serving the key, the provider keeps it', async () => {
    const { mock, provider, call } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    const result = await w.run(emergency(ctx, KEYS.k2, { keepProviderKey: true }));
    expect(result.outcome).toBe('done');
    expect(result.providerRevocations).toEqual([
      expect.objectContaining({ keyId: mock.keyId(KEYS.k1), outcome: 'kept', status: undefined }),
    ]);
    expect(await call(KEYS.k1)).toBe(200);
    expect(result.notes.join('\n')).toContain('revoke the old key at the provider now');
    expect(result.leak?.keys).toHaveLength(1);
  });

  it('a revocation at the provider that fails stops the emergency; running it again finishes it', async () => {
    const { mock, provider, call } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const flaky = failingFirstRevoke(provider);
    const error = await w.rejects(emergency(w.ctx(NAME, 'pair', { provider: flaky }), KEYS.k2), 'INTERRUPTED');
    expect(error).toBeInstanceOf(RotationError);
    expect(error.message).toMatch(/revoke .* at openai now/);
    expect(await call(KEYS.k1)).toBe(200); // not revoked there yet
    const stopped = await w.ring(NAME, 'pair');
    expect(stopped.pending?.record.op).toBe('emergency');
    // K1 is disabled now (its value can no longer be read): its id was recorded before, so the rerun finds it.
    const again = await w.run(emergency(w.ctx(NAME, 'pair', { provider: flaky }), KEYS.k2));
    expect(again.outcome).toBe('done');
    expect(again.providerRevocations).toEqual([
      expect.objectContaining({ keyId: mock.keyId(KEYS.k1), outcome: 'revoked' }),
    ]);
    expect(await call(KEYS.k1)).toBe(401);
    expect((await w.ring(NAME, 'pair')).pending).toBeUndefined();
    expectNoSecrets([again, error.message], [KEYS.k1, KEYS.k2, ADMIN.openai]);
  });

  it('a leaked key the provider does not know is reported, and the emergency goes on', async () => {
    const { provider } = await managed(w, closers, { keys: [KEYS.k2] }); // K1 is not a key of this project
    w.seedLive(NAME, 'pair', KEYS.k1);
    const result = await w.run(emergency(w.ctx(NAME, 'pair', { provider }), KEYS.k2));
    expect(result.outcome).toBe('done');
    expect(result.providerRevocations).toEqual([]);
    expect(result.notes.join('\n')).toMatch(/no key at openai has a hint that matches .*revoke it in the console now/);
    expect(result.leak?.keys[0]).toMatchObject({ keyId: undefined, hourly: [], requests: undefined });
    expect(result.leak?.gaps.join('\n')).toContain('its id at openai is unknown');
  });

  it('a dry run reports the leak and plans the revocation; it revokes nothing', async () => {
    const { mock, provider, call } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const result = await w.noWrites(() => w.run(emergency(w.ctx(NAME, 'pair', { provider, dryRun: true }), KEYS.k2)));
    expect(result.outcome).toBe('planned');
    expect(result.message).toContain(`revoke ${mock.keyId(KEYS.k1)} at openai`);
    expect(result.steps.map((s) => s.description).join('\n')).toMatch(/revoke .* at openai now: the key leaked/);
    expect(await call(KEYS.k1)).toBe(200);
  });

  it('an emergency made without the provider: run again with it, it revokes there what it left', async () => {
    const { mock, provider, call } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2, KEYS.k3] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const withProvider = w.ctx(NAME, 'pair', { provider });
    expect((await w.run(provision(withProvider, KEYS.k2))).outcome).toBe('done'); // K2's id recorded
    const probeWith = { provider: 'openai' as const, baseUrl: mock.url };
    expect((await w.run(probe(withProvider, KEYS.k2, probeWith))).outcome).toBe('done');
    expect((await w.run(flip(withProvider))).outcome).toBe('done');
    // K2 leaks; the emergency runs without the provider: K2 is disabled in Secret Manager only.
    expect((await w.run(emergency(w.ctx(NAME, 'pair'), KEYS.k3))).outcome).toBe('done');
    expect(await call(KEYS.k2)).toBe(200);
    const dry = await w.noWrites(() => w.run(emergency({ ...withProvider, dryRun: true }, KEYS.k3)));
    expect(dry).toMatchObject({ outcome: 'planned' });
    expect(dry.message).toMatch(/would revoke OPENAI_API_KEY_v\d@\d.* at openai, left there by the emergency/);
    const again = await w.run(emergency(withProvider, KEYS.k3));
    expect(again.outcome).toBe('done');
    expect(again.providerRevocations).toEqual([
      expect.objectContaining({ keyId: mock.keyId(KEYS.k2), fingerprint: fp(KEYS.k2), outcome: 'revoked' }),
    ]);
    expect(again.leak?.keys.map((k) => k.keyId)).toEqual([mock.keyId(KEYS.k2)]);
    expect(await call(KEYS.k2)).toBe(401);
    expect(await call(KEYS.k3)).toBe(200);
    // Nothing is left: nothing to do.
    const done = await w.noWrites(() => w.run(emergency(withProvider, KEYS.k3)));
    expect(done.outcome).toBe('already-done');
    expectNoSecrets([dry, again, done], [KEYS.k1, KEYS.k2, KEYS.k3]);
  });

  it('refuses a sinceMs that is not in the past', async () => {
    const { provider } = await managed(w, closers, { keys: [KEYS.k1, KEYS.k2] });
    w.seedLive(NAME, 'pair', KEYS.k1);
    const ctx = w.ctx(NAME, 'pair', { provider });
    await w.rejects(emergency(ctx, KEYS.k2, { sinceMs: w.clock.now() + 1 }), 'INVALID_INPUT');
    await w.rejects(emergency(ctx, KEYS.k2, { sinceMs: Number.NaN }), 'INVALID_INPUT');
  });
});
