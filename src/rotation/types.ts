/**
 * The public shapes of the rotation commands: what every command works on (`RotationContext`) and what it
 * answers (`RotationResult`, with each key as a `KeyView`). Types only, and the list of commands.
 */
import type { ProbeResult } from '../clients/index.js';
import type { SecretUsage, UsageSource, VerifyResult } from '../collector/index.js';
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
] as const;
export type RotateCommand = (typeof ROTATE_COMMANDS)[number];

/** What every rotation command works on. */
export interface RotationContext {
  admin: SecretAdmin;
  /** The rotated secret's name: `OPENAI_API_KEY` (the suffix layout adds `_v1`, `_v2`, …). */
  name: string;
  /** @default 'suffix' */
  layout?: Layout | undefined;
  /**
   * The name the apps' beacons report the secret under (the first argument of `resolver.secret()`).
   * @default name
   */
  beaconName?: string | undefined;
  /** Answers "who used which key in the window" (a collector or Prometheus); needed by verify and revoke. */
  usage?: UsageSource | undefined;
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

export type RefusalCode =
  | 'staged-exists'
  | 'pending'
  | 'nothing-staged'
  | 'not-probed'
  | 'probe-failed'
  | 'fingerprint-mismatch'
  | 'same-key'
  | 'no-live-key'
  | 'window-not-elapsed'
  /** verify/revoke: an old key is in use (the beacons show it). The CLI exits 1. */
  | 'not-verified'
  /** verify/revoke: no old key shows in use, but the evidence cannot prove it (`missing` says why). Exit 4. */
  | 'evidence-incomplete'
  | 'no-usage-source'
  | 'layout-mismatch';

/** A key as commands report it: metadata and records, never the value. */
export interface KeyView {
  readonly label: string;
  readonly secretId: string;
  readonly version: number;
  readonly state: string;
  readonly role: KeyRole;
  /** ISO time the version was created. */
  readonly createdAt: string;
  readonly fingerprint: string | undefined;
  readonly aliases: readonly string[];
  readonly records: VersionRecords;
  /** From the beacons (status with a usage source): instances that reported this key in the window. */
  readonly instances?: number | undefined;
}

/** The step that may run next, and why. */
export interface NextStep {
  readonly command: RotateCommand | 'none';
  readonly why: string;
}

/** One old key's verification. */
export interface KeyVerification {
  readonly key: string;
  readonly fingerprint: string;
  /** When its successor became live (ms since the epoch): the window is counted from here at the earliest. */
  readonly liveSince: number;
  readonly windowElapsed: boolean;
  readonly result: VerifyResult;
}

export interface RotationResult {
  readonly command: RotateCommand;
  readonly secret: string;
  readonly layout: Layout;
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
  readonly steps: readonly { readonly description: string; readonly done: boolean }[];
  /** The ring after the command (before it, for a dry run or a refusal). */
  readonly keys: readonly KeyView[];
  readonly next: NextStep;
  /** Things worth knowing (an interrupted write, a missing alias, what picks an emergency key up when). */
  readonly notes: readonly string[];
  readonly probe?: (ProbeResult & { readonly provider: string }) | undefined;
  readonly verifications?: readonly KeyVerification[] | undefined;
  /** status with a usage source: what the beacons said. */
  readonly usage?: SecretUsage | undefined;
}
