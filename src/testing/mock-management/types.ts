/**
 * The public types of the mock management API that {@link startMockProvider} serves when given `management`: the
 * options, what `mock.mint` takes and returns, and what `mock.keys()` describes.
 */

/** Options of the mock's management API (`startMockProvider({ preset, management })`): OpenAI and Anthropic only. */
export interface MockManagementOptions {
  /**
   * The admin keys its management API accepts (OpenAI: `Authorization: Bearer`; Anthropic: `x-api-key`). Any other
   * key gets the provider's 401; an inference key gets its 403.
   */
  adminKeys: readonly string[];
  /** OpenAI: the one project it serves (`/organization/projects/{project_id}/…`). @default 'proj_keyflip' */
  project?: string | undefined;
  /** Anthropic: the workspace its keys belong to (`workspace_id`). @default 'wrkspc_keyflip' */
  workspace?: string | undefined;
  /** How long after a request the usage report shows it, ms (the provider's reporting lag). @default 0 */
  lagMs?: number | undefined;
  /**
   * How many items (keys, or usage buckets) one page holds at most, whatever `limit` asks: to exercise pagination.
   * @default the provider's own maximum
   */
  pageSize?: number | undefined;
  /** The clock, ms since the epoch: creation, last use, usage times and the lag. @default Date.now */
  now?: (() => number) | undefined;
}

/** Options of `mock.mint`: a key made as if in the provider's console. */
export interface MockMintOptions {
  /** The key's name at the provider. @default 'Secret key' (OpenAI) / 'Mock key' (Anthropic) */
  name?: string | undefined;
  /** When it was created, ms since the epoch. @default now */
  createdAtMs?: number | undefined;
  /** When it expires, ms since the epoch (Anthropic: `expires_at`; OpenAI shows no expiry). @default never */
  expiresAtMs?: number | undefined;
}

/** What `mock.mint` returns: the key's id at the provider and the key itself (for the test to use). */
export interface MockMintedKey {
  /** Its id at the provider (`key_…`, `apikey_01…`). */
  readonly id: string;
  /** The key. */
  readonly value: string;
}

/** A key the mock's management API knows, as `mock.keys()` describes it: metadata only, never the key. */
export interface MockManagedKey {
  /** Its id at the provider (`key_…`, `apikey_01…`). */
  readonly id: string;
  /** Its name at the provider. */
  readonly name: string;
  /** The provider's redacted form (`redacted_value` / `partial_key_hint`). */
  readonly hint: string;
  /** Its state now (`deleted`: OpenAI deleted it, or its service account). */
  readonly status: 'active' | 'inactive' | 'archived' | 'expired' | 'deleted';
  /** When it was created, ms since the epoch. */
  readonly createdAtMs: number;
  /** When it last authenticated a request that succeeded, ms since the epoch; `undefined` when never. */
  readonly lastUsedAtMs: number | undefined;
  /** When it expires, ms since the epoch; `undefined` when never. */
  readonly expiresAtMs: number | undefined;
  /** OpenAI: the service account that owns it (keys minted through the API); `undefined` for a person's key. */
  readonly serviceAccountId: string | undefined;
  /** How many model requests (chat) it made that the mock served. */
  readonly requests: number;
}
