/**
 * The public shapes of the rotation commands: what every command works on (`RotationContext`) and what it
 * answers (`RotationResult`, with each key as a `KeyView`). Types only, and the list of commands.
 */
import type { ProbeResult } from '../clients/index.js';
import type { SecretUsage, UsageSource, VerifyReason, VerifyResult } from '../collector/index.js';
import type { ManagedProviderId, ProviderAdmin, ProviderKey, ProviderUsageBucket } from '../providers/index.js';
import type { SecretAdmin } from './admin.js';
import type { KeyRole } from './key-roles.js';
import type { Layout } from './layout.js';
import type { VersionRecords } from './records.js';

/** Every `keyflip rotate` command. */
export const ROTATE_COMMANDS = [
  'status',
  'provision',
  'probe',
  'flip',
  'verify',
  'revoke',
  'emergency',
  'discard',
  'rollback',
  'migrate',
  'auto',
] as const;
/** One `keyflip rotate` command: `status`, `provision`, `probe`, `flip`, `verify`, `revoke`, `emergency`, … */
export type RotateCommand = (typeof ROTATE_COMMANDS)[number];

/** What every rotation command works on. */
export interface RotationContext {
  /** The Secret Manager admin the command reads and writes the secrets with ({@link openSecretAdmin}). */
  admin: SecretAdmin;
  /** The rotated secret's name: `OPENAI_API_KEY` (the pair layout adds `_v1`, `_v2` and `_next`). */
  name: string;
  /**
   * The layout of its keys. @default the layout recorded on its secrets (`keyflip-layout`), else `suffix` for an
   * unlabelled ring with a `NAME_v3`, else `pair` (`chooseLayout`)
   */
  layout?: Layout | undefined;
  /**
   * The name the apps' beacons report the secret under (the first argument of `resolver.secret()`).
   * @default name
   */
  beaconName?: string | undefined;
  /** Answers "who used which key in the window" (a collector or Prometheus); needed by verify and revoke. */
  usage?: UsageSource | undefined;
  /**
   * The provider's management API (`openProvider` from `keyflip/providers`). With it: provision records the key's
   * id at the provider (and can mint the key), verify and revoke add the provider's per-key usage to the beacons,
   * revoke and emergency revoke the key at the provider, audit reads key ages and expiry from it.
   * @default none: keyflip works on Secret Manager and the beacons only
   */
  provider?: ProviderAdmin | undefined;
  /** The apps' `fingerprintKey`, if they set one. @default the library key */
  fingerprintKey?: string | undefined;
  /** Plan the writes, make none. @default false */
  dryRun?: boolean | undefined;
  /** ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
}

/**
 * - `done`: the command made its writes.
 * - `already-done`: nothing to do: the state is already what the command makes (running it twice is safe).
 * - `planned`: `dryRun`: the writes it would make are in `steps`.
 * - `refused`: a safety gate stopped it before any write; `refusal` says which, `message` why.
 * - `failed`: a check answered no (a dead key on probe, a key still in use on verify).
 */
export type RotationOutcome = 'done' | 'already-done' | 'planned' | 'refused' | 'failed';

/** Which safety gate refused a command (`RotationResult.refusal`); the result's `message` says why, for people. */
export type RefusalCode =
  /** provision/emergency: a key is already staged; provision never stages a second one. */
  | 'staged-exists'
  /** A write sequence stopped part-way: finish it (run it again with the same key) or discard it first. */
  | 'pending'
  /** probe/flip: there is no staged key. */
  | 'nothing-staged'
  /** flip: the staged key was not probed (probe it, or flip with `skipProbe`, which is recorded). */
  | 'not-probed'
  /** flip/emergency: the provider refused the key, or its probe got no answer. */
  | 'probe-failed'
  /** The key given is not the one the step is about (the staged key, or the key of a stopped sequence). */
  | 'fingerprint-mismatch'
  /** provision/emergency: the new key is one the ring already holds. */
  | 'same-key'
  /** verify/revoke: no key is live, so revoking would leave processes without one. */
  | 'no-live-key'
  /** verify/revoke: the coverage window has not elapsed since the new key went live. */
  | 'window-not-elapsed'
  /** verify/revoke: an old key is in use (the beacons show it). The CLI exits 1. */
  | 'not-verified'
  /** verify/revoke: no old key shows in use, but the evidence cannot prove it (`missing` says why). Exit 4. */
  | 'evidence-incomplete'
  /** verify/revoke: no usage source (a collector or Prometheus) was given; the beacons are the evidence. */
  | 'no-usage-source'
  /** migrate: the ring is not in the legacy suffix layout (an alias ring, or no ring). */
  | 'layout-mismatch'
  /** rollback: nothing to go back to (no flip yet, no key before the live one, or a rollback already undone). */
  | 'nothing-to-roll-back'
  /** rollback: the previous key is disabled (revoked, or by an emergency): rolling back would serve a revoked key. */
  | 'old-key-revoked'
  /** provision/verify/revoke with a provider: no key at the provider has a hint that matches the key. */
  | 'provider-key-not-found'
  /** provision/verify/revoke with a provider: several keys at the provider have a hint that matches the key. */
  | 'provider-key-ambiguous'
  /** provision --mint: the provider cannot mint keys by API (Anthropic): stage one from a file instead. */
  | 'cannot-mint';

/** A key as commands report it: metadata and records, never the value. */
export interface KeyView {
  /** How people name it: `OPENAI_API_KEY_v2@3` (pair layout), `OPENAI_API_KEY_v3` (suffix) or `OPENAI_API_KEY@3`. */
  readonly label: string;
  /** The Secret Manager secret that holds it. */
  readonly secretId: string;
  /** Its Secret Manager version number. */
  readonly version: number;
  /** Its Secret Manager state: `ENABLED`, `DISABLED` or `DESTROYED`. */
  readonly state: string;
  /**
   * The part it plays in the rotation: `live`, `old`, `staged`, `pending`, `copy`, `revoked`, `discarded`,
   * `inactive`.
   */
  readonly role: KeyRole;
  /** ISO time the version was created. */
  readonly createdAt: string;
  /** Its fingerprint (`kf_…`), recorded when keyflip staged it or read for a key made elsewhere; never the value. */
  readonly fingerprint: string | undefined;
  /** The aliases naming this version (alias layout: `current`, `previous`). */
  readonly aliases: readonly string[];
  /** What the commands recorded on it (staged, probed, flipped, verified, revoked, discarded: when and how). */
  readonly records: VersionRecords;
  /**
   * Its identity at the provider (its id there, minted by keyflip or not; not a secret): recorded on this version or
   * on another version that holds the same key (found by fingerprint). Absent when none is recorded.
   */
  readonly provider?: VersionRecords['provider'] | undefined;
  /** From the beacons (status with a usage source): instances that reported this key in the window. */
  readonly instances?: number | undefined;
}

/** The step that may run next, and why. */
export interface NextStep {
  /** The command to run next, or `none` when the rotation is complete. */
  readonly command: RotateCommand | 'none';
  /** Why, for people. */
  readonly why: string;
}

/** One old key's verification. */
export interface KeyVerification {
  /** The old key's label (`OPENAI_API_KEY_v1`, `OPENAI_API_KEY@1`). */
  readonly key: string;
  /** Its fingerprint (`kf_…`). */
  readonly fingerprint: string;
  /** When its successor became live (ms since the epoch): the window is counted from here at the earliest. */
  readonly liveSince: number;
  /** Whether a whole window has passed since `liveSince` (until then the beacons cannot have proved anything). */
  readonly windowElapsed: boolean;
  /** What the beacons say about the key (the answer of `verifyRetired` from `keyflip/collector`). */
  readonly result: VerifyResult;
  /** With a provider: what the provider's per-key usage says about the key over the same window. */
  readonly provider?: ProviderEvidence | undefined;
}

/** What the provider's usage data says about an old key over the verification window. */
export interface ProviderEvidence {
  /** The provider asked. */
  readonly provider: ManagedProviderId;
  /** The key's id at the provider; `undefined` when it could not be found (then `cannot-prove`). */
  readonly keyId: string | undefined;
  /**
   * `in-use`: the provider reports requests (or tokens) with the key in the window; `cannot-prove`: its data does
   * not yet cover the window end (its reporting lag), or the key's id is unknown; `clear`: its data covers the
   * window and shows no use.
   */
  readonly reason: VerifyReason;
  /** One sentence for people (`312 requests at the provider in the last 75m, from clients that send no beacon`). */
  readonly message: string;
  /** Requests the provider counted in the window (`undefined` when it reports tokens only). */
  readonly requests: number | undefined;
  /** Tokens the provider counted in the window. */
  readonly tokens: number;
  /** The window asked: start, ms since the epoch. */
  readonly startMs: number;
  /** The window asked: end, ms since the epoch. */
  readonly endMs: number;
  /** Until when the provider's data is complete, ms since the epoch. */
  readonly coveredUntilMs: number;
  /** The buckets with use, oldest first. */
  readonly buckets: readonly ProviderUsageBucket[];
}

/** What every rotation command answers: the outcome, the writes, the keys after it, and the next step. */
export interface RotationResult {
  /** The command that ran. */
  readonly command: RotateCommand;
  /** The rotated secret's name (`RotationContext.name`). */
  readonly secret: string;
  /** The layout of its keys. */
  readonly layout: Layout;
  /** How it ended (see {@link RotationOutcome}). */
  readonly outcome: RotationOutcome;
  /** `done`, `already-done` or `planned`. */
  readonly ok: boolean;
  /** One or two sentences for people. */
  readonly message: string;
  /**
   * `refused`: the gate that refused. A `failed` verify carries why it did not pass too: `not-verified`,
   * `evidence-incomplete` or `window-not-elapsed`.
   */
  readonly refusal?: RefusalCode | undefined;
  /** The writes, in order: made (`done: true`) or planned. */
  readonly steps: readonly {
    /** The write, for people. */
    readonly description: string;
    /** Made (true) or only planned (false). */
    readonly done: boolean;
  }[];
  /** The ring after the command (before it, for a dry run or a refusal). */
  readonly keys: readonly KeyView[];
  /** The step that may run next, and why. */
  readonly next: NextStep;
  /** Things worth knowing (an interrupted write, a missing alias, what picks an emergency key up when). */
  readonly notes: readonly string[];
  /** probe and emergency: the provider's answer to the new key. */
  readonly probe?:
    | (ProbeResult & {
        /** The provider that was asked (`openai`, `anthropic`, …). */
        readonly provider: string;
      })
    | undefined;
  /** verify and revoke: each old key's verification. */
  readonly verifications?: readonly KeyVerification[] | undefined;
  /** revoke and emergency with a provider: what was revoked at the provider. */
  readonly providerRevocations?: readonly ProviderRevocation[] | undefined;
  /** emergency with a provider: the leak report. */
  readonly leak?: LeakReport | undefined;
  /** status with a usage source: what the beacons said. */
  readonly usage?: SecretUsage | undefined;
  /**
   * status: the chain an app declares for this ring's layout (`NAME_v2 ?? NAME_v1`, `NAME@current ?? NAME@previous`,
   * or for a legacy suffix ring, the names up to the one its next flip creates).
   */
  readonly chain?: string | undefined;
}

/** A key revoked at the provider by `revoke` or `emergency`. */
export interface ProviderRevocation {
  /** The key's label in the ring (`OPENAI_API_KEY_v1@3`). */
  readonly key: string;
  /** Its fingerprint. */
  readonly fingerprint: string;
  /** Its id at the provider. */
  readonly keyId: string;
  /** `revoked` now, `already` revoked before, or `kept` (`keepProviderKey`). */
  readonly outcome: 'revoked' | 'already' | 'kept';
  /** Its status at the provider after the command. */
  readonly status: ProviderKey['status'] | undefined;
}

/** `emergency`'s leak report: who could have used the leaked key, per the provider and per the beacons. */
export interface LeakReport {
  /** Start of the exposure window asked about (`--since`), ms since the epoch. */
  readonly sinceMs: number;
  /** End of it (the emergency), ms since the epoch. */
  readonly untilMs: number;
  /** One entry per leaked key. */
  readonly keys: readonly {
    /** The key's label in the ring. */
    readonly key: string;
    /** Its fingerprint. */
    readonly fingerprint: string;
    /** Its id at the provider, when found. */
    readonly keyId: string | undefined;
    /** Its use per hour at the provider over the exposure window, oldest first. */
    readonly hourly: readonly ProviderUsageBucket[];
    /** Requests in all (`undefined` when the provider reports tokens only). */
    readonly requests: number | undefined;
    /** Tokens in all. */
    readonly tokens: number;
    /** Until when the provider's data is complete, ms since the epoch. */
    readonly coveredUntilMs: number | undefined;
    /** Every instance that held it, by the beacons (`service/env on host pid N`), when a usage source was given. */
    readonly instances: readonly string[];
  }[];
  /** Why part of the report is missing (no provider key id, the provider could not answer, no usage source). */
  readonly gaps: readonly string[];
}
