import { Plan } from './plan.js';
import { iso, layoutOf, nowOf, updateFresh } from './common.js';
import { LABEL, withRecord } from './records.js';
import { readRing } from './ring.js';
import { refused, refusePending, result } from './state.js';
import type { RotationContext, RotationResult } from './types.js';

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
  const layout = layoutOf(ctx);
  const { admin, name } = ctx;
  const ring = await readRing(admin, name, layout);
  if (ring.pending) return refusePending(ring, 'flip', ring.pending);
  const at = iso(nowOf(ctx));
  const plan = new Plan();
  const live = ring.live;
  const staged = ring.staged;

  if (!staged) {
    if (live && live.records.staged && !live.records.flipped) {
      // A suffix flip that enabled the key and stopped before recording it. The key that was live before
      // is the newest of the others still enabled; the record is the one the flip would have made.
      const before = ring.old.reduce<(typeof ring.old)[number] | undefined>(
        (a, k) => (a === undefined || k.n > a.n ? k : a),
        undefined,
      );
      const record = {
        at,
        ...(before ? { from: before.n } : {}),
        ...(options.skipProbe && !live.records.probed?.ok ? { skipProbe: true } : {}),
      };
      plan.add(`record on ${live.secretId}: flipped to ${live.label} at ${at}`, async () => {
        await updateFresh(admin, live.secretId, (meta) => ({
          labels: { ...meta.labels, [LABEL.step]: 'flipped' },
          annotations: withRecord(meta.annotations, live.version, 'flipped', record),
        }));
      });
    } else if (live?.records.flipped) {
      return result(
        ring,
        'flip',
        'already-done',
        `${live.label} is live (flipped at ${live.records.flipped.at}) and nothing is staged: nothing to flip`,
      );
    } else {
      return refused(ring, 'flip', 'nothing-staged', `${name} has no staged key: provision (and probe) one first`);
    }
  } else {
    const probed = staged.records.probed;
    // --skip-probe stands in for a probe that could not be made (no route to the provider, its outage), never
    // for one that answered: a key the provider refused is not flipped, skip or not.
    const dead = probed !== undefined && !probed.ok && probed.reason !== 'unreachable';
    if (dead) {
      return refused(
        ring,
        'flip',
        'probe-failed',
        `${staged.label} failed its probe with ${probed.provider} (${probed.reason} at ${probed.at}): it would break every process that picks it up; discard it${options.skipProbe ? ' (--skip-probe does not override a key the provider refused)' : ''}`,
      );
    }
    if (!options.skipProbe) {
      if (!probed)
        return refused(
          ring,
          'flip',
          'not-probed',
          `${staged.label} was not probed: run rotate probe first (or flip --skip-probe, which is recorded)`,
        );
      if (!probed.ok)
        return refused(
          ring,
          'flip',
          'probe-failed',
          `${staged.label}'s probe with ${probed.provider} got no answer (${probed.reason} at ${probed.at}): probe again, or flip --skip-probe (recorded)`,
        );
    }
    const record = {
      at,
      ...(live ? { from: live.n } : {}),
      ...(options.skipProbe && !probed?.ok ? { skipProbe: true } : {}),
    };
    if (staged.state !== 'ENABLED') {
      plan.add(
        layout === 'suffix'
          ? `enable ${staged.label}: processes that declare it read it on their next refresh`
          : `enable ${staged.label} (no alias names it yet)`,
        async () => {
          await admin.setState(staged.secretId, staged.version, 'ENABLED');
        },
      );
    }
    if (layout === 'alias') {
      plan.add(
        `move ${name}@current to version ${staged.version}${live ? ` and @previous to version ${live.version}` : ''}; record the flip`,
        async () => {
          await updateFresh(admin, name, (meta) => {
            const aliases: Record<string, number> = { ...meta.aliases, current: staged.version };
            if (live) aliases.previous = live.version;
            return {
              aliases,
              labels: { ...meta.labels, [LABEL.step]: 'flipped' },
              annotations: withRecord(meta.annotations, staged.version, 'flipped', record),
            };
          });
        },
      );
    } else {
      plan.add(`record on ${staged.secretId}: flipped to ${staged.label} at ${at}`, async () => {
        await updateFresh(admin, staged.secretId, (meta) => ({
          labels: { ...meta.labels, [LABEL.step]: 'flipped' },
          annotations: withRecord(meta.annotations, staged.version, 'flipped', record),
        }));
      });
    }
  }

  const target = staged ?? live;
  const notes: string[] = [];
  if (layout === 'suffix' && staged)
    notes.push(
      `only processes whose chain names ${staged.label} pick it up; verify shows any that stay on the old key`,
    );
  if (ctx.dryRun)
    return result(ring, 'flip', 'planned', `would make ${target?.label} live`, { steps: plan.steps(), notes });
  await plan.execute('flip', name);
  const after = await readRing(admin, name, layout);
  const old = after.old.map((k) => k.label).join(', ');
  return result(
    after,
    'flip',
    'done',
    `${target?.label} is live: processes pick it up on their next refresh (at once where the source watches)${old ? `; ${old} stays enabled until verify and revoke` : ''}`,
    { steps: plan.steps(), notes },
  );
}
