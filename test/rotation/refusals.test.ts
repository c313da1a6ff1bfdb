/**
 * Every safety gate: the command answers `refused` with its code and a message, and writes nothing
 * (no write call reaches the emulator; every secret, version, label, annotation and etag is as before).
 */
import { describe, expect, it } from 'vitest';
import {
  discard,
  emergency,
  flip,
  LAYOUTS,
  probe,
  provision,
  revoke,
  status,
  verify,
  type Layout,
} from '../../src/rotation/index.js';
import { fp, HOST, KEYS, MINUTE, refreshAll, rotationRig, WINDOW, type World } from './rig.js';

const rig = rotationRig();
let n = 0;

/** A fresh ring `K<n>` with K1 live (made before keyflip), and a mock provider that accepts K1..K4. */
async function setup(layout: Layout) {
  const w = rig.world();
  const name = `KEY_${++n}`;
  w.seedLive(name, layout, KEYS.k1);
  const ctx = w.ctx(name, layout);
  const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3, KEYS.k4]);
  const probeWith = { provider: 'openai' as const, baseUrl: mock.url };
  return { w, name, ctx, mock, probeWith };
}

/** Provisions and probes `key`. */
async function staged(s: Awaited<ReturnType<typeof setup>>, key: string): Promise<void> {
  expect((await s.w.run(provision(s.ctx, key))).outcome).toBe('done');
  expect((await s.w.run(probe(s.ctx, key, s.probeWith))).outcome).toBe('done');
}

async function refusedWithoutWrites(w: World, work: Promise<unknown> | (() => Promise<unknown>), code: string) {
  const result = (await w.noWrites(() => w.run(typeof work === 'function' ? work() : work))) as Awaited<
    ReturnType<typeof flip>
  >;
  expect(result).toMatchObject({ outcome: 'refused', ok: false, refusal: code });
  expect(result.message.length).toBeGreaterThan(10);
  expect(result.steps).toEqual([]);
  return result;
}

describe.each(LAYOUTS)('refusals (%s layout)', (layout) => {
  it('revoke while a stale instance still beacons the old key: refused, naming that instance', async () => {
    const s = await setup(layout);
    const { w, ctx } = s;
    const apps = await w.apps(3, s.name, layout, { prefix: 'checkout' });
    await w.clock.advance(MINUTE);
    await staged(s, KEYS.k2);
    expect((await w.run(flip(ctx))).outcome).toBe('done');
    await refreshAll(apps.slice(0, 2)); // checkout-3 never refreshes: it stays on K1
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k2), fp(KEYS.k2), fp(KEYS.k1)]);
    await w.clock.advance(WINDOW + MINUTE);

    const result = await refusedWithoutWrites(w, () => revoke(ctx, { windowMs: WINDOW }), 'not-verified');
    const stale = apps[2];
    if (!stale) throw new Error('three apps were started');
    for (const part of [stale.service, HOST, `pid ${process.pid}`, stale.instanceId])
      expect(result.message).toContain(part);
    for (const fresh of apps.slice(0, 2)) expect(result.message).not.toContain(fresh.instanceId);
    expect(result.verifications).toHaveLength(1);
    expect(result.verifications?.[0]?.result).toMatchObject({ ok: false, reason: 'in-use', instancesSeen: 3 });
    expect(result.verifications?.[0]?.result.offenders).toEqual([
      expect.objectContaining({
        service: stale.service,
        host: HOST,
        pid: process.pid,
        id: stale.instanceId,
        fingerprint: fp(KEYS.k1),
      }),
    ]);
    const ring = await w.ring(s.name, layout);
    expect(ring.old.map((k) => k.state)).toEqual(['ENABLED']);

    // Once the straggler moves and a clean window has passed, revoke goes through.
    await refreshAll(apps);
    await w.clock.advance(WINDOW + MINUTE);
    expect((await w.run(revoke(ctx, { windowMs: WINDOW }))).outcome).toBe('done');
  });

  it('revoke before the window has passed since the flip: refused, even when the beacons are clean', async () => {
    const s = await setup(layout);
    const { w, ctx } = s;
    await w.clock.advance(WINDOW + MINUTE); // the collector has observed the fleet for longer than the window
    await staged(s, KEYS.k2);
    expect((await w.run(flip(ctx))).outcome).toBe('done');
    const flippedAt = w.clock.now();
    // The apps start after the flip: they never held K1, so the beacons alone would allow the revoke.
    await w.apps(2, s.name, layout);
    await w.clock.advance(WINDOW / 2);

    const result = await refusedWithoutWrites(w, () => revoke(ctx, { windowMs: WINDOW }), 'window-not-elapsed');
    expect(result.verifications?.[0]).toMatchObject({
      windowElapsed: false,
      liveSince: flippedAt,
      result: { ok: true, reason: 'clear' },
    });
    expect(result.message).toContain(new Date(flippedAt + WINDOW).toISOString());
    // verify says the same (it records its answer, so it is not a no-write command).
    expect((await w.run(verify(ctx, { windowMs: WINDOW }))).outcome).toBe('failed');

    await w.clock.advance(WINDOW / 2);
    expect((await w.run(revoke(ctx, { windowMs: WINDOW }))).outcome).toBe('done');
  });

  it('revoke right after the flip, with the apps still on the old key: refused not-verified', async () => {
    const s = await setup(layout);
    const { w, ctx } = s;
    const apps = await w.apps(2, s.name, layout);
    await w.clock.advance(MINUTE);
    await staged(s, KEYS.k2);
    expect((await w.run(flip(ctx))).outcome).toBe('done');
    await refreshAll(apps);
    const result = await refusedWithoutWrites(w, () => revoke(ctx, { windowMs: WINDOW }), 'not-verified');
    expect(result.verifications?.[0]).toMatchObject({ windowElapsed: false, result: { ok: false, reason: 'in-use' } });
  });

  it('revoke without a usage source, and verify without one: refused no-usage-source', async () => {
    const s = await setup(layout);
    const ctx = { ...s.ctx, usage: undefined };
    await staged(s, KEYS.k2);
    expect((await s.w.run(flip(ctx))).outcome).toBe('done');
    await s.w.clock.advance(WINDOW * 2);
    await refusedWithoutWrites(s.w, () => revoke(ctx, { windowMs: WINDOW }), 'no-usage-source');
    await refusedWithoutWrites(s.w, () => verify(ctx, { windowMs: WINDOW }), 'no-usage-source');
  });

  it('a dead key: probe fails (recorded), flip refuses it probe-failed; next step is discard', async () => {
    const s = await setup(layout);
    const { w, ctx } = s;
    expect((await w.run(provision(ctx, KEYS.dead))).outcome).toBe('done');
    const probed = await w.run(probe(ctx, KEYS.dead, s.probeWith));
    expect(probed).toMatchObject({
      outcome: 'failed',
      ok: false,
      probe: { ok: false, reason: 'invalid', status: 401, provider: 'openai' },
    });
    expect(probed.keys.find((k) => k.role === 'staged')?.records.probed).toMatchObject({
      ok: false,
      reason: 'invalid',
      status: 401,
    });
    expect(probed.next.command).toBe('discard');
    expect(s.mock.requestsFor(KEYS.dead)).toBe(1);

    const result = await refusedWithoutWrites(w, () => flip(ctx), 'probe-failed');
    expect(result.message).toContain('invalid');
    const ring = await w.ring(s.name, layout);
    // Alias: disabled; pair and suffix: in NAME_next (no app declares it), enabled so that flip can copy it.
    expect(ring.staged).toMatchObject(
      layout === 'alias' ? { state: 'DISABLED' } : { state: 'ENABLED', secretId: `${s.name}_next` },
    );
    expect(ring.live?.fingerprint ?? fp(KEYS.k1)).toBe(fp(KEYS.k1));
  });

  it('flip without a probe: refused not-probed; skipProbe flips and is recorded', async () => {
    const s = await setup(layout);
    const { w, ctx } = s;
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    const result = await refusedWithoutWrites(w, () => flip(ctx), 'not-probed');
    expect(result.next.command).toBe('probe');

    const skipped = await w.run(flip(ctx, { skipProbe: true }));
    expect(skipped.outcome).toBe('done');
    const live = skipped.keys.find((k) => k.role === 'live');
    expect(live?.fingerprint).toBe(fp(KEYS.k2));
    expect(live?.records.flipped).toMatchObject({ skipProbe: true, from: 1 });
    expect(s.mock.requestsFor(KEYS.k2)).toBe(0); // nothing was sent to the provider
  });

  it('provision twice: another key is refused staged-exists; the same key is already done; no write', async () => {
    const s = await setup(layout);
    expect((await s.w.run(provision(s.ctx, KEYS.k2))).outcome).toBe('done');
    const again = await refusedWithoutWrites(s.w, () => provision(s.ctx, KEYS.k3), 'staged-exists');
    expect(again.message).toContain(fp(KEYS.k2));
    const same = await s.w.noWrites(() => provision(s.ctx, KEYS.k2));
    expect([same.outcome, same.refusal]).toEqual(['already-done', undefined]);
    expect(same.message).toContain(fp(KEYS.k2));
  });

  it('skipProbe does not override a key the provider refused: still probe-failed', async () => {
    const s = await setup(layout);
    expect((await s.w.run(provision(s.ctx, KEYS.dead))).outcome).toBe('done');
    expect((await s.w.run(probe(s.ctx, KEYS.dead, s.probeWith))).outcome).toBe('failed');
    const result = await refusedWithoutWrites(s.w, () => flip(s.ctx, { skipProbe: true }), 'probe-failed');
    expect(result.message).toContain('--skip-probe does not override');
  });

  it('emergency while a key is staged: refused staged-exists; no probe is sent', async () => {
    const s = await setup(layout);
    expect((await s.w.run(provision(s.ctx, KEYS.k2))).outcome).toBe('done');
    const result = await refusedWithoutWrites(
      s.w,
      () => emergency(s.ctx, KEYS.k3, { probe: s.probeWith }),
      'staged-exists',
    );
    expect(result.message).toContain('staged');
    expect(s.mock.requestsFor(KEYS.k3)).toBe(0);
  });

  it('probe with another key than the staged one: refused fingerprint-mismatch; provider not asked', async () => {
    const s = await setup(layout);
    expect((await s.w.run(provision(s.ctx, KEYS.k2))).outcome).toBe('done');
    const result = await refusedWithoutWrites(s.w, () => probe(s.ctx, KEYS.k3, s.probeWith), 'fingerprint-mismatch');
    expect(result.message).toContain(fp(KEYS.k3));
    expect(result.message).toContain(fp(KEYS.k2));
    expect(s.mock.requestsFor(KEYS.k3)).toBe(0);
  });

  it('probe with nothing staged: refused nothing-staged; flip likewise', async () => {
    const s = await setup(layout);
    await refusedWithoutWrites(s.w, () => probe(s.ctx, KEYS.k2, s.probeWith), 'nothing-staged');
    await refusedWithoutWrites(s.w, () => flip(s.ctx), 'nothing-staged');
  });

  it('provision of a key the ring already holds: refused same-key (the live key, and an old one)', async () => {
    const s = await setup(layout);
    const live = await refusedWithoutWrites(s.w, () => provision(s.ctx, KEYS.k1), 'same-key');
    expect(live.message).toContain(fp(KEYS.k1));
    await staged(s, KEYS.k2);
    expect((await s.w.run(flip(s.ctx))).outcome).toBe('done');
    const old = await refusedWithoutWrites(s.w, () => provision(s.ctx, KEYS.k1), 'same-key');
    expect(old.message).toContain('old');
    // An emergency to a key the ring holds is refused too.
    await refusedWithoutWrites(s.w, () => emergency(s.ctx, KEYS.k1), 'same-key');
  });

  it('emergency with a dead key and a probe: refused probe-failed before any write', async () => {
    const s = await setup(layout);
    const result = await refusedWithoutWrites(
      s.w,
      () => emergency(s.ctx, KEYS.dead, { probe: s.probeWith }),
      'probe-failed',
    );
    expect(result.probe).toMatchObject({ ok: false, reason: 'invalid' });
    const st = await s.w.run(status(s.ctx));
    expect(st.keys.map((k) => k.role)).toEqual(['live']);
  });

  it('discard never touches the live key: with nothing staged it is already done', async () => {
    const s = await setup(layout);
    const result = await s.w.noWrites(() => s.w.run(discard(s.ctx)));
    expect(result.outcome).toBe('already-done');
  });
});
