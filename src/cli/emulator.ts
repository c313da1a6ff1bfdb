/**
 * `keyflip emulator`: runs the embedded Secret Manager emulator (src/testing/emulator) in the foreground for the
 * local development of an app, optionally seeded from a JSON file, until SIGINT or SIGTERM. Prints the lines to
 * export on stdout and everything else on stderr; prints the names of the secrets it seeds, never a value.
 */
// Not exported by the collector's index (as in collector.ts): the one loopback rule of the CLI.
import { isLoopback } from '../collector/host-check.js';
import { ConfigurationError, isKeyflipError } from '../errors.js';
import { isProject, isSecretId, SECRET_ID_RULE } from '../sources/gcp-names.js';
// The one import of src/testing outside it (.dependency-cruiser.cjs allows this file, and only the emulator's
// index): the command *is* the emulator, run from the shell instead of a test. Loaded when the command runs (below),
// so that the other commands do not load it.
import type { SecretManagerEmulator, SecretManagerEmulatorOptions } from '../testing/emulator/index.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';
import { integerArg } from './option-values.js';
import { parseCommandLine } from './parse-command-line.js';
import { readOptionFile } from './read-input.js';
import { looksLikeKey, refuseKey } from './shown.js';
import { UsageError, usageFailure } from './usage-error.js';
import { untilSignal } from './until-signal.js';

/**
 * The gRPC port `keyflip emulator` listens on by default: fixed, so that the exported
 * `SECRET_MANAGER_EMULATOR_HOST` (in a shell profile, an `.env` file, a compose file) stays right across restarts.
 * Beside the collector's 7391; not 8085 (the Pub/Sub emulator's) nor 8080/8081 (Firestore's, Datastore's, and
 * most local web servers').
 */
export const DEFAULT_EMULATOR_PORT = 7392;

/** The project the emulator answers for unless `--project` says otherwise (the emulator's own default). */
export const DEFAULT_EMULATOR_PROJECT = 'keyflip-test';

/** Secret Manager's limit on one version's payload, in bytes (64 KiB). */
const MAX_VERSION_BYTES = 65_536;

const HELP = `keyflip emulator [--port N] [--host H] [--project ID] [--seed FILE]
  Runs a Secret Manager emulator (in memory; gRPC, and REST) for the local development of an app, until SIGINT
  (Ctrl-C) or SIGTERM. Prints on stdout the lines to export where your app, keyflip rotate or keyflip audit runs:
    export SECRET_MANAGER_EMULATOR_HOST=127.0.0.1:${DEFAULT_EMULATOR_PORT}
    export KEYFLIP_PROJECT=${DEFAULT_EMULATOR_PROJECT}
  gcpSecretManager({ projectId }) and the CLI then talk to it (no TLS, no credentials); the REST URL, the seeded
  secrets and the status go to stderr.
  --port N      the gRPC port (default ${DEFAULT_EMULATOR_PORT}; 0 for any free port). REST always takes a free one
  --host H      the interface to listen on (default 127.0.0.1). The emulator has no authentication: any other
                than loopback lets anything that can reach it read every secret (a warning says so)
  --project ID  the project it answers for (default ${DEFAULT_EMULATOR_PROJECT}); any other is PERMISSION_DENIED
  --seed FILE   a JSON object { "SECRET_ID": "value" | ["v1 value", "v2 value", …] }: each string one version,
                in order (the last is latest). Values come from the file only and are never printed (the names
                and version counts are)
  Needs @google-cloud/secret-manager (npm install --save-dev @google-cloud/secret-manager): the emulator serves
  its protos. Everything is in memory: a restart starts again from the seed file.
  Exit codes: 0 stopped by a signal, 2 bad usage, a bad seed file, a port that cannot be used, the package missing.
`;

const OPTIONS = { port: 'string', host: 'string', project: 'string', seed: 'string' } as const;

/** What `keyflip emulator` was asked, once the arguments are checked. */
interface EmulatorRequest {
  port: number;
  host: string;
  projectId: string;
  seedFile: string | undefined;
}

/** One secret of a seed file: its id and its versions' values, oldest first. */
export interface SeedSecret {
  readonly id: string;
  readonly values: readonly string[];
}

/** What the command needs from outside, replaceable in tests. */
export interface EmulatorCommandHooks {
  /** Starts the emulator. @default startSecretManagerEmulator, from src/testing/emulator */
  start?: (options: SecretManagerEmulatorOptions) => Promise<SecretManagerEmulator>;
  /** Resolves when the emulator should stop. @default the first SIGINT or SIGTERM */
  stop?: () => Promise<unknown>;
}

function emulatorRequest(args: readonly string[]): EmulatorRequest | 'help' {
  const { help, values } = parseCommandLine(args, OPTIONS, { max: 0 });
  if (help) return 'help';
  const request: EmulatorRequest = {
    port: DEFAULT_EMULATOR_PORT,
    host: '127.0.0.1',
    projectId: DEFAULT_EMULATOR_PROJECT,
    seedFile: values.seed,
  };
  if (values.port !== undefined) request.port = integerArg('--port', values.port, 0, 65_535);
  if (values.host !== undefined) {
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(values.host)) throw new UsageError('--host needs a host name or an address');
    refuseKey(values.host, '--host');
    request.host = values.host;
  }
  if (values.project !== undefined) {
    refuseKey(values.project, '--project');
    if (!isProject(values.project)) {
      throw new UsageError(
        '--project needs a project id (lowercase letters, digits and "-", 63 at most) or a project number',
      );
    }
    request.projectId = values.project;
  }
  return request;
}

/** What a JSON value is, for a message: its type, never its content (a number may be a PIN). */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** `line L, column C` of a character offset. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `line ${line}, column ${offset - before.lastIndexOf('\n')}`;
}

/**
 * The names of a JSON object's own members, in the file's order, duplicates included (JSON.parse keeps the last of
 * two members of one name silently). `text` must be valid JSON whose top level is an object.
 */
function topLevelNames(text: string): string[] {
  const names: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (depth !== 1) continue;
      let next = i + 1;
      while (text[next] === ' ' || text[next] === '\t' || text[next] === '\n' || text[next] === '\r') next++;
      if (text[next] === ':') names.push(JSON.parse(text.slice(start, i + 1)) as string);
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return names;
}

/**
 * Reads a seed file's text: a JSON object `{ "SECRET_ID": "value" | ["v1 value", "v2 value", …] }`. Throws a
 * {@link UsageError} naming what is wrong — the entry by its number, its name once it is a secret id that does not
 * look like a key, a version by its number — and never quoting a value (not even the parser's message, which does).
 */
export function parseSeed(text: string): SeedSecret[] {
  const json = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (error) {
    // The parser's message quotes the text around the error: only the position is kept.
    const at = /position (\d+)/.exec(error instanceof Error ? error.message : '');
    const where = at ? ` at ${lineAndColumn(json, Number(at[1]))}` : '';
    throw new UsageError(`--seed: the file is not valid JSON${where} (its text is not shown)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(
      '--seed: the file must hold a JSON object { "SECRET_ID": "value" | ["v1 value", "v2 value", …] }, ' +
        `not ${kindOf(parsed)}`,
    );
  }
  const members = parsed as Record<string, unknown>;
  const seen = new Set<string>();
  return topLevelNames(json).map((id, index) => {
    const entry = `entry #${index + 1}`;
    if (!isSecretId(id)) throw new UsageError(`--seed: ${entry}: its name is not a secret id (${SECRET_ID_RULE})`);
    if (looksLikeKey(id)) {
      throw new UsageError(
        `--seed: ${entry}: its name looks like a key (not shown); names are secret ids, values go after the colon`,
      );
    }
    if (seen.has(id)) {
      throw new UsageError(`--seed: secret ${id} is given twice; give one entry with an array of its versions`);
    }
    seen.add(id);
    const given = members[id];
    const values = Array.isArray(given) ? (given as unknown[]) : [given];
    if (!Array.isArray(given) && typeof given !== 'string') {
      throw new UsageError(
        `--seed: secret ${id}: needs a string (one version) or an array of strings (versions in order), ` +
          `not ${kindOf(given)}`,
      );
    }
    if (values.length === 0) throw new UsageError(`--seed: secret ${id}: the array is empty; give one version or more`);
    values.forEach((value, i) => {
      const version = `version ${i + 1}`;
      if (typeof value !== 'string')
        throw new UsageError(`--seed: secret ${id}: ${version} is ${kindOf(value)}, not a string`);
      if (value === '')
        throw new UsageError(`--seed: secret ${id}: ${version} is empty (keyflip reads an empty version as absent)`);
      if (Buffer.byteLength(value, 'utf8') > MAX_VERSION_BYTES) {
        throw new UsageError(
          `--seed: secret ${id}: ${version} is larger than Secret Manager's limit of 64 KiB ` +
            `(${MAX_VERSION_BYTES} bytes)`,
        );
      }
    });
    return { id, values: values as string[] };
  });
}

/** What the emulator's start failed on, said for the shell. */
function startFailure(error: unknown, request: EmulatorRequest): string {
  if (isKeyflipError(error) && error.code === 'DEPENDENCY_MISSING') {
    // Without a cause it could not be found; with one, it was found but failed to load (a broken install).
    const cause =
      error.cause instanceof Error ? `; it was found but could not be loaded: ${clean(error.cause.message)}` : '';
    return (
      'needs the package @google-cloud/secret-manager (the emulator serves its protos over its gRPC): ' +
      `npm install --save-dev @google-cloud/secret-manager${cause}`
    );
  }
  const code = (error as { cause?: { code?: unknown } }).cause?.code;
  if (error instanceof ConfigurationError && typeof code === 'string') {
    const busy = code === 'EADDRINUSE' ? ' (another emulator may be running there)' : '';
    const where = `${request.host}:${request.port}`;
    return `cannot listen on ${where}: ${code}${busy}; pass --port N, or --port 0 for any free port`;
  }
  return clean(error instanceof Error ? error.message : String(error));
}

/** The emulator's start, loaded on first use. */
async function startEmulator(options: SecretManagerEmulatorOptions): Promise<SecretManagerEmulator> {
  const { startSecretManagerEmulator } = await import('../testing/emulator/index.js');
  return startSecretManagerEmulator(options);
}

/** Adds the seed's versions, in order. */
function seed(emulator: SecretManagerEmulator, secrets: readonly SeedSecret[]): void {
  for (const { id, values } of secrets) {
    for (const value of values) emulator.addVersion(id, value);
  }
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Runs `keyflip emulator`; returns the exit code once stopped (`hooks.stop` resolves: a signal, by default). */
export async function emulatorCommand(
  args: readonly string[],
  io: CliIo,
  hooks: EmulatorCommandHooks = {},
): Promise<number> {
  let request: EmulatorRequest | 'help';
  let secrets: SeedSecret[] = [];
  try {
    request = emulatorRequest(args);
    if (request !== 'help' && request.seedFile !== undefined)
      secrets = parseSeed(await readOptionFile('--seed', request.seedFile));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageFailure(io, 'emulator', error.message);
  }
  if (request === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  const { host, port, projectId } = request;
  const stop = hooks.stop ?? untilSignal;

  let emulator: SecretManagerEmulator;
  try {
    emulator = await (hooks.start ?? startEmulator)({ host, port, projectId });
  } catch (error) {
    io.stderr.write(`keyflip emulator: ${startFailure(error, request)}\n`);
    return 2;
  }
  try {
    seed(emulator, secrets);
  } catch (error) {
    await emulator.close();
    const why = clean(error instanceof Error ? error.message : String(error));
    io.stderr.write(`keyflip emulator: seeding failed: ${why}\n`);
    return 2;
  }
  // The signal handlers are in place before the export lines go out: a script that reads them and sends SIGINT at
  // once must stop the emulator, not kill the process with the default action.
  const stopped = stop();
  // Listening before this line is printed: a script waiting for it can connect at once.
  io.stdout.write(`export SECRET_MANAGER_EMULATOR_HOST=${emulator.host}\nexport KEYFLIP_PROJECT=${projectId}\n`);
  io.stderr.write(
    `keyflip emulator: Secret Manager emulator for project ${projectId}: gRPC on ${emulator.host}, ` +
      `REST on ${emulator.restUrl}\n`,
  );
  if (!isLoopback(host)) {
    io.stderr.write(
      `keyflip emulator: WARNING: listening on ${host}, not loopback. The emulator has no authentication: ` +
        'anything that can reach this address can read and change every secret in it. Seed it with test values only.\n',
    );
  }
  if (request.seedFile !== undefined) {
    const count = secrets.reduce((sum, s) => sum + s.values.length, 0);
    const width = Math.max(0, ...secrets.map((s) => s.id.length));
    io.stderr.write(
      `keyflip emulator: seeded ${plural(secrets.length, 'secret')}, ${plural(count, 'version')} (values not shown)` +
        `${secrets.length === 0 ? '' : ':'}\n` +
        secrets.map((s) => `  ${s.id.padEnd(width)}  ${plural(s.values.length, 'version')}\n`).join(''),
    );
  }
  io.stderr.write('keyflip emulator: in memory, no authentication; stops on Ctrl-C (SIGINT) or SIGTERM\n');

  const signal = await stopped;
  await emulator.close();
  io.stderr.write(`keyflip emulator: stopped${typeof signal === 'string' ? ` (${signal})` : ''}\n`);
  return 0;
}
