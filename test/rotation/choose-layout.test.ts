/**
 * Which layout a command works in: the one asked for, else the one recorded on the secret (its
 * `keyflip-layout` label), else for an unlabelled ring suffix when it has a `NAME_v3` (legacy), alias when `NAME`
 * has an alias `current`, else pair; asking for another one than the recorded one is refused.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { chooseLayout, LAYOUTS, provision, type Layout } from '../../src/rotation/index.js';
import { KEYS, rotationRig } from './rig.js';

const rig = rotationRig();

describe('chooseLayout', () => {
  it('a secret keyflip never wrote: the layout asked for, else pair; nothing is written', async () => {
    const w = rig.world();
    w.seedLive('NEW_KEY', 'pair', KEYS.k1); // made outside keyflip (NAME_v1 only): no label records a layout
    for (const requested of [undefined, ...LAYOUTS]) {
      const layout = await w.noWrites(() => w.run(chooseLayout(w.admin, 'NEW_KEY', requested)));
      expect(layout).toBe(requested ?? 'pair');
    }
    expect(await w.run(chooseLayout(w.admin, 'NOWHERE_KEY', undefined))).toBe('pair');
    // NAME_v1 and NAME_v2, unlabelled: apps declare NAME_v2 ?? NAME_v1, a pair ring.
    w.emulator.addVersion('TWO_KEY_v1', KEYS.k1);
    w.emulator.addVersion('TWO_KEY_v2', KEYS.k2);
    expect(await w.noWrites(() => w.run(chooseLayout(w.admin, 'TWO_KEY', undefined)))).toBe('pair');
  });

  it('unlabelled: with a NAME_v3, a legacy suffix ring (apps declare names ahead); NAME@current, alias', async () => {
    const w = rig.world();
    for (const n of [1, 2, 3]) w.emulator.addVersion(`OLD_KEY_v${n}`, KEYS.k1);
    expect(await w.noWrites(() => w.run(chooseLayout(w.admin, 'OLD_KEY', undefined)))).toBe('suffix');
    expect(await w.run(chooseLayout(w.admin, 'OLD_KEY', 'pair'))).toBe('pair'); // asked for: not contradicted
    // NAME with an alias `current`, unlabelled: an alias ring.
    w.seedLive('ALIASED_KEY', 'alias', KEYS.k1);
    expect(await w.noWrites(() => w.run(chooseLayout(w.admin, 'ALIASED_KEY', undefined)))).toBe('alias');
  });

  it.each(LAYOUTS)(
    'a ring keyflip manages in the %s layout: that layout, and the other one is refused',
    async (layout) => {
      const w = rig.world();
      const name = `MANAGED_${layout.toUpperCase()}`;
      w.seedLive(name, layout, KEYS.k1);
      expect((await w.run(provision(w.ctx(name, layout), KEYS.k2))).outcome).toBe('done');
      expect(await w.run(chooseLayout(w.admin, name, undefined))).toBe(layout);
      expect(await w.run(chooseLayout(w.admin, name, layout))).toBe(layout);
      const other: Layout = layout === 'suffix' ? 'pair' : 'suffix';
      const error = await w.noWrites(() => w.rejects(chooseLayout(w.admin, name, other), 'INVALID_INPUT'));
      expect(error.message).toBe(
        `${name} is managed in the ${layout} layout (its keyflip-layout label); --layout ${other} does not match`,
      );
    },
  );

  it('a layout that is not one: ConfigurationError', async () => {
    const w = rig.world();
    const asked = 'sideways' as Layout;
    await expect(w.run(chooseLayout(w.admin, 'ANY_KEY', asked))).rejects.toBeInstanceOf(ConfigurationError);
  });
});
