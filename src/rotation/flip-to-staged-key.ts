import { iso, nowOf } from './context.js';
import { updateFresh } from './fresh-update.js';
import type { RotationKey } from './key-ring.js';
import { LABEL, withRecord, type FlippedRecord } from './records.js';
import { alreadyDone, noStoppedSequence, refuse, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';
import type { WritePlan } from './write-plan.js';

/** Options of {@link flip}. */
export interface FlipOptions {
  /** Flip a key that was not probed alive (recorded). @default false */
  skipProbe?: boolean | undefined;
}

/**
 * Step 3: makes the staged key live. Suffix layout: enables `NAME_vN` (apps declaring it read it on their
 * next refresh); alias layout: enables the version, then moves `current` to it and `previous` to the key
 * that was live, in one write. Refuses unless the key was probed alive (or `skipProbe`). Running it again
 * after it finished changes nothing; after it stopped part-way, it finishes.
 */
export async function flip(ctx: RotationContext, options: FlipOptions = {}): Promise<RotationResult> {
  const { admin, name } = ctx;
  const skipProbe = options.skipProbe === true;
  return runStep(ctx, 'flip', (ring) => {
    const { live, staged, layout } = ring;
    // A suffix flip that enabled the key and stopped before recording it: finished by recording it.
    const unrecorded = !staged && live?.records.staged && !live.records.flipped ? live : undefined;
    const probed = staged?.records.probed;
    const record = (from: RotationKey | undefined, key: RotationKey): FlippedRecord => ({
      at: iso(nowOf(ctx)),
      ...(from ? { from: from.n } : {}),
      ...(skipProbe && !key.records.probed?.ok ? { skipProbe: true } : {}),
    });
    // Suffix layout: the flip record is a write of its own (the alias layout's moves the aliases too).
    const recordFlip = (writes: WritePlan, key: RotationKey, flipped: FlippedRecord): void => {
      writes.add(`record on ${key.secretId}: flipped to ${key.label} at ${flipped.at}`, async () => {
        await updateFresh(admin, key.secretId, (meta) => ({
          labels: { ...meta.labels, [LABEL.step]: 'flipped' },
          annotations: withRecord(meta.annotations, key.version, 'flipped', flipped),
        }));
      });
    };
    return {
      gates: [
        noStoppedSequence(ring),
        () => {
          if (staged || unrecorded) return undefined;
          return live?.records.flipped
            ? alreadyDone(
                `${live.label} is live (flipped at ${live.records.flipped.at}) and nothing is staged: nothing to flip`,
              )
            : refuse('nothing-staged', `${name} has no staged key: provision (and probe) one first`);
        },
        // --skip-probe stands in for a probe that could not be made (no route to the provider, its outage),
        // never for one that answered: a key the provider refused is not flipped, skip or not.
        () =>
          staged && probed && !probed.ok && probed.reason !== 'unreachable'
            ? refuse(
                'probe-failed',
                `${staged.label} failed its probe with ${probed.provider} (${probed.reason} at ${probed.at}): ` +
                  'it would break every process that picks it up; discard it' +
                  `${skipProbe ? ' (--skip-probe does not override a key the provider refused)' : ''}`,
              )
            : undefined,
        () =>
          staged && !skipProbe && !probed
            ? refuse(
                'not-probed',
                `${staged.label} was not probed: run rotate probe first (or flip --skip-probe, which is recorded)`,
              )
            : undefined,
        () =>
          staged && !skipProbe && probed && !probed.ok
            ? refuse(
                'probe-failed',
                `${staged.label}'s probe with ${probed.provider} got no answer (${probed.reason} at ${probed.at}): ` +
                  'probe again, or flip --skip-probe (recorded)',
              )
            : undefined,
      ],
      plan(writes) {
        const notes: string[] = [];
        if (unrecorded) {
          const key = unrecorded;
          // The key that was live before is the newest of the others still enabled.
          const before = ring.old.reduce<RotationKey | undefined>(
            (a, k) => (a === undefined || k.n > a.n ? k : a),
            undefined,
          );
          recordFlip(writes, key, record(before, key));
        } else if (staged) {
          const flipped = record(live, staged);
          if (staged.state !== 'ENABLED') {
            writes.add(
              layout === 'suffix'
                ? `enable ${staged.label}: processes that declare it read it on their next refresh`
                : `enable ${staged.label} (no alias names it yet)`,
              async () => {
                await admin.setState(staged.secretId, staged.version, 'ENABLED');
              },
            );
          }
          if (layout === 'alias') {
            writes.add(
              `move ${name}@current to version ${staged.version}` +
                `${live ? ` and @previous to version ${live.version}` : ''}; record the flip`,
              async () => {
                await updateFresh(admin, name, (meta) => {
                  const aliases: Record<string, number> = { ...meta.aliases, current: staged.version };
                  if (live) aliases.previous = live.version;
                  return {
                    aliases,
                    labels: { ...meta.labels, [LABEL.step]: 'flipped' },
                    annotations: withRecord(meta.annotations, staged.version, 'flipped', flipped),
                  };
                });
              },
            );
          } else {
            recordFlip(writes, staged, flipped);
            notes.push(
              `only processes whose chain names ${staged.label} pick it up; verify shows any that stay on the old key`,
            );
          }
        }
        const target = staged ?? live;
        return {
          planned: `would make ${target?.label} live`,
          done: (after) => {
            const old = after.old.map((k) => k.label).join(', ');
            return (
              `${target?.label} is live: processes pick it up on their next refresh (at once where the source ` +
              `watches)${old ? `; ${old} stays enabled until verify and revoke` : ''}`
            );
          },
          extra: { notes },
        };
      },
    };
  });
}
