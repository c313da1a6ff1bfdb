import { iso, nowOf } from './context.js';
import { RotationError } from './errors.js';
import { fingerprintOf, keyFingerprint } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { inStaging, latestOf, pairSlots, type KeyRing, type RotationKey } from './key-ring.js';
import { highestSlot, pairIds, suffixId } from './layout.js';
import { providerRecordOf, providerRecordOfKey } from './provider-keys.js';
import {
  ANNOTATION,
  LABEL,
  managedLabels,
  withPending,
  withRecord,
  type FlippedRecord,
  type PendingRecord,
} from './records.js';
import { alreadyDone, noStoppedSequence, refuse, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';
import type { WritePlan } from './write-plan.js';

/** Options of {@link flip}. */
export interface FlipOptions {
  /** Flip a key that was not probed alive (recorded). @default false */
  skipProbe?: boolean | undefined;
}

/**
 * Step 3: makes the staged key live. Refuses unless the key was probed alive (or `skipProbe`). Running it again
 * after it finished changes nothing; after it stopped part-way, it finishes (pair and suffix layouts: a pending
 * mark on `NAME_next` says a flip is under way; each write is skipped when the state shows it made).
 *
 * - pair: 1. adds the current key (`NAME_v2`'s latest) as a new version of `NAME_v1` (skipped when `NAME_v2` does
 *   not exist yet: `NAME_v1` holds the current key already); 2. adds the staged key as a new version of `NAME_v2`
 *   (apps move to it on their next refresh); 3. disables the `NAME_next` version; then records the flip. At every
 *   moment `NAME_v2 ?? NAME_v1` reads a live, probed key.
 * - suffix: copies the staged key to a new `NAME_v{n+1}` (apps declaring it read it on their next refresh), then
 *   disables the `NAME_next` version and records the flip. (A key staged in `NAME_vN` by an older keyflip: enabled.)
 * - alias: enables the version, then moves `current` to it and `previous` to the key that was live, in one write.
 */
export async function flip(ctx: RotationContext, options: FlipOptions = {}): Promise<RotationResult> {
  const { admin, name } = ctx;
  const skipProbe = options.skipProbe === true;
  return runStep(ctx, 'flip', (ring) => {
    const { live, staged, layout } = ring;
    // A flip from NAME_next that stopped part-way: its mark; the gates it passed are not asked again.
    const stopped = ring.pending?.record.op === 'flip' ? ring.pending.record : undefined;
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
        stopped ? () => undefined : noStoppedSequence(ring),
        () => {
          if (staged || unrecorded) return undefined;
          return live?.records.flipped
            ? alreadyDone(
                `${live.label} is live (flipped at ${live.records.flipped.at}) and nothing is staged: nothing to flip`,
              )
            : refuse('nothing-staged', `${name} has no staged key: provision (and probe) one first`);
        },
        () =>
          !stopped && staged && inStaging(ring, staged) && staged.state !== 'ENABLED'
            ? refuse('nothing-staged', `${staged.label} is disabled (a discard stopped part-way?): run discard again`)
            : undefined,
        // --skip-probe stands in for a probe that could not be made (no route to the provider, its outage),
        // never for one that answered: a key the provider refused is not flipped, skip or not.
        () =>
          !stopped && staged && probed && !probed.ok && probed.reason !== 'unreachable'
            ? refuse(
                'probe-failed',
                `${staged.label} failed its probe with ${probed.provider} (${probed.reason} at ${probed.at}): ` +
                  'it would break every process that picks it up; discard it' +
                  `${skipProbe ? ' (--skip-probe does not override a key the provider refused)' : ''}`,
              )
            : undefined,
        () =>
          !stopped && staged && !skipProbe && !probed
            ? refuse(
                'not-probed',
                `${staged.label} was not probed: run rotate probe first (or flip --skip-probe, which is recorded)`,
              )
            : undefined,
        () =>
          !stopped && staged && !skipProbe && probed && !probed.ok
            ? refuse(
                'probe-failed',
                `${staged.label}'s probe with ${probed.provider} got no answer (${probed.reason} at ${probed.at}): ` +
                  'probe again, or flip --skip-probe (recorded)',
              )
            : undefined,
      ],
      async plan(writes) {
        const notes: string[] = [];
        if (staged && inStaging(ring, staged)) {
          const fromStaging = { ring, staged, stopped, skipProbe, at: stopped?.at ?? iso(nowOf(ctx)) };
          if (layout === 'pair') planPairFlip(ctx, fromStaging, writes);
          else {
            const target = await planSuffixFlip(ctx, fromStaging, writes);
            notes.push(
              `only processes whose chain names ${target} pick it up; verify shows any that stay on an old key`,
            );
          }
        } else if (unrecorded) {
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
          planned: `would make ${target?.label} (${target?.fingerprint ?? 'fingerprint not recorded'}) live`,
          done: (after) => {
            const old = after.old.map((k) => k.label).join(', ');
            const stays = after.old.length === 1 ? 'stays' : 'stay';
            return (
              `${after.live?.label ?? target?.label} (${after.live?.fingerprint ?? target?.fingerprint}) is live: ` +
              'processes pick it up on their next refresh (at once where the source ' +
              `watches)${old ? `; ${old} ${stays} enabled until verify and revoke` : ''}` +
              `${stopped ? ' (finished the flip that had stopped part-way)' : ''}`
            );
          },
          extra: { notes },
        };
      },
    };
  });
}

/** A flip of the key staged in `NAME_next`. */
interface StagedFlip {
  readonly ring: KeyRing;
  readonly staged: RotationKey;
  /** The mark of the flip being finished. */
  readonly stopped: PendingRecord | undefined;
  readonly skipProbe: boolean;
  /** When the flip started (ISO). */
  readonly at: string;
}

/** The staged key's fingerprint (recorded by provision: a staged key has one). */
function stagedFingerprint(staged: RotationKey): string {
  const fp = staged.fingerprint;
  if (fp === undefined) throw new RotationError('BACKEND', `${staged.label} has no recorded fingerprint`);
  return fp;
}

/** Reads `key`'s value and checks it is the key `fp` (a copy never carries another key than the one meant). */
async function readChecked(ctx: RotationContext, key: RotationKey, fp: string): Promise<string> {
  const value = await ctx.admin.access(key.secretId, key.version);
  if (fingerprintOf(ctx, value) !== fp)
    throw new RotationError('BACKEND', `${key.label} does not hold ${fp} any more (changed during the flip?)`);
  return value;
}

/** The first write of a flip from `NAME_next` (unless resuming): the pending mark. */
function markFlip(ctx: RotationContext, flip: StagedFlip, writes: WritePlan, target?: string): void {
  const { ring, staged, stopped, at } = flip;
  if (stopped) return;
  const fp = stagedFingerprint(staged);
  const mark: PendingRecord = {
    op: 'flip',
    fingerprint: fp,
    at,
    after: staged.version - 1,
    ...(ring.live ? { from: ring.live.n } : {}),
    ...(target ? { target } : {}),
  };
  writes.add(`mark ${staged.secretId}: a flip of ${fp} is pending`, async () => {
    await updateFresh(ctx.admin, staged.secretId, (meta) => ({
      labels: { ...meta.labels, [LABEL.step]: 'flipping' },
      annotations: withPending(meta.annotations, mark),
    }));
  });
}

/** The last writes of a flip from `NAME_next`: disable the staged version, then the records (clearing the mark). */
function finishFlip(
  ctx: RotationContext,
  flip: StagedFlip,
  writes: WritePlan,
  live: { secretId: string; version: () => number },
): void {
  const { admin } = ctx;
  const { ring, staged, stopped, skipProbe, at } = flip;
  const fp = stagedFingerprint(staged);
  const from = stopped?.from ?? ring.live?.n;
  const flipped: FlippedRecord = {
    at,
    ...(from !== undefined ? { from } : {}),
    ...(skipProbe && !staged.records.probed?.ok ? { skipProbe: true } : {}),
    fingerprint: fp,
  };
  if (staged.state === 'ENABLED') {
    writes.add(`disable ${staged.label}: its key is live in ${live.secretId} now`, async () => {
      await admin.setState(staged.secretId, staged.version, 'DISABLED');
    });
  }
  // The key's identity at the provider goes with it, onto the version flip added.
  const identity = providerRecordOfKey(ring, staged) ?? providerRecordOf(ring, fp);
  const copied = identity ? ` (${identity.keyId} at ${identity.provider})` : '';
  writes.add(`record on ${live.secretId}: flipped to ${fp}${copied} at ${at}`, async () => {
    await updateFresh(admin, live.secretId, (meta) => {
      let annotations = meta.annotations;
      if (ring.layout === 'suffix')
        annotations = withRecord(annotations, live.version(), 'staged', {
          at: staged.records.staged?.at ?? at,
          fingerprint: fp,
        });
      if (identity) annotations = withRecord(annotations, live.version(), 'provider', identity);
      return {
        labels: { ...meta.labels, [LABEL.step]: 'flipped' },
        annotations: withRecord(annotations, live.version(), 'flipped', flipped),
      };
    });
  });
  writes.add(`record on ${staged.secretId}: ${staged.label} flipped; clear the pending mark`, async () => {
    await updateFresh(admin, staged.secretId, (meta) => ({
      labels: { ...meta.labels, [LABEL.step]: 'flipped' },
      annotations: withPending(withRecord(meta.annotations, staged.version, 'flipped', flipped), undefined),
    }));
  });
}

/** Creates a secret of the ring a flip copies a key into (`NAME_v1`, `NAME_v2`, `NAME_vN`). */
function createSlot(ctx: RotationContext, ring: KeyRing, id: string, writes: WritePlan): void {
  if (ring.secrets.has(id)) return;
  writes.add(`create secret ${id} (labels keyflip-managed=true, keyflip-layout=${ring.layout})`, async () => {
    await ctx.admin.createSecret(id, {
      labels: managedLabels({}, ring.layout, 'flipping', ring.environment),
      annotations: { [ANNOTATION.name]: ring.name },
    });
  });
}

/**
 * pair: 1. the current key to `NAME_v1`, 2. the staged key to `NAME_v2`, 3. disable the staged version, records.
 * Each is skipped when the ring shows it made (a flip that stopped part-way, a reply that was lost).
 */
function planPairFlip(ctx: RotationContext, flip: StagedFlip, writes: WritePlan): void {
  const { ring, staged } = flip;
  const ids = pairIds(ring.name);
  const fp = stagedFingerprint(staged);
  const { current, previous } = pairSlots(ring);
  const enabled = (k: RotationKey | undefined): RotationKey | undefined => (k?.state === 'ENABLED' ? k : undefined);
  const done2 = enabled(current)?.fingerprint === fp ? current : undefined;
  const from = enabled(current);
  const done1 =
    !from ||
    done2 !== undefined ||
    (from.fingerprint !== undefined && enabled(previous)?.fingerprint === from.fingerprint);
  markFlip(ctx, flip, writes);
  if (!done1 && from) {
    const fromFp = from.fingerprint ?? '(fingerprint unknown)';
    createSlot(ctx, ring, ids.previous, writes);
    const identity = providerRecordOfKey(ring, from);
    let copy: number | undefined;
    writes.add(
      `add the current key (${fromFp}) as a new version of ${ids.previous}: apps still read ${ids.current}`,
      async () => {
        const value = from.fingerprint ? await readChecked(ctx, from, from.fingerprint) : undefined;
        copy = (
          await ctx.admin.addVersion(ids.previous, value ?? (await ctx.admin.access(from.secretId, from.version)))
        ).version;
      },
    );
    if (identity)
      writes.add(
        `record on ${ids.previous}: the copy of ${fromFp} is ${identity.keyId} at ${identity.provider}`,
        async () => {
          await updateFresh(ctx.admin, ids.previous, (meta) => ({
            annotations:
              copy === undefined ? meta.annotations : withRecord(meta.annotations, copy, 'provider', identity),
          }));
        },
      );
  }
  let added = done2?.version;
  if (!done2) {
    createSlot(ctx, ring, ids.current, writes);
    writes.add(
      `add the staged key (${fp}) as a new version of ${ids.current}: apps move to it on their next refresh`,
      async () => {
        added = (await ctx.admin.addVersion(ids.current, await readChecked(ctx, staged, fp))).version;
      },
    );
  }
  finishFlip(ctx, flip, writes, {
    secretId: ids.current,
    version: () => {
      if (added === undefined) throw new RotationError('BACKEND', `the new version of ${ids.current} is not known`);
      return added;
    },
  });
}

/**
 * suffix: the staged key to a new `NAME_v{n+1}` (or to the newest `NAME_vN` again when its key was discarded, as
 * an older keyflip left it, so that the apps' chains keep naming it), disable the staged version, records.
 * Returns the secret the key goes to.
 */
async function planSuffixFlip(ctx: RotationContext, flip: StagedFlip, writes: WritePlan): Promise<string> {
  const { ring, staged, stopped } = flip;
  const fp = stagedFingerprint(staged);
  const top = highestSlot(ring);
  const topKey = latestOf(ring, suffixId(ring.name, top));
  const reuse = top > 0 && (topKey === undefined || topKey.role === 'discarded');
  const target = stopped?.target ?? suffixId(ring.name, reuse ? top : top + 1);
  const there = latestOf(ring, target);
  const done = there?.state === 'ENABLED' && (await keyFingerprint(ctx, there)) === fp ? there : undefined;
  markFlip(ctx, flip, writes, target);
  let added = done?.version;
  if (!done) {
    createSlot(ctx, ring, target, writes);
    writes.add(
      `add the staged key (${fp}) as ${target}: processes that declare it read it on their next refresh`,
      async () => {
        added = (await ctx.admin.addVersion(target, await readChecked(ctx, staged, fp))).version;
      },
    );
  }
  finishFlip(ctx, flip, writes, {
    secretId: target,
    version: () => {
      if (added === undefined) throw new RotationError('BACKEND', `the new version of ${target} is not known`);
      return added;
    },
  });
  return target;
}
