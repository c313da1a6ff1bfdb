import type { Source, SourceRef, SourceResult } from '../types.js';

/** Options of {@link envSource}. */
export interface EnvSourceOptions {
  /**
   * The environment to read.
   * @default process.env
   */
  env?: NodeJS.ProcessEnv | Record<string, string | undefined> | undefined;
  /**
   * The source's name, the prefix of its candidates.
   * @default 'env'
   */
  name?: string | undefined;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Reads candidates from environment variables. The environment is read again on every refresh, but a
 * process's environment rarely changes while it runs: use env as a last resort (`… ?? env:KEY`), not
 * as the way to rotate. Has no versions and no watch.
 */
export function envSource(options: EnvSourceOptions = {}): Source {
  return {
    name: options.name ?? 'env',
    async fetch(ref: SourceRef): Promise<SourceResult> {
      const env = options.env ?? process.env;
      const value = Object.hasOwn(env, ref.name) ? env[ref.name] : undefined;
      if (value === undefined) return { status: 'absent', reason: 'not-found' };
      return { status: 'found', value };
    },
    validate(ref: SourceRef): string | undefined {
      if (ref.version !== undefined) return 'environment variables have no versions';
      if (!ENV_NAME.test(ref.name))
        return 'an environment variable name is letters, digits and "_", not starting with a digit';
      return undefined;
    },
  };
}
