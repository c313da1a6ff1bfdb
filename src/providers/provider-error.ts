import { ERROR_CODES, KeyflipError, type KeyflipErrorCode, type KeyflipErrorOptions } from '../errors.js';
import type { ManagedProviderId } from './types.js';

/** A {@link ProviderError}'s `code`: the `PROVIDER_…` codes of the package's one code list (`ERROR_CODES`). */
export type ProviderErrorCode = Extract<KeyflipErrorCode, `PROVIDER_${string}`>;
/** Every code a {@link ProviderError} can carry: the `PROVIDER_…` entries of `ERROR_CODES`, where each is described. */
export const PROVIDER_ERROR_CODES: readonly ProviderErrorCode[] = ERROR_CODES.filter(
  (code): code is ProviderErrorCode => code.startsWith('PROVIDER_'),
);

/** Codes that retrying cannot fix until someone changes something (the admin key, its permissions, the key). */
const PERMANENT: ReadonlySet<ProviderErrorCode> = new Set([
  'PROVIDER_KEY_NOT_FOUND',
  'PROVIDER_KEY_AMBIGUOUS',
  'PROVIDER_CANNOT_MINT',
  'PROVIDER_UNAUTHORIZED',
  'PROVIDER_FORBIDDEN',
  'PROVIDER_SCOPE_NOT_FOUND',
]);

/**
 * Options of a {@link ProviderError}.
 * @inline
 */
export interface ProviderErrorOptions extends KeyflipErrorOptions {
  /** The provider whose management API failed. */
  provider: ManagedProviderId;
  /** The HTTP status code the provider answered. @default none (no answer, or not an HTTP failure) */
  status?: number | undefined;
  /** The provider's error type or code (`authentication_error`, `invalid_api_key`). @default none */
  providerCode?: string | undefined;
}

/**
 * A provider's management API failed or refused: see `code`. The message names the provider, the request (method
 * and path, which hold ids only) and the status; it never holds a key or the admin key.
 */
export class ProviderError extends KeyflipError {
  override name = 'ProviderError';
  declare readonly code: ProviderErrorCode;
  /** The provider whose management API failed. */
  readonly provider: ManagedProviderId;
  /** The HTTP status the provider answered; `undefined` when none came (network, timeout) or none applies. */
  readonly status: number | undefined;
  /** The provider's error type or code, when it gave one. */
  readonly providerCode: string | undefined;

  constructor(code: ProviderErrorCode, message: string, options: ProviderErrorOptions) {
    const { provider, status, providerCode, ...rest } = options;
    super(code, message, { permanent: PERMANENT.has(code), ...rest });
    this.provider = provider;
    this.status = status;
    this.providerCode = providerCode;
  }
}
