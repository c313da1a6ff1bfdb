/**
 * The contract of a provider's management API (`keyflip/providers`): find a key's id from the key or its hint,
 * describe it, read its usage over a time range (with the provider's reporting lag), revoke it, and mint one where
 * the provider allows it. Types only; `openai.ts` and `anthropic.ts` implement it over `fetch`.
 */

/** The providers whose management API keyflip speaks. */
export const MANAGED_PROVIDERS = ['openai', 'anthropic'] as const;
/** `openai` or `anthropic`. */
export type ManagedProviderId = (typeof MANAGED_PROVIDERS)[number];

/**
 * A key's state at the provider:
 * - `active`: it authenticates requests
 * - `inactive`: switched off, reversible (Anthropic)
 * - `archived`: switched off for good (Anthropic)
 * - `expired`: past its expiry time
 * - `deleted`: gone (OpenAI deletes; a key id the provider no longer lists)
 */
export type ProviderKeyStatus = 'active' | 'inactive' | 'archived' | 'expired' | 'deleted';

/** Who owns a key at the provider. */
export interface ProviderKeyOwner {
  /** A person, a service account (OpenAI: the account keyflip mints through), or not said. */
  readonly type: 'user' | 'service-account' | 'unknown';
  /** The owner's id at the provider (`user_abc`, `svc_acct_abc`). */
  readonly id?: string | undefined;
  /** The owner's name at the provider. */
  readonly name?: string | undefined;
}

/** A key as the provider's management API describes it: metadata only, never the key. */
export interface ProviderKey {
  /** The provider. */
  readonly provider: ManagedProviderId;
  /** The key's id at the provider (`key_abc`, `apikey_01…`): not a secret. */
  readonly id: string;
  /** Its name at the provider. */
  readonly name: string | undefined;
  /**
   * The provider's own redacted form of the key (`sk-abc...def`, `sk-ant-api03-R2D...igAA`): a few characters of
   * each end, never enough to use it.
   */
  readonly hint: string | undefined;
  /** When it was created, ms since the epoch. */
  readonly createdAt: number | undefined;
  /** When it last authenticated a request, ms since the epoch (OpenAI only; `undefined` when never or not said). */
  readonly lastUsedAt: number | undefined;
  /** When it expires, ms since the epoch; `undefined` when it does not. */
  readonly expiresAt: number | undefined;
  /** Its state (see {@link ProviderKeyStatus}). */
  readonly status: ProviderKeyStatus;
  /** Who owns it. */
  readonly owner: ProviderKeyOwner;
  /** Where it lives: the OpenAI project (`proj_abc`) or the Anthropic workspace (`wrkspc_…`), when said. */
  readonly scope: string | undefined;
}

/** A key just minted: the only place its value appears. Store it, then drop it; never print it. */
export interface MintedKey {
  /** The key as the provider describes it. */
  readonly key: ProviderKey;
  /** The key itself. */
  readonly value: string;
}

/** One time bucket of a key's usage. */
export interface ProviderUsageBucket {
  /** Start of the bucket, ms since the epoch (inclusive). */
  readonly startMs: number;
  /** End of the bucket, ms since the epoch (exclusive). */
  readonly endMs: number;
  /**
   * Requests the provider counted (OpenAI `num_model_requests`, or `num_requests` for file and web search calls);
   * `undefined` when it reports tokens only.
   */
  readonly requests: number | undefined;
  /** Tokens the provider counted, input and output. */
  readonly tokens: number;
}

/** One key's usage over the range asked. */
export interface ProviderKeyUsage {
  /** The key's id at the provider. */
  readonly keyId: string;
  /** Requests in the range (`undefined` when the provider reports tokens only: Anthropic). */
  readonly requests: number | undefined;
  /** Tokens in the range. */
  readonly tokens: number;
  /** Whether the provider reports any use of the key in the range (a request, a token, or any other count). */
  readonly used: boolean;
  /** The buckets with any use, oldest first. */
  readonly buckets: readonly ProviderUsageBucket[];
}

/** What {@link ProviderAdmin.usage} answers. */
export interface ProviderUsageReport {
  /** The provider asked. */
  readonly provider: ManagedProviderId;
  /** Start of the range asked, ms since the epoch. */
  readonly startMs: number;
  /** End of the range asked, ms since the epoch. */
  readonly endMs: number;
  /**
   * Until when the provider's data is complete, ms since the epoch: the earlier of `endMs` and now minus the
   * provider's reporting lag (`ProviderAdmin.lagMs`). Use after this time may not be reported yet: no use reported
   * after it proves nothing.
   */
  readonly coveredUntilMs: number;
  /** One entry per key asked about, in the order asked. */
  readonly keys: readonly ProviderKeyUsage[];
}

/** Options of {@link ProviderAdmin.revokeKey}. */
export interface RevokeKeyOptions {
  /**
   * Anthropic: archive the key (for good) instead of making it `inactive` (reversible). OpenAI deletes either way.
   * @default false
   */
  archive?: boolean | undefined;
}

/** What {@link ProviderAdmin.revokeKey} did. */
export interface RevokeKeyResult {
  /** The key's id. */
  readonly keyId: string;
  /** `revoked` now, or `already` revoked (deleted, inactive, archived or expired) before the call. */
  readonly outcome: 'revoked' | 'already';
  /** Its status after the call. */
  readonly status: ProviderKeyStatus;
  /** OpenAI: the service account deleted with the key (keys keyflip minted live in a service account of their own). */
  readonly serviceAccountDeleted?: string | undefined;
}

/** Options of {@link ProviderAdmin.mintKey}. */
export interface MintKeyOptions {
  /** The name the key gets at the provider (`keyflip OPENAI_API_KEY 2026-12-05`). */
  name: string;
  /** Seconds until the key expires at the provider. @default no expiry (the provider's policy may set one) */
  expiresInSeconds?: number | undefined;
}

/**
 * A provider's management API, through an admin key. Every method throws a {@link ProviderError} (a
 * `KeyflipError`) when the provider cannot answer; no method prints, and no message carries a key or the admin key.
 */
export interface ProviderAdmin {
  /** The provider. */
  readonly id: ManagedProviderId;
  /**
   * Whether {@link mintKey} works for this provider (OpenAI: yes, through a project service account; Anthropic: no).
   */
  readonly canMint: boolean;
  /** How far behind real time the provider's usage data may be, ms (the `lagMs` option, or the provider's default). */
  readonly lagMs: number;
  /**
   * Where this admin manages keys: the OpenAI project (`proj_abc`), or the Anthropic workspace (`wrkspc_…`) when one
   * was given (`undefined`: the whole organization). Compare it with a recorded key's scope before acting on the key.
   */
  readonly scope: string | undefined;
  /** Every key the admin key can see (OpenAI: in the project; Anthropic: in the organization or the workspace). */
  listKeys(): Promise<ProviderKey[]>;
  /** One key by its id; `undefined` when the provider does not know it (deleted). */
  getKey(id: string): Promise<ProviderKey | undefined>;
  /**
   * The key whose hint matches `value` (the key itself, compared with each listed key's hint; the value is never
   * sent). Throws `PROVIDER_KEY_NOT_FOUND` when no hint matches, `PROVIDER_KEY_AMBIGUOUS` when several do.
   */
  findKey(value: string): Promise<ProviderKey>;
  /** Usage of these keys over `[startMs, endMs)`, with how far the data is complete (`coveredUntilMs`). */
  usage(keyIds: readonly string[], range: { startMs: number; endMs: number }): Promise<ProviderUsageReport>;
  /** Revokes a key at the provider: every request with it is refused from then on. Idempotent. */
  revokeKey(id: string, options?: RevokeKeyOptions): Promise<RevokeKeyResult>;
  /** Mints a new key. Throws `PROVIDER_CANNOT_MINT` where {@link canMint} is false. */
  mintKey(options: MintKeyOptions): Promise<MintedKey>;
}
