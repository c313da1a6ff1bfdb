/**
 * Which layout a command works in: the one asked for, else the one recorded on the secret (its
 * `keyflip-layout` label), else suffix; asking for the other one than the recorded one is refused.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { chooseLayout, LAYOUTS, provision, type Layout } from '../../src/rotation/index.js';
import { KEYS, rotationRig } from './rig.js';

const rig = rotationRig();

describe('chooseLayout', () => {
  it('a secret keyflip never wrote: the layout asked for, else suffix; nothing is written', async () => {
    const w = rig.world();
    w.seedLive('NEW_KEY', 'suffix', KEYS.k1); // made outside keyflip: no label records a layout
    for (const requested of [undefined, ...LAYOUTS]) {
      const layout = await w.noWrites(() => w.run(chooseLayout(w.admin, 'NEW_KEY', requested)));
      expect(layout).toBe(requested ?? 'suffix');
    }
    expect(await w.run(chooseLayout(w.admin, 'NOWHERE_KEY', undefined))).toBe('suffix');
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
      const other: Layout = layout === 'suffix' ? 'alias' : 'suffix';
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
