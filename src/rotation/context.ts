/** What every command reads from its {@link RotationContext}: the layout, how to read the ring, the time. */
import { fingerprintOf } from './fingerprints.js';
import type { ReadRingOptions } from './key-ring.js';
import { chooseLayout, type Layout } from './layout.js';
import type { RotationContext } from './types.js';

/** The layout the command works in: `ctx.layout`, else the one recorded on the secrets, else `pair`. */
export const layoutOf = async (ctx: RotationContext): Promise<Layout> =>
  ctx.layout ?? chooseLayout(ctx.admin, ctx.name, undefined);

/** How a command reads its ring: every enabled key fingerprinted with the apps' `fingerprintKey`. */
export const ringOptionsOf = (ctx: RotationContext): ReadRingOptions => ({
  fingerprint: (value) => fingerprintOf(ctx, value),
});

/** Now, in ms since the epoch, on the context's clock. */
export const nowOf = (ctx: RotationContext): number => (ctx.now ?? Date.now)();

/** A time as records and messages write it (ISO 8601). */
export const iso = (ms: number): string => new Date(ms).toISOString();
