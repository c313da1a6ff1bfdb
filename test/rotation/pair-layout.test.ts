/**
 * The pair layout, the default: apps declare `NAME_v2 ?? NAME_v1` for good. `NAME_v2`'s latest version is the
 * current key, `NAME_v1`'s the previous one; a new key waits in `NAME_next` (which no app declares) until flip,
 * which adds the current key to `NAME_v1`, then the new key to `NAME_v2`, then disables the staged version. A
 * ring seeded as `NAME_v1` alone is a pair ring whose `NAME_v2` the first flip creates. Every command here runs
 * on the emulator through the real client; the apps are real resolvers.
 */
import { describe, expect, it } from 'vitest';
import {
  chooseLayout,
  discard,
  emergency,
  flip,
  probe,
  provision,
  revoke,
  status,
  verify,
  type RotationContext,
  type RotationResult,
} from '../../src/rotation/index.js';
import { type App, fp, KEYS, MINUTE, normalized, refreshAll, rotationRig, WINDOW, type World } from './rig.js';

const rig = rotationRig();

const FORCE = { reason: 'test rotation, no beacons here' };
const describeSteps = (r: RotationResult): string[] => r.steps.map((s) => s.description);
const fingerprints = (apps: readonly App[]): (string | undefined)[] => apps.map((a) => a.handle.info?.fingerprint);

/** Provision, probe and flip `value` on `ctx`'s ring (the mock accepts it). */
async function rotate(w: World, ctx: RotationContext, value: string, mockUrl: string): Promise<RotationResult> {
  expect((await w.run(provision(ctx, value))).outcome).toBe('done');
  expect((await w.run(probe(ctx, value, { provider: 'openai', baseUrl: mockUrl }))).outcome).toBe('done');
  const flipped = await w.run(flip(ctx));
  expect(flipped.outcome, flipped.message).toBe('done');
  return flipped;
}

describe('the pair layout', () => {
  it('NAME_v1 alone is a pair ring by default; provision stages in NAME_next; flip writes v1, then v2', async () => {
    const w = rig.world();
    const name = 'SEED_KEY';
    w.emulator.addVersion(`${name}_v1`, KEYS.k1); // the seed's OPENAI_API_KEY_v1: made outside keyflip, no label
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    const ctx: RotationContext = { ...w.ctx(name, 'pair'), layout: undefined }; // no layout given: the default
    expect(await w.run(chooseLayout(w.admin, name, undefined))).toBe('pair');

    const provisioned = await w.run(provision(ctx, KEYS.k2, { environment: 'prod' }));
    expect(provisioned).toMatchObject({ outcome: 'done', layout: 'pair' });
    expect(describeSteps(provisioned)).toEqual([
      expect.stringMatching(/^create secret SEED_KEY_next \(.*keyflip-role=staging/),
      expect.stringMatching(/^add the new key \(kf_\w+\) as a version of SEED_KEY_next \(no app declares it/),
      expect.stringMatching(/^label SEED_KEY_v1 keyflip-managed=true/),
      expect.stringMatching(/^record on SEED_KEY_next: staged/),
    ]);
    expect(provisioned.keys.map((k) => [k.label, k.role, k.state])).toEqual([
      ['SEED_KEY_v1@1', 'live', 'ENABLED'],
      ['SEED_KEY_next@1', 'staged', 'ENABLED'],
    ]);
    const secrets = await w.snapshot(name);
    expect(secrets.map((s) => [s.id, s.labels])).toEqual([
      [`${name}_next`, expect.objectContaining({ 'keyflip-layout': 'pair', 'keyflip-role': 'staging' })],
      [`${name}_v1`, expect.objectContaining({ 'keyflip-layout': 'pair', 'keyflip-managed': 'true' })],
    ]);
    expect(await w.run(chooseLayout(w.admin, name, undefined))).toBe('pair');
    expect((await w.resolveOnce(name, 'pair')).fingerprint).toBe(fp(KEYS.k1));

    // The first flip: NAME_v2 does not exist yet (NAME_v1 holds the current key): no write to NAME_v1.
    expect((await w.run(probe(ctx, KEYS.k2, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
    const first = await w.run(flip(ctx));
    expect(describeSteps(first)).toEqual([
      expect.stringMatching(/^mark SEED_KEY_next: a flip of kf_\w+ is pending/),
      expect.stringMatching(/^create secret SEED_KEY_v2/),
      expect.stringMatching(/^add the staged key \(kf_\w+\) as a new version of SEED_KEY_v2: apps move to it/),
      expect.stringMatching(/^disable SEED_KEY_next@1: its key is live in SEED_KEY_v2/),
      expect.stringMatching(/^record on SEED_KEY_v2: flipped/),
      expect.stringMatching(/^record on SEED_KEY_next: SEED_KEY_next@1 flipped; clear the pending mark/),
    ]);
    expect(first.keys.map((k) => [k.label, k.role, k.fingerprint])).toEqual([
      ['SEED_KEY_v1@1', 'old', fp(KEYS.k1)],
      ['SEED_KEY_v2@1', 'live', fp(KEYS.k2)],
    ]);
    expect(first.next.command).toBe('verify');
    expect((await w.resolveOnce(name, 'pair')).fingerprint).toBe(fp(KEYS.k2));
    const forced = await w.run(revoke(ctx, { windowMs: WINDOW, force: FORCE }));
    expect(describeSteps(forced)).toEqual([
      expect.stringMatching(/^record on SEED_KEY_v1: revoked SEED_KEY_v1@1/),
      expect.stringMatching(/^disable SEED_KEY_v1@1/),
    ]);

    // The second flip: the current key to NAME_v1 first, then the new key to NAME_v2.
    await w.clock.advance(MINUTE);
    const second = await rotate(w, ctx, KEYS.k3, mock.url);
    expect(describeSteps(second)).toEqual([
      expect.stringMatching(/^mark SEED_KEY_next: a flip of kf_\w+ is pending/),
      `add the current key (${fp(KEYS.k2)}) as a new version of SEED_KEY_v1: apps still read SEED_KEY_v2`,
      `add the staged key (${fp(KEYS.k3)}) as a new version of SEED_KEY_v2: apps move to it on their next refresh`,
      expect.stringMatching(/^disable SEED_KEY_next@2/),
      expect.stringMatching(/^record on SEED_KEY_v2: flipped/),
      expect.stringMatching(/^record on SEED_KEY_next: SEED_KEY_next@2 flipped/),
    ]);
    expect(second.keys.map((k) => [k.label, k.role, k.fingerprint])).toEqual([
      ['SEED_KEY_v1@1', 'revoked', fp(KEYS.k1)],
      ['SEED_KEY_v1@2', 'old', fp(KEYS.k2)],
      ['SEED_KEY_v2@1', 'old', fp(KEYS.k2)],
      ['SEED_KEY_v2@2', 'live', fp(KEYS.k3)],
    ]);
    expect(second.keys.find((k) => k.role === 'live')?.records.flipped).toMatchObject({ fingerprint: fp(KEYS.k3) });

    // revoke: every version holding K2, NAME_v1's latest included; never NAME_v2's latest.
    const revoked = await w.run(revoke(ctx, { windowMs: WINDOW, force: FORCE }));
    expect(revoked.keys.map((k) => [k.label, k.role, k.state])).toEqual([
      ['SEED_KEY_v1@1', 'revoked', 'DISABLED'],
      ['SEED_KEY_v1@2', 'revoked', 'DISABLED'],
      ['SEED_KEY_v2@1', 'revoked', 'DISABLED'],
      ['SEED_KEY_v2@2', 'live', 'ENABLED'],
    ]);
    const info = await w.resolveOnce(name, 'pair');
    expect(info.fingerprint).toBe(fp(KEYS.k3));
    expect((await w.run(status(ctx))).next.command).toBe('provision');
    expect(w.emulator.calls('DestroySecretVersion')).toBe(0);
  });

  it('a ring with no key yet: the first flip creates NAME_v2 alone, the second creates NAME_v1', async () => {
    const w = rig.world();
    const name = 'EMPTY_KEY';
    const mock = await w.mock([KEYS.k1, KEYS.k2]);
    const ctx = w.ctx(name, 'pair');
    const first = await rotate(w, ctx, KEYS.k1, mock.url);
    expect(first.keys.map((k) => [k.label, k.role])).toEqual([['EMPTY_KEY_v2@1', 'live']]);
    expect((await w.resolveOnce(name, 'pair')).fingerprint).toBe(fp(KEYS.k1));
    const second = await rotate(w, ctx, KEYS.k2, mock.url);
    expect(describeSteps(second).slice(1, 3)).toEqual([
      expect.stringMatching(/^create secret EMPTY_KEY_v1 /),
      `add the current key (${fp(KEYS.k1)}) as a new version of EMPTY_KEY_v1: apps still read EMPTY_KEY_v2`,
    ]);
    expect(second.keys.map((k) => [k.label, k.role, k.fingerprint])).toEqual([
      ['EMPTY_KEY_v1@1', 'old', fp(KEYS.k1)],
      ['EMPTY_KEY_v2@1', 'old', fp(KEYS.k1)],
      ['EMPTY_KEY_v2@2', 'live', fp(KEYS.k2)],
    ]);
    expect((await w.resolveOnce(name, 'pair')).fingerprint).toBe(fp(KEYS.k2));
  });

  it('status says which chain apps declare in each layout, and that a legacy suffix ring can migrate', async () => {
    const w = rig.world();
    w.emulator.addVersion('PAIR_KEY_v1', KEYS.k1);
    const pair = await w.run(status({ ...w.ctx('PAIR_KEY', 'pair'), layout: undefined }));
    expect(pair).toMatchObject({ layout: 'pair', chain: 'PAIR_KEY_v2 ?? PAIR_KEY_v1' });
    expect(pair.message).toContain('Apps declare PAIR_KEY_v2 ?? PAIR_KEY_v1 (pair layout');

    for (const n of [1, 2, 3]) w.emulator.addVersion(`OLD_KEY_v${n}`, KEYS.k1); // unlabelled, with a NAME_v3
    const legacy = await w.run(status({ ...w.ctx('OLD_KEY', 'suffix'), layout: undefined }));
    expect(legacy).toMatchObject({ layout: 'suffix', chain: 'OLD_KEY_v4 ?? OLD_KEY_v3 ?? OLD_KEY_v2 ?? OLD_KEY_v1' });
    expect(legacy.message).toContain('Legacy suffix layout: apps must declare names ahead');
    expect(legacy.message).toContain('`keyflip rotate migrate` moves it to pair');

    w.seedLive('ALIAS_KEY', 'alias', KEYS.k1);
    const alias = await w.run(status(w.ctx('ALIAS_KEY', 'alias')));
    expect(alias.chain).toBe('ALIAS_KEY@current ?? ALIAS_KEY@previous');
  });

  it('legacy suffix: provision stages in NAME_next, flip creates NAME_v{n+1} from it', async () => {
    const w = rig.world();
    const name = 'LEGACY_KEY';
    w.seedLive(name, 'suffix', KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2]);
    const ctx = w.ctx(name, 'suffix');
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    expect((await w.snapshot(name)).map((s) => s.id)).toEqual([`${name}_next`, `${name}_v1`]); // no NAME_v2 yet
    expect((await w.run(probe(ctx, KEYS.k2, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
    const flipped = await w.run(flip(ctx));
    expect(describeSteps(flipped)).toEqual([
      expect.stringMatching(/^mark LEGACY_KEY_next: a flip of kf_\w+ is pending/),
      expect.stringMatching(/^create secret LEGACY_KEY_v2/),
      expect.stringMatching(/^add the staged key \(kf_\w+\) as LEGACY_KEY_v2: processes that declare it read it/),
      expect.stringMatching(/^disable LEGACY_KEY_next@1/),
      expect.stringMatching(/^record on LEGACY_KEY_v2: flipped/),
      expect.stringMatching(/^record on LEGACY_KEY_next/),
    ]);
    expect(flipped.keys.map((k) => [k.label, k.role, k.fingerprint ?? fp(KEYS.k1)])).toEqual([
      ['LEGACY_KEY_v1', 'old', fp(KEYS.k1)],
      ['LEGACY_KEY_v2', 'live', fp(KEYS.k2)],
    ]);
    expect((await w.resolveOnce(name, 'suffix')).fingerprint).toBe(fp(KEYS.k2));
  });

  it('a second flip stopped at any write (refused, reply lost) leaves a probed key; rerun finishes', async () => {
    const w = rig.world();
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    let seq = 0;
    const fresh = async (): Promise<{ name: string; ctx: RotationContext }> => {
      const name = `STOP_${++seq}`;
      w.seedLive(name, 'pair', KEYS.k1);
      const ctx = w.ctx(name, 'pair');
      await rotate(w, ctx, KEYS.k2, mock.url);
      expect((await w.run(provision(ctx, KEYS.k3))).outcome).toBe('done');
      expect((await w.run(probe(ctx, KEYS.k3, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
      return { name, ctx };
    };
    const control = await fresh();
    const done = await w.run(flip(control.ctx));
    const writes = done.steps.length;
    expect(writes).toBe(6);
    const end = normalized(await w.snapshot(control.name), control.name);
    for (let k = 1; k <= writes; k++) {
      for (const mode of ['refused', 'lost'] as const) {
        if (mode === 'lost' && !/^add /.test(done.steps[k - 1]?.description ?? '')) continue;
        const what = `write ${k} ${mode}`;
        const { name, ctx } = await fresh();
        const faulty = await w.faultyAdmin({ nthWrite: k, mode });
        const error = await w.rejects(flip({ ...ctx, admin: faulty }), 'INTERRUPTED');
        expect(error.message, what).toContain(`stopped at write ${k} of ${writes}`);
        // Apps declaring NAME_v2 ?? NAME_v1 read a probed key: the one live before, or the new one.
        expect([fp(KEYS.k2), fp(KEYS.k3)], what).toContain((await w.resolveOnce(name, 'pair')).fingerprint);
        const ring = await w.ring(name, 'pair');
        expect(ring.live?.state, what).toBe('ENABLED');
        if (k === 3 && mode === 'refused') {
          // Stopped after step 1: NAME_v1 holds the current key too, a copy (not an old key to verify and revoke).
          expect(
            ring.keys.map((key) => [key.label, key.role]),
            what,
          ).toEqual([
            [`${name}_v1@1`, 'old'],
            [`${name}_v1@2`, 'copy'],
            [`${name}_v2@1`, 'live'],
            [`${name}_next@2`, 'staged'],
          ]);
        }
        if (k > 1 || mode === 'lost') {
          const st = await w.run(status(ctx));
          expect(st.next.command, what).toBe('flip');
          expect(st.notes.join(' '), what).toMatch(/a flip of kf_\w+ stopped part-way/);
          // Every other command waits for it.
          expect((await w.run(revoke(ctx, { windowMs: WINDOW, force: FORCE }))).refusal, what).toBe('pending');
          expect((await w.run(discard(ctx))).refusal, what).toBe('pending');
        }
        const again = await w.run(flip(ctx));
        expect(again.outcome, `${what}: ${again.message}`).toBe('done');
        expect(normalized(await w.snapshot(name), name), what).toEqual(end);
      }
    }
  });

  it('emergency: new key to NAME_v2 at once, every other version disabled; next flip refills NAME_v1', async () => {
    const w = rig.world();
    const name = 'LEAK_KEY';
    w.seedLive(name, 'pair', KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3, KEYS.k4]);
    const ctx = w.ctx(name, 'pair');
    const apps = await w.apps(2, name, 'pair');
    await rotate(w, ctx, KEYS.k2, mock.url);
    await refreshAll(apps);
    expect(fingerprints(apps)).toEqual([fp(KEYS.k2), fp(KEYS.k2)]);

    const leaked = await w.run(emergency(ctx, KEYS.k3, { probe: { provider: 'openai', baseUrl: mock.url } }));
    expect(leaked.outcome).toBe('done');
    expect(describeSteps(leaked)).toEqual([
      expect.stringMatching(/^mark LEAK_KEY_v2: an emergency to kf_\w+ is pending/),
      expect.stringMatching(/^add the new key \(kf_\w+\) as a version of LEAK_KEY_v2: live at once/),
      'disable LEAK_KEY_v1@1 (old) now',
      'disable LEAK_KEY_v2@1 (live) now', // live until the new version was added
      expect.stringMatching(/^record on LEAK_KEY_v1: revoked LEAK_KEY_v1@1/),
      expect.stringMatching(/^record on LEAK_KEY_v2: the emergency flip, revoked LEAK_KEY_v2@1; clear the pending/),
    ]);
    expect(leaked.keys.map((k) => [k.label, k.role, k.state])).toEqual([
      ['LEAK_KEY_v1@1', 'revoked', 'DISABLED'],
      ['LEAK_KEY_v2@1', 'revoked', 'DISABLED'],
      ['LEAK_KEY_v2@2', 'live', 'ENABLED'],
    ]);
    await refreshAll(apps);
    expect(fingerprints(apps)).toEqual([fp(KEYS.k3), fp(KEYS.k3)]);

    // NAME_v1 reads as absent until the next flip adds the current key to it.
    const next = await rotate(w, ctx, KEYS.k4, mock.url);
    expect(describeSteps(next)[1]).toBe(
      `add the current key (${fp(KEYS.k3)}) as a new version of LEAK_KEY_v1: apps still read LEAK_KEY_v2`,
    );
    expect(next.keys.filter((k) => k.state === 'ENABLED').map((k) => [k.label, k.role])).toEqual([
      ['LEAK_KEY_v1@2', 'old'],
      ['LEAK_KEY_v2@2', 'old'],
      ['LEAK_KEY_v2@3', 'live'],
    ]);
    await refreshAll(apps);
    expect(fingerprints(apps)).toEqual([fp(KEYS.k4), fp(KEYS.k4)]);
    for (const app of apps) expect(app.events.filter((e) => e.event === 'error' || e.event === 'revoke')).toEqual([]);
  });

  it('discard disables the NAME_next version; provision can stage another', async () => {
    const w = rig.world();
    const name = 'DROP_KEY';
    w.seedLive(name, 'pair', KEYS.k1);
    const ctx = w.ctx(name, 'pair');
    expect((await w.run(provision(ctx, KEYS.dead))).outcome).toBe('done');
    const dropped = await w.run(discard(ctx));
    expect(describeSteps(dropped)).toEqual([
      'disable DROP_KEY_next@1 (never live by a flip)',
      'record on DROP_KEY_next: discarded DROP_KEY_next@1; clear the pending mark',
    ]);
    expect(dropped.keys.map((k) => [k.label, k.role, k.state])).toEqual([
      ['DROP_KEY_v1@1', 'live', 'ENABLED'],
      ['DROP_KEY_next@1', 'discarded', 'DISABLED'],
    ]);
    const again = await w.run(provision(ctx, KEYS.k2));
    expect(again.keys.find((k) => k.role === 'staged')?.label).toBe('DROP_KEY_next@2');
  });
});

describe('NAME_v2 ?? NAME_v1 forever', () => {
  it('four rotations, an emergency: running apps follow each, never see a staged key, never lack one', async () => {
    const w = rig.world();
    const name = 'FOREVER_KEY';
    w.seedLive(name, 'pair', KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3, KEYS.k4, KEYS.k5, KEYS.k6]);
    const ctx = w.ctx(name, 'pair');
    const probeWith = { provider: 'openai' as const, baseUrl: mock.url };
    const apps = await w.apps(3, name, 'pair', { chain: `${name}_v2 ?? ${name}_v1` }); // and never another chain
    const traffic = w.traffic(apps, mock);
    await traffic.round();
    const all = (value: string): string[] => Array(apps.length).fill(fp(value));
    expect(fingerprints(apps)).toEqual(all(KEYS.k1));

    let current: string = KEYS.k1;
    const steps: [kind: 'rotation' | 'emergency', to: string][] = [
      ['rotation', KEYS.k2],
      ['rotation', KEYS.k3],
      ['rotation', KEYS.k4],
      ['emergency', KEYS.k5],
      ['rotation', KEYS.k6],
    ];
    for (const [kind, to] of steps) {
      const what = `${kind} to ${fp(to)}`;
      if (kind === 'emergency') {
        expect((await w.run(emergency(ctx, to, { probe: probeWith }))).outcome, what).toBe('done');
      } else {
        expect((await w.run(provision(ctx, to))).outcome, what).toBe('done');
        await refreshAll(apps); // staged: no app reads it
        expect(fingerprints(apps), what).toEqual(all(current));
        expect((await w.run(probe(ctx, to, probeWith))).outcome, what).toBe('done');
        await refreshAll(apps);
        expect(fingerprints(apps), what).toEqual(all(current));
        await traffic.round();
        expect((await w.run(flip(ctx))).outcome, what).toBe('done');
      }
      await refreshAll(apps); // one refresh after the flip: every app on the new key
      expect(fingerprints(apps), what).toEqual(all(to));
      await traffic.round();
      if (kind === 'rotation') {
        await w.clock.advance(WINDOW / 2);
        await traffic.round();
        await w.clock.advance(WINDOW / 2 + MINUTE);
        await traffic.round();
        const verified = await w.run(verify(ctx, { windowMs: WINDOW }));
        expect(verified.outcome, `${what}: ${verified.message}`).toBe('done');
        expect((await w.run(revoke(ctx, { windowMs: WINDOW }))).outcome, what).toBe('done');
        await refreshAll(apps);
        expect(fingerprints(apps), what).toEqual(all(to));
      }
      mock.revoke(current); // the provider forgets the old key: no app holds it
      await traffic.round();
      current = to;
      await w.clock.advance(MINUTE);
    }
    await traffic.round();
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
    for (const app of apps) {
      // Every rotation seen, in order, each straight from the key before it: never a staged key before its flip.
      const rotations = app.events.filter((e) => e.event === 'rotate');
      expect(rotations.map((e) => (e.payload as { current: { fingerprint: string } }).current.fingerprint)).toEqual(
        steps.map(([, to]) => fp(to)),
      );
      expect(app.events.filter((e) => e.event === 'error' || e.event === 'revoke')).toEqual([]);
      expect(app.handle.info?.candidate).toBe(`${name}_v2`);
    }
    const ring = await w.ring(name, 'pair');
    expect(ring.keys.filter((k) => k.state === 'ENABLED').map((k) => k.label)).toEqual([`${name}_v2@5`]);
    expect([...ring.secrets.keys()].sort()).toEqual([`${name}_next`, `${name}_v1`, `${name}_v2`]); // no new name
  });
});
