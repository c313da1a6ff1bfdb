/**
 * What `verifyRetired`'s `retired` names, unambiguously: a fingerprint (`kf_…`), or a version qualified by the
 * Secret Manager secret that holds it (`OPENAI_API_KEY_v1@1` in the suffix layout, `OPENAI_API_KEY@1` in the alias
 * layout). A bare version number is refused: in the suffix layout every `NAME_vN` secret has a version 1, so `1`
 * could name any key. And which instances of a usage answer hold that key, may hold it, or do not.
 */
import { parseCandidate } from '../chain.js';
import { ConfigurationError } from '../errors.js';
import { isFingerprint } from '../fingerprint.js';
import type { FingerprintUsage, SecretUsage, UsageInstance } from './types.js';

/** The retired key: by fingerprint, or by version of one secret. */
export type RetiredKey =
  | {
      /** Matched by its fingerprint. */
      readonly by: 'fingerprint';
      /** The retired key's fingerprint (`kf_…`). */
      readonly fingerprint: string;
    }
  | {
      /** Matched by its version, qualified by the Secret Manager secret that holds it. */
      readonly by: 'version';
      /** The Secret Manager secret that holds it (`OPENAI_API_KEY_v1`). */
      readonly secret: string;
      /** Its version in that secret (`1`). */
      readonly version: string;
    };

/** A secret name as Secret Manager and candidates write it. */
const SECRET = /^[A-Za-z0-9_.\-/]{1,256}$/;
const VERSION_NUMBER = /^\d{1,20}$/;
/** An alias (`current`, `previous`): it moves from version to version, and beacons report numbers. */
const ALIAS = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;

/**
 * Parses `retired`; throws a {@link ConfigurationError} that says what to write, never quoting the text. `label`
 * names the argument in the message (`--retired`); `secret` is the name being verified, for the examples.
 */
export function parseRetired(retired: string, secret: string, label = 'retired'): RetiredKey {
  if (retired.startsWith('kf_')) {
    if (isFingerprint(retired)) return { by: 'fingerprint', fingerprint: retired };
    throw new ConfigurationError(`${label} starts with kf_ but is not a fingerprint (kf_ + 12 lowercase hex digits)`);
  }
  const example = SECRET.test(secret) ? secret : 'NAME';
  const qualify =
    `give the fingerprint (kf_…, from keyflip fingerprint < old-key.txt) or the version qualified by its secret: ` +
    `${example}_v1@1 (suffix layout) or ${example}@1 (alias layout)`;
  if (VERSION_NUMBER.test(retired)) {
    throw new ConfigurationError(
      `${label} is a bare version number, which names no key unambiguously (in the suffix layout every ` +
        `${example}_vN secret has a version 1): ${qualify}`,
    );
  }
  const at = retired.lastIndexOf('@');
  const name = at === -1 ? '' : retired.slice(0, at);
  const version = at === -1 ? '' : retired.slice(at + 1);
  if (SECRET.test(name) && VERSION_NUMBER.test(version)) return { by: 'version', secret: name, version };
  if (SECRET.test(name) && ALIAS.test(version)) {
    throw new ConfigurationError(
      `${label} names an alias (not shown), which moves from version to version while beacons report version ` +
        `numbers: give the number it names now (keyflip rotate status shows it), ${example}@3, or the fingerprint`,
    );
  }
  throw new ConfigurationError(
    `${label} must be a fingerprint (kf_ + 12 lowercase hex digits) or a version qualified by its secret ` +
      `(${example}_v1@1, ${example}@1)`,
  );
}

/** How messages name the retired key: the fingerprint, or `SECRET@VERSION`. */
export function retiredText(key: RetiredKey): string {
  return key.by === 'fingerprint' ? key.fingerprint : `${key.secret}@${key.version}`;
}

/**
 * An instance of a usage answer, with the fingerprint (and version) it reported.
 * @inline
 */
export interface HeldKey extends UsageInstance {
  /** The fingerprint (`kf_…`) it reported. */
  readonly fingerprint: string;
  /** The provider version reported with it, when there is one. */
  readonly version?: string | undefined;
}

/** Why an instance may hold a key retired by version, and nothing tells. */
export type UnknownWhy =
  /** Its key has no version (an `env:` or `file:` candidate). */
  | 'no-version'
  /** Its key has the version, and the source does not say from which secret (Prometheus). */
  | 'no-candidate';

/** Which instances of a usage answer hold the retired key. */
export interface RetiredMatch {
  /** Instances that reported the retired key: by fingerprint, or (by version) any fingerprint an instance loaded
   * from that version of that secret. */
  readonly holders: readonly HeldKey[];
  /** By version: instances that may hold it, and why nothing tells (none that hold a matched fingerprint). */
  readonly unknown: readonly (HeldKey & { readonly why: UnknownWhy })[];
  /**
   * By version, when no instance matched: the secret of `retired` is not one the instances load, while they load
   * its other-layout form (`NAME@1` while they load `NAME_v2`; `NAME_v1@1` while they load `NAME@current`): the
   * secrets they load, sorted.
   */
  readonly otherLayout?: readonly string[] | undefined;
}

/**
 * The Secret Manager secret a candidate reads (`gcp:OPENAI_API_KEY_v2` → `OPENAI_API_KEY_v2`, `NAME@current` →
 * `NAME`, `projects/p/secrets/NAME` → `NAME`); undefined when the candidate is unknown or is not one.
 */
export function candidateSecret(candidate: string | undefined): string | undefined {
  if (candidate === undefined) return undefined;
  let name: string;
  try {
    name = parseCandidate(candidate).name;
  } catch {
    return undefined;
  }
  const marker = name.lastIndexOf('/secrets/');
  return marker === -1 ? name : name.slice(marker + '/secrets/'.length).split('/')[0];
}

const held = (f: FingerprintUsage, instance: UsageInstance): HeldKey =>
  f.version === undefined
    ? { ...instance, fingerprint: f.fingerprint }
    : { ...instance, fingerprint: f.fingerprint, version: f.version };

/** Splits the instances of `usage` into those that hold `key`, those that may, and the others. */
export function matchRetired(usage: SecretUsage, key: RetiredKey): RetiredMatch {
  if (key.by === 'fingerprint') {
    const holders = usage.fingerprints
      .filter((f) => f.fingerprint === key.fingerprint)
      .flatMap((f) => f.instances.map((i) => held(f, i)));
    return { holders, unknown: [] };
  }
  // By version: an instance that loaded the key from that version of that secret shows its fingerprint; every
  // instance on that fingerprint holds the key, whatever candidate it loaded it from.
  const matched = new Set<string>();
  const unknown: (HeldKey & { why: UnknownWhy })[] = [];
  const loaded = new Set<string>();
  for (const f of usage.fingerprints) {
    for (const instance of f.instances) {
      const from = candidateSecret(instance.candidate);
      if (from !== undefined && f.version !== undefined) loaded.add(from); // not env:NAME, file:NAME
      if (f.version === undefined) unknown.push({ ...held(f, instance), why: 'no-version' });
      else if (f.version !== key.version) continue;
      else if (from === undefined) unknown.push({ ...held(f, instance), why: 'no-candidate' });
      else if (from === key.secret) matched.add(f.fingerprint);
    }
  }
  const holders = usage.fingerprints
    .filter((f) => matched.has(f.fingerprint))
    .flatMap((f) => f.instances.map((i) => held(f, i)));
  const others = unknown.filter((u) => !matched.has(u.fingerprint));
  return { holders, unknown: others, otherLayout: matched.size === 0 ? otherLayout(key.secret, loaded) : undefined };
}

/** The secrets loaded, when they show that `secret` is written in the other layout's form; else undefined. */
function otherLayout(secret: string, loaded: ReadonlySet<string>): string[] | undefined {
  if (loaded.has(secret)) return undefined;
  const base = /^(.+)_v\d+$/.exec(secret)?.[1];
  const suffixed = (name: string): boolean =>
    name.startsWith(`${secret}_v`) && /^\d+$/.test(name.slice(secret.length + 2));
  const hit = [...loaded].some((name) => suffixed(name) || name === base);
  return hit ? [...loaded].sort() : undefined;
}
