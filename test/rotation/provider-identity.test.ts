/**
 * Key identity at the provider: provision with a provider finds the key's id by its hint and records it (refusing a
 * key the provider does not list, or one whose hint several keys share), probe reads a staged key from `NAME_next`
 * when none is given, flip copies the record onto the versions it adds, and every view shows each key's provider
 * id. On the emulator and the mock provider's management API, through `openProvider`.
 */
import { describe, expect, it } from 'vitest';
import { flip, probe, provision, status, type KeyView, type RotationResult } from '../../src/rotation/index.js';
import { identifyKey, providerRecordOf } from '../../src/rotation/provider-keys.js';
import { ADMIN_KEYS, ANTHROPIC_KEYS, expectNoSecrets, providerWorld } from './provider-identity-helpers.js';
import { ALL_KEYS, fp, KEYS, rotationRig } from './rig.js';

const rig = rotationRig();

/** A key with k1's hint (`sk-proj-…xX3w`: the same first 8 and last 4 characters), and another middle. */
const LOOKALIKE = `sk-proj-${'Mm1Nn2Oo3P'.repeat(3)}T3BlbkFJ${'zZ1yY2xX3w'.repeat(3)}`;

const ids = (r: RotationResult): [string, string, string | undefined][] =>
  r.keys.map((k: KeyView) => [k.label, k.role, k.provider?.keyId]);

describe('provision with a provider records the key id found by its hint', () => {
  it('pair: recorded by provision, probed from NAME_next (no value), copied by flip to v2, v1', async () => {
    const w = rig.world();
    const name = 'ID_PAIR';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1, KEYS.k2, KEYS.k3]);
    const ctx = w.ctx(name, 'pair', { provider });
    const id2 = mock.keyId(KEYS.k2);
    const id3 = mock.keyId(KEYS.k3);
    expect(id2).toMatch(/^key_/);

    const staged = await w.run(provision(ctx, KEYS.k2));
    expect(staged.outcome, staged.message).toBe('done');
    expect(staged.message).toContain(`${id2} at openai`);
    const next = (await w.snapshot(name)).find((s) => s.id === `${name}_next`);
    expect(JSON.parse(next?.annotations['keyflip-provider-1'] ?? '{}')).toEqual({
      at: expect.any(String),
      provider: 'openai',
      keyId: id2,
      fingerprint: fp(KEYS.k2),
      scope: 'proj_keyflip',
      hint: expect.stringMatching(/^sk-proj-.+tT6s$/),
    });
    expect(ids(staged)).toEqual([
      [`${name}_v1@1`, 'live', undefined],
      [`${name}_next@1`, 'staged', id2],
    ]);

    // No value: the staged key is read from NAME_next (enabled, in a secret no app declares).
    const probed = await w.run(probe(ctx, undefined, { provider: 'openai', baseUrl: mock.url }));
    expect(probed).toMatchObject({ outcome: 'done', probe: { ok: true } });
    expect(probed.message).toContain(fp(KEYS.k2));

    const flipped = await w.run(flip(ctx));
    expect(flipped.outcome, flipped.message).toBe('done');
    expect(ids(flipped)).toEqual([
      [`${name}_v1@1`, 'old', undefined],
      [`${name}_v2@1`, 'live', id2],
    ]);
    expect(flipped.keys[1]?.records.provider).toMatchObject({ keyId: id2, fingerprint: fp(KEYS.k2) });

    // The second rotation: flip copies the current key (k2) to NAME_v1 with its record, then k3 to NAME_v2.
    expect((await w.run(provision(ctx, KEYS.k3))).outcome).toBe('done');
    expect((await w.run(probe(ctx, undefined, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
    const second = await w.run(flip(ctx));
    expect(second.steps.map((s) => s.description)).toContainEqual(
      expect.stringMatching(new RegExp(`^record on ${name}_v1: the copy of kf_\\w+ is ${id2} at openai`)),
    );
    expect(ids(second)).toEqual([
      [`${name}_v1@1`, 'old', undefined],
      [`${name}_v1@2`, 'old', id2],
      [`${name}_v2@1`, 'old', id2],
      [`${name}_v2@2`, 'live', id3],
    ]);
    expect(second.keys[1]?.records.provider?.keyId).toBe(id2); // recorded on the copy itself

    const ring = await w.ring(name, 'pair');
    expect(providerRecordOf(ring, fp(KEYS.k3))?.keyId).toBe(id3);
    expect(providerRecordOf(ring, fp(KEYS.k1))).toBeUndefined();
    expectNoSecrets([staged, probed, flipped, second], ALL_KEYS);
  });

  it('refuses a key no provider key matches, and one whose hint several keys share: no write', async () => {
    const w = rig.world();
    const name = 'ID_REFUSED';
    w.seedLive(name, 'pair', KEYS.k1);
    const { provider } = await providerWorld(w, [KEYS.k1, LOOKALIKE, KEYS.k2]);
    const ctx = w.ctx(name, 'pair', { provider });

    const missing = await w.noWrites(() => w.run(provision(ctx, KEYS.k4)));
    expect(missing).toMatchObject({ outcome: 'refused', refusal: 'provider-key-not-found' });
    expect(missing.message).toMatch(/^no key at openai has a hint that matches this key \(kf_\w+\)/);

    const seed = await w.ring(name, 'pair');
    const ambiguous = await w.run(identifyKey(ctx, seed, seed.keys[0] as (typeof seed.keys)[number]));
    expect(ambiguous.status).toBe('ambiguous');

    // A lookalike is staged: its hint is k1's too.
    const refused = await w.noWrites(() => w.run(provision(ctx, LOOKALIKE)));
    expect(refused).toMatchObject({ outcome: 'refused', refusal: 'provider-key-ambiguous' });
    expect(refused.message).toContain('several keys at openai have a hint that matches this key');
    expectNoSecrets([missing, refused, ambiguous], [...ALL_KEYS, LOOKALIKE]);
  });

  it('suffix: the record goes with the key to NAME_vN; alias: it stays, probe needs the key', async () => {
    const w = rig.world();
    const { mock, provider } = await providerWorld(w, [KEYS.k1, KEYS.k2]);
    const id2 = mock.keyId(KEYS.k2);

    const suffix = w.ctx('ID_SUFFIX', 'suffix', { provider });
    w.seedLive('ID_SUFFIX', 'suffix', KEYS.k1);
    expect((await w.run(provision(suffix, KEYS.k2))).outcome).toBe('done');
    expect((await w.run(probe(suffix, undefined, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
    const flipped = await w.run(flip(suffix));
    expect(ids(flipped)).toEqual([
      ['ID_SUFFIX_v1', 'old', undefined],
      ['ID_SUFFIX_v2', 'live', id2],
    ]);

    const alias = w.ctx('ID_ALIAS', 'alias', { provider });
    w.seedLive('ID_ALIAS', 'alias', KEYS.k1);
    const staged = await w.run(provision(alias, KEYS.k2));
    expect(ids(staged)).toEqual([
      ['ID_ALIAS@1', 'live', undefined],
      ['ID_ALIAS@2', 'staged', id2],
    ]);
    const error = await w.rejects(probe(alias, undefined, { provider: 'openai', baseUrl: mock.url }), 'INVALID_INPUT');
    expect(error.message).toMatch(/^ID_ALIAS@2 is disabled: keyflip cannot read it; give the staged key/);
    expect((await w.run(probe(alias, KEYS.k2, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
    const live = await w.run(flip(alias));
    expect(ids(live)).toEqual([
      ['ID_ALIAS@1', 'old', undefined],
      ['ID_ALIAS@2', 'live', id2],
    ]);
  });

  it('identifyKey: a key made outside keyflip is found by its hint while enabled; status shows the ids', async () => {
    const w = rig.world();
    const name = 'ID_OUTSIDE';
    w.seedLive(name, 'pair', KEYS.k1);
    const { mock, provider } = await providerWorld(w, [KEYS.k1, KEYS.k2]);
    const ctx = w.ctx(name, 'pair', { provider });
    const ring = await w.ring(name, 'pair');
    const seeded = ring.keys[0] as (typeof ring.keys)[number];

    const found = await w.run(identifyKey(ctx, ring, seeded));
    expect(found).toMatchObject({ status: 'found', record: { keyId: mock.keyId(KEYS.k1), fingerprint: fp(KEYS.k1) } });
    expect(await w.run(identifyKey(w.ctx(name, 'pair'), ring, seeded))).toMatchObject({ status: 'no-provider' });

    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    const after = await w.ring(name, 'pair');
    const stagedKey = after.keys[1] as (typeof after.keys)[number];
    // Recorded: no call to the provider needed (a provider that would fail is not asked).
    const offline = { ...provider, findKey: () => Promise.reject(new Error('not asked')) };
    expect(await w.run(identifyKey({ ...ctx, provider: offline }, after, stagedKey))).toMatchObject({
      status: 'recorded',
      record: { keyId: mock.keyId(KEYS.k2) },
    });
    await w.admin.setState(seeded.secretId, seeded.version, 'DISABLED');
    const disabled = (await w.ring(name, 'pair')).keys[0] as (typeof ring.keys)[number];
    expect(await w.run(identifyKey(ctx, await w.ring(name, 'pair'), disabled))).toMatchObject({
      status: 'unreadable',
    });

    const shown = await w.run(status(ctx));
    expect(shown.message).toMatch(
      new RegExp(`^${name}: no live key, ${name}_next@1 \\(${mock.keyId(KEYS.k2)} at openai\\) staged\\.`),
    );
    expect(ids(shown)).toEqual([
      [`${name}_v1@1`, 'inactive', undefined],
      [`${name}_next@1`, 'staged', mock.keyId(KEYS.k2)],
    ]);
    expectNoSecrets([found, shown], ALL_KEYS);
  });

  it('anthropic: the apikey id is found by its partial hint and recorded', async () => {
    const w = rig.world();
    const name = 'ID_ANTHROPIC';
    w.seedLive(name, 'pair', ANTHROPIC_KEYS.a1);
    const { mock, provider } = await providerWorld(w, [ANTHROPIC_KEYS.a1, ANTHROPIC_KEYS.a2], 'anthropic');
    const ctx = w.ctx(name, 'pair', { provider });
    const staged = await w.run(provision(ctx, ANTHROPIC_KEYS.a2));
    expect(staged.outcome, staged.message).toBe('done');
    expect(staged.keys[1]?.provider).toMatchObject({
      provider: 'anthropic',
      keyId: mock.keyId(ANTHROPIC_KEYS.a2),
      hint: expect.stringMatching(/^sk-ant-api03-/),
    });
    expect(mock.keyId(ANTHROPIC_KEYS.a2)).toMatch(/^apikey_/);
    expectNoSecrets([staged], [...Object.values(ANTHROPIC_KEYS), ADMIN_KEYS.anthropic]);
  });
});
