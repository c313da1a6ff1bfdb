import { KeyflipError } from '../errors.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';

/**
 * Bad usage of a command: an unknown option, a missing or malformed value. Its message never quotes an argument
 * that is not a known option (a key pasted into argv must not be printed back). The CLI exits 2 on it.
 */
export class UsageError extends KeyflipError {
  override name = 'UsageError';
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** Writes `keyflip COMMAND: MESSAGE; see keyflip COMMAND --help` to stderr; returns the exit code, 2. */
export function usageFailure(io: CliIo, command: string, message: string): 2 {
  io.stderr.write(`keyflip ${command}: ${clean(message)}; see keyflip ${command} --help\n`);
  return 2;
}
