import { fingerprint } from '../fingerprint.js';
import { readAll } from './args.js';
import { auditCommand } from './audit.js';
import { collectorCommand } from './collector.js';
import { rotateCommand } from './rotate.js';
import { scanCommand } from './scan.js';
import { verifyCommand } from './verify.js';

/** Where the CLI reads and writes (injectable for tests). */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Environment variables (KEYFLIP_COLLECTOR_TOKEN, KEYFLIP_PROJECT, SECRET_MANAGER_EMULATOR_HOST). @default process.env */
  env?: NodeJS.ProcessEnv | undefined;
}

const HELP = `keyflip — resolve KEY_v2 ?? KEY_v1, keep it fresh, report which key each process uses

Usage:
  keyflip fingerprint [--key-file FILE] [--json]   value on stdin → its fingerprint (kf_…)
  keyflip scan [paths…] [--allow FILE] [--json]   provider-format keys in files (pre-commit, CI); prints fingerprints, never keys
  keyflip collector [--port N] [--host H] [--retention 24h]
                                                  runs the collector (beacons in, usage out, a page at /); token from KEYFLIP_COLLECTOR_TOKEN
  keyflip verify SECRET --retired FP|VERSION [--window 60m] (--collector URL | --prometheus URL) [--json]
                                                  exit 0 only when no instance used the retired key in the window AND beacons were seen
  keyflip rotate status|provision|probe|flip|verify|revoke|emergency|discard SECRET [--project P] [--layout suffix|alias] …
                                                  the rotation playbook on Secret Manager, with safety gates (keyflip rotate --help)
  keyflip audit [--max-age 90d] [--environment E] [--byok FAMILY] [--project P]
                                                  exit 1 when a managed secret's live key is older than the policy (scheduled jobs)
  keyflip --help | --version

Exit codes: 0 success, 1 the command's check failed (or a safety gate refused), 2 bad usage or input (or a backend
that cannot answer), 3 (rotate) stopped part-way between two writes: the same command again continues.
Each command has --help.
Values are read from stdin or a file, never from argv, and never printed.
`;

/** Runs the CLI and returns the exit code. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (command === 'fingerprint') return fingerprintCommand(rest, io);
  if (command === 'scan') return scanCommand(rest, io);
  if (command === 'collector') return collectorCommand(rest, io);
  if (command === 'verify') return verifyCommand(rest, io);
  if (command === 'rotate') return rotateCommand(rest, io);
  if (command === 'audit') return auditCommand(rest, io);
  io.stderr.write(`keyflip: unknown command ${JSON.stringify(command)}; see keyflip --help\n`);
  return 2;
}

declare const __KEYFLIP_VERSION__: string | undefined;
const VERSION = typeof __KEYFLIP_VERSION__ === 'string' ? __KEYFLIP_VERSION__ : '0.0.0-dev';

async function fingerprintCommand(args: readonly string[], io: CliIo): Promise<number> {
  let json = false;
  let keyFile: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--help' || arg === '-h') {
      io.stdout.write(
        "keyflip fingerprint [--key-file FILE] [--json]\n  Reads one value on stdin (surrounding white space trimmed, as the resolver does) and prints its fingerprint.\n  --key-file FILE  the HMAC key (the resolver's fingerprintKey), read from a file; default the library key\n",
      );
      return 0;
    }
    if (arg === '--json') json = true;
    else if (arg === '--key-file') {
      keyFile = args[++i];
      if (keyFile === undefined) {
        io.stderr.write('keyflip fingerprint: --key-file needs a path\n');
        return 2;
      }
    } else {
      // Not echoed: a value passed by mistake in argv must not be printed back.
      io.stderr.write(
        `keyflip fingerprint: unexpected argument #${i + 1} (not shown); the value is read from stdin, never from argv\n`,
      );
      return 2;
    }
  }
  const value = (await readAll(io.stdin)).trim();
  if (value === '') {
    io.stderr.write('keyflip fingerprint: no value on stdin\n');
    return 2;
  }
  let key: string | undefined;
  if (keyFile !== undefined) {
    const { readFile } = await import('node:fs/promises');
    key = (await readFile(keyFile, 'utf8')).trim();
  }
  const fp = key === undefined ? fingerprint(value) : fingerprint(value, key);
  io.stdout.write(json ? `${JSON.stringify({ fingerprint: fp })}\n` : `${fp}\n`);
  return 0;
}
