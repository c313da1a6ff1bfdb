import { isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';

/**
 * Throws a {@link ConfigurationError} unless `value` looks like a secret handle (an object with a `refresh`
 * method). `caller` names the function in the message (`authFetch`, `liveClient`).
 */
export function assertSecretHandle(caller: string, value: unknown): void {
  if (!isRecord(value) || typeof value.refresh !== 'function') {
    throw new ConfigurationError(`${caller}: the first argument must be a secret handle (resolver.secret(…))`);
  }
}
