import { readFile } from 'node:fs/promises';
import { isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';

/** The environment variable an admin key is read from. */
export const ADMIN_KEY_ENV = 'KEYFLIP_PROVIDER_ADMIN_KEY';

/** Options of {@link readAdminKey}. */
export interface ReadAdminKeyOptions {
  /** The environment read for `KEYFLIP_PROVIDER_ADMIN_KEY`. @default process.env */
  env?: Readonly<Record<string, string | undefined>> | undefined;
  /** A file holding the admin key (surrounding whitespace is trimmed; `--admin-key-file`). @default none */
  file?: string | undefined;
}

/**
 * The admin key of a provider's management API: from `file`, or from `KEYFLIP_PROVIDER_ADMIN_KEY`; never from
 * argv. Both given, neither given, an unreadable or empty file, or a key with a line break inside: a
 * `ConfigurationError` that names where it looked and never quotes what it read.
 */
export async function readAdminKey(options: ReadAdminKeyOptions = {}): Promise<string> {
  if (!isRecord(options)) throw new ConfigurationError('readAdminKey: options must be an object');
  const env: Readonly<Record<string, string | undefined>> = (options.env as ReadAdminKeyOptions['env']) ?? process.env;
  const fromEnv = env[ADMIN_KEY_ENV];
  const envSet = typeof fromEnv === 'string' && fromEnv !== '';
  const file = options.file;
  if (file !== undefined && (typeof file !== 'string' || file === '')) {
    throw new ConfigurationError('readAdminKey: file must be a path');
  }
  if (file !== undefined && envSet) {
    throw new ConfigurationError(
      `the admin key is given twice (${ADMIN_KEY_ENV} and the file ${file}): give one of them`,
    );
  }
  let key: string;
  if (file !== undefined) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const code = isRecord(error) && typeof error.code === 'string' ? ` (${error.code})` : '';
      throw new ConfigurationError(`cannot read the admin key file ${file}${code}`);
    }
    key = text.trim();
    if (key === '') throw new ConfigurationError(`the admin key file ${file} is empty`);
  } else if (envSet) {
    key = fromEnv.trim();
    if (key === '') throw new ConfigurationError(`${ADMIN_KEY_ENV} is blank`);
  } else {
    throw new ConfigurationError(
      `no admin key: set ${ADMIN_KEY_ENV} or pass --admin-key-file (an admin key is never taken from argv)`,
    );
  }
  if (/[\s\0]/.test(key)) {
    throw new ConfigurationError(
      `the admin key ${file === undefined ? `in ${ADMIN_KEY_ENV}` : `in the file ${file}`} holds whitespace ` +
        'or a line break inside: it must be the key alone',
    );
  }
  return key;
}
