/**
 * One role table for every layout: the same facts give the same role whatever the layout, and a ring read in
 * any layout gives each key the role the table says.
 */
import { describe, expect, it } from 'vitest';
import { ROLE_RULES, roleOf, type KeyFacts } from '../../src/rotation/key-roles.js';
import { flip, LAYOUTS, provision } from '../../src/rotation/index.js';
import { fp, KEYS, rotationRig } from './rig.js';

const rig = rotationRig();

const facts = (extra: Partial<KeyFacts>): KeyFacts => ({
  state: 'DISABLED',
  records: {},
  live: false,
  copy: false,
  newer: false,
  added: false,
  ...extra,
});
const staged = { staged: { at: '2025-01-01T00:00:00.000Z', fingerprint: 'kf_000000000000' } };

describe('the role table', () => {
  it('the first rule that holds gives the role; a key no rule claims is inactive', () => {
    expect(ROLE_RULES.map((r) => r.role)).toEqual([
      'live',
      'discarded',
      'revoked',
      'staged',
      'pending',
      'copy',
      'old',
      'inactive',
    ]);
    expect(roleOf(facts({ live: true, state: 'ENABLED', records: { discarded: { at: 'x' } } }))).toBe('live');
    expect(roleOf(facts({ records: { revoked: { at: 'x' } } }))).toBe('revoked');
    expect(roleOf(facts({ state: 'ENABLED', records: { revoked: { at: 'x' } } }))).toBe('old');
    expect(roleOf(facts({ newer: true, records: staged }))).toBe('staged');
    // Enabled and newer than the live key: an alias flip that stopped before moving `current`.
    expect(roleOf(facts({ newer: true, state: 'ENABLED', records: staged }))).toBe('staged');
    expect(roleOf(facts({ newer: true, state: 'DESTROYED', records: staged }))).toBe('inactive');
    expect(roleOf(facts({ records: staged }))).toBe('inactive'); // older than the live key: never flipped
    expect(roleOf(facts({ newer: true, added: true }))).toBe('pending');
    expect(roleOf(facts({ newer: true, added: true, state: 'ENABLED' }))).toBe('pending');
    expect(roleOf(facts({ added: true, state: 'ENABLED' }))).toBe('old');
    expect(roleOf(facts({ state: 'DESTROYED' }))).toBe('inactive');
    // Another version holding the live key (pair layout): a copy while enabled, never an old key.
    expect(roleOf(facts({ copy: true, state: 'ENABLED' }))).toBe('copy');
    expect(roleOf(facts({ copy: true, state: 'ENABLED', records: { revoked: { at: 'x' } } }))).toBe('copy');
    expect(roleOf(facts({ copy: true, state: 'DISABLED', records: { revoked: { at: 'x' } } }))).toBe('revoked');
    expect(roleOf(facts({ copy: true }))).toBe('inactive');
  });
});

describe.each(LAYOUTS)('roles in a ring (%s layout)', (layout) => {
  it('staged, then live and old after the flip; a staged version destroyed by hand is no longer staged', async () => {
    const w = rig.world();
    const name = `ROLES_${layout.toUpperCase()}`;
    w.seedLive(name, layout, KEYS.k1);
    expect((await w.run(provision(w.ctx(name, layout), KEYS.k2))).outcome).toBe('done');
    const before = await w.ring(name, layout);
    expect(before.keys.map((k) => [k.role, k.fingerprint ?? fp(KEYS.k1)])).toEqual([
      ['live', fp(KEYS.k1)],
      ['staged', fp(KEYS.k2)],
    ]);
    expect((await w.run(flip(w.ctx(name, layout), { skipProbe: true }))).outcome).toBe('done');
    expect((await w.ring(name, layout)).keys.map((k) => k.role)).toEqual(['old', 'live']);

    expect((await w.run(provision(w.ctx(name, layout), KEYS.k3))).outcome).toBe('done');
    const third = (await w.ring(name, layout)).staged;
    if (!third) throw new Error('K3 was staged');
    w.emulator.destroyVersion(third.secretId, String(third.version));
    const after = await w.ring(name, layout);
    expect(after.staged).toBeUndefined();
    expect(after.keys.map((k) => [k.role, k.state])).toEqual([
      ['old', 'ENABLED'],
      ['live', 'ENABLED'],
      ['inactive', 'DESTROYED'],
    ]);
  });
});
