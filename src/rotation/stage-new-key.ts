/**
 * Staging a new key, the start both `provision` and `emergency` share: the secret it goes into, the gate
 * that lets only the same command with the same key resume a sequence that stopped part-way, and the first
 * writes (mark the target as pending, then add the key as a version). Each command then writes its own
 * finish (provision records it, and in the alias layout disables it; emergency makes it live), and its last
 * write clears the mark. Provision stages in `NAME_next` (pair and suffix layouts), which no app declares: no
 * app can read the key before flip, not even between two writes.
 */
import type { SecretAdmin } from './admin.js';
import { RotationError } from './errors.js';
import { updateFresh } from './fresh-update.js';
import { newestVersion, type KeyRing } from './key-ring.js';
import { highestSlot, pairIds, stagingId, suffixId, type Layout } from './layout.js';
import { ANNOTATION, article, LABEL, managedLabels, withPending, type PendingRecord } from './records.js';
import { refuse, type Gate } from './rotation-step.js';
import type { WritePlan } from './write-plan.js';

/** The commands that stage a new key. */
export type StagingCommand = 'provision' | 'emergency';

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
      stopped.op === 'emergency'
        ? `an emergency rotation to ${stopped.fingerprint} stopped part-way: ` +
          'run rotate emergency again with that key, or rotate discard'
        : `${article(stopped.op)} of ${stopped.fingerprint} stopped part-way: ` +
          `run rotate ${stopped.op} again to finish it`,
    otherKey: (stopped, fp) =>
      `a provision of ${stopped.fingerprint} stopped part-way and this key is ${fp}: ` +
      'run provision again with that key to finish it, or rotate discard first',
    create: (target, fp, layout) =>
      `create secret ${target} (labels keyflip-managed=true, keyflip-layout=${layout}` +
      `${layout === 'alias' ? '' : ', keyflip-role=staging'}; a pending provision of ${fp})`,
    mark: (target, fp) => `mark ${target}: a provision of ${fp} is pending`,
    add: (target, fp, layout) =>
      `add the new key (${fp}) as a version of ${target}` +
      `${layout === 'alias' ? '' : ' (no app declares it: no process can read it)'}`,
  },
  emergency: {
    otherCommand: (stopped) =>
      `${article(stopped.op)} of ${stopped.fingerprint} stopped part-way: ` +
      (stopped.op === 'provision' || stopped.op === 'emergency'
        ? 'run it again with that key, or rotate discard it first'
        : `run rotate ${stopped.op} again to finish it first`),
    otherKey: (stopped) => WORDING.emergency.otherCommand(stopped),
    create: (target, fp) => `create secret ${target} (keyflip labels; an emergency to ${fp} pending)`,
    mark: (target, fp) => `mark ${target}: an emergency to ${fp} is pending`,
    add: (target, fp, layout) =>
      layout === 'suffix'
        ? `add the new key (${fp}) as ${target}: live at once for processes that declare it`
        : layout === 'pair'
          ? `add the new key (${fp}) as a version of ${target}: live at once (apps read ${target} first)`
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
 * The secret the new key goes into: the one of the sequence being resumed; `NAME` in the alias layout;
 * provision in the pair and suffix layouts, `NAME_next`; emergency, `NAME_v2` (pair: apps read it first) or
 * the next `NAME_vN` (suffix).
 */
export function stagingTarget(ring: KeyRing, command: StagingCommand): string {
  if (ring.pending) return ring.pending.secretId;
  if (ring.layout === 'alias') return ring.name;
  if (command === 'provision') return stagingId(ring.name);
  if (ring.layout === 'pair') return pairIds(ring.name).current;
  return suffixId(ring.name, highestSlot(ring) + 1);
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
  const role = target === stagingId(name) ? { [LABEL.role]: 'staging' } : {};
  if (!pending) {
    if (!ring.secrets.has(target)) {
      writes.add(wording.create(target, fp, layout), async () => {
        await admin.createSecret(target, {
          labels: { ...managedLabels({}, layout, key.step, key.environment), ...role },
          annotations: withPending({ [ANNOTATION.name]: name }, mark),
        });
      });
    } else {
      writes.add(wording.mark(target, fp), async () => {
        await updateFresh(admin, target, (meta) => ({
          labels: { ...managedLabels(meta.labels, layout, key.step, key.environment), ...role },
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
