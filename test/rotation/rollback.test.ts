/**
 * `rollback` in each layout, on the emulator through the real client, with running apps (real resolvers) sending
 * requests to the mock provider: after a flip the previous key comes back as current and the apps return to it
 * with no failed request; running it again changes nothing; revoke afterwards retires the rolled-back key and
 * never the good one; once the old key is revoked, rollback is refused. And every write of it, interrupted, is
 * finished by running it again, to the same end state as an uninterrupted run.
 */
import { describe, expect, it } from 'vitest';
import {
  discard,
  emergency,
  flip,
  probe,
  provision,
  revoke,
  rollback,
  status,
  type Layout,
  type RotationContext,
  type RotationResult,
} from '../../src/rotation/index.js';
import type { MockProvider } from '../../src/testing/index.js';
import { fp, KEYS, MINUTE, normalized, refreshAll, rotationRig, WINDOW, type App, type World } from './rig.js';

const rig = rotationRig();
const LAYOUTS: readonly Layout[] = ['pair', 'alias', 'suffix'];
const REASON = 'the new key gets 429s in production';

/** The chain apps declare in each layout. */
const chainOf = (name: string, layout: Layout): string =>
  layout === 'pair'
    ? `${name}_v2 ?? ${name}_v1`
    : layout === 'suffix'
      ? `${name}_v3 ?? ${name}_v2 ?? ${name}_v1`
      : `${name}@current ?? ${name}@previous`;

/** A key made before keyflip: `NAME_v1` (pair, suffix) or version 1 of `NAME` named by `current` (alias). */
function seed(w: World, name: string, layout: Layout, value: string): void {
  if (layout === 'alias') w.emulator.setAlias(name, 'current', w.emulator.addVersion(name, value));
  else w.emulator.addVersion(`${name}_v1`, value);
}

/** provision → probe → flip to `value`. */
async function rotateTo(w: World, ctx: RotationContext, value: string, mock: MockProvider): Promise<void> {
  expect((await w.run(provision(ctx, value))).outcome).toBe('done');
  expect((await w.run(probe(ctx, value, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
  expect((await w.run(flip(ctx))).outcome).toBe('done');
}

const heldBy = (apps: readonly App[]): (string | undefined)[] => apps.map((a) => a.handle.info?.fingerprint);

/** The fingerprints of every enabled version of the ring's secrets (read here, never printed). */
async function enabledKeys(w: World, name: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const secret of await w.snapshot(name)) {
    for (const v of secret.versions) {
      if (v.state !== 'ENABLED') continue;
      const f = fp(await w.admin.access(secret.id, v.version));
      out.set(f, [...(out.get(f) ?? []), `${secret.id}/${v.version}`]);
    }
  }
  return out;
}

const rolledBackRecords = (r: RotationResult) =>
  r.keys.flatMap((k) => (k.records['rolled-back'] ? [k.records['rolled-back']] : []));

describe.each(LAYOUTS)('rollback (%s layout)', (layout) => {
  const WHOLE =
    'puts the previous key back (apps return to it); again changes nothing; revoke retires the rolled-back key ' +
    'only; refused once the old key is revoked';
  it(WHOLE, async () => {
    const w = rig.world();
    const name = 'OPENAI_API_KEY';
    const ctx = w.ctx(name, layout);
    seed(w, name, layout, KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    const apps = await w.apps(3, name, layout, { chain: chainOf(name, layout) });
    const traffic = w.traffic(apps, mock);
    await traffic.round();
    await w.clock.advance(5 * MINUTE);

    // Before any flip there is nothing to roll back.
    const before = await w.noWrites(() => w.run(rollback(ctx)));
    expect(before).toMatchObject({ outcome: 'refused', ok: false, refusal: 'nothing-to-roll-back' });

    await rotateTo(w, ctx, KEYS.k2, mock);
    await refreshAll(apps);
    expect(heldBy(apps)).toEqual(Array(3).fill(fp(KEYS.k2)));
    await traffic.round();
    await w.clock.advance(MINUTE);

    // A dry run plans the writes and makes none.
    const planned = await w.noWrites(() => w.run(rollback({ ...ctx, dryRun: true }, { reason: REASON })));
    expect(planned.outcome).toBe('planned');
    expect(planned.steps.length).toBeGreaterThan(0);
    expect(planned.steps.every((s) => !s.done)).toBe(true);

    // A reason that holds a key is refused before anything is read.
    await w.rejects(rollback(ctx, { reason: `leaked ${KEYS.k3}` }), 'INVALID_INPUT');

    const rolled = await w.run(rollback(ctx, { reason: REASON }));
    expect(rolled).toMatchObject({ command: 'rollback', outcome: 'done', ok: true, layout });
    expect(rolled.steps.every((s) => s.done)).toBe(true);
    // The writes, per layout.
    expect(rolled.steps.map((s) => s.description)).toEqual(
      {
        pair: [
          `mark ${name}_v2: a rollback to ${name}_v1@1 (${fp(KEYS.k1)}) is pending`,
          expect.stringMatching(
            new RegExp(`^add the previous key \\(${fp(KEYS.k1)}, ${name}_v1@1\\) as a new version of ${name}_v2`),
          ),
          expect.stringMatching(new RegExp(`^disable ${name}_v2@1 `)),
          `record on ${name}_v2: rolled back ${name}_v2@1; clear the pending mark`,
        ],
        alias: [
          `move ${name}@current back to version 1 and remove @previous (no version before it); ` +
            'record the rollback of version 2',
        ],
        suffix: [
          `mark ${name}_v2: a rollback to ${name}_v1 (${fp(KEYS.k1)}) is pending`,
          `disable ${name}_v2: processes fall back to ${name}_v1 on their next refresh`,
          `record on ${name}_v1: ${name}_v1 is current again`,
          `record on ${name}_v2: rolled back ${name}_v2; clear the pending mark`,
        ],
      }[layout],
    );
    const at = new Date(w.clock.now()).toISOString();
    expect(rolledBackRecords(rolled)).toEqual([{ at, fingerprint: fp(KEYS.k2), to: fp(KEYS.k1), reason: REASON }]);
    const live = rolled.keys.find((k) => k.role === 'live');
    expect(live?.fingerprint).toBe(fp(KEYS.k1));
    expect(live?.records.flipped).toMatchObject({ at, rollback: true });
    // In Secret Manager: the rolled-back key is disabled (pair, suffix) or no longer current (alias).
    const enabled = await enabledKeys(w, name);
    if (layout === 'alias') {
      // `current` back on version 1; no version before it, so no `previous`.
      expect((await w.ring(name, layout)).secrets.get(name)?.aliases).toEqual({ current: 1 });
      expect(rolled.keys.find((k) => k.fingerprint === fp(KEYS.k2))).toMatchObject({ role: 'old', state: 'ENABLED' });
    } else {
      expect(enabled.has(fp(KEYS.k2))).toBe(false);
    }

    // The apps return to the previous key on their next refresh, with no failed request.
    await refreshAll(apps);
    expect(heldBy(apps)).toEqual(Array(3).fill(fp(KEYS.k1)));
    await traffic.round();
    const k2Requests = mock.requestsFor(KEYS.k2);

    // Again: nothing to do, nothing written.
    const again = await w.noWrites(() => w.run(rollback(ctx, { reason: REASON })));
    expect(again).toMatchObject({ outcome: 'already-done', ok: true });

    // Revoke, a window after the rollback, with the beacons: the rolled-back key is retired, never the good one.
    await w.clock.advance(WINDOW + MINUTE);
    await traffic.round();
    const revoked = await w.run(revoke(ctx, { windowMs: WINDOW }));
    expect(revoked.ok).toBe(true);
    expect(revoked.outcome).toBe(layout === 'alias' ? 'done' : 'already-done');
    const after = await enabledKeys(w, name);
    expect(after.has(fp(KEYS.k2))).toBe(false);
    expect(after.has(fp(KEYS.k1))).toBe(true);
    const ring = await w.ring(name, layout);
    expect(ring.live?.state).toBe('ENABLED');
    expect(ring.keys.filter((k) => k.records.revoked?.fingerprint === fp(KEYS.k1))).toEqual([]);
    await refreshAll(apps);
    expect(heldBy(apps)).toEqual(Array(3).fill(fp(KEYS.k1)));
    await traffic.round();
    expect(mock.requestsFor(KEYS.k2)).toBe(k2Requests);

    // A later rotation, once its old key is revoked, cannot be rolled back.
    await rotateTo(w, ctx, KEYS.k3, mock);
    await refreshAll(apps);
    expect(heldBy(apps)).toEqual(Array(3).fill(fp(KEYS.k3)));
    const forced = await w.run(revoke(ctx, { windowMs: WINDOW, force: { reason: 'the test retires k1' } }));
    expect(forced.outcome).toBe('done');
    const late = await w.noWrites(() => w.run(rollback(ctx)));
    expect(late).toMatchObject({ outcome: 'refused', refusal: 'old-key-revoked' });
    await refreshAll(apps);
    expect(heldBy(apps)).toEqual(Array(3).fill(fp(KEYS.k3)));

    await traffic.stop();
    expect(traffic.failed).toEqual([]);
    w.witness.see(await w.snapshot());
  });

  it('refused while a provision stopped part-way (pending) and after an emergency (old-key-revoked)', async () => {
    const w = rig.world();
    const name = 'OPENAI_API_KEY';
    const ctx = w.ctx(name, layout);
    seed(w, name, layout, KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    await rotateTo(w, ctx, KEYS.k2, mock);
    const faulty = await w.faultyAdmin({ method: 'AddSecretVersion', nth: 1 });
    await w.rejects(provision({ ...ctx, admin: faulty }, KEYS.k3), 'INTERRUPTED');
    const pending = await w.noWrites(() => w.run(rollback(ctx)));
    expect(pending).toMatchObject({ outcome: 'refused', refusal: 'pending' });
    expect((await w.run(provision(ctx, KEYS.k3))).outcome).toBe('done'); // finished
    expect((await w.run(discard(ctx))).outcome).toBe('done');
    expect((await w.run(emergency(ctx, KEYS.k4))).outcome).toBe('done');
    const late = await w.noWrites(() => w.run(rollback(ctx)));
    expect(late).toMatchObject({ outcome: 'refused', refusal: 'old-key-revoked' });
    expect(late.message).toContain('disabled by an emergency rotation');
  });

  it('stopped at any write (refused, or made with its reply lost), finishes when run again', async () => {
    const w = rig.world();
    const mock = await w.mock([KEYS.k1, KEYS.k2]);
    const prepare = async (name: string): Promise<RotationContext> => {
      const ctx = w.ctx(name, layout);
      seed(w, name, layout, KEYS.k1);
      await rotateTo(w, ctx, KEYS.k2, mock);
      return ctx;
    };
    const reference = await prepare('REFERENCE');
    const writes = (await w.run(rollback({ ...reference, dryRun: true }, { reason: REASON }))).steps.length;
    expect((await w.run(rollback(reference, { reason: REASON }))).outcome).toBe('done');
    const expected = normalized(await w.snapshot('REFERENCE'), 'REFERENCE');

    let scenario = 0;
    let resumed = 0;
    for (let nth = 1; nth <= writes; nth++) {
      for (const mode of ['refused', 'lost'] as const) {
        const name = `STOPPED_${++scenario}`;
        const ctx = await prepare(name);
        const faulty = await w.faultyAdmin({ nthWrite: nth, mode });
        const error = await w.rejects(rollback({ ...ctx, admin: faulty }, { reason: REASON }), 'INTERRUPTED');
        expect(error.message).toContain(`stopped at write ${nth} of ${writes}`);
        // An app starting now still resolves a key: the previous one or the new one.
        const resolved = await w.apps(1, name, layout, { chain: chainOf(name, layout), prefix: name });
        expect([fp(KEYS.k1), fp(KEYS.k2)]).toContain(resolved[0]?.handle.info?.fingerprint);
        const state = await w.run(status(ctx));
        const marked = state.keys.length > 0 && state.next.command === 'rollback';
        if (marked) {
          resumed++;
          // The other commands wait for it.
          const blocked = await w.noWrites(() =>
            w.run(revoke(ctx, { windowMs: WINDOW, force: { reason: 'not while a rollback is pending' } })),
          );
          expect(blocked).toMatchObject({ outcome: 'refused', refusal: 'pending' });
        }
        const finished = await w.run(rollback(ctx, { reason: REASON }));
        expect(['done', 'already-done']).toContain(finished.outcome);
        expect(normalized(await w.snapshot(name), name), `${layout}: write ${nth} ${mode}`).toEqual(expected);
        await refreshAll(resolved);
        expect(resolved[0]?.handle.info?.fingerprint).toBe(fp(KEYS.k1));
      }
    }
    // Pair and suffix rollbacks write several times: every stop after the mark and before it was cleared (all but
    // the first write refused and the last write made) was finished from the mark.
    expect(resumed).toBe(layout === 'alias' ? 0 : 2 * writes - 2);
  });
});
