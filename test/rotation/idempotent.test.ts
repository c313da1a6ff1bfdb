/**
 * Running a command twice is safe: the second answers `already-done` and writes nothing. And `dryRun`
 * lists the writes a command would make, makes none, and leaves the next real run to make exactly those.
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
  type RotationContext,
  type RotationResult,
} from '../../src/rotation/index.js';
import { fp, KEYS, MINUTE, refreshAll, rotationRig, WINDOW, type World } from './rig.js';

const rig = rotationRig();
let n = 0;

async function setup(layout: Layout) {
  const w = rig.world();
  const name = `IDEM_${++n}`;
  w.seedLive(name, layout, KEYS.k1);
  const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3, KEYS.k4]);
  return { w, name, ctx: w.ctx(name, layout), probeWith: { provider: 'openai' as const, baseUrl: mock.url } };
}

/** Runs `work` twice: the first must be `done`, the second `already-done` with no write. */
async function twice(w: World, work: () => Promise<RotationResult>): Promise<[RotationResult, RotationResult]> {
  const first = await w.run(work());
  expect(first, first.message).toMatchObject({ outcome: 'done', ok: true });
  const second = await w.noWrites(() => w.run(work()));
  expect(second, second.message).toMatchObject({ outcome: 'already-done', ok: true, steps: [] });
  return [first, second];
}

/** A dry run: `planned`, its steps listed and not done, nothing written. */
async function dry(
  w: World,
  ctx: RotationContext,
  work: (ctx: RotationContext) => Promise<RotationResult>,
): Promise<RotationResult> {
  const planned = await w.noWrites(() => w.run(work({ ...ctx, dryRun: true })));
  expect(planned, planned.message).toMatchObject({ outcome: 'planned', ok: true });
  expect(planned.steps.length).toBeGreaterThan(0);
  expect(planned.steps.every((s) => !s.done && s.description.length > 0)).toBe(true);
  return planned;
}

/** The dry run, then the real run: the same writes, all made. */
async function dryThenReal(
  w: World,
  ctx: RotationContext,
  work: (ctx: RotationContext) => Promise<RotationResult>,
): Promise<RotationResult> {
  const planned = await dry(w, ctx, work);
  const real = await w.run(work(ctx));
  expect(real.outcome, real.message).toBe('done');
  expect(real.steps).toEqual(planned.steps.map((s) => ({ ...s, done: true })));
  return real;
}

describe.each(LAYOUTS)('twice (%s layout)', (layout) => {
  it('flip, verify-then-revoke, and discard: the second run is already-done and writes nothing', async () => {
    const { w, name, ctx, probeWith } = await setup(layout);
    const apps = await w.apps(2, name, layout);
    await w.clock.advance(MINUTE);
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    expect((await w.run(probe(ctx, KEYS.k2, probeWith))).outcome).toBe('done');
    const [flipped, again] = await twice(w, () => flip(ctx));
    expect(again.message).toContain('nothing to flip');
    expect(again.keys).toEqual(flipped.keys);

    await refreshAll(apps);
    await w.clock.advance(WINDOW + MINUTE);
    const [revoked, revokedAgain] = await twice(w, () => revoke(ctx, { windowMs: WINDOW }));
    expect(revoked.keys.filter((k) => k.role === 'revoked')).toHaveLength(1);
    expect(revokedAgain.message).toContain('nothing to revoke');
    // verify with nothing left to verify is already done too.
    const verified = await w.noWrites(() => w.run(verify(ctx, { windowMs: WINDOW })));
    expect(verified.outcome).toBe('already-done');

    // A dead key staged, then discarded twice.
    expect((await w.run(provision(ctx, KEYS.k3))).outcome).toBe('done');
    const [discarded, discardedAgain] = await twice(w, () => discard(ctx));
    expect(discarded.keys.find((k) => k.role === 'discarded')?.fingerprint).toBe(fp(KEYS.k3));
    expect(discardedAgain.message).toContain('nothing to discard');
  });

  it('emergency with the same key twice: the second is already-done and writes nothing', async () => {
    const { w, ctx, probeWith } = await setup(layout);
    const [done] = await twice(w, () => emergency(ctx, KEYS.k2, { probe: probeWith }));
    expect(done.keys.map((k) => [k.role, k.state])).toEqual([
      ['revoked', 'DISABLED'],
      ['live', 'ENABLED'],
    ]);
    expect(done.notes.join(' ')).toMatch(/authFetch/);
    // Another key is a new emergency, not a repeat.
    const next = await w.run(emergency(ctx, KEYS.k3));
    expect(next.outcome).toBe('done');
  });
});

describe.each(LAYOUTS)('dryRun (%s layout)', (layout) => {
  it('every command plans its writes and makes none; the real run then makes exactly those', async () => {
    const { w, name, ctx, probeWith } = await setup(layout);
    const apps = await w.apps(2, name, layout);
    await w.clock.advance(MINUTE);

    const provisioned = await dryThenReal(w, ctx, (c) => provision(c, KEYS.k2, { environment: 'prod' }));
    expect(provisioned.steps.map((s) => s.description).join('\n')).toMatch(/add the new key/);

    // A dry probe asks the provider but records nothing.
    const dryProbe = await w.noWrites(() => w.run(probe({ ...ctx, dryRun: true }, KEYS.k2, probeWith)));
    expect(dryProbe).toMatchObject({ outcome: 'planned', probe: { ok: true } });
    expect((await w.run(status(ctx))).next.command).toBe('probe');
    await dryThenReal(w, ctx, (c) => probe(c, KEYS.k2, probeWith));

    const flipped = await dryThenReal(w, ctx, (c) => flip(c));
    expect(flipped.steps[0]?.description).toMatch(
      layout === 'alias' ? /^enable / : new RegExp(`^mark ${name}_next: a flip of ${fp(KEYS.k2)} is pending`),
    );
    await refreshAll(apps);
    await w.clock.advance(WINDOW + MINUTE);

    // A dry verify that passes is `planned`; it records nothing.
    const dryVerify = await w.noWrites(() => w.run(verify({ ...ctx, dryRun: true }, { windowMs: WINDOW })));
    expect(dryVerify).toMatchObject({ outcome: 'planned', verifications: [{ result: { ok: true } }] });
    await dryThenReal(w, ctx, (c) => verify(c, { windowMs: WINDOW }));
    const revoked = await dryThenReal(w, ctx, (c) => revoke(c, { windowMs: WINDOW }));
    expect(revoked.steps.some((s) => /^disable /.test(s.description))).toBe(true);

    expect((await w.run(provision(ctx, KEYS.k3))).outcome).toBe('done');
    await dryThenReal(w, ctx, (c) => discard(c));

    const leak = await dryThenReal(w, ctx, (c) => emergency(c, KEYS.k4, { probe: probeWith }));
    expect(leak.keys.find((k) => k.role === 'live')?.fingerprint).toBe(fp(KEYS.k4));
    expect(w.emulator.calls('DestroySecretVersion')).toBe(0); // nothing ever destroys a version
  });

  it('a dry run of a refused command is still refused, and a dry emergency while staged too', async () => {
    const { w, ctx } = await setup(layout);
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    const dryFlip = await w.noWrites(() => w.run(flip({ ...ctx, dryRun: true })));
    expect(dryFlip).toMatchObject({ outcome: 'refused', refusal: 'not-probed' });
    const dryLeak = await w.noWrites(() => w.run(emergency({ ...ctx, dryRun: true }, KEYS.k3)));
    expect(dryLeak).toMatchObject({ outcome: 'refused', refusal: 'staged-exists' });
  });
});
