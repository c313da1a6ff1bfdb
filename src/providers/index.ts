/**
 * `keyflip/providers`: the LLM providers' management APIs over `fetch` (no SDK): find a key's id from the key or
 * its hint, describe it, read its usage with the provider's reporting lag, revoke it, and mint one where the
 * provider allows it (OpenAI, through a project service account). Admin keys come from the environment or a file,
 * never from argv, and are never printed.
 * @module keyflip/providers
 */
export { ADMIN_KEY_ENV, type ReadAdminKeyOptions, readAdminKey } from './admin-key.js';
export { type HintEnds, matchesHint, parseHint } from './hint.js';
export {
  ANTHROPIC_VERSION,
  type OpenProviderOptions,
  openProvider,
  PROVIDER_BASE_URLS,
  PROVIDER_LAG_MS,
} from './open-provider.js';
export {
  PROVIDER_ERROR_CODES,
  ProviderError,
  type ProviderErrorCode,
  type ProviderErrorOptions,
} from './provider-error.js';
export {
  MANAGED_PROVIDERS,
  type ManagedProviderId,
  type MintedKey,
  type MintKeyOptions,
  type ProviderAdmin,
  type ProviderKey,
  type ProviderKeyOwner,
  type ProviderKeyStatus,
  type ProviderKeyUsage,
  type ProviderUsageBucket,
  type ProviderUsageReport,
  type RevokeKeyOptions,
  type RevokeKeyResult,
} from './types.js';
