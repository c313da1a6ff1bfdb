/**
 * The instruments the other rotation tests rely on can fail: `noWrites` sees a write, the witness sees a
 * key value, the faulty admin fails the call it was told to. And inputs a person could get wrong are
 * refused without echoing the key.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, isKeyflipError, KeyflipError } from '../../src/errors.js';
import { flip, openSecretAdmin, probe, provision, revoke, RotationError, verify } from '../../src/rotation/index.js';
import { KEYS, rotationRig, Witness } from './rig.js';

const rig = rotationRig();

describe('the rig', () => {
  it('noWrites fails when a write was made (an update, or a version state change)', async () => {
    const w = rig.world();
    w.emulator.addVersion('RIG_KEY_v1', KEYS.k1);
    await expect(w.noWrites(() => w.run(provision(w.ctx('RIG_KEY', 'suffix'), KEYS.k2)))).rejects.toThrow();
    await expect(
      w.noWrites(async () => {
        w.emulator.disableVersion('RIG_KEY_v1', '1'); // an admin helper: not counted as a call, seen in the snapshot
      }),
    ).rejects.toThrow();
    expect(await w.noWrites(async () => w.run(w.admin.listSecrets()))).toHaveLength(2);
  });

  it('the witness finds a key value anywhere in what it saw, including an error cause', () => {
    const witness = new Witness();
    witness.see({ ok: true, nested: [{ text: 'fine' }] });
    expect(witness.leaks()).toEqual([]);
    witness.seeError(new Error('outer', { cause: new Error(`inner ${KEYS.k3}`) }));
    witness.watch(() => [{ deep: { value: KEYS.k2 } }]);
    expect(witness.leaks()).toHaveLength(4); // the cause's message, String() and stack, and the watched value
  });

  it('faultyAdmin fails the nth call of a method through the emulator, and nothing else', async () => {
    const w = rig.world();
    w.emulator.createSecret('RIG_FAULT');
    const admin = await w.faultyAdmin({ method: 'GetSecret', nth: 2 });
    expect((await admin.getSecret('RIG_FAULT'))?.id).toBe('RIG_FAULT');
    const error = await w.rejects(admin.getSecret('RIG_FAULT'), 'BACKEND');
    expect(error.grpcCode).toBe(14);
    expect(error.message).toContain('Injected fault');
    expect((await admin.getSecret('RIG_FAULT'))?.id).toBe('RIG_FAULT');
    await admin.close();
  });
});

describe('inputs refused without echoing the key', () => {
  it('provision with no key, several lines, or a key over 64 KiB: INVALID_INPUT, nothing written', async () => {
    const w = rig.world();
    w.seedLive('INPUT_KEY', 'suffix', KEYS.k1);
    const ctx = w.ctx('INPUT_KEY', 'suffix');
    for (const value of ['', '   \n', `${KEYS.k2}\n${KEYS.k3}`, `${KEYS.k2}\0`, KEYS.k2.repeat(1_000)]) {
      const error = await w.noWrites(() => w.rejects(provision(ctx, value), 'INVALID_INPUT'));
      expect(error.message).not.toContain(KEYS.k2.slice(8, 20));
    }
    // The key is trimmed as the resolver trims it: a trailing newline is the same key.
    expect((await w.run(provision(ctx, `  ${KEYS.k2}\n`))).outcome).toBe('done');
    const again = await w.noWrites(() =>
      w.run(probe(ctx, `${KEYS.k3}`, { provider: 'openai', baseUrl: 'http://127.0.0.1:9' })),
    );
    expect(again.refusal).toBe('fingerprint-mismatch');
  });

  it('a forced revoke needs a reason, one line, that holds no key', async () => {
    const w = rig.world();
    w.seedLive('FORCE_KEY', 'alias', KEYS.k1);
    const ctx = w.ctx('FORCE_KEY', 'alias');
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    expect((await w.run(flip(ctx, { skipProbe: true }))).outcome).toBe('done');
    for (const reason of ['', 'no', 'two\nlines', `leaked ${KEYS.k1}`]) {
      await w.noWrites(() => w.rejects(revoke(ctx, { windowMs: 60_000, force: { reason } }), 'INVALID_INPUT'));
    }
    const forced = await w.run(revoke(ctx, { windowMs: 60_000, force: { reason: 'the key leaked in a CI log' } }));
    expect(forced.outcome).toBe('done');
    expect(forced.verifications).toBeUndefined();
    expect(forced.keys.find((k) => k.role === 'revoked')?.records.revoked).toMatchObject({
      forced: true,
      reason: 'the key leaked in a CI log',
    });
  });

  it('a bad name, a bad project, and a suffix name that already ends in _vN', async () => {
    const w = rig.world();
    await w.rejects(provision(w.ctx('has.dot', 'suffix'), KEYS.k2), 'INVALID_INPUT');
    await w.rejects(provision(w.ctx('OPENAI_API_KEY_v2', 'suffix'), KEYS.k2), 'INVALID_INPUT');
    await w.rejects(openSecretAdmin({ projectId: 'Not A Project', clientOptions: {} }), 'INVALID_INPUT');
    expect(RotationError.name).toBe('RotationError');
  });
});

describe('one error family', () => {
  it('RotationError is a KeyflipError; a bad window is a ConfigurationError, thrown before any read', async () => {
    const w = rig.world();
    const error = await w.rejects(provision(w.ctx('has.dot', 'suffix'), KEYS.k2), 'INVALID_INPUT');
    expect(isKeyflipError(error)).toBe(true);
    expect(error).toBeInstanceOf(KeyflipError);
    const calls = w.emulator.calls();
    for (const windowMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, undefined]) {
      const ctx = w.ctx('WINDOW_KEY', 'suffix');
      const options = { windowMs } as { windowMs: number };
      await expect(verify(ctx, options)).rejects.toBeInstanceOf(ConfigurationError);
      await expect(revoke(ctx, options)).rejects.toBeInstanceOf(ConfigurationError);
    }
    expect(w.emulator.calls()).toBe(calls);
  });
});
