/**
 * The role each key of a ring plays, by one table for every layout. A layout reader (key-ring.ts) says
 * what it found for each key (its state and records, whether it is the live key, newer than it, or the key
 * a stopped write sequence added); the first rule that holds gives the role.
 */
import type { VersionState } from './admin.js';
import type { VersionRecords } from './records.js';

/**
 * - `live`: what apps resolve now.
 * - `old`: enabled, not live: a process may still hold it; verify, then revoke.
 * - `staged`: provisioned by keyflip and not yet live: in `NAME_next` (pair and suffix layouts; no app declares
 *   it), or disabled (alias layout, and suffix rings staged before `NAME_next`).
 * - `pending`: written by a `provision`/`emergency` that stopped before its last write.
 * - `copy`: enabled, not the version apps read, holding the live key (pair layout: `NAME_v1` while a flip runs
 *   or after a rollback; an older version of `NAME_v2`): not an old key, nothing to verify or revoke.
 * - `revoked`, `discarded`: disabled by keyflip (`revoke`, `emergency`, `discard`).
 * - `inactive`: disabled or destroyed outside keyflip.
 */
export type KeyRole = 'live' | 'old' | 'staged' | 'pending' | 'copy' | 'revoked' | 'discarded' | 'inactive';

/** What the role rules look at for one key. */
export interface KeyFacts {
  readonly state: VersionState;
  readonly records: VersionRecords;
  /**
   * The key apps resolve now. Pair layout: `NAME_v2`'s latest version when enabled, else `NAME_v1`'s (what
   * `NAME_v2 ?? NAME_v1` reads); suffix layout: the newest enabled `NAME_vN`; alias layout: the version the
   * alias `current` names, when it is enabled.
   */
  readonly live: boolean;
  /** Another version holding the same key as the live one (pair layout; read from Secret Manager). */
  readonly copy: boolean;
  /** Newer than the live key (its N in `NAME_vN`, or its version number, is higher), or there is no live key. */
  readonly newer: boolean;
  /** One a stopped `provision`/`emergency` may have added (see `isPendingKey` in key-ring.ts). */
  readonly added: boolean;
}

interface RoleRule {
  readonly role: KeyRole;
  readonly holds: (key: KeyFacts) => boolean;
}

/**
 * The rules, in order. (In the suffix layout no enabled `NAME_vN` is newer than the live one, which is the
 * newest enabled one; a key staged in `NAME_next` is enabled, and stays staged until its flip is recorded; in the
 * alias layout a staged key is enabled while a flip that stopped part-way has not moved `current` yet: it is still
 * staged, and flip finishes it.)
 */
export const ROLE_RULES: readonly RoleRule[] = [
  { role: 'live', holds: (k) => k.live },
  { role: 'discarded', holds: (k) => k.records.discarded !== undefined },
  { role: 'revoked', holds: (k) => k.records.revoked !== undefined && k.state !== 'ENABLED' },
  {
    role: 'staged',
    holds: (k) => k.newer && k.records.staged !== undefined && !k.records.flipped && k.state !== 'DESTROYED',
  },
  { role: 'pending', holds: (k) => k.newer && k.added },
  { role: 'copy', holds: (k) => k.copy && k.state === 'ENABLED' },
  { role: 'old', holds: (k) => k.state === 'ENABLED' },
  { role: 'inactive', holds: () => true },
];

/** The role of a key: the first rule of {@link ROLE_RULES} that holds. */
export function roleOf(key: KeyFacts): KeyRole {
  return ROLE_RULES.find((rule) => rule.holds(key))?.role ?? 'inactive';
}
