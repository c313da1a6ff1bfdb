/** `keyflip fingerprint`: one value on stdin → its fingerprint. Parsing and output only. */
import { fingerprint } from '../fingerprint.js';
import type { CliIo } from './io.js';
import { parseCommandLine } from './parse-command-line.js';
import { InterruptedInput, isTerminal, readHidden } from './read-hidden.js';
import { readAll, readOptionFile } from './read-input.js';
import { UsageError, usageFailure } from './usage-error.js';

const HELP = `keyflip fingerprint [--key-file FILE] [--multiline] [--json]
  Reads one value on stdin (surrounding white space trimmed, as the resolver does) and prints its fingerprint.
  On a terminal it asks for the value on stderr and does not echo what is typed (Enter ends it).
  --key-file FILE  the HMAC key (the resolver's fingerprintKey), read from a file; default the library key
  --multiline      the value has several lines (a PEM key, a JSON credential); on a terminal, Ctrl-D ends it
`;

const OPTIONS = { 'key-file': 'string', multiline: 'boolean', json: 'boolean' } as const;

const PROMPT = 'keyflip fingerprint: paste the value, then press Enter (it is not shown): ';
const PROMPT_MULTILINE = 'keyflip fingerprint: paste the value, then press Ctrl-D on a new line (it is not shown): ';

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
    const multiline = line.values.multiline === true;
    const value = (
      isTerminal(io.stdin)
        ? await readHidden(io.stdin, { prompt: multiline ? PROMPT_MULTILINE : PROMPT, stderr: io.stderr, multiline })
        : await readAll(io.stdin)
    ).trim();
    if (value === '') throw new UsageError('no value on stdin');
    if (!multiline && /[\r\n]/.test(value))
      throw new UsageError('the value has several lines; pass --multiline to fingerprint it as one value');
    const keyFile = line.values['key-file'];
    fp =
      keyFile === undefined
        ? fingerprint(value)
        : fingerprint(value, (await readOptionFile('--key-file', keyFile)).trim());
  } catch (error) {
    if (error instanceof InterruptedInput) return 130;
    if (!(error instanceof UsageError)) throw error;
    return usageFailure(io, 'fingerprint', error.message);
  }
  io.stdout.write(json ? `${JSON.stringify({ fingerprint: fp })}\n` : `${fp}\n`);
  return 0;
}
