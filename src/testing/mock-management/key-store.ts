/**
 * The keys the mock management API knows: each held as the HMAC digest the inference routes look keys up by, with
 * the metadata the provider shows (id, name, redacted hint, times, status, owner). Never the key itself.
 */
import type { ManagementFamily } from './answer.js';
import { newId, redact } from './ids.js';
import type { MockManagedKey } from './types.js';

/** An OpenAI project service account (the owner of each key minted through the API). */
export interface ServiceAccount {
  readonly id: string;
  readonly name: string;
  readonly createdAtMs: number;
  /** The keys it owns (OpenAI gives each new service account one). */
  readonly keyIds: string[];
  deleted: boolean;
}

/** A key as the store holds it. */
export interface StoredKey {
  readonly id: string;
  readonly digest: string;
  readonly hint: string;
  name: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number | undefined;
  lastUsedAtMs: number | undefined;
  /** Its state as set (an `active` key past its expiry reads `expired`: see {@link KeyStore.statusOf}). */
  state: 'active' | 'inactive' | 'archived' | 'deleted';
  readonly serviceAccountId: string | undefined;
  requests: number;
}

/** What {@link KeyStore.add} takes. */
export interface NewKey {
  digest: string;
  value: string;
  name: string;
  createdAtMs: number;
  expiresAtMs?: number | undefined;
  serviceAccountId?: string | undefined;
}

/** The keys and service accounts of one mock. */
export interface KeyStore {
  add(key: NewKey): StoredKey;
  byId(id: string): StoredKey | undefined;
  byDigest(digest: string): StoredKey | undefined;
  /** Every key ever added, oldest first (deleted ones too, so a page cursor on one still works). */
  all(): readonly StoredKey[];
  /** Its state at `nowMs`: `expired` once an active key is past its expiry. */
  statusOf(key: StoredKey, nowMs: number): MockManagedKey['status'];
  addServiceAccount(name: string, createdAtMs: number): ServiceAccount;
  serviceAccount(id: string): ServiceAccount | undefined;
  serviceAccounts(): readonly ServiceAccount[];
  describe(key: StoredKey, nowMs: number): MockManagedKey;
}

/** A {@link KeyStore} for one provider (its id and hint styles). */
export function createKeyStore(family: ManagementFamily): KeyStore {
  const keys: StoredKey[] = [];
  const ids = new Map<string, StoredKey>();
  const digests = new Map<string, StoredKey>();
  const accounts = new Map<string, ServiceAccount>();

  const statusOf = (key: StoredKey, nowMs: number): MockManagedKey['status'] =>
    key.state === 'active' && key.expiresAtMs !== undefined && key.expiresAtMs <= nowMs ? 'expired' : key.state;

  return {
    add(key) {
      const stored: StoredKey = {
        id: family === 'openai' ? newId('key_', 16) : newId('apikey_01', 22, true),
        digest: key.digest,
        hint: family === 'openai' ? redact(key.value, 8, 4) : redact(key.value, 16, 4),
        name: key.name,
        createdAtMs: key.createdAtMs,
        expiresAtMs: key.expiresAtMs,
        lastUsedAtMs: undefined,
        state: 'active',
        serviceAccountId: key.serviceAccountId,
        requests: 0,
      };
      keys.push(stored);
      ids.set(stored.id, stored);
      digests.set(stored.digest, stored);
      return stored;
    },
    byId: (id) => ids.get(id),
    byDigest: (digest) => digests.get(digest),
    all: () => keys,
    statusOf,
    addServiceAccount(name, createdAtMs) {
      const account: ServiceAccount = { id: newId('svc_acct_', 16), name, createdAtMs, keyIds: [], deleted: false };
      accounts.set(account.id, account);
      return account;
    },
    serviceAccount: (id) => accounts.get(id),
    serviceAccounts: () => [...accounts.values()],
    describe(key, nowMs) {
      return {
        id: key.id,
        name: key.name,
        hint: key.hint,
        status: statusOf(key, nowMs),
        createdAtMs: key.createdAtMs,
        lastUsedAtMs: key.lastUsedAtMs,
        expiresAtMs: key.expiresAtMs,
        serviceAccountId: key.serviceAccountId,
        requests: key.requests,
      };
    },
  };
}
