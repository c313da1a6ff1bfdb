import type { SecretUsage } from '../collector/types.js';
import { layoutOf, ringFingerprints } from './common.js';
import { readRing } from './ring.js';
import { result } from './state.js';
import type { RotationContext, RotationResult } from './types.js';

export interface StatusOptions {
  /** The window the beacons are read over, in ms. @default 3_600_000 */
  windowMs?: number | undefined;
}

/**
 * Where the rotation of `name` stands: every key with its role, state, fingerprint and recorded steps;
 * with a usage source, how many instances reported each key; notes on anything left part-way; and the
 * next step the playbook allows. Makes no write.
 */
export async function status(ctx: RotationContext, options: StatusOptions = {}): Promise<RotationResult> {
  const layout = layoutOf(ctx);
  const ring = await readRing(ctx.admin, ctx.name, layout);
  const fingerprints = await ringFingerprints(ctx, ring);
  let usage: SecretUsage | undefined;
  const notes: string[] = [];
  if (ctx.usage) {
    try {
      usage = await ctx.usage.usage(ctx.beaconName ?? ctx.name, { windowMs: options.windowMs ?? 3_600_000 });
      const known = new Set(fingerprints.values());
      for (const f of usage.fingerprints) {
        if (!known.has(f.fingerprint))
          notes.push(
            `${f.instances.length} instance(s) reported ${f.fingerprint}, which is none of ${ctx.name}'s keys (another fingerprintKey, or a key from elsewhere: env, a file)`,
          );
      }
      if (usage.instancesSeen === 0)
        notes.push(
          `no instance reported ${ctx.beaconName ?? ctx.name} in the window: are the beacons on, and is this the name apps declare?`,
        );
    } catch (error) {
      notes.push(`the beacons could not be read: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const summary =
    ring.keys.length === 0
      ? `${ctx.name} has no key (${layout} layout)`
      : `${ctx.name}: ${ring.live ? `${ring.live.label} is live` : 'no live key'}${ring.staged ? `, ${ring.staged.label} staged` : ''}${ring.old.length ? `, ${ring.old.map((k) => k.label).join(', ')} still enabled` : ''}`;
  return result(ring, 'status', 'done', summary, { fingerprints, usage, notes });
}
