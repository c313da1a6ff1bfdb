/**
 * The whole playbook, twice in a row, in every layout, with three running apps (real resolvers on the
 * emulator over gRPC, beacons into the collector) sending requests to the mock provider throughout.
 */
import { describe, expect, it } from 'vitest';
import {
  flip,
  LAYOUTS,
  probe,
  provision,
  revoke,
  status,
  verify,
  type RotationResult,
} from '../../src/rotation/index.js';
import { fp, KEYS, MINUTE, refreshAll, rotationRig, WINDOW } from './rig.js';

const rig = rotationRig();

const keyOf = (r: RotationResult, fingerprint: string) => r.keys.find((k) => k.fingerprint === fingerprint);

describe.each(LAYOUTS)('the playbook (%s layout)', (layout) => {
  it('provision → probe → flip → apps rotate → verify → revoke, twice, with no failed request', async () => {
    const w = rig.world();
    const name = 'OPENAI_API_KEY';
    const ctx = w.ctx(name, layout);
    w.seedLive(name, layout, KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    const apps = await w.apps(3, name, layout);
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual(Array(3).fill(fp(KEYS.k1)));
    const traffic = w.traffic(apps, mock);
    await traffic.round();
    await w.clock.advance(5 * MINUTE); // the apps have been beaconing K1 for a while

    const start = await w.run(status(ctx));
    expect(start.next.command).toBe('provision');
    expect(start.keys.map((k) => [k.role, k.fingerprint])).toEqual([['live', fp(KEYS.k1)]]);

    for (const [from, to] of [
      [KEYS.k1, KEYS.k2],
      [KEYS.k2, KEYS.k3],
    ] as const) {
      // 1. provision: staged where no app reads it (alias: disabled; pair and suffix: in NAME_next, which no app
      // declares); the apps cannot see it.
      const provisioned = await w.run(provision(ctx, to, { environment: 'prod' }));
      expect(provisioned).toMatchObject({ outcome: 'done', ok: true });
      expect(keyOf(provisioned, fp(to))).toMatchObject(
        layout === 'alias'
          ? { role: 'staged', state: 'DISABLED' }
          : { role: 'staged', state: 'ENABLED', secretId: `${name}_next` },
      );
      expect(provisioned.next.command).toBe('probe');
      await refreshAll(apps);
      expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual(Array(3).fill(fp(from)));

      // 1½. probe: the provider says alive; recorded.
      const probed = await w.run(probe(ctx, to, { provider: 'openai', baseUrl: mock.url }));
      expect(probed).toMatchObject({ outcome: 'done', probe: { ok: true, reason: 'alive', provider: 'openai' } });
      expect(keyOf(probed, fp(to))?.records.probed).toMatchObject({ ok: true, reason: 'alive' });
      expect(probed.next.command).toBe('flip');

      // 3. flip: live in Secret Manager; the old key stays enabled.
      const flipped = await w.run(flip(ctx));
      expect(flipped).toMatchObject({ outcome: 'done' });
      expect(keyOf(flipped, fp(to))).toMatchObject({
        role: 'live',
        state: 'ENABLED',
        records: { flipped: { at: new Date(w.clock.now()).toISOString() } },
      });
      const olds = flipped.keys.filter((k) => k.role === 'old');
      // One old key (the pair layout holds it in NAME_v1's latest version, and from the second rotation on in an
      // older version of NAME_v2 too).
      // (K1 was made outside keyflip: only the pair layout, which reads every enabled version, knows its fingerprint.)
      expect(new Set(olds.map((k) => k.fingerprint ?? fp(KEYS.k1)))).toEqual(new Set([fp(from)]));
      expect(olds.map((k) => k.label)).toEqual(
        layout === 'pair'
          ? to === KEYS.k2
            ? [`${name}_v1@1`]
            : [`${name}_v1@2`, `${name}_v2@1`]
          : [expect.any(String)],
      );
      expect(olds[0]?.state).toBe('ENABLED');
      const oldLabel = olds[0]?.label;
      expect(flipped.next.command).toBe('verify');

      // Not yet: the apps still hold the old key.
      const early = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(early.outcome).toBe('failed');
      expect(early.verifications?.[0]?.result).toMatchObject({ ok: false, reason: 'in-use' });
      expect(early.verifications?.[0]?.result.offenders).toHaveLength(3);

      // 4. the apps rotate on their next refresh.
      await refreshAll(apps);
      expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual(Array(3).fill(fp(to)));
      for (const app of apps) {
        expect(app.events.filter((e) => e.event === 'rotate').map((e) => e.payload)).toContainEqual(
          expect.objectContaining({
            previous: expect.objectContaining({ fingerprint: fp(from) }),
            current: expect.objectContaining({ fingerprint: fp(to) }),
          }),
        );
      }
      await traffic.round();
      const oldRequests = mock.requestsFor(from);
      const newRequests = mock.requestsFor(to);

      // Not before the window has passed since the flip.
      await w.clock.advance(WINDOW / 2);
      const half = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(half.outcome).toBe('failed');
      await w.clock.advance(WINDOW / 2 + MINUTE); // the apps keep beaconing the new key
      await traffic.round();

      const verified = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(verified).toMatchObject({ outcome: 'done', ok: true });
      expect(verified.verifications).toHaveLength(1);
      expect(verified.verifications?.[0]).toMatchObject({
        fingerprint: fp(from),
        windowElapsed: true,
        result: { ok: true, reason: 'clear', instancesSeen: 3, offenders: [] },
      });
      expect(verified.next.command).toBe('revoke');

      // 5. revoke: the old key is disabled, the live one stays enabled.
      const revoked = await w.run(revoke(ctx, { windowMs: WINDOW }));
      expect(revoked).toMatchObject({ outcome: 'done', ok: true });
      expect(revoked.steps.length).toBeGreaterThan(0);
      expect(revoked.steps.every((s) => s.done)).toBe(true);
      expect(keyOf(revoked, fp(to))).toMatchObject({ role: 'live', state: 'ENABLED' });
      expect(revoked.keys.find((k) => k.label === oldLabel)).toMatchObject({
        role: 'revoked',
        state: 'DISABLED',
        records: { revoked: { windowMs: WINDOW } },
      });
      // In Secret Manager itself: every version but the live one is disabled.
      const ring = await w.ring(name, layout);
      expect(ring.live?.state).toBe('ENABLED');
      expect(ring.keys.filter((k) => k !== ring.live).every((k) => k.state === 'DISABLED')).toBe(true);
      if (layout === 'alias') expect(ring.secrets.get(name)?.aliases.current).toBe(ring.live?.version);

      // The provider forgets the old key too; nothing notices.
      mock.revoke(from);
      await refreshAll(apps);
      expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual(Array(3).fill(fp(to)));
      await traffic.round();
      await traffic.round();
      expect(mock.requestsFor(from)).toBe(oldRequests); // the old key's requests stopped at the rotation
      expect(mock.requestsFor(to)).toBeGreaterThan(newRequests);
      expect(traffic.failed).toEqual([]);
      await w.clock.advance(MINUTE);
    }

    const end = await w.run(status(ctx, { windowMs: WINDOW }));
    expect(end.next.command).toBe('provision');
    // K1 was made outside keyflip: revoke recorded its fingerprint (disabled, it can no longer be read).
    if (layout === 'pair') {
      // NAME_v1: K1, then K2 (copied there by the second flip); NAME_v2: K2, then K3.
      expect(end.keys.map((k) => [k.label, k.role, k.fingerprint])).toEqual([
        [`${name}_v1@1`, 'revoked', fp(KEYS.k1)],
        [`${name}_v1@2`, 'revoked', fp(KEYS.k2)],
        [`${name}_v2@1`, 'revoked', fp(KEYS.k2)],
        [`${name}_v2@2`, 'live', fp(KEYS.k3)],
      ]);
    } else {
      expect(end.keys.map((k) => k.role)).toEqual(['revoked', 'revoked', 'live']);
      expect(end.keys.map((k) => k.fingerprint)).toEqual([fp(KEYS.k1), fp(KEYS.k2), fp(KEYS.k3)]);
    }
    expect(end.keys[0]?.records.revoked?.fingerprint).toBe(fp(KEYS.k1));
    expect(end.notes).toEqual([]); // every fingerprint the beacons reported in the window is one of the ring's
    expect(end.keys.find((k) => k.role === 'live')?.instances).toBe(3);
    expect(end.usage?.fingerprints.map((f) => f.fingerprint)).toEqual([fp(KEYS.k3)]);
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
    expect(traffic.ok).toBeGreaterThan(20);
    w.witness.see(await w.snapshot()); // the labels and annotations hold no value either
  });
});
