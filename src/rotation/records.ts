/**
 * What keyflip writes on the secrets it rotates: labels (searchable with a list filter, lowercase only)
 * and annotations (free text) recording which step ran when, per version. Fingerprints, times, provider
 * verdicts and reasons; never a value.
 */
import { isRecord } from '../check.js';

/** Labels keyflip sets (and `audit` filters on). */
export const LABEL = {
  /** `true` on every secret `keyflip rotate` manages. */
  managed: 'keyflip-managed',
  /** `pair`, `suffix` or `alias`. */
  layout: 'keyflip-layout',
  /** On `NAME_next`: `staging` (the secret a new key waits in until flip; grant apps no access to it). */
  role: 'keyflip-role',
  /** The environment given to `provision --environment` (`prod`), for `audit --environment`. */
  environment: 'keyflip-environment',
  /** The last step that ran (`staged`, `probed`, `flipped`, `verified`, `revoked`, …). */
  step: 'keyflip-step',
  /** On end-user keys (set by the app that stores them): the family they belong to, for `audit --byok`. */
  family: 'keyflip-family',
} as const;

/** Annotations keyflip sets. Per-version records are `keyflip-<step>-<version>`. */
export const ANNOTATION = {
  /** The rotated secret's name (`OPENAI_API_KEY`): groups `NAME_v1`, `NAME_v2`, … for `audit`. */
  name: 'keyflip-name',
  /** A write sequence in progress: set before its first write, cleared by its last. */
  pending: 'keyflip-pending',
  /** On end-user keys: the id the app knows the owner by (defaults to the secret id). */
  id: 'keyflip-id',
} as const;

export const STEPS = [
  'staged',
  'probed',
  'flipped',
  'verified',
  'revoked',
  'discarded',
  'rolled-back',
  'provider',
  'provider-revoked',
] as const;
export type Step = (typeof STEPS)[number];

/**
 * `provision` or `emergency` added the key.
 * @inline
 */
export interface StagedRecord {
  /** When (ISO). */
  at: string;
  /** The key's fingerprint (`kf_…`). */
  fingerprint: string;
  /** Added by `emergency`. */
  emergency?: boolean;
}
/**
 * `probe` asked the provider about the key.
 * @inline
 */
export interface ProbedRecord {
  /** When (ISO). */
  at: string;
  /** The provider asked (`openai`, …). */
  provider: string;
  /** The provider accepted the key. */
  ok: boolean;
  /** The probe's verdict (`alive`, `invalid`, `unreachable`, …: `ProbeResult.reason`). */
  reason: string;
  /** The HTTP status of the answer; 0 when none came. */
  status: number;
}
/**
 * `flip` (or `emergency`) made the key live.
 * @inline
 */
export interface FlippedRecord {
  /** When (ISO). */
  at: string;
  /** The key that was live before. */
  from?: number;
  /** Flipped with `skipProbe`, without a probe that said alive. */
  skipProbe?: boolean;
  /** Made live by `emergency`. */
  emergency?: boolean;
  /** Made current again by `rollback` (`from` is the key rolled back). */
  rollback?: boolean;
  /** The key made live (pair and suffix layouts: recorded on the version flip added). */
  fingerprint?: string;
}
/**
 * `verify` checked the old key against the beacons.
 * @inline
 */
export interface VerifiedRecord {
  /** When (ISO). */
  at: string;
  /** The window checked, ms. */
  windowMs: number;
  /** No process used the key in the window, and the evidence proves it. */
  ok: boolean;
  /** Why it passed or not (`VerifyResult.reason`, or `window-not-elapsed`). */
  reason: string;
  /** How many instances reported the secret in the window. */
  instances: number;
}
/**
 * `revoke` (or `emergency`) disabled the key.
 * @inline
 */
export interface RevokedRecord {
  /** When (ISO). */
  at: string;
  /** The window verified again before revoking, ms (absent when forced or by `emergency`). */
  windowMs?: number;
  /** Revoked with `force`, without the check. */
  forced?: boolean;
  /** Why `--force` was used (required with it). */
  reason?: string;
  /** Disabled by `emergency`. */
  emergency?: boolean;
  /** The key's fingerprint, read while it was still enabled (a key made outside keyflip has no staged record). */
  fingerprint?: string;
}
/**
 * `discard` disabled the staged key unused.
 * @inline
 */
export interface DiscardedRecord {
  /** When (ISO). */
  at: string;
}

/**
 * `rollback` put the key that was live before this one back as current.
 * @inline
 */
export interface RolledBackRecord {
  /** When (ISO). */
  at: string;
  /** This key's fingerprint (`kf_…`): the key rolled back. */
  fingerprint: string;
  /** The fingerprint of the key made current again. */
  to: string;
  /** Why, as given to `rollback --reason`. */
  reason?: string;
}

/**
 * The key's identity at the provider (not a secret): recorded when keyflip mints or stages a key with a provider
 * configured (found by its hint for a key given on stdin), and copied with the key when flip copies it.
 * @inline
 */
export interface ProviderRecord {
  /** When it was recorded (ISO). */
  at: string;
  /** The provider (`openai`, `anthropic`). */
  provider: string;
  /** The key's id at the provider (`key_abc`, `apikey_01…`). */
  keyId: string;
  /** The key's fingerprint (`kf_…`): the record is about this key, whichever version holds it. */
  fingerprint: string;
  /** keyflip minted it (`provision --mint`, `rotate auto`). */
  minted?: boolean;
  /** OpenAI: the service account the key was minted in (deleted with the key on revoke). */
  serviceAccount?: string;
  /** The OpenAI project or Anthropic workspace it lives in. */
  scope?: string;
  /** The provider's hint for it (`sk-abc...def`). */
  hint?: string;
}

/**
 * `revoke` (or `emergency`) revoked the key at the provider too.
 * @inline
 */
export interface ProviderRevokedRecord {
  /** When (ISO). */
  at: string;
  /** The provider. */
  provider: string;
  /** The key's id at the provider. */
  keyId: string;
  /** Its status at the provider after it (`deleted`, `inactive`, `archived`). */
  status: string;
  /** Revoked now, or found already revoked. */
  outcome: 'revoked' | 'already';
}

/** Every record kept for one version. */
export interface VersionRecords {
  /** `provision` or `emergency` added it. */
  staged?: StagedRecord;
  /** `probe` asked the provider about it. */
  probed?: ProbedRecord;
  /** `flip` or `emergency` made it live. */
  flipped?: FlippedRecord;
  /** `verify` checked it against the beacons. */
  verified?: VerifiedRecord;
  /** `revoke` or `emergency` disabled it. */
  revoked?: RevokedRecord;
  /** `discard` disabled it unused. */
  discarded?: DiscardedRecord;
  /** `rollback` put the key live before it back as current. */
  'rolled-back'?: RolledBackRecord;
  /** The key's identity at the provider. */
  provider?: ProviderRecord;
  /** `revoke` or `emergency` revoked the key at the provider. */
  'provider-revoked'?: ProviderRevokedRecord;
}

/**
 * A write sequence in progress (see {@link ANNOTATION}.pending).
 * @inline
 */
export interface PendingRecord {
  /** The command whose writes stopped part-way. */
  op: 'provision' | 'emergency' | 'flip' | 'rollback';
  /** The fingerprint of the key it was adding (rollback: the key it makes current again). */
  fingerprint: string;
  /** rollback: the reason given, recorded by its last write. */
  reason?: string;
  /** When it started (ISO). */
  at: string;
  /** The newest version of the secret when the mark was set: the key the sequence adds is newer. */
  after: number;
  /** emergency: the key that was live (its place in the ring), for the flip record of a resumed run. */
  from?: number;
  /** flip (suffix layout): the secret the staged key is being copied to (`NAME_v4`). */
  target?: string;
  /**
   * emergency: the keys it disables (`secretId/version`) with their fingerprints, so a resumed run records
   * those it already disabled as it would have.
   */
  disable?: {
    /** The key, as `secretId/version`. */
    key: string;
    /** Its fingerprint, when known. */
    fingerprint?: string;
  }[];
}

const RECORD_KEY =
  /^keyflip-(staged|probed|flipped|verified|revoked|discarded|rolled-back|provider|provider-revoked)-(\d{1,9})$/;
/** Records are kept for this many versions (the newest); older ones are dropped so annotations stay small. */
const KEEP_VERSIONS = 8;

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : undefined;
  } catch {
    return undefined; // a record edited by hand into something else is ignored, not fatal
  }
}

/** The records of every version found in a secret's annotations. */
export function readRecords(annotations: Readonly<Record<string, string>>): Map<number, VersionRecords> {
  const out = new Map<number, VersionRecords>();
  for (const [key, text] of Object.entries(annotations)) {
    const m = RECORD_KEY.exec(key);
    if (!m) continue;
    const record = parseJson(text);
    if (!record || typeof record.at !== 'string') continue;
    const version = Number(m[2]);
    const records = out.get(version) ?? {};
    (records as Record<string, unknown>)[m[1] as Step] = record;
    out.set(version, records);
  }
  return out;
}

export function readPending(annotations: Readonly<Record<string, string>>): PendingRecord | undefined {
  const record = parseJson(annotations[ANNOTATION.pending]);
  if (
    !record ||
    (record.op !== 'provision' && record.op !== 'emergency' && record.op !== 'flip' && record.op !== 'rollback') ||
    typeof record.fingerprint !== 'string' ||
    typeof record.at !== 'string'
  )
    return undefined;
  // Without `after` no version can be told to be the one the sequence added: resuming then adds it again
  // (never mistakes an existing key for it).
  const after =
    typeof record.after === 'number' && Number.isInteger(record.after) && record.after >= 0
      ? record.after
      : Number.MAX_SAFE_INTEGER;
  const out: PendingRecord = { op: record.op, fingerprint: record.fingerprint, at: record.at, after };
  if (typeof record.from === 'number' && Number.isInteger(record.from) && record.from > 0) out.from = record.from;
  if (typeof record.reason === 'string') out.reason = record.reason;
  if (typeof record.target === 'string') out.target = record.target;
  if (Array.isArray(record.disable)) {
    out.disable = [];
    for (const d of record.disable as unknown[]) {
      if (!isRecord(d) || typeof d.key !== 'string') continue;
      const { key, fingerprint } = d as { key: string; fingerprint?: unknown };
      out.disable.push(typeof fingerprint === 'string' ? { key, fingerprint } : { key });
    }
  }
  return out;
}

/** A copy of `annotations` with `step` recorded for `version` (records of old versions pruned). */
export function withRecord<S extends Step>(
  annotations: Readonly<Record<string, string>>,
  version: number,
  step: S,
  record: NonNullable<VersionRecords[S]>,
): Record<string, string> {
  const next = { ...annotations, [`keyflip-${step}-${version}`]: JSON.stringify(record) };
  return prune(next);
}

export function withPending(
  annotations: Readonly<Record<string, string>>,
  pending: PendingRecord | undefined,
): Record<string, string> {
  const next = { ...annotations };
  if (pending) next[ANNOTATION.pending] = JSON.stringify(pending);
  else delete next[ANNOTATION.pending];
  return next;
}

function prune(annotations: Record<string, string>): Record<string, string> {
  const versions = new Set<number>();
  for (const key of Object.keys(annotations)) {
    const m = RECORD_KEY.exec(key);
    if (m) versions.add(Number(m[2]));
  }
  if (versions.size <= KEEP_VERSIONS) return annotations;
  const keep = new Set([...versions].sort((a, b) => b - a).slice(0, KEEP_VERSIONS));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(annotations)) {
    const m = RECORD_KEY.exec(key);
    if (!m || keep.has(Number(m[2]))) out[key] = value;
  }
  return out;
}

/** A label value is 0 to 63 lowercase letters, digits, `_` and `-`. */
export const LABEL_VALUE = /^[a-z0-9_-]{1,63}$/;

/** Labels for a managed secret, keeping the labels it has. */
export function managedLabels(
  labels: Readonly<Record<string, string>>,
  layout: 'pair' | 'suffix' | 'alias',
  step: string,
  environment?: string,
): Record<string, string> {
  const next: Record<string, string> = {
    ...labels,
    [LABEL.managed]: 'true',
    [LABEL.layout]: layout,
    [LABEL.step]: step,
  };
  if (environment !== undefined) next[LABEL.environment] = environment;
  return next;
}

/** `a provision`, `an emergency`. */
export const article = (op: string): string => `${/^[aeiou]/.test(op) ? 'an' : 'a'} ${op}`;
