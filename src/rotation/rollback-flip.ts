/**
 * `rollback`: after a flip, before the old key was revoked, puts the key that was live before back as current
 * (the new key misbehaves in production despite its probe). Per layout:
 *
 * - `pair`: adds the previous key (`NAME_v1`'s latest version) as a new version of `NAME_v2` (apps return to it),
 *   then disables `NAME_v2`'s version holding the rolled-back key.
 * - `alias`: one write moves `current` back to the previous version (`previous` to the one before it, if any)
 *   and records it; the rolled-back version stays enabled until verify and revoke retire it.
 * - `suffix` (legacy): disables the new `NAME_vN`, so apps fall back to `NAME_v{N-1}`.
 *
 * Gates: `pending` (a sequence or a flip stopped part-way), `nothing-to-roll-back` (the live key was not made
 * live by a flip, or there is no key before it), `old-key-revoked` (the previous key is disabled: rolling back
 * would serve a revoked key). A sequence of several writes marks the secret pending first, so a rollback that
 * stopped part-way is finished by running it again. Records: `rolled-back` on the key rolled back
 * (its fingerprint, the time, the reason), `flipped` (with `rollback`) on the key made current again.
 */
import { checkReason } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import { RotationError } from './errors.js';
import { keyFingerprint } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { flipInProgress, newestVersion, pairSlots, type KeyRing, type RotationKey } from './key-ring.js';
import { pairIds } from './layout.js';
import {
  article,
  LABEL,
  readRecords,
  withPending,
  withRecord,
  type FlippedRecord,
  type PendingRecord,
  type RolledBackRecord,
} from './records.js';
import { alreadyDone, once, refuse, runStep, type Gate } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';
import type { WritePlan } from './write-plan.js';

/** Options of {@link rollback}. */
export interface RollbackOptions {
  /**
   * Why the new key is rolled back (`429s from the new project`): recorded on it, and printed. One line of 3 to
   * 300 characters that holds no key.
   * @default none recorded
   */
  reason?: string | undefined;
}

/** The two keys a rollback is about. */
interface Turn {
  /** The key rolled back: the live one (or, resuming, the one the stopped run was rolling back). */
  readonly from: RotationKey;
  /** The key made current again: the one live before `from`, if the ring still has it. */
  readonly to: RotationKey | undefined;
}

/** What a rollback writes, and knows, once the gates let it through. */
interface Rollback {
  readonly from: RotationKey;
  readonly to: RotationKey;
  readonly fromFingerprint: string;
  readonly toFingerprint: string;
  readonly at: string;
  readonly reason: string | undefined;
  /** The pending mark of a stopped run being finished. */
  readonly resumed: PendingRecord | undefined;
}

/**
 * Puts the key live before the last flip back as current (see the module comment for the writes per layout).
 * Running it again after it finished changes nothing (`already-done`); after it stopped part-way, it finishes.
 */
export async function rollback(ctx: RotationContext, options: RollbackOptions = {}): Promise<RotationResult> {
  const reason = options.reason === undefined ? undefined : checkRollbackReason(options.reason);
  return runStep(ctx, 'rollback', (ring) => {
    const stopped = ring.pending?.record.op === 'rollback' ? ring.pending : undefined;
    const turn = stopped ? resumedTurn(ring, stopped.record) : turnOf(ring);
    const fingerprints = once(async () => ({
      from: turn ? await fingerprintOf(ctx, turn.from, stopped?.record) : undefined,
      to: turn?.to ? ((await keyFingerprint(ctx, turn.to)) ?? stopped?.record.fingerprint) : undefined,
    }));
    const gates: Gate[] = [
      () =>
        ring.pending && !stopped
          ? refuse(
              'pending',
              `${article(ring.pending.record.op)} of ${ring.pending.record.fingerprint} stopped part-way: ` +
                'finish it (or discard it) first',
            )
          : undefined,
      () =>
        stopped && !turn?.to
          ? refuse(
              'pending',
              `a rollback to ${stopped.record.fingerprint} stopped part-way, and the keys it names are no longer in ` +
                `the ring (${stopped.record.disable?.[0]?.key ?? 'no key recorded'}): rotate status shows the state`,
            )
          : undefined,
    ];
    if (!stopped)
      gates.push(
        () =>
          flipInProgress(ring)
            ? refuse('pending', 'a flip stopped part-way: run flip again to finish it first (then roll it back)')
            : undefined,
        async () => {
          const last = lastRollback(ring);
          const live = ring.live;
          if (!last || !live) return undefined;
          const flippedAt = live.records.flipped ? Date.parse(live.records.flipped.at) : Number.NEGATIVE_INFINITY;
          if (flippedAt > Date.parse(last.at)) return undefined; // flipped again since
          const liveFingerprint = live.fingerprint ?? (await keyFingerprint(ctx, live));
          return liveFingerprint === last.to
            ? alreadyDone(
                `${live.label} (${last.to}) is current again since ${last.at}: ${last.fingerprint} was rolled back; ` +
                  'nothing to do',
              )
            : undefined;
        },
        () => {
          const live = ring.live;
          if (!live) return refuse('nothing-to-roll-back', `${ring.name} has no live key: nothing to roll back`);
          if (!live.records.flipped)
            return refuse(
              'nothing-to-roll-back',
              `${live.label} was not made live by a flip (nothing recorded): there is no flip to roll back`,
            );
          if (ring.layout === 'pair' && live.secretId !== pairIds(ring.name).current)
            return refuse(
              'nothing-to-roll-back',
              `${live.label} is live because ${pairIds(ring.name).current} has no enabled latest version: ` +
                'there is no flip to roll back',
            );
          return turn?.to
            ? undefined
            : refuse('nothing-to-roll-back', `${ring.name} has no key before ${live.label}: nothing to roll back to`);
        },
        () => {
          const to = turn?.to;
          if (!to || to.state === 'ENABLED') return undefined;
          const revoked = to.records.revoked;
          const how = revoked
            ? `was ${revoked.emergency ? 'disabled by an emergency rotation' : 'revoked'} at ${revoked.at}`
            : `is ${to.state.toLowerCase()}`;
          return refuse(
            'old-key-revoked',
            `${to.label} (the key before ${turn.from.label}) ${how}: rolling back would serve a revoked key. ` +
              'To replace the live key, provision a new one (or rotate emergency)',
          );
        },
        async () => {
          const { from, to } = await fingerprints();
          return from !== undefined && from === to
            ? refuse(
                'nothing-to-roll-back',
                `${turn?.to?.label} holds the live key (${from}) too: there is no other key to go back to`,
              )
            : undefined;
        },
      );
    return {
      gates,
      async plan(writes) {
        // The gates let through only a ring with both keys (a resumed run finds them from its mark).
        const { from, to } = turn as { from: RotationKey; to: RotationKey };
        const fps = await fingerprints();
        const toFingerprint = fps.to ?? to.fingerprint;
        if (fps.from === undefined || toFingerprint === undefined)
          throw new RotationError('BACKEND', `the fingerprint of ${fps.from ? to.label : from.label} is unknown`, {
            secret: ring.name,
          });
        if (stopped && toFingerprint !== stopped.record.fingerprint)
          return failedResume(ring, stopped.record, to, toFingerprint);
        const plan: Rollback = {
          from,
          to,
          fromFingerprint: fps.from,
          toFingerprint,
          at: stopped?.record.at ?? iso(nowOf(ctx)),
          reason: reason ?? stopped?.record.reason,
          resumed: stopped?.record,
        };
        if (ring.layout === 'pair') planPair(ctx, ring, plan, writes);
        else if (ring.layout === 'alias') planAlias(ctx, ring, plan, writes);
        else planSuffix(ctx, plan, writes);
        const what = `${from.label} (${plan.fromFingerprint}) to ${to.label} (${plan.toFingerprint})`;
        return {
          planned: `would roll back ${what}`,
          done: () =>
            `rolled back ${what}${stopped ? ' (finished the rollback that had stopped part-way)' : ''}: ` +
            'processes return to it on their next refresh (at once where the source watches)',
          extra: { notes: notesOf(ring, plan) },
        };
      },
    };
  });
}

/** A reason given to rollback: as a forced revoke's (one line, no key), at least 3 characters. */
function checkRollbackReason(reason: unknown): string {
  if (typeof reason === 'string' && reason.trim().length >= 3) return checkReason(reason);
  throw new RotationError('INVALID_INPUT', '--reason needs at least 3 characters (it is recorded on the secret)');
}

/** The live key and the one live before it, in the ring's layout. */
function turnOf(ring: KeyRing): Turn | undefined {
  const from = ring.live;
  return from ? { from, to: keyBefore(ring, from) } : undefined;
}

/** Pair layout: the previous key is `NAME_v1`'s latest version, whatever the key rolled back. */
const pairPrevious = (ring: KeyRing): RotationKey | undefined => pairSlots(ring).previous;

/**
 * The key that was live before `key`: alias layout, the version its flip record names, else the newest version
 * below it; suffix layout, the newest `NAME_vN` below it (the one apps fall back to once `key` is disabled).
 * Discarded keys never were live; a key rolled back is not gone back to.
 */
function keyBefore(ring: KeyRing, key: RotationKey): RotationKey | undefined {
  if (ring.layout === 'pair') return pairPrevious(ring);
  const slot = new RegExp(`^${ring.name.replace(/-/g, '\\-')}_v\\d+$`);
  const candidates = ring.keys.filter(
    (k) =>
      k !== key &&
      k.n < key.n &&
      k.role !== 'discarded' &&
      k.role !== 'staged' &&
      k.records['rolled-back'] === undefined &&
      (ring.layout === 'alias' || slot.test(k.secretId)),
  );
  const from = key.records.flipped?.from;
  if (ring.layout === 'alias' && from !== undefined) {
    const named = candidates.find((k) => k.n === from);
    if (named) return named;
  }
  return candidates.reduce<RotationKey | undefined>((a, k) => (a === undefined || k.n > a.n ? k : a), undefined);
}

/** A stopped rollback's keys: the one its mark says it was rolling back, and the key before it. */
function resumedTurn(ring: KeyRing, mark: PendingRecord): Turn | undefined {
  const target = mark.disable?.[0]?.key;
  const from = ring.keys.find((k) => `${k.secretId}/${k.version}` === target);
  return from ? { from, to: keyBefore(ring, from) } : undefined;
}

/** The fingerprint of the key rolled back: read while enabled, else recorded (the mark has it). */
async function fingerprintOf(
  ctx: RotationContext,
  key: RotationKey,
  mark: PendingRecord | undefined,
): Promise<string | undefined> {
  return mark?.disable?.[0]?.fingerprint ?? (await keyFingerprint(ctx, key));
}

/** The newest `rolled-back` record of the ring. */
function lastRollback(ring: KeyRing): RolledBackRecord | undefined {
  let last: RolledBackRecord | undefined;
  for (const secret of ring.secrets.values()) {
    for (const records of readRecords(secret.annotations).values()) {
      const record = records['rolled-back'];
      if (record && (last === undefined || Date.parse(record.at) > Date.parse(last.at))) last = record;
    }
  }
  return last;
}

/** A stopped rollback whose key before is not the one its mark recorded: nothing is written. */
function failedResume(ring: KeyRing, mark: PendingRecord, to: RotationKey, found: string): never {
  throw new RotationError(
    'BACKEND',
    `a rollback to ${mark.fingerprint} stopped part-way, and the key before it is now ${to.label} (${found}): ` +
      'the ring changed since; `rotate status` shows it, `rotate discard` clears the mark',
    { secret: ring.name },
  );
}

const rolledBackRecord = (plan: Rollback): RolledBackRecord => ({
  at: plan.at,
  fingerprint: plan.fromFingerprint,
  to: plan.toFingerprint,
  ...(plan.reason === undefined ? {} : { reason: plan.reason }),
});

const flippedBack = (plan: Rollback): FlippedRecord => ({
  at: plan.at,
  from: plan.from.n,
  rollback: true,
  fingerprint: plan.toFingerprint,
});

/**
 * Pair layout: mark `NAME_v2` pending, add the previous key (read from `NAME_v1`) as its new version (apps
 * return to it on their next refresh), disable the version holding the rolled-back key (no app reads it: it is
 * not the latest any more), then record both and clear the mark.
 */
function planPair(ctx: RotationContext, ring: KeyRing, plan: Rollback, writes: WritePlan): void {
  const { admin } = ctx;
  const { from, to } = plan;
  const current = pairIds(ring.name).current;
  // A resumed run: the version the stopped run added, if it got that far.
  let added = plan.resumed ? ring.pending?.key?.version : undefined;
  if (!plan.resumed) {
    const mark: PendingRecord = {
      op: 'rollback',
      fingerprint: plan.toFingerprint,
      at: plan.at,
      after: newestVersion(ring, current),
      ...(plan.reason === undefined ? {} : { reason: plan.reason }),
      disable: [{ key: `${from.secretId}/${from.version}`, fingerprint: plan.fromFingerprint }],
    };
    writes.add(`mark ${current}: a rollback to ${to.label} (${plan.toFingerprint}) is pending`, async () => {
      await updateFresh(admin, current, (meta) => ({
        labels: { ...meta.labels, [LABEL.step]: 'rolling-back' },
        annotations: withPending(meta.annotations, mark),
      }));
    });
  }
  if (added === undefined) {
    writes.add(
      `add the previous key (${plan.toFingerprint}, ${to.label}) as a new version of ${current}: ` +
        'processes return to it on their next refresh',
      async () => {
        const value = await admin.access(to.secretId, to.version);
        added = (await admin.addVersion(current, value)).version;
      },
    );
  }
  if (from.state === 'ENABLED') {
    writes.add(`disable ${from.label} (the rolled-back key; no longer ${current}'s latest version)`, async () => {
      await admin.setState(from.secretId, from.version, 'DISABLED');
    });
  }
  writes.add(`record on ${current}: rolled back ${from.label}; clear the pending mark`, async () => {
    const version = added;
    if (version === undefined) throw new RotationError('BACKEND', `the new version of ${current} is not known yet`);
    await updateFresh(admin, current, (meta) => ({
      labels: { ...meta.labels, [LABEL.step]: 'rolled-back' },
      annotations: withPending(
        withRecord(
          withRecord(meta.annotations, from.version, 'rolled-back', rolledBackRecord(plan)),
          version,
          'flipped',
          flippedBack(plan),
        ),
        undefined,
      ),
    }));
  });
}

/**
 * Alias layout, one write: `current` to the previous version, `previous` to the one before it (removed when
 * there is none), the records. The rolled-back version stays enabled: apps still holding it keep working until
 * they refresh, and verify then revoke retire it.
 */
function planAlias(ctx: RotationContext, ring: KeyRing, plan: Rollback, writes: WritePlan): void {
  const { from, to } = plan;
  const before = keyBefore(ring, to);
  writes.add(
    `move ${ring.name}@current back to version ${to.version}` +
      `${before ? ` and @previous to version ${before.version}` : ' and remove @previous (no version before it)'}; ` +
      `record the rollback of version ${from.version}`,
    async () => {
      await updateFresh(ctx.admin, ring.name, (meta) => {
        const aliases: Record<string, number> = { ...meta.aliases, current: to.version };
        if (before) aliases.previous = before.version;
        else delete aliases.previous;
        let annotations = withRecord(meta.annotations, from.version, 'rolled-back', rolledBackRecord(plan));
        annotations = withRecord(annotations, to.version, 'flipped', flippedBack(plan));
        return { aliases, labels: { ...meta.labels, [LABEL.step]: 'rolled-back' }, annotations };
      });
    },
  );
}

/**
 * Legacy suffix layout: mark `NAME_vN` pending, disable it (apps fall back to the key below on their next
 * refresh), record the flip back on that key, then the rollback on `NAME_vN` with the mark cleared.
 */
function planSuffix(ctx: RotationContext, plan: Rollback, writes: WritePlan): void {
  const { admin } = ctx;
  const { from, to } = plan;
  if (!plan.resumed) {
    const mark: PendingRecord = {
      op: 'rollback',
      fingerprint: plan.toFingerprint,
      at: plan.at,
      after: from.version,
      ...(plan.reason === undefined ? {} : { reason: plan.reason }),
      disable: [{ key: `${from.secretId}/${from.version}`, fingerprint: plan.fromFingerprint }],
    };
    writes.add(`mark ${from.secretId}: a rollback to ${to.label} (${plan.toFingerprint}) is pending`, async () => {
      await updateFresh(admin, from.secretId, (meta) => ({
        labels: { ...meta.labels, [LABEL.step]: 'rolling-back' },
        annotations: withPending(meta.annotations, mark),
      }));
    });
  }
  if (from.state === 'ENABLED') {
    writes.add(`disable ${from.label}: processes fall back to ${to.label} on their next refresh`, async () => {
      await admin.setState(from.secretId, from.version, 'DISABLED');
    });
  }
  if (to.records.flipped?.rollback !== true || to.records.flipped.at !== plan.at) {
    writes.add(`record on ${to.secretId}: ${to.label} is current again`, async () => {
      await updateFresh(admin, to.secretId, (meta) => ({
        labels: { ...meta.labels, [LABEL.step]: 'flipped' },
        annotations: withRecord(meta.annotations, to.version, 'flipped', flippedBack(plan)),
      }));
    });
  }
  writes.add(`record on ${from.secretId}: rolled back ${from.label}; clear the pending mark`, async () => {
    await updateFresh(admin, from.secretId, (meta) => ({
      labels: { ...meta.labels, [LABEL.step]: 'rolled-back' },
      annotations: withPending(
        withRecord(meta.annotations, from.version, 'rolled-back', rolledBackRecord(plan)),
        undefined,
      ),
    }));
  });
}

/** What people should know after a rollback. */
function notesOf(ring: KeyRing, plan: Rollback): string[] {
  const { from } = plan;
  const notes = [
    `processes that hold ${from.label} keep using it until their next refresh (it still works at the provider)`,
  ];
  if (ring.layout === 'alias')
    notes.push(
      `${from.label} stays enabled for them: verify, then revoke retires it (and revoke it at the provider too)`,
    );
  else
    notes.push(
      `${from.label} is disabled in Secret Manager (no new process reads it); \`rotate status --collector URL\` ` +
        'counts the instances still reporting it: once none does, revoke it at the provider',
    );
  return notes;
}
