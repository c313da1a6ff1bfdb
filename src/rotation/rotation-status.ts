import type { SecretUsage } from '../collector/index.js';
import { ringFingerprints } from './fingerprints.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import { declaredChain, highestSlot } from './layout.js';
import { providerRecordOfKey } from './provider-keys.js';
import { leftAtProvider } from './revoke-old-keys.js';
import { answered, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';

/** Options of {@link status}. */
export interface StatusOptions {
  /** The window the beacons are read over, in ms. @default 3_600_000 */
  windowMs?: number | undefined;
}

/**
 * Where the rotation of `name` stands: every key with its role, state, fingerprint and recorded steps;
 * with a usage source, how many instances reported each key; notes on anything left part-way; the chain apps
 * declare in the ring's layout (`chain`, and in the message; for a legacy suffix ring, that `keyflip rotate
 * migrate` moves it to pair); and the next step the playbook allows. Makes no write.
 */
export async function status(ctx: RotationContext, options: StatusOptions = {}): Promise<RotationResult> {
  return runStep(ctx, 'status', (ring) => ({
    async answer() {
      const fingerprints = await ringFingerprints(ctx, ring);
      const notes: string[] = [];
      let usage: SecretUsage | undefined;
      if (ctx.usage) {
        const secret = ctx.beaconName ?? ctx.name;
        try {
          usage = await ctx.usage.usage(secret, { windowMs: options.windowMs ?? 3_600_000 });
          const known = new Set(fingerprints.values());
          for (const f of usage.fingerprints) {
            if (!known.has(f.fingerprint))
              notes.push(
                `${f.instances.length} instance(s) reported ${f.fingerprint}, which is none of ${ctx.name}'s keys ` +
                  '(another fingerprintKey, or a key from elsewhere: env, a file)',
              );
          }
          if (usage.instancesSeen === 0)
            notes.push(
              `no instance reported ${secret} in the window: are the beacons on, and is this the name apps declare?`,
            );
        } catch (error) {
          notes.push(`the beacons could not be read: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      if (ctx.provider) {
        for (const left of leftAtProvider(ring, ctx.provider))
          notes.push(
            `${left.keys.map((k) => k.label).join(', ')} (${left.fingerprint}) is disabled in Secret Manager but ` +
              `${left.keyId} still works at ${ctx.provider.id} (a revoke stopped before it, or kept it): ` +
              'run revoke again with the provider to revoke it there',
          );
      }
      return answered(`${summary(ring)}. ${chainNote(ring)}`, { fingerprints, usage, notes, chain: chainOf(ring) });
    },
  }));
}

/** The chain an app declares for the ring (suffix layout: up to the name the next flip creates). */
function chainOf(ring: KeyRing): string {
  return declaredChain(ring.name, ring.layout, highestSlot(ring) + 1);
}

/** Which chain apps declare, per layout, for people. */
function chainNote(ring: KeyRing): string {
  const chain = chainOf(ring);
  if (ring.layout === 'pair') return `Apps declare ${chain} (pair layout: the same two names for every rotation)`;
  if (ring.layout === 'alias') return `Apps declare ${chain} (alias layout)`;
  return (
    `Legacy suffix layout: apps must declare names ahead (${chain} for the next rotation); ` +
    '`keyflip rotate migrate` moves it to pair (apps then declare ' +
    `${declaredChain(ring.name, 'pair')} for good)`
  );
}

/** One line: the live key, the staged one, the old ones still enabled (each with its provider id, if recorded). */
function summary(ring: KeyRing): string {
  const { name, live, staged, old } = ring;
  if (ring.keys.length === 0) return `${name} has no key (${ring.layout} layout)`;
  const label = (key: RotationKey): string => {
    const identity = providerRecordOfKey(ring, key);
    return identity ? `${key.label} (${identity.keyId} at ${identity.provider})` : key.label;
  };
  return (
    `${name}: ${live ? `${label(live)} is live` : 'no live key'}${staged ? `, ${label(staged)} staged` : ''}` +
    `${old.length ? `, ${old.map(label).join(', ')} still enabled` : ''}`
  );
}
