/** The `keyflip` command: dispatches to each command's module. */
import { auditCommand } from './audit.js';
import { collectorCommand } from './collector.js';
import { emulatorCommand } from './emulator.js';
import { fingerprintCommand } from './fingerprint.js';
import type { CliIo } from './io.js';
import { rotateCommand } from './rotate.js';
import { scanCommand } from './scan.js';
import { fenced } from './shown.js';
import { verifyCommand } from './verify.js';

// Lines ending in a backslash go on in the next source line: the help prints them as one line.
const HELP = `keyflip — resolve KEY_v2 ?? KEY_v1, keep it fresh, report which key each process uses

Usage:
  keyflip fingerprint [--key-file FILE] [--json]   value on stdin → its fingerprint (kf_…)
  keyflip scan [paths…] [--allow FILE] [--json]   provider-format keys in files (pre-commit, CI); prints \
fingerprints, never keys
  keyflip collector [--port N] [--host H] [--retention 24h] [--state FILE]
                                                  runs the collector (beacons in, usage out, a page at /); \
token from KEYFLIP_COLLECTOR_TOKEN
  keyflip verify SECRET --retired FP|NAME@VERSION [--window 60m] (--collector URL | --prometheus URL) [--json]
                                                  exit 0 only when the evidence proves no instance held the \
retired key in the window; 1 in use; 4 cannot prove
  keyflip rotate status|provision|probe|flip|verify|revoke|rollback|emergency|discard|migrate|auto SECRET \
[--project P] [--layout pair|suffix|alias] [--provider P] …
                                                  the rotation playbook on Secret Manager, with safety gates \
(keyflip rotate --help)
  keyflip audit [--max-age 90d] [--environment E] [--byok FAMILY] [--provider P] [--project P]
                                                  exit 1 when a managed secret's live key is older than the policy \
(scheduled jobs)
  keyflip emulator [--port N] [--host H] [--project ID] [--seed FILE]
                                                  a local Secret Manager emulator for developing an app; prints \
the SECRET_MANAGER_EMULATOR_HOST line to export
  keyflip --help | --version

Exit codes: 0 success, 1 the command's check failed (or a safety gate refused), 2 bad usage or input (or a backend
that cannot answer), 3 (rotate) stopped part-way between two writes: the same command again continues,
4 (verify, rotate verify|revoke) cannot prove the old key unused: evidence is missing (the output says what to do).
Each command has --help.
Values are read from stdin or a file, never from argv, and never printed; so is a provider's admin key
(KEYFLIP_PROVIDER_ADMIN_KEY or --admin-key-file).
`;

const COMMANDS: Readonly<Record<string, (args: readonly string[], io: CliIo) => Promise<number>>> = {
  fingerprint: fingerprintCommand,
  scan: scanCommand,
  collector: (args, io) => collectorCommand(args, io),
  verify: verifyCommand,
  rotate: rotateCommand,
  audit: auditCommand,
  emulator: (args, io) => emulatorCommand(args, io),
};

declare const __KEYFLIP_VERSION__: string | undefined;
const VERSION = typeof __KEYFLIP_VERSION__ === 'string' ? __KEYFLIP_VERSION__ : '0.0.0-dev';

/** Runs the CLI and returns the exit code. */
export async function main(argv: readonly string[], given: CliIo): Promise<number> {
  // Every line written, by every command, passes the provider-format redaction: a key never goes out.
  const io = fenced(given);
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === '--version') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const run = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (run !== undefined) return run(rest, io);
  io.stderr.write('keyflip: unknown command (not shown); see keyflip --help\n');
  return 2;
}
