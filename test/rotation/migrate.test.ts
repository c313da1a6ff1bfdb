/**
 * `migrate`: a legacy suffix ring (`NAME_v1`, `NAME_v2`, `NAME_v3`) moved to the pair layout, on the emulator through
 * the real client, with running apps on both chains an app of that ring may declare (`_v3 ?? _v2 ?? _v1` and
 * `_v2 ?? _v1`): after every single write of it, each app (refreshed) and a new app (a cold read) has a key, and
 * only the live or the previous one. It never disables anything, finishes when run again after stopping at any
 * write, changes nothing the second time, and refuses while a rotation is in flight. The pair ring it leaves
 * rotates on.
 */
import { describe, expect, it } from 'vitest';
import { createResolver } from '../../src/index.js';
import {
  flip,
  migrate,
  probe,
  provision,
  revoke,
  status,
  type RotationContext,
  type SecretAdmin,
} from '../../src/rotation/index.js';
import { gcpSecretManager } from '../../src/sources/gcp.js';
import type { MockProvider } from '../../src/testing/index.js';
import { fp, KEYS, normalized, refreshAll, rotationRig, WINDOW, type App, type World } from './rig.js';

const rig = rotationRig();
const NAME = 'OPENAI_API_KEY';
const LONG = (name: string): string => `${name}_v3 ?? ${name}_v2 ?? ${name}_v1`;
const PAIR = (name: string): string => `${name}_v2 ?? ${name}_v1`;

/** provision → probe → flip to `value`. */
async function rotateTo(w: World, ctx: RotationContext, value: string, mock: MockProvider): Promise<void> {
  expect((await w.run(provision(ctx, value))).outcome).toBe('done');
  expect((await w.run(probe(ctx, value, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
  expect((await w.run(flip(ctx))).outcome).toBe('done');
}

/**
 * A legacy ring made by the suffix layout: K1 in `NAME_v1` (revoked), K2 in `NAME_v2` (old, still enabled: its
 * verify window is running), K3 in `NAME_v3` (live).
 */
async function legacyRing(w: World, name: string, mock: MockProvider): Promise<RotationContext> {
  const ctx = w.ctx(name, 'suffix');
  w.emulator.addVersion(`${name}_v1`, KEYS.k1);
  await rotateTo(w, ctx, KEYS.k2, mock);
  expect((await w.run(revoke(ctx, { windowMs: WINDOW, force: { reason: 'k1 retired' } }))).outcome).toBe('done');
  await rotateTo(w, ctx, KEYS.k3, mock);
  return ctx;
}

/** What a new app declaring `chain` resolves now: the fingerprint, or undefined when it finds no key. */
async function coldRead(w: World, name: string, chain: string): Promise<string | undefined> {
  const resolver = createResolver({
    sources: [gcpSecretManager({ projectId: w.emulator.projectId, clientOptions: { ...w.emulator.clientOptions } })],
    refreshMs: 86_400_000,
  });
  try {
    const handle = resolver.secret(name, chain);
    await handle.get().catch(() => undefined);
    return handle.info?.fingerprint;
  } finally {
    await resolver.close();
  }
}

/** An admin that, after each write, runs `check` (the state that write left). */
function observed(admin: SecretAdmin, check: (write: string) => Promise<void>): SecretAdmin {
  const after =
    <A extends unknown[], R>(method: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const out = await call(...args);
      await check(`${method} ${String(args[0])}`);
      return out;
    };
  return {
    ...admin,
    createSecret: after('createSecret', admin.createSecret.bind(admin)),
    updateSecret: after('updateSecret', admin.updateSecret.bind(admin)),
    addVersion: after('addVersion', admin.addVersion.bind(admin)),
    setState: after('setState', admin.setState.bind(admin)),
  };
}

const held = (apps: readonly App[]): (string | undefined)[] => apps.map((a) => a.handle.info?.fingerprint);

describe('migrate', () => {
  const EVERY_WRITE =
    'moves a legacy ring to pair: after every write, apps on either chain have the live or previous key';
  it(EVERY_WRITE, async () => {
    const w = rig.world();
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3, KEYS.k4]);
    const ctx = await legacyRing(w, NAME, mock);
    const long = await w.apps(2, NAME, 'suffix', { chain: LONG(NAME), prefix: 'long' });
    const pair = await w.apps(2, NAME, 'suffix', { chain: PAIR(NAME), prefix: 'pair' });
    expect(held(long)).toEqual([fp(KEYS.k3), fp(KEYS.k3)]);
    expect(held(pair)).toEqual([fp(KEYS.k2), fp(KEYS.k2)]); // NAME_v2 ?? NAME_v1 reads the old key
    const traffic = w.traffic([...long, ...pair], mock);
    await traffic.round();

    const seen: { write: string; long: (string | undefined)[]; pair: (string | undefined)[] }[] = [];
    const check = async (write: string): Promise<void> => {
      await refreshAll([...long, ...pair]);
      seen.push({
        write,
        long: [...held(long), await coldRead(w, NAME, LONG(NAME))],
        pair: [...held(pair), await coldRead(w, NAME, PAIR(NAME))],
      });
    };
    const before = (await w.snapshot(NAME)).flatMap((s) => s.versions.filter((v) => v.state === 'DISABLED'));
    const dry = await w.noWrites(() => w.run(migrate({ ...ctx, dryRun: true })));
    expect(dry.outcome).toBe('planned');

    const migrated = await w.run(migrate({ ...ctx, admin: observed(w.admin, check) }));
    expect(migrated).toMatchObject({ command: 'migrate', outcome: 'done', ok: true, layout: 'pair' });
    expect(migrated.steps.map((s) => s.description)).toEqual([
      `add the previous key (${fp(KEYS.k2)}, ${NAME}_v2) as a new version of ${NAME}_v1`,
      `record on ${NAME}_v1: the records of ${NAME}_v2 carried to its new version`,
      `add the live key (${fp(KEYS.k3)}, ${NAME}_v3) as a new version of ${NAME}_v2`,
      `record on ${NAME}_v2: the records of ${NAME}_v3 carried to its new version`,
      `label ${NAME}_next keyflip-layout=pair`,
      `label ${NAME}_v3 keyflip-layout=pair`,
      `label ${NAME}_v1 keyflip-layout=pair`,
      `label ${NAME}_v2 keyflip-layout=pair`,
    ]);
    expect(seen.length).toBe(migrated.steps.length);
    for (const s of seen) {
      // The long chain keeps NAME_v3; the pair chain has the old key until NAME_v2 holds the live one.
      expect(s.long, s.write).toEqual([fp(KEYS.k3), fp(KEYS.k3), fp(KEYS.k3)]);
      for (const f of s.pair) expect([fp(KEYS.k2), fp(KEYS.k3)], s.write).toContain(f);
    }
    expect(seen.at(-1)?.pair).toEqual([fp(KEYS.k3), fp(KEYS.k3), fp(KEYS.k3)]);
    // Nothing was disabled.
    const after = (await w.snapshot(NAME)).flatMap((s) => s.versions.filter((v) => v.state === 'DISABLED'));
    expect(after.length).toBe(before.length);
    // The pair ring: NAME_v2 holds the live key, NAME_v1 the previous one; the verify window still runs from the flip.
    const ring = await w.ring(NAME, 'pair');
    expect(ring.live).toMatchObject({ secretId: `${NAME}_v2`, fingerprint: fp(KEYS.k3) });
    expect(ring.live?.records.flipped).toEqual(
      expect.objectContaining({ fingerprint: fp(KEYS.k3), at: expect.any(String) }),
    );
    expect(ring.keys.find((k) => k.secretId === `${NAME}_v1` && k.latest)).toMatchObject({
      state: 'ENABLED',
      role: 'old',
    });
    expect([...ring.secrets.values()].map((s) => s.labels['keyflip-layout'])).toEqual(
      Array(ring.secrets.size).fill('pair'),
    );
    expect(migrated.notes.join('\n')).toContain(`${NAME}_v3 stays enabled`);

    // Again: nothing to do.
    const again = await w.noWrites(() => w.run(migrate(ctx)));
    expect(again).toMatchObject({ outcome: 'already-done', ok: true });

    // The pair ring rotates on: the pair chain follows with no deploy; no app is ever without a key.
    const pairCtx = w.ctx(NAME, 'pair');
    const st = await w.run(status(pairCtx));
    expect(st.layout).toBe('pair');
    await rotateTo(w, pairCtx, KEYS.k4, mock);
    await refreshAll([...long, ...pair]);
    expect(held(pair)).toEqual([fp(KEYS.k4), fp(KEYS.k4)]);
    expect(held(long)).toEqual([fp(KEYS.k3), fp(KEYS.k3)]); // until they change their chain
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
    w.witness.see(await w.snapshot());
  });

  it('a quiet legacy ring (only NAME_v3 enabled): NAME_v2 gets the live key, NAME_v1 stays as it is', async () => {
    const w = rig.world();
    const labels = { 'keyflip-managed': 'true', 'keyflip-layout': 'suffix', 'keyflip-step': 'revoked' };
    for (const [n, value] of [
      [1, KEYS.k1],
      [2, KEYS.k2],
      [3, KEYS.k3],
    ] as const) {
      w.emulator.createSecret(`${NAME}_v${n}`, { labels, annotations: { 'keyflip-name': NAME } });
      w.emulator.addVersion(`${NAME}_v${n}`, value);
      if (n < 3) w.emulator.disableVersion(`${NAME}_v${n}`, '1');
    }
    const ctx = w.ctx(NAME, 'suffix');
    expect(await coldRead(w, NAME, PAIR(NAME))).toBeUndefined(); // the short chain had no key at all
    const migrated = await w.run(migrate(ctx));
    expect(migrated.outcome).toBe('done');
    expect(migrated.steps.map((s) => s.description)).toEqual([
      `add the live key (${fp(KEYS.k3)}, ${NAME}_v3) as a new version of ${NAME}_v2`,
      `label ${NAME}_v3 keyflip-layout=pair`,
      `label ${NAME}_v1 keyflip-layout=pair`,
      `label ${NAME}_v2 keyflip-layout=pair`,
    ]);
    expect(await coldRead(w, NAME, PAIR(NAME))).toBe(fp(KEYS.k3));
    expect(await coldRead(w, NAME, LONG(NAME))).toBe(fp(KEYS.k3));
    const v1 = (await w.snapshot(NAME)).find((s) => s.id === `${NAME}_v1`);
    expect(v1?.versions.map((v) => v.state)).toEqual(['DISABLED']);
  });

  it('refuses while a rotation is in flight, for an alias ring, and where there is no ring', async () => {
    const w = rig.world();
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3, KEYS.k4]);
    const ctx = await legacyRing(w, NAME, mock);
    expect((await w.run(provision(ctx, KEYS.k4))).outcome).toBe('done');
    const staged = await w.noWrites(() => w.run(migrate(ctx)));
    expect(staged).toMatchObject({ outcome: 'refused', refusal: 'staged-exists' });

    const stopped = await w.faultyAdmin({ method: 'AddSecretVersion', nth: 1 });
    const other = w.ctx('OTHER', 'suffix');
    w.emulator.addVersion('OTHER_v1', KEYS.k1);
    w.emulator.createSecret('OTHER_v3', { labels: { 'keyflip-layout': 'suffix' }, annotations: {} });
    await w.rejects(provision({ ...other, admin: stopped }, KEYS.k2), 'INTERRUPTED');
    const pending = await w.noWrites(() => w.run(migrate(other)));
    expect(pending).toMatchObject({ outcome: 'refused', refusal: 'pending' });

    w.emulator.setAlias('ALIASED', 'current', w.emulator.addVersion('ALIASED', KEYS.k1));
    await w.run(provision(w.ctx('ALIASED', 'alias'), KEYS.k2));
    const alias = await w.noWrites(() => w.run(migrate(w.ctx('ALIASED', 'alias'))));
    expect(alias).toMatchObject({ outcome: 'refused', refusal: 'layout-mismatch' });

    const none = await w.noWrites(() => w.run(migrate(w.ctx('NOTHING', 'suffix'))));
    expect(none).toMatchObject({ outcome: 'refused', refusal: 'layout-mismatch' });
  });

  it('stopped at any write (refused, or made with its reply lost), finishes when run again', async () => {
    const w = rig.world();
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    const reference = await legacyRing(w, 'REFERENCE', mock);
    const writes = (await w.run(migrate({ ...reference, dryRun: true }))).steps.length;
    expect((await w.run(migrate(reference))).outcome).toBe('done');
    const expected = normalized(await w.snapshot('REFERENCE'), 'REFERENCE');
    let scenario = 0;
    for (let nth = 1; nth <= writes; nth++) {
      for (const mode of ['refused', 'lost'] as const) {
        const name = `STOPPED_${++scenario}`;
        const ctx = await legacyRing(w, name, mock);
        const faulty = await w.faultyAdmin({ nthWrite: nth, mode });
        const error = await w.rejects(migrate({ ...ctx, admin: faulty }), 'INTERRUPTED');
        expect(error.message).toContain(`stopped at write ${nth} of ${writes}`);
        expect(await coldRead(w, name, PAIR(name))).toBeDefined();
        expect(await coldRead(w, name, LONG(name))).toBe(fp(KEYS.k3));
        const finished = await w.run(migrate(ctx));
        expect(['done', 'already-done']).toContain(finished.outcome);
        expect(normalized(await w.snapshot(name), name), `write ${nth} ${mode}`).toEqual(expected);
      }
    }
  });
});
