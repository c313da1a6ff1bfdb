/**
 * Who may call the management API: only an admin key. No key or an unknown one gets the provider's 401; a key that
 * is an inference key (live, or one the management API knows) gets its 403: it is a key, but not an admin key.
 */
import type { IncomingMessage } from 'node:http';
import { anthropicError, type ManagementFamily, type MockAnswer, openaiError } from './answer.js';

/** How the admin check sees keys: by digest only. */
export interface AdminKeyring {
  digest(key: string): string;
  isAdmin(digest: string): boolean;
  isInferenceKey(digest: string): boolean;
}

/** The refusal for a request that does not carry an admin key; `undefined` when it does. */
export function refuseNonAdmin(
  family: ManagementFamily,
  req: IncomingMessage,
  keyring: AdminKeyring,
  requestId: string,
): MockAnswer | undefined {
  const key = family === 'openai' ? bearer(req) : single(req.headersDistinct['x-api-key']);
  if (key === undefined || key === '') {
    return family === 'openai'
      ? openaiError(
          401,
          "You didn't provide an API key. You need to provide your API key in an Authorization header using " +
            'Bearer auth (i.e. Authorization: Bearer YOUR_KEY).',
        )
      : anthropicError(401, 'authentication_error', 'x-api-key header is required', requestId);
  }
  const digest = keyring.digest(key);
  if (keyring.isAdmin(digest)) return undefined;
  if (keyring.isInferenceKey(digest)) {
    return family === 'openai'
      ? openaiError(
          403,
          'You have insufficient permissions for this operation. Missing scopes: api.management.read. ' +
            'Administration endpoints take an admin API key, not a project API key.',
        )
      : anthropicError(
          403,
          'permission_error',
          'This API key does not have permission to use the Admin API: it takes an admin API key.',
          requestId,
        );
  }
  return family === 'openai'
    ? openaiError(
        401,
        'Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.',
        'invalid_request_error',
        null,
        'invalid_api_key',
      )
    : anthropicError(401, 'authentication_error', 'invalid x-api-key', requestId);
}

function single(values: string[] | undefined): string | undefined {
  return values?.length === 1 ? values[0]?.trim() : undefined;
}

function bearer(req: IncomingMessage): string | undefined {
  const value = single(req.headersDistinct.authorization);
  if (value === undefined) return undefined;
  return /^bearer /i.test(value) ? value.slice(7).trim() : value;
}
