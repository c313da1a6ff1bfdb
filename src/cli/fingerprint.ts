/** `keyflip fingerprint`: one value on stdin → its fingerprint. Parsing and output only. */
import { fingerprint } from '../fingerprint.js';
import type { CliIo } from './io.js';
import { parseCommandLine } from './parse-command-line.js';
import { readAll, readOptionFile } from './read-input.js';
import { UsageError, usageFailure } from './usage-error.js';

const HELP = `keyflip fingerprint [--key-file FILE] [--json]
  Reads one value on stdin (surrounding white space trimmed, as the resolver does) and prints its fingerprint.
  --key-file FILE  the HMAC key (the resolver's fingerprintKey), read from a file; default the library key
`;

const OPTIONS = { 'key-file': 'string', json: 'boolean' } as const;

/** Runs `keyflip fingerprint`; returns the exit code. */
export async function fingerprintCommand(args: readonly string[], io: CliIo): Promise<number> {
  let fp: string;
  let json: boolean;
  try {
    const line = parseCommandLine(args, OPTIONS, {
      max: 0,
      tooMany: '; the value is read from stdin, never from argv',
    });
    if (line.help) {
      io.stdout.write(HELP);
      return 0;
    }
    json = line.values.json === true;
    const value = (await readAll(io.stdin)).trim();
    if (value === '') throw new UsageError('no value on stdin');
    const keyFile = line.values['key-file'];
    fp =
      keyFile === undefined
        ? fingerprint(value)
        : fingerprint(value, (await readOptionFile('--key-file', keyFile)).trim());
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageFailure(io, 'fingerprint', error.message);
  }
  io.stdout.write(json ? `${JSON.stringify({ fingerprint: fp })}\n` : `${fp}\n`);
  return 0;
}
