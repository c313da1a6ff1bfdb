import type { KeyStore, StoredKey } from './key-store.js';
import type { UsageLog } from './usage-log.js';

/** What the management routes share: the keys, the served requests, the clock and the mock's inference side. */
export interface ManagementContext {
  readonly store: KeyStore;
  readonly usage: UsageLog;
  readonly now: () => number;
  readonly lagMs: number;
  /** The most items a page holds (`Infinity`: the provider's own limit only). */
  readonly pageSize: number;
  readonly project: string;
  readonly workspace: string;
  /** The id of the person who made the console keys (`mock.mint`). */
  readonly userId: string;
  /** The key's HMAC digest. */
  digest(value: string): string;
  /** The inference routes accept this key from now on. */
  enable(key: StoredKey): void;
  /** The inference routes refuse this key from now on (the provider's invalid-key 401). */
  disable(key: StoredKey): void;
}
