/**
 * The schedule: `audit` (every managed ring: the age of its live key against the policy, the environment
 * filter, rings that need attention) and `auditByok` (end-user keys of a family older than the policy).
 * Neither writes. Versions are created by the emulator on the real clock, so `now` is injected relative to it.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { audit, auditByok, emergency, flip, probe, provision, revoke, type Layout } from '../../src/rotation/index.js';
import { KEYS, rotationRig, type World } from './rig.js';

const rig = rotationRig();
const DAY = 86_400_000;
const POLICY = 90 * DAY;

let w: World;
beforeEach(async () => {
  w = rig.world();
  for (const s of await w.admin.listSecrets()) w.emulator.deleteSecret(s.id);
});

/** A ring rotated once through keyflip (K1 → K2, the old key revoked with --force), labelled `environment`. */
async function rotatedRing(
  name: string,
  layout: Layout,
  environment: string | undefined,
  probeWith: { provider: 'openai'; baseUrl: string },
): Promise<void> {
  const ctx = w.ctx(name, layout);
  w.seedLive(name, layout, KEYS.k1);
  expect((await w.run(provision(ctx, KEYS.k2, environment === undefined ? {} : { environment }))).outcome).toBe('done');
  expect((await w.run(probe(ctx, KEYS.k2, probeWith))).outcome).toBe('done');
  expect((await w.run(flip(ctx))).outcome).toBe('done');
  const revoked = await w.run(revoke(ctx, { windowMs: 3_600_000, force: { reason: 'audit fixture' } }));
  expect(revoked.outcome).toBe('done');
  expect(revoked.keys.find((k) => k.role === 'revoked')?.records.revoked).toMatchObject({
    forced: true,
    reason: 'audit fixture',
  });
}

/**
 * Runs `make` with the clock the emulator stamps versions with (`Date.now`) stepped to `ms`: the admin helpers
 * are synchronous and in process, so nothing else runs while it is stepped, and no test waits for time to pass.
 */
function madeAt(ms: number, make: () => void): void {
  const clock = vi.spyOn(Date, 'now').mockReturnValue(ms);
  try {
    make();
  } finally {
    clock.mockRestore();
  }
}

describe('audit', () => {
  async function fleet() {
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    const probeWith = { provider: 'openai' as const, baseUrl: mock.url };
    await rotatedRing('OPENAI_API_KEY', 'suffix', 'prod', probeWith);
    await rotatedRing('ANTHROPIC_API_KEY', 'alias', 'staging', probeWith);
    await rotatedRing('GEMINI_API_KEY', 'pair', 'prod', probeWith);
    // A ring whose first key is only staged: no live key.
    expect((await w.run(provision(w.ctx('GROQ_API_KEY', 'suffix'), KEYS.k3, { environment: 'prod' }))).outcome).toBe(
      'done',
    );
    // A ring in flight: staged beside a live key.
    w.seedLive('MISTRAL_API_KEY', 'alias', KEYS.k1);
    expect((await w.run(provision(w.ctx('MISTRAL_API_KEY', 'alias'), KEYS.k4, { environment: 'prod' }))).outcome).toBe(
      'done',
    );
    // A secret keyflip does not manage is not audited.
    w.emulator.addVersion('UNMANAGED_KEY', KEYS.k1);
  }

  it('over vs within the policy by live-key age; rings with no live key or in flight need attention', async () => {
    await fleet();
    const later = Date.now() + POLICY + DAY;
    const over = await w.noWrites(() => w.run(audit(w.admin, { maxAgeMs: POLICY, now: () => later })));
    expect(over.entries.map((e) => [e.name, e.layout, e.environment, e.overPolicy])).toEqual([
      ['ANTHROPIC_API_KEY', 'alias', 'staging', true],
      ['GEMINI_API_KEY', 'pair', 'prod', true],
      ['GROQ_API_KEY', 'suffix', 'prod', false],
      ['MISTRAL_API_KEY', 'alias', 'prod', true],
      ['OPENAI_API_KEY', 'suffix', 'prod', true],
    ]);
    expect(over).toMatchObject({ ok: false, over: 4, maxAgeMs: POLICY, at: new Date(later).toISOString() });
    // The pair ring's live key: NAME_v2's latest version (NAME_v1's, the previous key, revoked).
    expect(over.entries.find((e) => e.name === 'GEMINI_API_KEY')).toMatchObject({
      live: 'GEMINI_API_KEY_v2@1',
      attention: undefined,
    });
    const openai = over.entries.find((e) => e.name === 'OPENAI_API_KEY');
    expect(openai).toMatchObject({ live: 'OPENAI_API_KEY_v2', attention: undefined });
    expect(openai?.ageMs).toBeGreaterThan(POLICY);
    expect(later - Date.parse(openai?.liveCreatedAt ?? '')).toBe(openai?.ageMs);
    expect(over.entries.find((e) => e.name === 'ANTHROPIC_API_KEY')).toMatchObject({
      live: 'ANTHROPIC_API_KEY@2',
      attention: undefined,
    });
    const groq = over.entries.find((e) => e.name === 'GROQ_API_KEY');
    expect(groq).toMatchObject({ live: undefined, ageMs: undefined, liveCreatedAt: undefined });
    expect(groq?.attention).toMatch(/^no live key/);
    expect(over.entries.find((e) => e.name === 'MISTRAL_API_KEY')?.attention).toMatch(
      /^rotation in flight: next probe/,
    );

    const soon = await w.noWrites(() => w.run(audit(w.admin, { maxAgeMs: POLICY, now: () => Date.now() + DAY })));
    expect(soon).toMatchObject({ ok: true, over: 0 });
    expect(soon.entries.every((e) => !e.overPolicy)).toBe(true);
    expect(soon.entries).toHaveLength(5);
  });

  it('the environment filter', async () => {
    await fleet();
    const later = Date.now() + POLICY + DAY;
    const prod = await w.noWrites(() =>
      w.run(audit(w.admin, { maxAgeMs: POLICY, environment: 'prod', now: () => later })),
    );
    expect(prod.entries.map((e) => e.name)).toEqual([
      'GEMINI_API_KEY',
      'GROQ_API_KEY',
      'MISTRAL_API_KEY',
      'OPENAI_API_KEY',
    ]);
    expect(prod.over).toBe(3);
    const staging = await w.run(audit(w.admin, { maxAgeMs: POLICY, environment: 'staging', now: () => later }));
    expect(staging.entries.map((e) => e.name)).toEqual(['ANTHROPIC_API_KEY']);
    const none = await w.run(audit(w.admin, { maxAgeMs: POLICY, environment: 'dev', now: () => later }));
    expect(none).toMatchObject({ ok: true, entries: [], over: 0 });
  });

  it('an emergency ring is audited by the age of its new key', async () => {
    w.seedLive('LEAKED_KEY', 'suffix', KEYS.k1);
    expect((await w.run(emergency(w.ctx('LEAKED_KEY', 'suffix'), KEYS.k2))).outcome).toBe('done');
    const result = await w.run(audit(w.admin, { maxAgeMs: POLICY, now: () => Date.now() + DAY }));
    expect(result.entries).toEqual([
      expect.objectContaining({ name: 'LEAKED_KEY', live: 'LEAKED_KEY_v2', overPolicy: false, attention: undefined }),
    ]);
  });

  it('rejects a policy that is not a positive duration, and an environment that is not a label value', async () => {
    for (const maxAgeMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await w.rejects(audit(w.admin, { maxAgeMs }), 'INVALID_INPUT');
    }
    await w.rejects(audit(w.admin, { maxAgeMs: POLICY, environment: 'Prod Env' }), 'INVALID_INPUT');
    await w.rejects(auditByok(w.admin, { maxAgeMs: POLICY, family: 'Not A Label' }), 'INVALID_INPUT');
  });
});

describe('auditByok', () => {
  it('end-user keys of a family over the policy, with owner ids; no newer, other-family or disabled one', async () => {
    const family = { 'keyflip-family': 'openai-user' };
    const make = (
      id: string,
      value: string,
      labels: Record<string, string> = family,
      annotations: Record<string, string> = {},
    ): void => {
      w.emulator.createSecret(id, { labels, annotations });
      w.emulator.addVersion(id, value);
    };
    // Old keys.
    make('byok-acme', KEYS.k1, family, { 'keyflip-id': 'tenant-acme' });
    make('byok-globex', KEYS.k2, family, { 'keyflip-id': 'tenant-globex' });
    make('byok-initech', KEYS.k3); // no keyflip-id: the secret id stands for the owner
    make('byok-other-family', KEYS.k4, { 'keyflip-family': 'anthropic-user' }, { 'keyflip-id': 'tenant-other' });
    make('byok-disabled', KEYS.dead, family, { 'keyflip-id': 'tenant-disabled' });
    w.emulator.disableVersion('byok-disabled', '1');
    make('byok-rotated', KEYS.k1, family, { 'keyflip-id': 'tenant-rotated' });
    const oldest = Math.max(
      ...(await Promise.all(
        ['byok-acme', 'byok-globex', 'byok-initech', 'byok-rotated'].map(
          async (id) => (await w.admin.listVersions(id))[0]?.createdAt ?? 0,
        ),
      )),
    );
    // New keys, a second later: a new tenant, and a new version for one that rotated its key.
    madeAt(oldest + 1_000, () => {
      make('byok-hooli', KEYS.k2, family, { 'keyflip-id': 'tenant-hooli' });
      w.emulator.addVersion('byok-rotated', KEYS.k4);
    });
    const newest = Math.min(
      ...(await Promise.all(
        ['byok-hooli', 'byok-rotated'].map(async (id) => (await w.admin.listVersions(id))[0]?.createdAt ?? 0),
      )),
    );
    expect(newest).toBeGreaterThan(oldest);
    const now = (oldest + newest) / 2 + POLICY; // the old keys are just over the policy, the new ones just within

    const result = await w.noWrites(() =>
      w.run(auditByok(w.admin, { family: 'openai-user', maxAgeMs: POLICY, now: () => now })),
    );
    expect(result).toMatchObject({ ok: false, family: 'openai-user', maxAgeMs: POLICY, checked: 6 });
    expect(result.over.map((e) => e.id).sort()).toEqual(['byok-initech', 'tenant-acme', 'tenant-globex']);
    expect(result.over.map((e) => e.secretId).sort()).toEqual(['byok-acme', 'byok-globex', 'byok-initech']);
    for (const entry of result.over) {
      expect(entry.ageMs).toBeGreaterThan(POLICY);
      expect(now - Date.parse(entry.keyCreatedAt ?? '')).toBe(entry.ageMs);
    }
    const ages = result.over.map((e) => e.ageMs ?? 0);
    expect(ages).toEqual([...ages].sort((a, b) => b - a)); // oldest first

    const earlier = await w.run(
      auditByok(w.admin, { family: 'openai-user', maxAgeMs: POLICY, now: () => oldest + POLICY / 2 }),
    );
    expect(earlier).toMatchObject({ ok: true, over: [], checked: 6 });
    const other = await w.run(auditByok(w.admin, { family: 'anthropic-user', maxAgeMs: POLICY, now: () => now }));
    expect(other.over.map((e) => e.id)).toEqual(['tenant-other']);
    expect(other.checked).toBe(1);
  });
});

it('audit sees no ring in an empty project', async () => {
  const result = await w.noWrites(() => w.run(audit(w.admin, { maxAgeMs: POLICY })));
  expect(result).toMatchObject({ ok: true, entries: [], over: 0 });
});
