/**
 * `revoke` with a provider: after the disables it revokes each old key at the provider (OpenAI: delete; Anthropic:
 * `inactive`, or archived with `archive`), records `provider-revoked` on it, and from then on the key gets the
 * provider's 401 on inference. A revoke stopped between the disables and the provider finishes the provider part
 * when run again; `keepProviderKey` leaves the key valid there. Real pieces: the Secret Manager emulator, beaconing
 * apps, the mock provider's management API through `openProvider`, on the rig's manual clock.
 */
import { describe, expect, it } from 'vitest';
import { openProvider, type ProviderAdmin } from '../../src/providers/index.js';
import { updateFresh } from '../../src/rotation/fresh-update.js';
import { LAYOUTS, revoke, status, verify } from '../../src/rotation/index.js';
import { withRecord } from '../../src/rotation/records.js';
import { ADMIN_KEY, beaconless, flippedWithProvider, LAG, noAdminKey } from './provider-rig.js';
import { fp, KEYS, MINUTE, rotationRig, WINDOW } from './rig.js';

const rig = rotationRig();

/** `provider`, whose revokeKey fails once: `refused` before the call, `lost` after it (the revoke was made). */
function failingOnce(provider: ProviderAdmin, mode: 'refused' | 'lost'): ProviderAdmin {
  let failed = false;
  return {
    id: provider.id,
    canMint: provider.canMint,
    lagMs: provider.lagMs,
    scope: provider.scope,
    listKeys: () => provider.listKeys(),
    getKey: (id) => provider.getKey(id),
    findKey: (value) => provider.findKey(value),
    usage: (ids, range) => provider.usage(ids, range),
    mintKey: (options) => provider.mintKey(options),
    async revokeKey(id, options) {
      if (failed) return provider.revokeKey(id, options);
      failed = true;
      if (mode === 'lost') await provider.revokeKey(id, options);
      throw new Error(`the provider's answer was lost (injected; ${mode})`);
    },
  };
}

describe('revoke at the provider', () => {
  it.each(LAYOUTS)(
    'revokes the old key at the provider after the disables: recorded, then 401 (%s)',
    async (layout) => {
      const w = rig.world();
      const { ctx, mock, oldLabel } = await flippedWithProvider(w, { prefix: 'PR', layout });
      try {
        const k1 = mock.keyId(KEYS.k1);
        await w.clock.advance(WINDOW + LAG + MINUTE);
        expect(await beaconless(mock, KEYS.k1, 1)).toEqual([200]);
        // Once the provider reports the request (after its lag), the key is in use: refused, nothing written.
        await w.clock.advance(LAG + MINUTE);
        const refused = await w.noWrites(() => w.run(revoke(ctx, { windowMs: WINDOW })));
        expect(refused).toMatchObject({ outcome: 'refused', refusal: 'not-verified' });
        // Once it has left the window, a dry run plans the revoke at the provider and makes no change there.
        await w.clock.advance(WINDOW + MINUTE);
        const dry = await w.noWrites(() => w.run(revoke({ ...ctx, dryRun: true }, { windowMs: WINDOW })));
        expect(dry).toMatchObject({ outcome: 'planned', providerRevocations: [] });
        expect(dry.steps.map((s) => s.description)).toContain(`revoke ${oldLabel} at openai (${k1}): delete`);
        expect(mock.keys().find((k) => k.id === k1)?.status).toBe('active');

        const result = await w.run(revoke(ctx, { windowMs: WINDOW }));
        expect(result).toMatchObject({ outcome: 'done', ok: true });
        expect(result.providerRevocations).toEqual([
          { key: `${oldLabel}`, fingerprint: fp(KEYS.k1), keyId: k1, outcome: 'revoked', status: 'deleted' },
        ]);
        expect(result.message).toBe(
          `disabled ${oldLabel}: no process used it in the last 10m; ` +
            `revoked ${oldLabel} (${k1}, deleted) at openai`,
        );
        expect(result.notes.join(' ')).not.toContain('keyflip cannot');
        const old = result.keys.find((k) => k.fingerprint === fp(KEYS.k1));
        expect(old).toMatchObject({ role: 'revoked', state: 'DISABLED' });
        expect(old?.records.provider).toMatchObject({ provider: 'openai', keyId: k1, fingerprint: fp(KEYS.k1) });
        expect(old?.records['provider-revoked']).toMatchObject({
          provider: 'openai',
          keyId: k1,
          status: 'deleted',
          outcome: 'revoked',
        });
        // The key is gone at the provider: a client that kept it gets 401; the live key works.
        expect(mock.keys().find((k) => k.id === k1)?.status).toBe('deleted');
        expect(await beaconless(mock, KEYS.k1, 1)).toEqual([401]);
        expect(await beaconless(mock, KEYS.k2, 1)).toEqual([200]);

        const again = await w.noWrites(() => w.run(revoke(ctx, { windowMs: WINDOW })));
        expect(again).toMatchObject({ outcome: 'already-done' });
        noAdminKey(w, dry, result, again);
      } finally {
        await mock.close();
      }
    },
  );

  it.each([
    ['refused', 'pair'],
    ['lost', 'pair'],
    ['refused', 'suffix'],
    ['refused', 'alias'],
  ] as const)(
    'a revoke stopped between the disables and the provider (%s, %s) finishes the provider part when run again',
    async (mode, layout) => {
      const w = rig.world();
      const { ctx, mock, provider, oldLabel } = await flippedWithProvider(w, { prefix: 'PS', layout });
      try {
        const k1 = mock.keyId(KEYS.k1);
        await w.clock.advance(WINDOW + LAG + MINUTE);
        const error = await w.rejects(
          revoke({ ...ctx, provider: failingOnce(provider, mode) }, { windowMs: WINDOW }),
          'INTERRUPTED',
        );
        expect(error.message).toContain(`(revoke ${oldLabel} at openai (${k1}): delete)`);
        // Disabled in Secret Manager (its id recorded), not revoked at the provider yet (or the answer lost).
        const ring = await w.ring(ctx.name, layout);
        const old = ring.keys.find((k) => k.records.revoked?.fingerprint === fp(KEYS.k1));
        expect(old).toMatchObject({ role: 'revoked', state: 'DISABLED' });
        expect(old?.records.provider?.keyId).toBe(k1);
        expect(old?.records['provider-revoked']).toBeUndefined();
        expect(await beaconless(mock, KEYS.k1, 1)).toEqual([mode === 'refused' ? 200 : 401]);

        // Run again: nothing left to disable, the provider part is finished (no usage check needed for it).
        const resumed = await w.run(revoke(ctx, { windowMs: WINDOW }));
        expect(resumed).toMatchObject({ outcome: 'done', ok: true });
        const outcome = mode === 'refused' ? 'revoked' : 'already';
        expect(resumed.providerRevocations).toEqual([
          { key: `${oldLabel}`, fingerprint: fp(KEYS.k1), keyId: k1, outcome, status: 'deleted' },
        ]);
        expect(resumed.message).toMatch(new RegExp(`^${oldLabel} disabled earlier; `));
        expect(resumed.keys.find((k) => k.fingerprint === fp(KEYS.k1))?.records['provider-revoked']).toMatchObject({
          keyId: k1,
          outcome,
        });
        expect(await beaconless(mock, KEYS.k1, 1)).toEqual([401]);
        expect((await w.run(revoke(ctx, { windowMs: WINDOW }))).outcome).toBe('already-done');
      } finally {
        await mock.close();
      }
    },
  );

  it('keepProviderKey leaves the key valid at the provider; a later revoke without it revokes it there', async () => {
    const w = rig.world();
    const { ctx, mock } = await flippedWithProvider(w, { prefix: 'PK' });
    try {
      const k1 = mock.keyId(KEYS.k1);
      await w.clock.advance(WINDOW + LAG + MINUTE);
      const kept = await w.run(revoke(ctx, { windowMs: WINDOW, keepProviderKey: true }));
      expect(kept).toMatchObject({ outcome: 'done', ok: true });
      expect(kept.providerRevocations).toEqual([
        { key: `${ctx.name}_v1@1`, fingerprint: fp(KEYS.k1), keyId: k1, outcome: 'kept', status: undefined },
      ]);
      expect(kept.notes.join(' ')).toContain(`${ctx.name}_v1@1 (${k1}) kept valid at openai (keepProviderKey)`);
      expect(kept.steps.map((s) => s.description).join(' ')).not.toContain('at openai');
      expect(kept.keys.find((k) => k.fingerprint === fp(KEYS.k1))).toMatchObject({ role: 'revoked' });
      expect(mock.keys().find((k) => k.id === k1)?.status).toBe('active');
      expect(await beaconless(mock, KEYS.k1, 1)).toEqual([200]);
      // status says the key still works at the provider, and how to finish.
      const seen = await w.run(status(ctx));
      expect(seen.notes.join(' ')).toContain(
        `${ctx.name}_v1@1 (${fp(KEYS.k1)}) is disabled in Secret Manager but ${k1} still works at openai`,
      );

      const later = await w.run(revoke(ctx, { windowMs: WINDOW }));
      expect(later.providerRevocations).toMatchObject([{ keyId: k1, outcome: 'revoked', status: 'deleted' }]);
      expect(await beaconless(mock, KEYS.k1, 1)).toEqual([401]);
      expect((await w.run(status(ctx))).notes.join(' ')).not.toContain('still works at openai');
    } finally {
      await mock.close();
    }
  });

  it('forced, an old key the provider does not know: disabled; the notes say to revoke it by hand', async () => {
    const w = rig.world();
    const { ctx, mock, oldLabel } = await flippedWithProvider(w, { prefix: 'PF', knows: [KEYS.k2] });
    try {
      const result = await w.run(revoke(ctx, { windowMs: WINDOW, force: { reason: 'drill' } }));
      expect(result).toMatchObject({ outcome: 'done', ok: true, providerRevocations: [] });
      expect(result.notes.join(' ')).toContain(
        `${oldLabel} (${fp(KEYS.k1)}) is not revoked at openai: its id there is unknown (`,
      );
      expect(result.notes.join(' ')).toContain('revoke it there by hand');
      expect(result.keys.find((k) => k.fingerprint === fp(KEYS.k1))).toMatchObject({ role: 'revoked' });
    } finally {
      await mock.close();
    }
  });

  it('a key minted through the API: revoke deletes it with its service account', async () => {
    const w = rig.world();
    const { ctx, mock, old } = await flippedWithProvider(w, { prefix: 'PM', mintOld: true });
    try {
      const minted = mock.keys().find((k) => k.id === mock.keyId(old));
      expect(minted?.serviceAccountId).toMatch(/^svc_acct_/);
      await w.clock.advance(WINDOW + LAG + MINUTE);
      const result = await w.run(revoke(ctx, { windowMs: WINDOW }));
      expect(result).toMatchObject({ outcome: 'done', ok: true });
      expect(result.providerRevocations).toMatchObject([{ keyId: minted?.id, outcome: 'revoked', status: 'deleted' }]);
      expect(mock.keys().find((k) => k.id === minted?.id)?.status).toBe('deleted');
      expect(await beaconless(mock, old, 1)).toEqual([401]);
      expect(JSON.stringify(result)).not.toContain(old);
    } finally {
      await mock.close();
    }
  });

  it('a key recorded in another project or at another provider is unknown there: never "already revoked"', async () => {
    const w = rig.world();
    const { ctx, mock, provider, oldLabel } = await flippedWithProvider(w, { prefix: 'PO' });
    try {
      const k1 = mock.keyId(KEYS.k1);
      // K1's identity, recorded in the project the rig's provider manages (as provision or revoke records it).
      const [old] = (await w.ring(ctx.name, 'pair')).old;
      if (!old) throw new Error('no old key');
      const record = {
        at: new Date(w.clock.now()).toISOString(),
        provider: 'openai',
        keyId: String(k1),
        scope: 'proj_keyflip',
      };
      await updateFresh(ctx.admin, old.secretId, (meta) => ({
        annotations: withRecord(meta.annotations, old.version, 'provider', { ...record, fingerprint: fp(KEYS.k1) }),
      }));
      expect(provider.scope).toBe('proj_keyflip');
      const same = { adminKey: ADMIN_KEY, baseUrl: mock.url, now: () => w.clock.now(), lagMs: LAG };
      const otherProject = openProvider({ provider: 'openai', project: 'proj_other', ...same });
      const anthropic = openProvider({ provider: 'anthropic', ...same });
      await w.clock.advance(WINDOW + LAG + MINUTE);

      // The other project cannot see K1's id: its usage there would read as none. Unknown, so cannot prove.
      const there = await w.run(verify({ ...ctx, provider: otherProject }, { windowMs: WINDOW }));
      expect(there).toMatchObject({ outcome: 'failed', refusal: 'evidence-incomplete' });
      expect(there.verifications?.[0]?.provider).toMatchObject({ keyId: undefined, reason: 'cannot-prove' });
      expect(there.verifications?.[0]?.provider?.message).toBe(
        `its id at openai is unknown, so its usage there cannot be read: ${oldLabel}: its id ${k1} is recorded in ` +
          'project proj_keyflip, not in project proj_other, the one asked: give the project the key lives in',
      );
      const atAnthropic = await w.run(verify({ ...ctx, provider: anthropic }, { windowMs: WINDOW }));
      expect(atAnthropic).toMatchObject({ outcome: 'failed', refusal: 'evidence-incomplete' });
      expect(atAnthropic.verifications?.[0]?.provider?.message).toContain(
        `${oldLabel}: its id is recorded at openai (${k1}), not at anthropic, the provider asked`,
      );
      const refused = await w.noWrites(() => w.run(revoke({ ...ctx, provider: otherProject }, { windowMs: WINDOW })));
      expect(refused).toMatchObject({ outcome: 'refused', refusal: 'evidence-incomplete' });

      // Forced with the other project: disabled here, not revoked there (and not recorded so): the notes say why.
      const forced = await w.run(
        revoke({ ...ctx, provider: otherProject }, { windowMs: WINDOW, force: { reason: 'wrong project test' } }),
      );
      expect(forced).toMatchObject({ outcome: 'done', providerRevocations: [] });
      expect(forced.notes.join(' ')).toContain(`${oldLabel} (${fp(KEYS.k1)}) is not revoked at openai`);
      expect(forced.keys.find((k) => k.label === oldLabel)?.records['provider-revoked']).toBeUndefined();
      expect(mock.keys().find((k) => k.id === k1)?.status).toBe('active');
      // Run again with the other project: nothing it can revoke. Status there says nothing about K1 either.
      const again = await w.noWrites(() => w.run(revoke({ ...ctx, provider: otherProject }, { windowMs: WINDOW })));
      expect(again).toMatchObject({ outcome: 'already-done' });
      const seen = await w.run(status({ ...ctx, provider: otherProject }));
      expect(seen.notes.join(' ')).not.toContain(`${k1} still works`);
      expect((await w.run(status(ctx))).notes.join(' ')).toContain(`${k1} still works at openai`);

      // The project K1 lives in revokes it there.
      const right = await w.run(revoke(ctx, { windowMs: WINDOW }));
      expect(right).toMatchObject({ outcome: 'done', ok: true });
      expect(right.providerRevocations).toMatchObject([{ keyId: k1, outcome: 'revoked', status: 'deleted' }]);
      expect(await beaconless(mock, KEYS.k1, 1)).toEqual([401]);
      noAdminKey(w, there, atAnthropic, refused, forced, again, seen, right);
    } finally {
      await mock.close();
    }
  });

  it.each([
    [false, 'inactive'],
    [true, 'archived'],
  ] as const)('anthropic: archive %s makes the old key %s, and it gets 401', async (archive, status) => {
    const w = rig.world();
    const { ctx, mock } = await flippedWithProvider(w, { prefix: 'PA', preset: 'anthropic' });
    try {
      const k1 = mock.keyId(KEYS.k1);
      await w.clock.advance(WINDOW + LAG + MINUTE);
      const result = await w.run(revoke(ctx, { windowMs: WINDOW, archive }));
      expect(result).toMatchObject({ outcome: 'done', ok: true });
      expect(result.steps.map((s) => s.description)).toContain(
        `revoke ${ctx.name}_v1@1 at anthropic (${k1}): ${archive ? 'archive' : 'make inactive'}`,
      );
      expect(result.providerRevocations).toMatchObject([{ keyId: k1, outcome: 'revoked', status }]);
      expect(mock.keys().find((k) => k.id === k1)?.status).toBe(status);
      expect(await beaconless(mock, KEYS.k1, 1)).toEqual([401]);
      expect(await beaconless(mock, KEYS.k2, 1)).toEqual([200]);
    } finally {
      await mock.close();
    }
  });
});
