/**
 * Staging a new key, the start both `provision` and `emergency` share: the secret it goes into, the gate
 * that lets only the same command with the same key resume a sequence that stopped part-way, and the first
 * writes (mark the target as pending, then add the key as a version). Each command then writes its own
 * finish (provision disables the version; emergency makes it live), and its last write clears the mark.
 */
import type { SecretAdmin } from './admin.js';
import { RotationError } from './errors.js';
import { updateFresh } from './fresh-update.js';
import { newestVersion, type KeyRing } from './key-ring.js';
import { highestSlot, suffixId, type Layout } from './layout.js';
import { ANNOTATION, article, managedLabels, withPending, type PendingRecord } from './records.js';
import { refuse, type Gate } from './rotation-step.js';
import type { WritePlan } from './write-plan.js';

/** The commands that stage a new key. */
export type StagingCommand = PendingRecord['op'];

/** How each command words its refusals and its first writes. */
const WORDING: Record<
  StagingCommand,
  {
    readonly otherCommand: (stopped: PendingRecord) => string;
    readonly otherKey: (stopped: PendingRecord, fp: string) => string;
    readonly create: (target: string, fp: string, layout: Layout) => string;
    readonly mark: (target: string, fp: string) => string;
    readonly add: (target: string, fp: string, layout: Layout) => string;
  }
> = {
  provision: {
    otherCommand: (stopped) =>
      `an emergency rotation to ${stopped.fingerprint} stopped part-way: ` +
      'run rotate emergency again with that key, or rotate discard',
    otherKey: (stopped, fp) =>
      `a provision of ${stopped.fingerprint} stopped part-way and this key is ${fp}: ` +
      'run provision again with that key to finish it, or rotate discard first',
    create: (target, fp, layout) =>
      `create secret ${target} (labels keyflip-managed=true, keyflip-layout=${layout}; a pending provision of ${fp})`,
    mark: (target, fp) => `mark ${target}: a provision of ${fp} is pending`,
    add: (target, fp) => `add the new key (${fp}) as a version of ${target}`,
  },
  emergency: {
    otherCommand: (stopped) =>
      `${article(stopped.op)} of ${stopped.fingerprint} stopped part-way: ` +
      'run it again with that key, or rotate discard it first',
    otherKey: (stopped) => WORDING.emergency.otherCommand(stopped),
    create: (target, fp) => `create secret ${target} (keyflip labels; an emergency to ${fp} pending)`,
    mark: (target, fp) => `mark ${target}: an emergency to ${fp} is pending`,
    add: (target, fp, layout) =>
      layout === 'suffix'
        ? `add the new key (${fp}) as ${target}: live at once for processes that declare it`
        : `add the new key (${fp}) as a version of ${target}`,
  },
};

/**
 * The gate both commands open with: a sequence that stopped part-way is finished only by the same command
 * with the same key (`pending` for the other command, `fingerprint-mismatch` for another key).
 */
export function resumesOnlyItself(ring: KeyRing, command: StagingCommand, fp: string): Gate {
  return () => {
    const stopped = ring.pending?.record;
    if (!stopped) return undefined;
    if (stopped.op !== command) return refuse('pending', WORDING[command].otherCommand(stopped));
    if (stopped.fingerprint !== fp) return refuse('fingerprint-mismatch', WORDING[command].otherKey(stopped, fp));
    return undefined;
  };
}

/**
 * The secret the new key goes into: the one of the sequence being resumed; `NAME` in the alias layout; in
 * the suffix layout the next `NAME_vN`. Provision takes the newest `NAME_vN` again when its key was
 * discarded (or it has none), so that the apps' chains (`NAME_v3 ?? NAME_v2 ?? NAME_v1`) keep naming it;
 * emergency always takes a new one.
 */
export function stagingTarget(ring: KeyRing, command: StagingCommand): string {
  if (ring.pending) return ring.pending.secretId;
  if (ring.layout === 'alias') return ring.name;
  const top = highestSlot(ring);
  const topId = suffixId(ring.name, top);
  if (command === 'provision' && top > 0) {
    const topKey = ring.keys.find((k) => k.secretId === topId);
    if (!topKey || topKey.role === 'discarded') return topId;
  }
  return suffixId(ring.name, top + 1);
}

/** A new key to stage. */
export interface NewKey {
  readonly command: StagingCommand;
  readonly ring: KeyRing;
  readonly value: string;
  readonly fingerprint: string;
  /** The secret it goes into: {@link stagingTarget}. */
  readonly target: string;
  /** When the command runs (ISO), for the pending mark. */
  readonly at: string;
  /** What the command adds to the pending mark (emergency: the key that was live, the keys it disables). */
  readonly markExtra?: Pick<PendingRecord, 'from' | 'disable'> | undefined;
  /** The `keyflip-step` label while the sequence runs (`provisioning`, `emergency`). */
  readonly step: string;
  /** The `keyflip-environment` label, if any. */
  readonly environment: string | undefined;
}

/** The key being staged: its version, known once the add has run (or at once, when a resumed run had added it). */
export interface StagedVersion {
  version(): number;
}

/**
 * Adds the first writes of staging `key` to `writes`: mark the target as pending (creating the secret if
 * needed) unless a stopped run already did, then add the key as a new version unless a stopped run already
 * did. Secret Manager adds a version enabled; the command's next write decides what becomes of it.
 */
export function stageNewKey(admin: SecretAdmin, writes: WritePlan, key: NewKey): StagedVersion {
  const { ring, target, fingerprint: fp } = key;
  const { layout, name, pending } = ring;
  const wording = WORDING[key.command];
  const mark: PendingRecord = {
    op: key.command,
    fingerprint: fp,
    at: key.at,
    after: newestVersion(ring, target),
    ...key.markExtra,
  };
  if (!pending) {
    if (!ring.secrets.has(target)) {
      writes.add(wording.create(target, fp, layout), async () => {
        await admin.createSecret(target, {
          labels: managedLabels({}, layout, key.step, key.environment),
          annotations: withPending({ [ANNOTATION.name]: name }, mark),
        });
      });
    } else {
      writes.add(wording.mark(target, fp), async () => {
        await updateFresh(admin, target, (meta) => ({
          labels: managedLabels(meta.labels, layout, key.step, key.environment),
          annotations: withPending({ ...meta.annotations, [ANNOTATION.name]: name }, mark),
        }));
      });
    }
  }
  let version = pending?.key?.version;
  if (!pending?.key) {
    writes.add(wording.add(target, fp, layout), async () => {
      version = (await admin.addVersion(target, key.value)).version;
    });
  }
  return {
    version() {
      if (version === undefined) throw new RotationError('BACKEND', `the new version of ${target} is not known yet`);
      return version;
    },
  };
}
