/**
 * `provisionMinted`: the key is minted at the provider (OpenAI: a service account of its own) and stored straight in
 * Secret Manager, its id recorded; the value is in no result. Crash safety: a minting mark is set before the mint and
 * cleared by the store; a store that fails revokes the minted key before returning; a mark left behind (a crash) is
 * shown by status and cleaned by discard. On the emulator and the mock provider's management API.
 */
import { describe, expect, it } from 'vitest';
import {
  discard,
  flip,
  mintedKeyName,
  MINTING_ANNOTATION,
  probe,
  provision,
  provisionMinted,
  RotationError,
  status,
} from '../../src/rotation/index.js';
import { ADMIN_KEYS, expectNoSecrets, providerWorld, storedValues } from './provider-identity-helpers.js';
import { ALL_KEYS, KEYS, rotationRig } from './rig.js';

const rig = rotationRig();

describe('provisionMinted', () => {
  it('mints through a service account, stores the key in NAME_next only, records its id; probe, flip', async () => {
    const w = rig.world();
    const name = 'MINT_PAIR';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1]);
    // What the staging secret holds when the provider is asked to mint: the mark must be there already.
    let markAtMint: string | undefined;
    const watched = {
      ...provider,
      async mintKey(options: Parameters<typeof provider.mintKey>[0]) {
        markAtMint = (await w.admin.getSecret(`${name}_next`))?.annotations[MINTING_ANNOTATION];
        return provider.mintKey(options);
      },
    };
    const ctx = w.ctx(name, 'pair', { provider: watched });
    const keyName = mintedKeyName(name, w.clock.now());
    expect(keyName).toMatch(new RegExp(`^keyflip-${name}-\\d{8}T\\d{6}$`));

    const minted = await w.run(provisionMinted(ctx, { environment: 'prod' }));
    expect(minted.outcome, minted.message).toBe('done');
    const atProvider = mock.keys().find((k) => k.serviceAccountId !== undefined);
    expect(atProvider).toMatchObject({ status: 'active', name: expect.any(String) });
    expect(JSON.parse(markAtMint ?? '{}')).toEqual({ provider: 'openai', name: keyName, at: expect.any(String) });
    const keyId = atProvider?.id;
    expect(minted.message).toMatch(
      new RegExp(`^minted ${keyId} at openai \\(named ${keyName}\\); staged ${name}_next@1`),
    );
    expect(minted.steps.map((s) => [s.description, s.done])).toEqual([
      [
        `create secret ${name}_next (keyflip labels); ` +
          `mark ${name}_next: a key named ${keyName} is being minted at openai`,
        true,
      ],
      [`mint a key named ${keyName} at openai: ${keyId}`, true],
      [expect.stringMatching(new RegExp(`^mark ${name}_next: a provision of kf_\\w+ is pending`)), true],
      [expect.stringMatching(/^add the new key/), true],
      [expect.stringMatching(/^label MINT_PAIR_v1 keyflip-managed=true/), true],
      [
        expect.stringMatching(
          new RegExp(
            `^record on ${name}_next: staged kf_\\w+, ${keyId} at openai .*clear the pending and minting marks$`,
          ),
        ),
        true,
      ],
    ]);
    expect(minted.keys[1]?.provider).toEqual({
      at: expect.any(String),
      provider: 'openai',
      keyId,
      fingerprint: minted.keys[1]?.fingerprint,
      minted: true,
      serviceAccount: atProvider?.serviceAccountId,
      scope: 'proj_keyflip',
      hint: atProvider?.hint,
    });
    const next = (await w.snapshot(name)).find((s) => s.id === `${name}_next`);
    expect(next?.annotations[MINTING_ANNOTATION]).toBeUndefined();
    expect(next?.labels).toMatchObject({ 'keyflip-role': 'staging', 'keyflip-environment': 'prod' });

    // No one holds the minted key: probe reads it from NAME_next; the mock accepts minted keys on inference.
    const probed = await w.run(probe(ctx, undefined, { provider: 'openai', baseUrl: mock.url }));
    expect(probed).toMatchObject({ outcome: 'done', probe: { ok: true } });
    const flipped = await w.run(flip(ctx));
    expect(flipped.keys.map((k) => [k.label, k.role, k.provider?.keyId, k.provider?.minted])).toEqual([
      [`${name}_v1@1`, 'old', undefined, undefined],
      [`${name}_v2@1`, 'live', keyId, true],
    ]);
    const values = await storedValues(w);
    const mintedValue = values.find((v) => v !== KEYS.k1);
    expect(mintedValue).toMatch(/^sk-/);
    expect((await w.resolveOnce(name, 'pair')).fingerprint).toBe(minted.keys[1]?.fingerprint);
    expectNoSecrets([minted, probed, flipped, await w.snapshot()], [...ALL_KEYS, ...values]);
  });

  it('refuses where the provider cannot mint (anthropic), while a key is staged; plans without minting', async () => {
    const w = rig.world();
    const name = 'MINT_REFUSED';
    w.seedLive(name, 'pair', KEYS.k1);
    const anthropic = await providerWorld(w, [], 'anthropic');
    const refused = await w.noWrites(() =>
      w.run(provisionMinted(w.ctx(name, 'pair', { provider: anthropic.provider }))),
    );
    expect(refused).toMatchObject({ outcome: 'refused', refusal: 'cannot-mint' });
    expect(refused.message).toMatch(/^anthropic cannot mint keys through its API: make the key in its console/);
    expect(anthropic.mock.keys()).toEqual([]);

    const { mock, provider } = await providerWorld(w, [KEYS.k1, KEYS.k2]);
    const ctx = w.ctx(name, 'pair', { provider });
    const planned = await w.noWrites(() => w.run(provisionMinted({ ...ctx, dryRun: true })));
    expect(planned.outcome).toBe('planned');
    expect(planned.steps.map((s) => s.done)).toEqual([false, false, false]);
    expect(planned.steps[1]?.description).toMatch(/^mint a key named keyflip-MINT_REFUSED-\d{8}T\d{6} at openai/);
    expect(mock.keys()).toHaveLength(2); // k1 and k2 only: nothing minted

    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    const staged = await w.noWrites(() => w.run(provisionMinted(ctx)));
    expect(staged).toMatchObject({ outcome: 'refused', refusal: 'staged-exists' });
    expect(mock.keys()).toHaveLength(2);

    await expect(provisionMinted(w.ctx(name, 'pair'))).rejects.toThrow(/ctx\.provider is required/);
    await expect(provisionMinted(ctx, { keyName: 'bad name!' })).rejects.toThrow(RotationError);
  });

  it('a store that fails revokes the minted key, clears every mark the mint set: minting again works', async () => {
    const w = rig.world();
    const name = 'MINT_STORE_FAILS';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1]);
    const admin = await w.faultyAdmin({ method: 'AddSecretVersion', nth: 1 });
    const ctx = { ...w.ctx(name, 'pair', { provider }), admin };

    // Not INTERRUPTED ("run it again continues"): nothing is left to continue; the key is gone at the provider.
    const error = await w.rejects(provisionMinted(ctx), 'BACKEND');
    const lost = mock.keys().find((k) => k.serviceAccountId !== undefined);
    expect(lost?.status).toBe('deleted');
    expect(error.message).toMatch(/^storing it failed \(.*AddSecretVersion/);
    expect(error.message).toContain(`the key minted at openai (${lost?.id}, named keyflip-${name}-`);
    expect(error.message).toMatch(
      /was not stored: it was revoked at the provider, no working copy of it exists and nothing is staged; run rotate /,
    );
    expect(error.message).toContain('run rotate provision --mint again');
    expect(error.message).not.toMatch(/running the same command again continues/);
    const next = (await w.snapshot(name)).find((s) => s.id === `${name}_next`);
    expect(next?.annotations[MINTING_ANNOTATION]).toBeUndefined();
    expect(next?.annotations['keyflip-pending']).toBeUndefined();
    const ring = await w.ring(name, 'pair');
    expect([ring.pending, ring.staged, ring.minting]).toEqual([undefined, undefined, undefined]);

    // Nothing to discard: the same command again mints a new key and stages it.
    const shown = await w.run(status(w.ctx(name, 'pair', { provider })));
    expect(shown.notes.join('\n')).not.toMatch(/minted|stopped/);
    const again = await w.run(provisionMinted(w.ctx(name, 'pair', { provider })));
    expect(again.outcome, again.message).toBe('done');
    expectNoSecrets([error, shown, again], [...ALL_KEYS, ...(await storedValues(w))]);
  });

  it('a store that fails after adding the version: it is disabled and discarded, the marks cleared', async () => {
    const w = rig.world();
    const name = 'MINT_LAST_WRITE_FAILS';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1]);
    // Writes: the mint's mark; the provision's pending mark; the version; the label of _v1; the record (fails).
    const admin = await w.faultyAdmin({ nthWrite: 5 });
    const error = await w.rejects(provisionMinted({ ...w.ctx(name, 'pair', { provider }), admin }), 'BACKEND');
    expect(error.message).toContain('it was revoked at the provider');
    expect(mock.keys().find((k) => k.serviceAccountId !== undefined)?.status).toBe('deleted');
    const ring = await w.ring(name, 'pair');
    expect([ring.pending, ring.staged, ring.minting]).toEqual([undefined, undefined, undefined]);
    const versions = await w.admin.listVersions(`${name}_next`);
    expect(versions.map((v) => v.state)).toEqual(['DISABLED']);
    const again = await w.run(provisionMinted(w.ctx(name, 'pair', { provider })));
    expect(again.outcome, again.message).toBe('done');
  });

  it('a store and a revoke that both fail: the marks stay, and discard revokes the key and clears them', async () => {
    const w = rig.world();
    const name = 'MINT_BOTH_FAIL';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1]);
    const admin = await w.faultyAdmin({ method: 'AddSecretVersion', nth: 1 });
    const down = {
      ...provider,
      revokeKey: async () => {
        throw new Error('the provider is down');
      },
    };
    const error = await w.rejects(
      provisionMinted({ ...w.ctx(name, 'pair', { provider: down }), admin }),
      'INTERRUPTED',
    );
    expect(error.message).toMatch(/revoking it failed \(the provider is down\): rotate discard \(with the provider\)/);
    const lost = mock.keys().find((k) => k.serviceAccountId !== undefined);
    expect(lost?.status).toBe('active');
    const ring = await w.ring(name, 'pair');
    expect(ring.minting?.mark.name).toMatch(/^keyflip-MINT_BOTH_FAIL-/);
    expect(ring.pending?.record.op).toBe('provision');

    const cleaned = await w.run(discard(w.ctx(name, 'pair', { provider })));
    expect(cleaned.outcome, cleaned.message).toBe('done');
    expect(mock.keys().find((k) => k.id === lost?.id)?.status).toBe('deleted');
    const after = await w.ring(name, 'pair');
    expect([after.pending, after.staged, after.minting]).toEqual([undefined, undefined, undefined]);
  });

  it('refuses a key name that a key or a service account at the provider already has: no write, no mint', async () => {
    const w = rig.world();
    const name = 'MINT_NAME_TAKEN';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1]);
    mock.mint({ name: 'prod-main' }); // a person's key, made in the console
    const account = await provider.mintKey({ name: 'ci-bot' }); // a service account made by someone else
    const ctx = w.ctx(name, 'pair', { provider });
    const before = mock.keys().length;
    for (const keyName of ['prod-main', 'ci-bot']) {
      const error = await w.noWrites(() => w.rejects(provisionMinted(ctx, { keyName }), 'INVALID_INPUT'));
      expect(error.message).toMatch(new RegExp(`^the key name ${keyName} is taken at openai \\(`));
      expect(error.message).toContain('choose another');
    }
    expect(mock.keys()).toHaveLength(before);
    const fine = await w.run(provisionMinted(ctx, { keyName: 'prod-main-2' }));
    expect(fine.outcome, fine.message).toBe('done');
    expectNoSecrets([fine], [...ALL_KEYS, account.value, ...(await storedValues(w))]);
  });

  it('a mark left by a crash: status says so, mint refuses, discard revokes its keys, clears it', async () => {
    const w = rig.world();
    const name = 'MINT_CRASHED';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1]);
    const ctx = w.ctx(name, 'pair', { provider });
    // The crash: the mark was set and the key minted; the process died before storing it.
    const at = new Date(w.clock.now()).toISOString();
    const keyName = mintedKeyName(name, w.clock.now());
    await w.admin.createSecret(`${name}_next`, {
      labels: { 'keyflip-managed': 'true', 'keyflip-layout': 'pair', 'keyflip-role': 'staging' },
      annotations: { [MINTING_ANNOTATION]: JSON.stringify({ provider: 'openai', name: keyName, at }) },
    });
    const orphan = await provider.mintKey({ name: keyName });

    const shown = await w.run(status(ctx));
    expect(shown.notes).toContainEqual(
      `a key minted at ${at} (openai, named ${keyName}) was not stored: ` +
        'rotate discard (with the provider) revokes it at the provider',
    );
    const refused = await w.noWrites(() => w.run(provisionMinted(ctx)));
    expect(refused).toMatchObject({ outcome: 'refused', refusal: 'pending' });

    // A person's key with the mark's name (made in the console) is not keyflip's: discard never touches it.
    const person = mock.mint({ name: keyName });

    const noProvider = await w.rejects(discard(w.ctx(name, 'pair')), 'INVALID_INPUT');
    expect(noProvider.message).toMatch(/discard needs openai's management API/);

    const cleaned = await w.run(discard(ctx));
    expect(cleaned.outcome, cleaned.message).toBe('done');
    expect(cleaned.providerRevocations).toEqual([
      { key: keyName, fingerprint: '', keyId: orphan.key.id, outcome: 'revoked', status: 'deleted' },
    ]);
    expect(mock.keys().find((k) => k.id === orphan.key.id)?.status).toBe('deleted');
    expect(mock.keys().find((k) => k.id === person.id)?.status).toBe('active');
    const after = await w.run(status(ctx));
    expect(after.notes.join('\n')).not.toMatch(/minted/);
    expect(
      (await w.snapshot(name)).find((s) => s.id === `${name}_next`)?.annotations[MINTING_ANNOTATION],
    ).toBeUndefined();
    expectNoSecrets([shown, cleaned, after], [orphan.value, person.value, ...ALL_KEYS, ADMIN_KEYS.openai]);
  });

  it('discard revokes a minted staged key at the provider (it was never live) and records it', async () => {
    const w = rig.world();
    const name = 'MINT_DISCARDED';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1]);
    const ctx = w.ctx(name, 'pair', { provider });
    expect((await w.run(provisionMinted(ctx))).outcome).toBe('done');
    const keyId = mock.keys().find((k) => k.serviceAccountId !== undefined)?.id;
    const values = await storedValues(w);

    const discarded = await w.run(discard(ctx));
    expect(discarded.outcome, discarded.message).toBe('done');
    expect(discarded.steps.map((s) => s.description)).toContainEqual(
      `revoke ${keyId} at openai (keyflip minted it; it was never live)`,
    );
    expect(discarded.providerRevocations).toMatchObject([{ keyId, outcome: 'revoked', status: 'deleted' }]);
    expect(discarded.keys[1]?.records['provider-revoked']).toMatchObject({ keyId, outcome: 'revoked' });
    expect(mock.keys().find((k) => k.id === keyId)?.status).toBe('deleted');
    expectNoSecrets([discarded], [...ALL_KEYS, ...values]);
  });
});
