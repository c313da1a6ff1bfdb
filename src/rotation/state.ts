/**
 * What the ring means for the operator: each key as a view, when the live key went live, and the next
 * step the playbook allows.
 */
import type { SecretUsage } from '../collector/types.js';
import type { KeyRing, RotationKey } from './ring.js';
import { article } from './records.js';
import type { KeyView, NextStep, RefusalCode, RotateCommand, RotationOutcome, RotationResult } from './types.js';

export function keyView(key: RotationKey, usage?: SecretUsage, fingerprint?: string): KeyView {
  const fp = fingerprint ?? key.fingerprint;
  const instances =
    usage && fp ? (usage.fingerprints.find((f) => f.fingerprint === fp)?.instances.length ?? 0) : undefined;
  return {
    label: key.label,
    secretId: key.secretId,
    version: key.version,
    state: key.state,
    role: key.role,
    createdAt: new Date(key.createdAt).toISOString(),
    fingerprint: fp,
    aliases: key.aliases,
    records: key.records,
    ...(instances === undefined ? {} : { instances }),
  };
}

/**
 * When the live key went live: its flip record, or (a key made live outside keyflip) its creation. The
 * verification window of an old key counts from here at the earliest.
 */
export function liveSince(ring: KeyRing): number | undefined {
  const live = ring.live;
  if (!live) return undefined;
  const flipped = live.records.flipped?.at;
  const at = flipped ? Date.parse(flipped) : NaN;
  return Number.isFinite(at) ? at : live.createdAt;
}

export function nextStep(ring: KeyRing): NextStep {
  const { name, pending, staged, live, old } = ring;
  if (pending) {
    return {
      command: pending.record.op,
      why: `${article(pending.record.op)} of ${pending.record.fingerprint} stopped part-way: run it again with the same key to finish it, or discard it`,
    };
  }
  if (staged) {
    if (staged.state === 'ENABLED')
      return { command: 'flip', why: `${staged.label} was being flipped: run flip again to finish` };
    const probed = staged.records.probed;
    if (!probed)
      return {
        command: 'probe',
        why: `${staged.label} is staged: probe it with the provider before any process can see it`,
      };
    if (!probed.ok)
      return {
        command: 'discard',
        why: `${staged.label} failed its probe (${probed.reason}): discard it and provision another key`,
      };
    return { command: 'flip', why: `${staged.label} is staged and probed ${probed.reason}: flip makes it live` };
  }
  if (live && live.records.staged && !live.records.flipped)
    return { command: 'flip', why: `${live.label} is live but its flip was not recorded: run flip again to record it` };
  if (old.length > 0) {
    const labels = old.map((k) => k.label).join(', ');
    const recorded = old.filter((k) => k.records.revoked).map((k) => k.label);
    if (recorded.length > 0)
      return {
        command: 'revoke',
        why: `${recorded.join(', ')} recorded as revoked but still enabled: a revoke stopped part-way; run revoke again to finish it`,
      };
    const verified = old.every((k) => k.records.verified?.ok);
    return verified
      ? {
          command: 'revoke',
          why: `${labels} verified unused: revoke disables ${old.length === 1 ? 'it' : 'them'} (after checking again)`,
        }
      : {
          command: 'verify',
          why: `${labels} still enabled: verify that no process used ${old.length === 1 ? 'it' : 'them'} for the whole window, then revoke`,
        };
  }
  if (!live)
    return {
      command: 'provision',
      why:
        ring.keys.length === 0
          ? `${name} has no key yet: provision the first one`
          : `${name} has no live key: provision one`,
    };
  return {
    command: 'provision',
    why: `nothing in flight: ${live.label} is the only enabled key; the next rotation starts with provision`,
  };
}

export function result(
  ring: KeyRing,
  command: RotateCommand,
  outcome: RotationOutcome,
  message: string,
  extra: Partial<Pick<RotationResult, 'refusal' | 'steps' | 'probe' | 'verifications' | 'usage' | 'notes'>> & {
    fingerprints?: ReadonlyMap<RotationKey, string>;
  } = {},
): RotationResult {
  const { fingerprints, notes, ...rest } = extra;
  return {
    command,
    secret: ring.name,
    layout: ring.layout,
    outcome,
    ok: outcome === 'done' || outcome === 'already-done' || outcome === 'planned',
    message,
    steps: [],
    keys: ring.keys.map((k) => keyView(k, extra.usage, fingerprints?.get(k))),
    next: nextStep(ring),
    notes: [...ring.notes, ...(notes ?? [])],
    ...rest,
  };
}

/** A refusal: a safety gate stopped the command before any write. */
export function refused(
  ring: KeyRing,
  command: RotateCommand,
  refusal: RefusalCode,
  message: string,
  extra: Parameters<typeof result>[4] = {},
): RotationResult {
  return result(ring, command, 'refused', message, { ...extra, refusal });
}

/** The refusal every step but provision, emergency and discard gives while a write sequence stopped part-way. */
export function refusePending(
  ring: KeyRing,
  command: RotateCommand,
  pending: NonNullable<KeyRing['pending']>,
): RotationResult {
  return refused(
    ring,
    command,
    'pending',
    `${article(pending.record.op)} stopped part-way: finish it (run it again with the same key) or discard it first`,
  );
}
