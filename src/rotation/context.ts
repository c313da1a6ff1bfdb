/** What every command reads from its {@link RotationContext}: the layout, the time, a time for records. */
import type { Layout } from './layout.js';
import type { RotationContext } from './types.js';

/** The layout the command works in. @default 'suffix' */
export const layoutOf = (ctx: RotationContext): Layout => ctx.layout ?? 'suffix';

/** Now, in ms since the epoch, on the context's clock. */
export const nowOf = (ctx: RotationContext): number => (ctx.now ?? Date.now)();

/** A time as records and messages write it (ISO 8601). */
export const iso = (ms: number): string => new Date(ms).toISOString();
