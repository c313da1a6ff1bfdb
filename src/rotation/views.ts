/**
 * What a command answers, built in one place: each key as a view (metadata and records, never the value),
 * the outcome, the notes of the ring and of the command, and the next step.
 */
import type { SecretUsage } from '../collector/index.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import { nextStep } from './next-step.js';
import { providerRecordOf } from './provider-keys.js';
import type { KeyView, RotateCommand, RotationOutcome, RotationResult } from './types.js';

/** What a command adds to its result beside the outcome and the message. */
export type ResultExtra = Partial<
  Pick<
    RotationResult,
    'refusal' | 'steps' | 'probe' | 'verifications' | 'usage' | 'notes' | 'chain' | 'providerRevocations' | 'leak'
  >
> & {
  /** Fingerprints read for keys that have none recorded (keys made outside keyflip), for their views. */
  fingerprints?: ReadonlyMap<RotationKey, string> | undefined;
};

/**
 * A key as results show it; with usage, how many instances reported it in the window; with its ring, its identity
 * at the provider recorded anywhere in the ring.
 */
export function keyView(key: RotationKey, usage?: SecretUsage, fingerprint?: string, ring?: KeyRing): KeyView {
  const fp = fingerprint ?? key.fingerprint;
  const provider = key.records.provider ?? (ring ? providerRecordOf(ring, fp) : undefined);
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
    ...(provider ? { provider } : {}),
    ...(instances === undefined ? {} : { instances }),
  };
}

/** The result of `command` on `ring` (the ring after the command; before it for a dry run or a refusal). */
export function resultOf(
  ring: KeyRing,
  command: RotateCommand,
  outcome: RotationOutcome,
  message: string,
  extra: ResultExtra = {},
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
    keys: ring.keys.map((k) => keyView(k, extra.usage, fingerprints?.get(k), ring)),
    next: nextStep(ring),
    notes: [...ring.notes, ...(notes ?? [])],
    ...rest,
  };
}
