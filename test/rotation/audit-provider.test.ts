/**
 * `audit` with a provider (the emulator, the mock's management API through `openProvider`): a live key's age from
 * its creation at the provider, keys expiring within the warning window (a warning) or expired (a failure), and keys
 * keyflip minted that no managed secret records (orphans). Reads only.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { audit, emergency, provisionMinted } from '../../src/rotation/index.js';
import { expectNoSecrets, managed } from './auto-provider-rig.js';
import { fp, KEYS, rotationRig, type World } from './rig.js';

const rig = rotationRig();
const DAY = 86_400_000;
const POLICY = 90 * DAY;

let w: World;
let closers: (() => Promise<void>)[] = [];
beforeEach(() => {
  w = rig.world();
});
afterEach(async () => {
  for (const close of closers.reverse()) await close();
  closers = [];
});

/** A managed pair ring whose live key (`value`) is recorded as `keyId` at `provider`, as keyflip records it. */
function recordedRing(name: string, value: string, provider: string, keyId: string): void {
  w.emulator.createSecret(`${name}_v1`, {
    labels: { 'keyflip-managed': 'true', 'keyflip-layout': 'pair', 'keyflip-step': 'revoked' },
    annotations: {
      'keyflip-name': name,
      'keyflip-provider-1': JSON.stringify({
        at: new Date(w.clock.now()).toISOString(),
        provider,
        keyId,
        fingerprint: fp(value),
      }),
    },
  });
  w.emulator.addVersion(`${name}_v1`, value);
}

describe('audit with a provider', () => {
  it('counts a live key’s age from its creation at the provider', async () => {
    const { mock, provider } = await managed(w, closers, { keys: [KEYS.k1] });
    // A key made 100 days ago in the console, stored in Secret Manager today.
    const old = mock.mint({ name: 'console key', createdAtMs: w.clock.now() - 100 * DAY });
    w.seedLive('OPENAI_API_KEY', 'pair', KEYS.k1);
    const ctx = w.ctx('OPENAI_API_KEY', 'pair', { provider });
    expect((await w.run(emergency(ctx, old.value, { keepProviderKey: true }))).outcome).toBe('done');

    const now = (): number => w.clock.now();
    const without = await w.noWrites(() => w.run(audit(w.admin, { maxAgeMs: POLICY, now })));
    expect(without.entries[0]).toMatchObject({ overPolicy: false, ageFrom: 'secret-manager' });
    expect(without.entries[0]?.provider).toBeUndefined();
    expect(without).toMatchObject({ ok: true, orphans: [], expiring: 0, failing: 0 });

    const withProvider = await w.noWrites(() => w.run(audit(w.admin, { maxAgeMs: POLICY, now, provider })));
    expect(withProvider.entries[0]).toMatchObject({
      name: 'OPENAI_API_KEY',
      overPolicy: true,
      ageFrom: 'provider',
      ageMs: 100 * DAY,
      provider: { provider: 'openai', keyId: old.id, status: 'active', expiring: false, failing: false },
    });
    expect(withProvider).toMatchObject({ ok: false, over: 1, orphans: [] });
    expectNoSecrets([without, withProvider], [old.value, KEYS.k1]);
  });

  it('warns of a key expiring within the window, and fails on an expired or switched-off one', async () => {
    const { mock, provider } = await managed(w, closers, { preset: 'anthropic' });
    const now = w.clock.now();
    const soon = mock.mint({ name: 'soon', expiresAtMs: now + 10 * DAY });
    const later = mock.mint({ name: 'later', expiresAtMs: now + 60 * DAY });
    const expired = mock.mint({ name: 'expired', createdAtMs: now - 40 * DAY, expiresAtMs: now - DAY });
    recordedRing('SOON_KEY', soon.value, 'anthropic', soon.id);
    recordedRing('LATER_KEY', later.value, 'anthropic', later.id);
    recordedRing('EXPIRED_KEY', expired.value, 'anthropic', expired.id);

    const result = await w.noWrites(() =>
      w.run(audit(w.admin, { maxAgeMs: POLICY, provider, expiryWarningMs: 30 * DAY, now: () => now })),
    );
    const by = (name: string) => result.entries.find((e) => e.name === name);
    expect(by('SOON_KEY')?.provider).toMatchObject({ expiring: true, failing: false });
    expect(by('SOON_KEY')?.attention).toMatch(/expires at .* within 30d: rotate it before then/);
    expect(by('LATER_KEY')?.provider).toMatchObject({ expiring: false, failing: false });
    expect(by('LATER_KEY')?.attention).toBeUndefined();
    expect(by('EXPIRED_KEY')?.provider).toMatchObject({ failing: true });
    expect(by('EXPIRED_KEY')?.attention).toMatch(/is expired at anthropic .*apps using it fail/);
    expect(by('EXPIRED_KEY')).toMatchObject({ ageFrom: 'provider', ageMs: 40 * DAY, overPolicy: false });
    expect(result).toMatchObject({ ok: false, over: 0, expiring: 1, failing: 1 });

    // A wider window warns of the later one too; the expired one fails whatever the window.
    const wide = await w.run(audit(w.admin, { maxAgeMs: POLICY, provider, expiryWarningMs: 90 * DAY, now: () => now }));
    expect(wide).toMatchObject({ expiring: 2, failing: 1, ok: false });
    expectNoSecrets([result, wide], [soon.value, later.value, expired.value]);
  });

  it('lists keys keyflip minted that no managed secret records as orphans', async () => {
    const { provider } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive('OPENAI_API_KEY', 'pair', KEYS.k1);
    const ctx = w.ctx('OPENAI_API_KEY', 'pair', { provider });
    // A mint stored by keyflip: recorded, no orphan.
    expect((await w.run(provisionMinted(ctx))).outcome).toBe('done');
    // A mint whose key was never stored (a crash between the mint and the store).
    const lost = await provider.mintKey({ name: 'keyflip-OPENAI_API_KEY-20261201T000000' });
    const result = await w.noWrites(() => w.run(audit(w.admin, { maxAgeMs: POLICY, provider })));
    expect(result.orphans).toEqual([
      expect.objectContaining({ keyId: lost.key.id, name: 'keyflip-OPENAI_API_KEY-20261201T000000', status: 'active' }),
    ]);
    expect(result.orphans[0]?.message).toMatch(/no managed secret holds it: .*rotate discard/);
    expectNoSecrets([result], [KEYS.k1, lost.value]);
  });

  it('reports an unstored mint (named with keyName); its key, not a namesake, is an orphan', async () => {
    const { mock, provider } = await managed(w, closers, { keys: [KEYS.k1] });
    w.seedLive('OPENAI_API_KEY', 'pair', KEYS.k1);
    const ctx = w.ctx('OPENAI_API_KEY', 'pair', { provider });
    expect((await w.run(provisionMinted(ctx))).outcome).toBe('done');
    // The crash: the mark left on the staging secret, the key minted under it, never stored.
    const at = new Date(w.clock.now()).toISOString();
    const next = await w.admin.getSecret('OPENAI_API_KEY_next');
    const mark = JSON.stringify({ provider: 'openai', name: 'prod-main', at });
    await w.admin.updateSecret(
      'OPENAI_API_KEY_next',
      { annotations: { ...next?.annotations, 'keyflip-minting': mark } },
      next?.etag ?? '',
    );
    const lost = await provider.mintKey({ name: 'prod-main' });
    const person = mock.mint({ name: 'prod-main' }); // a console key with the same name: not keyflip's

    const result = await w.noWrites(() => w.run(audit(w.admin, { maxAgeMs: POLICY, provider })));
    expect(result.entries[0]?.minting).toEqual({ provider: 'openai', name: 'prod-main', at });
    expect(result.entries[0]?.attention).toContain(
      `a key minted at ${at} (named prod-main) was not stored: rotate discard OPENAI_API_KEY revokes it`,
    );
    expect(result.unstoredMints).toBe(1);
    expect(result.orphans).toEqual([
      expect.objectContaining({ keyId: lost.key.id, name: 'prod-main', status: 'active' }),
    ]);
    expect(result.orphans[0]?.message).toBe(
      `${lost.key.id} (prod-main) was minted by keyflip at ${at} for OPENAI_API_KEY and never stored: ` +
        'rotate discard OPENAI_API_KEY revokes it',
    );
    // Without a provider the mark is still reported (it is in Secret Manager).
    const without = await w.run(audit(w.admin, { maxAgeMs: POLICY }));
    expect(without).toMatchObject({ unstoredMints: 1, orphans: [] });
    expectNoSecrets([result, without], [KEYS.k1, lost.value, person.value]);
  });

  it('rejects a negative expiry warning', async () => {
    const { provider } = await managed(w, closers);
    await w.rejects(audit(w.admin, { maxAgeMs: POLICY, provider, expiryWarningMs: -1 }), 'INVALID_INPUT');
  });
});
