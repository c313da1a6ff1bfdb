/**
 * `keyflip rotate <command> SECRET`: the rotation playbook as commands. Parsing and output only; every
 * decision is made in src/rotation (the layout too: `chooseLayout`).
 */
import { providers, type ProviderId } from '../clients/index.js';
import { collectorUsageSource, type UsageSource } from '../collector/index.js';
import { ConfigurationError, KeyflipError } from '../errors.js';
import {
  chooseLayout,
  discard,
  emergency,
  flip,
  LAYOUTS,
  migrate,
  openSecretAdmin,
  probe,
  provision,
  provisionMinted,
  auto,
  revoke,
  rollback,
  ROTATE_COMMANDS,
  RotationError,
  status,
  verify,
  type Layout,
  type RotateCommand,
  type RotationContext,
  type RotationResult,
  type SecretAdmin,
} from '../rotation/index.js';
import type { ProviderAdmin } from '../providers/index.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';
import { collectorToken, durationArg, projectOf } from './option-values.js';
import {
  openManagedProvider,
  PROVIDER_HELP,
  PROVIDER_OPTIONS,
  providerRequest,
  refuseAdminKeyArg,
  type ProviderRequest,
} from './provider-options.js';
import { parseCommandLine, type OptionValues } from './parse-command-line.js';
import { readAll, readOptionFile, readValue } from './read-input.js';
import { renderRotation } from './rotate-output.js';
import { httpUrlArg, refuseKey } from './shown.js';
import { UsageError, usageFailure } from './usage-error.js';
import { prometheusSource } from './verify.js';

const COMMON = `Common options:
  --project P             the Google Cloud project (default: KEYFLIP_PROJECT, then GOOGLE_CLOUD_PROJECT)
  --location L            a region, for regional secrets (default: global secrets)
  --layout pair|suffix|alias  pair: apps declare NAME_v2 ?? NAME_v1 for every rotation; suffix (legacy):
                          NAME_v1, NAME_v2, NAME_v3 … declared ahead; alias: NAME@current ?? NAME@previous.
                          Default: the layout recorded on the secrets, else suffix when NAME_v3 exists, else pair
  --beacon-name NAME      the name the apps' beacons report (their resolver.secret() name; default SECRET)
  --fingerprint-key-file F  the apps' fingerprintKey, if they set one
  --json                  print the result as one JSON object (same exit codes)
  --dry-run               print the writes the command would make, and make none
SECRET_MANAGER_EMULATOR_HOST=host:port sends every call to an emulator. KEYFLIP_COLLECTOR_TOKEN is the
collector's token. Keys are read from stdin or --value-file, never from argv, and never printed.
Exit codes: 0 done (or already done, or planned by --dry-run; auto: also nothing to do, or waiting); 1 refused
by a safety gate, or the check failed (a dead key, a key still in use, the window not elapsed since the flip);
2 bad usage, bad input, or Secret Manager / the beacons / the provider could not answer (or refused the admin
key); 3 stopped part-way between two writes: rotate status explains, the same command again continues; 4 (verify,
revoke, auto) cannot prove the old key unused: evidence is missing (refusal evidence-incomplete; the output says
what, and what to do). The evidence model: docs/evidence.md.`;

const HELP = `keyflip rotate <command> SECRET [options] — the rotation playbook, with safety gates

Commands, in playbook order:
  status     SECRET [--collector URL | --prometheus URL] [--window 60m]
             every key with its role, state, fingerprint and recorded steps; what the beacons say; the next step
  provision  SECRET [--environment E] [--value-file F]          < new-key.txt
             stage the new key where no process reads it (NAME_next). Refuses if one is staged
             --provider openai --mint [--key-name N]: mint it at the provider instead (never printed)
  probe      SECRET --provider P [--base-url URL] [--value-file F] [< new-key.txt]
             ask the provider whether the staged key works (give the staged key again: it is checked
             against the fingerprint recorded at provision; or nothing: keyflip reads it from NAME_next).
             A dead key stops here
  flip       SECRET [--skip-probe]
             make the staged key live. Refuses unless it was probed alive
  verify     SECRET --window 60m (--collector URL | --prometheus URL) [--provider P]
             the evidence (the beacons; with --provider, the provider's usage too) proves no process or client
             used the old key(s) for the whole window since the flip
  revoke     SECRET --window 60m (--collector URL | --prometheus URL) [--provider P]  |  --force --reason "why"
             disable the old key(s). Checks again now and refuses unless verify is clear; --force is recorded.
             With --provider, revokes them at the provider too (--keep-provider-key: not there)
  emergency  SECRET [--provider P [--base-url URL]] [--refresh 5m] [--since 24h] < new-key.txt
             stage, make live and disable every other key at once; says what picks the new key up when.
             With an admin key: revokes the leaked key at the provider at once, and prints the leak report
  discard    SECRET [--provider P]
             abandon the staged key (or a provision/emergency that stopped part-way); it is disabled, never deleted.
             With --provider: a minted key that was never stored (a crash) is revoked at the provider
  rollback   SECRET [--reason "why"]
             after a flip, before revoke: put the previous key back as current (the new one misbehaves)
  migrate    SECRET
             move a legacy suffix ring (NAME_v1, NAME_v2, NAME_v3 …) to the pair layout; disables nothing
  auto       SECRET --provider P --window 60m (--collector URL | --prometheus URL) [--max-age 90d]
             the scheduled rotation (cron, CI, every 15 minutes): each run advances at most one step

Run keyflip rotate <command> --help for one command.
${COMMON}

${PROVIDER_HELP}
`;

const COMMAND_HELP: Readonly<Record<RotateCommand, string>> = {
  status: `keyflip rotate status SECRET [--collector URL | --prometheus URL] [--window 60m] [common options]
  Every key of SECRET (role, state, fingerprint, the steps recorded on it), the instances the beacons saw on
  each key in the window (with a backend), anything left part-way, and the next step. Makes no write.`,
  provision: `keyflip rotate provision SECRET [--environment E] [--value-file F] [common options]   < new-key.txt
keyflip rotate provision SECRET --provider openai --mint [--key-name N] [--environment E] [provider options] \
[common options]
  Stages the new key where no app reads it: pair and suffix layouts, a new version of SECRET_next (a secret no
  app declares; grant apps access to SECRET_v1 and SECRET_v2 only); alias layout, a new disabled version of
  SECRET that no alias names. No process can read it until flip, not even for a moment.
  Refuses when a key is already staged (probe and flip it, or discard it) or when the key is already in the
  ring. --environment E labels the secrets keyflip-environment=E for audit --environment.
  With --provider and an admin key, the key's id at the provider is found by its hint and recorded (refused
  when no key there matches: provider-key-not-found, or several do: provider-key-ambiguous).
  --mint: the provider mints the key (OpenAI: a service account of its own in --provider-project, named
  keyflip-SECRET-<time>, or --key-name N) and keyflip stores it straight in Secret Manager: it is never printed
  nor written anywhere else. A minted key that could not be stored is revoked at the provider before the
  command exits; after a crash between the two, rotate status says so and rotate discard revokes it.
  Anthropic cannot mint keys by API (refusal cannot-mint): stage one made in the console from a file.`,
  probe: `keyflip rotate probe SECRET --provider P [--base-url URL] [--value-file F] [common options]   [< new-key.txt]
  Asks the provider (${Object.keys(providers).join(', ')}) whether the staged key works with its cheapest
  authenticated request, and records the answer. Give the staged key again on stdin (its fingerprint is checked
  against the one recorded at provision), or nothing: in the pair and suffix layouts keyflip reads it from
  SECRET_next (a minted key, which no one holds); the alias layout's staged version is disabled, and Secret
  Manager serves a disabled version to no one: give it. Exit 1 when the provider refuses the key: flip will
  refuse it too.`,
  flip: `keyflip rotate flip SECRET [--skip-probe] [common options]
  Makes the staged key live: pair layout, adds the current key as a new version of SECRET_v1, then the staged
  key as a new version of SECRET_v2 (apps on SECRET_v2 ?? SECRET_v1 move to it on their next refresh); legacy
  suffix layout, copies it to a new SECRET_vN; alias layout, enables the version and moves current to it
  (previous to the key that was live) in one write. Refuses unless the staged key was probed
  alive; --skip-probe flips anyway and records that it did. Running it again changes nothing.`,
  verify: `keyflip rotate verify SECRET --window 60m (--collector URL | --prometheus URL) [common options]
  For every old key (enabled, not live): its fingerprint, then keyflip verify over the window. Passes only
  when every old key is clear (the evidence covers the whole window and no instance reported it) and the live
  key has been live for the whole window. Otherwise: exit 1 naming the instances still holding an old key, or
  that held it earlier and rotated since (refusal not-verified), or while the window has not elapsed since the
  flip (window-not-elapsed); exit 4 when no instance shows it but the evidence cannot prove it
  (evidence-incomplete: each "cannot prove" line says what is missing and what to do).
  With --provider and an admin key, the provider's per-key usage since the flip (the window and the provider's
  lag, --provider-lag) counts too: any use is in use ("312 requests at the provider in the last 75m, from
  clients that send no beacon"); data that does not yet reach the window's end is cannot prove, never clear.`,
  revoke: `keyflip rotate revoke SECRET --window 60m (--collector URL | --prometheus URL) [common options]
  keyflip rotate revoke SECRET --force --reason "why" [common options]
  Disables every old key. Checks the beacons again at this moment and proceeds only when verify is clear for
  the whole window: refused with exit 1 when an old key is in use (naming the instances) or the window has
  not elapsed since the flip, exit 4 when the evidence cannot prove it (evidence-incomplete: what is missing,
  what to do). --force skips the check; the reason is recorded on the secret. Never disables the live key;
  never destroys a version. Without --provider, revoke the key at the provider yourself.
  With --provider and an admin key: the provider's usage of each old key over the window is evidence too
  (any use: exit 1; its data not yet complete for the window, its lag: exit 4, "verify again after T"), and
  after the disables each old key is revoked at the provider (OpenAI: deleted, with the service account keyflip
  minted it in; Anthropic: made inactive, --archive archives it for good); recorded, and a rerun finishes a
  provider revoke that stopped. --keep-provider-key disables in Secret Manager only.`,
  emergency: `keyflip rotate emergency SECRET [--provider P [--base-url URL]] [--refresh 5m] [--value-file F] \
[--since 24h] [--keep-provider-key] [provider options] [common options]   < new-key.txt
  A leaked key: adds the new key and makes it live, then disables every other key, at once. Refuses while
  a key is staged. With --provider the new key is probed first (a dead one changes nothing). Prints what
  picks the new key up when (--refresh: the apps' refreshMs, default 5m) and, with a backend, who held the
  old key. Run it again with the same key after it stopped part-way.
  With --provider openai|anthropic and an admin key: revokes the leaked key(s) at the provider at once (no
  window; --keep-provider-key: not there), and prints the leak report: each leaked key's requests and tokens
  per hour at the provider over the exposure window (--since, default 24h) and every instance that held it
  by the beacons (with --collector or --prometheus).`,
  discard: `keyflip rotate discard SECRET [--provider P] [provider options] [common options]
  Abandons the staged key (a dead probe, a wrong key), or a provision/emergency that stopped part-way: its
  version is disabled (never destroyed) and recorded as discarded, so provision can stage another.
  A mint left unstored by a crash (rotate status says "a key minted at T was not stored"): with --provider and
  an admin key, every key at the provider with the mint's name is revoked and the mark cleared.`,
  rollback: `keyflip rotate rollback SECRET [--reason "why"] [common options]
  After a flip, before the old key was revoked: puts the key live before it back as current, for a new key
  that misbehaves in production despite its probe. pair layout: adds the previous key (NAME_v1's latest) as a
  new version of NAME_v2, then disables NAME_v2's version holding the rolled-back key; alias layout: moves
  current back to the previous version (previous to the one before, if any); legacy suffix layout: disables
  the newest NAME_vN, so apps fall back to the one below. Processes return to the previous key on their next
  refresh. Recorded on the key rolled back (fingerprint, time, --reason). Refused (exit 1) when there is no
  flip to roll back (nothing-to-roll-back), when the previous key was revoked (old-key-revoked), or while a
  sequence stopped part-way (pending). Run it again after it stopped part-way (exit 3) to finish it.`,
  migrate: `keyflip rotate migrate SECRET [common options (no --layout)]
  Moves a legacy suffix ring (NAME_v1, NAME_v2, NAME_v3 … labelled keyflip-layout=suffix) to the pair layout,
  where apps declare NAME_v2 ?? NAME_v1 for good: adds the previous live key as a new version of NAME_v1 and
  the live key as a new version of NAME_v2 (each only when that secret's latest holds another key), then
  labels the ring keyflip-layout=pair. Never disables anything: an app on NAME_v3 ?? NAME_v2 ?? NAME_v1 keeps
  its key, an app on NAME_v2 ?? NAME_v1 moves to the live key; at no moment does either have none. Refused
  (exit 1) while a rotation is in flight (a key staged, or a sequence stopped part-way). Change the apps that
  declare NAME_v3 or higher to NAME_v2 ?? NAME_v1 before the next rotation's revoke.`,
  auto: `keyflip rotate auto SECRET --provider openai|anthropic --window 60m (--collector URL | --prometheus URL)
    [--max-age 90d] [--base-url URL] [--value-file F | --key-name N] [--environment E]
    [--keep-provider-key | --archive] [provider options] [common options]
  The scheduled rotation, for cron or a CI schedule (every 15 minutes). Each run advances at most one step and
  is safe to run again at any moment:
    the live key is younger than --max-age (default 90d; its age at the provider)  → nothing to do;
    older → mint a new key (OpenAI; Anthropic cannot mint by API: give the key made in the console with
      --value-file F, else auto stops and says so), stage it, probe it (--base-url: the probe's API), flip;
    then, run after run, wait until the gate is clear for the whole --window (the beacons and the provider's
      usage data, past its lag);
    then revoke the old key: disabled in Secret Manager, revoked at the provider (--archive: Anthropic;
      --keep-provider-key: not at the provider).
  The admin key: KEYFLIP_PROVIDER_ADMIN_KEY or --admin-key-file; a minted key's value is never printed.
  --key-name N names the minted key at the provider (default keyflip-SECRET-<yyyymmddThhmmss>).
  Exit codes: 0 done, nothing to do, or waiting for time to pass (the output starts WAITING and says for
  what: the window since the flip, the provider's data to cover it, a mint that may still be running);
  1 refused or failed, a person must act (a dead new key, Anthropic without --value-file, an old key still in
  use a whole window after the flip, a sequence auto does not finish: the output says why); 2 bad usage or
  input, or Secret Manager, the beacons or the provider could not answer (or refused the admin key): the next
  run tries again; 3 stopped part-way between two writes: the next run continues; 4 the gate cannot prove the
  old key unused and waiting will not fix it (its id at the provider is unknown, or the evidence is still
  missing a whole window after the gate could first have passed: the output says what to do).`,
};

/** Every option of `keyflip rotate`; each command takes the common ones and its own ({@link COMMAND_OPTIONS}). */
const OPTIONS = {
  project: 'string',
  location: 'string',
  layout: 'string',
  'beacon-name': 'string',
  'fingerprint-key-file': 'string',
  json: 'boolean',
  'dry-run': 'boolean',
  'value-file': 'string',
  environment: 'string',
  provider: 'string',
  'base-url': 'string',
  'skip-probe': 'boolean',
  window: 'string',
  collector: 'string',
  prometheus: 'string',
  force: 'boolean',
  reason: 'string',
  refresh: 'string',
  mint: 'boolean',
  'key-name': 'string',
  'keep-provider-key': 'boolean',
  archive: 'boolean',
  since: 'string',
  'max-age': 'string',
  ...PROVIDER_OPTIONS,
} as const;
type RotateOption = keyof typeof OPTIONS;
type RotateValues = OptionValues<typeof OPTIONS>;

const COMMON_OPTIONS: readonly RotateOption[] = [
  'project',
  'location',
  'layout',
  'beacon-name',
  'fingerprint-key-file',
  'json',
  'dry-run',
];

/** The management API's options (`--provider` aside): the admin key file, the project, … */
const ADMIN: readonly RotateOption[] = [
  'admin-key-file',
  'provider-project',
  'provider-workspace',
  'provider-base-url',
  'provider-lag',
];

/** Which options each command takes, besides the common ones. */
const COMMAND_OPTIONS: Readonly<Record<RotateCommand, readonly RotateOption[]>> = {
  status: ['collector', 'prometheus', 'window'],
  provision: ['value-file', 'environment', 'provider', 'mint', 'key-name', ...ADMIN],
  probe: ['value-file', 'provider', 'base-url'],
  flip: ['skip-probe'],
  verify: ['window', 'collector', 'prometheus', 'provider', ...ADMIN, 'provider-lag'],
  revoke: [
    'window',
    'collector',
    'prometheus',
    'force',
    'reason',
    'provider',
    ...ADMIN,
    'keep-provider-key',
    'archive',
  ],
  emergency: [
    'value-file',
    'provider',
    'base-url',
    'refresh',
    'collector',
    'prometheus',
    ...ADMIN,
    'since',
    'keep-provider-key',
  ],
  discard: ['provider', ...ADMIN],
  rollback: ['reason'],
  migrate: [],
  auto: [
    'provider',
    'base-url',
    'value-file',
    'environment',
    'window',
    'max-age',
    'collector',
    'prometheus',
    'key-name',
    ...ADMIN,
    'keep-provider-key',
    'archive',
  ],
};

/** How each command uses the provider's management API (see {@link providerRequest}); absent: not at all. */
const MANAGEMENT: Partial<Record<RotateCommand, 'required' | 'with-provider' | 'optional'>> = {
  provision: 'with-provider',
  verify: 'with-provider',
  revoke: 'with-provider',
  emergency: 'optional',
  discard: 'with-provider',
  auto: 'required',
};
const isCommand = (text: string): text is RotateCommand => (ROTATE_COMMANDS as readonly string[]).includes(text);

const PROVIDER_IDS = Object.keys(providers).join(', ');

/** A command's arguments, checked; everything but the Secret Manager connection and the layout. */
interface RotateRequest {
  values: RotateValues;
  projectId: string;
  layout: Layout | undefined;
  windowMs: number | undefined;
  refreshMs: number | undefined;
  /** emergency: `--since`, how far back the exposure window starts, ms. */
  sinceAgoMs: number | undefined;
  /** auto: `--max-age`, ms. */
  maxAgeMs: number;
  /** The provider's management API, when the command uses it. */
  provider: ProviderRequest | undefined;
  context: Omit<RotationContext, 'admin' | 'layout'>;
}

/** auto's policy when `--max-age` is not given: 90 days (as `keyflip audit`). */
const DEFAULT_MAX_AGE_MS = 90 * 86_400_000;

/** Runs `keyflip rotate …`; returns the exit code. */
export async function rotateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === '--help' || command === '-h') {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (!isCommand(command)) {
    io.stderr.write(`keyflip rotate: unknown command (not shown); one of ${ROTATE_COMMANDS.join(', ')}\n`);
    return 2;
  }
  const env = io.env ?? process.env;
  let request: RotateRequest | 'help';
  try {
    request = await rotateRequest(command, rest, env);
  } catch (error) {
    if (!(error instanceof UsageError || error instanceof ConfigurationError)) throw error;
    return usageFailure(io, `rotate ${command}`, error.message);
  }
  if (request === 'help') {
    io.stdout.write(`${COMMAND_HELP[command]}\n${COMMON}\n${MANAGEMENT[command] ? `\n${PROVIDER_HELP}\n` : ''}`);
    return 0;
  }
  const { values, context, windowMs, refreshMs } = request;
  const json = values.json === true;
  let admin: SecretAdmin | undefined;
  try {
    // The value first: a bad one should not cost a Secret Manager connection (nor the admin key's file a read).
    const value = await commandValue(command, values, io);
    const provider: ProviderAdmin | undefined = request.provider
      ? await openManagedProvider(request.provider, env)
      : undefined;
    admin = await openSecretAdmin({ projectId: request.projectId, location: values.location, env });
    const ctx: RotationContext = {
      ...context,
      admin,
      layout: await chooseLayout(admin, context.name, request.layout),
      provider,
    };
    const probeProvider = (command === 'auto' ? request.provider?.provider : values.provider) as ProviderId | undefined;
    const probeOptions = probeProvider ? { provider: probeProvider, baseUrl: values['base-url'] } : undefined;
    // Built apart from the calls: options the library is still growing are passed without a literal's check.
    const providerRevoke = {
      keepProviderKey: values['keep-provider-key'] === true ? true : undefined,
      archive: values.archive === true ? true : undefined,
    };
    let outcome: RotationResult;
    switch (command) {
      case 'status':
        outcome = await status(ctx, { windowMs });
        break;
      case 'provision':
        outcome =
          values.mint === true
            ? await provisionMinted(ctx, { environment: values.environment, keyName: values['key-name'] })
            : await provision(ctx, value as string, { environment: values.environment });
        break;
      case 'probe':
        outcome = await probe(ctx, value, probeOptions as NonNullable<typeof probeOptions>);
        break;
      case 'flip':
        outcome = await flip(ctx, { skipProbe: values['skip-probe'] === true });
        break;
      case 'verify':
        outcome = await verify(ctx, { windowMs: windowMs as number });
        break;
      case 'revoke': {
        const options = {
          windowMs: windowMs ?? 3_600_000,
          force: values.force === true ? { reason: values.reason as string } : undefined,
          ...providerRevoke,
        };
        outcome = await revoke(ctx, options);
        break;
      }
      case 'emergency': {
        const sinceMs = request.sinceAgoMs === undefined ? undefined : Date.now() - request.sinceAgoMs;
        const options = { probe: probeOptions, refreshMs, sinceMs, keepProviderKey: providerRevoke.keepProviderKey };
        outcome = await emergency(ctx, value as string, options);
        break;
      }
      case 'discard':
        outcome = await discard(ctx);
        break;
      case 'rollback':
        outcome = await rollback(ctx, { reason: values.reason });
        break;
      case 'migrate':
        outcome = await migrate(ctx);
        break;
      case 'auto':
        outcome = await auto(ctx, {
          maxAgeMs: request.maxAgeMs,
          windowMs: windowMs as number,
          probe: probeOptions as NonNullable<typeof probeOptions>,
          value,
          keyName: values['key-name'],
          environment: values.environment,
          ...providerRevoke,
        });
        break;
    }
    io.stdout.write(json ? `${JSON.stringify(outcome)}\n` : renderRotation(outcome, ctx));
    return exitCodeOf(outcome);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (json) {
      const code = error instanceof KeyflipError ? error.code : 'INVALID_INPUT';
      const failure = { command, secret: context.name, ok: false, error: { code, message } };
      io.stdout.write(`${JSON.stringify(failure)}\n`);
    }
    io.stderr.write(`keyflip rotate ${command}: ${clean(message)}\n`);
    return error instanceof RotationError && error.code === 'INTERRUPTED' ? 3 : 2;
  } finally {
    await admin?.close();
  }
}

/** A result's exit code: 0 ok (auto: waiting too), 4 cannot prove, 1 any other refusal or failed check. */
function exitCodeOf(outcome: RotationResult): number {
  if (outcome.ok) return 0;
  return outcome.refusal === 'evidence-incomplete' ? 4 : 1;
}

/**
 * The key a command reads: provision (not --mint) and emergency, stdin or `--value-file`; probe, the same; auto,
 * `--value-file` only (a scheduled job has nothing on stdin), else none.
 */
async function commandValue(command: RotateCommand, values: RotateValues, io: CliIo): Promise<string | undefined> {
  if (command === 'auto')
    return values['value-file'] === undefined ? undefined : readOptionFile('--value-file', values['value-file']);
  if (command === 'provision' && values.mint === true) return undefined;
  if (command === 'probe' && values['value-file'] === undefined) {
    // Nothing piped: keyflip reads the staged key itself (pair and suffix layouts: NAME_next; a minted key).
    if ((io.stdin as { isTTY?: boolean }).isTTY) return undefined;
    const piped = await readAll(io.stdin);
    return piped.trim() === '' ? undefined : piped;
  }
  if (command === 'provision' || command === 'probe' || command === 'emergency')
    return readValue(io, values['value-file']);
  return undefined;
}

/** Parses and checks a command's arguments; builds its usage source and reads its fingerprint key file. */
async function rotateRequest(
  command: RotateCommand,
  args: readonly string[],
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): Promise<RotateRequest | 'help'> {
  refuseAdminKeyArg(args);
  const { help, values, positionals } = parseCommandLine(args, OPTIONS, { max: 1 });
  if (help) return 'help';
  const allowed = new Set([...COMMON_OPTIONS, ...COMMAND_OPTIONS[command]]);
  for (const option of Object.keys(values) as RotateOption[])
    if (!allowed.has(option)) throw new UsageError(`rotate ${command} does not take --${option}`);
  const [name] = positionals;
  if (name === undefined) throw new UsageError('SECRET is required: the name being rotated (OPENAI_API_KEY)');
  refuseKey(name, 'SECRET');
  const projectId = projectOf(values.project, env);
  const layout = values.layout;
  if (layout !== undefined && !(LAYOUTS as readonly string[]).includes(layout))
    throw new UsageError(`--layout is ${LAYOUTS.join(', ')}`);
  const windowMs = values.window === undefined ? undefined : durationArg('--window', values.window);
  if ((command === 'verify' || command === 'auto' || (command === 'revoke' && values.force !== true)) && !windowMs)
    throw new UsageError(`rotate ${command} needs --window (60m: how long no process may have used the old key)`);
  if (command === 'auto' && values.collector === undefined && values.prometheus === undefined)
    throw new UsageError(
      'rotate auto needs --collector URL or --prometheus URL: it revokes an old key only once the beacons show ' +
        'no process uses it, so without them it would start a rotation it could never finish',
    );
  const refreshMs = values.refresh === undefined ? undefined : durationArg('--refresh', values.refresh);
  if (command === 'migrate' && values.layout !== undefined)
    throw new UsageError('rotate migrate moves a suffix ring to the pair layout: it takes no --layout');
  if (command !== 'rollback' && (values.force === true) !== (values.reason !== undefined))
    throw new UsageError('--force and --reason "why" go together');
  if (values['base-url'] !== undefined && values.provider === undefined)
    throw new UsageError('--base-url needs --provider');
  if (command === 'probe' && values.provider === undefined)
    throw new UsageError(`rotate probe needs --provider (${PROVIDER_IDS})`);
  if (values.provider !== undefined && !Object.hasOwn(providers, values.provider))
    throw new UsageError(`--provider is one of ${PROVIDER_IDS}`);
  const use = MANAGEMENT[command];
  const provider =
    use === undefined ? undefined : providerRequest(values, env, mint(command, values) ? 'required' : use);
  checkProviderOptions(command, values, provider);
  return {
    values,
    projectId,
    layout: layout as Layout | undefined,
    windowMs,
    refreshMs,
    sinceAgoMs: values.since === undefined ? undefined : durationArg('--since', values.since),
    maxAgeMs: values['max-age'] === undefined ? DEFAULT_MAX_AGE_MS : durationArg('--max-age', values['max-age']),
    provider,
    context: {
      name,
      beaconName: values['beacon-name'],
      usage: usageSource(values, env),
      fingerprintKey: await fingerprintKey(values['fingerprint-key-file']),
      dryRun: values['dry-run'] === true,
    },
  };
}

const mint = (command: RotateCommand, values: RotateValues): boolean => command === 'provision' && values.mint === true;

/** The options that only make sense with the provider's management API, or with each other. */
function checkProviderOptions(
  command: RotateCommand,
  values: RotateValues,
  provider: ProviderRequest | undefined,
): void {
  const needsAdmin = (option: string): UsageError =>
    new UsageError(
      `${option} needs the provider's management API: --provider openai|anthropic and an admin key ` +
        '(KEYFLIP_PROVIDER_ADMIN_KEY or --admin-key-file)',
    );
  if (values['key-name'] !== undefined) {
    if (!mint(command, values) && command !== 'auto')
      throw new UsageError('--key-name names a minted key: it needs --mint');
    refuseKey(values['key-name'], '--key-name');
  }
  if (mint(command, values) && values['value-file'] !== undefined)
    throw new UsageError('--mint and --value-file do not go together: the provider mints the key');
  if (mint(command, values) && provider?.provider === 'anthropic')
    throw new UsageError(
      'anthropic cannot mint keys by API: make the key in the console and stage it from a file (--value-file F)',
    );
  if (values['keep-provider-key'] === true && values.archive === true)
    throw new UsageError('--keep-provider-key and --archive do not go together');
  for (const option of ['keep-provider-key', 'archive', 'since', 'provider-lag'] as const)
    if (values[option] !== undefined && provider === undefined) throw needsAdmin(`--${option}`);
  if (values.archive === true && provider?.provider !== 'anthropic')
    throw new UsageError('--archive is for anthropic (openai deletes the key: there is nothing to archive)');
}

/** The beacons' backend, if one is given. */
function usageSource(
  values: RotateValues,
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): UsageSource | undefined {
  const { collector, prometheus } = values;
  if (collector !== undefined && prometheus !== undefined)
    throw new UsageError('give one backend: --collector URL or --prometheus URL');
  if (collector !== undefined)
    return collectorUsageSource({ url: httpUrlArg('--collector', collector), token: collectorToken(env) });
  if (prometheus !== undefined) return prometheusSource(httpUrlArg('--prometheus', prometheus));
  return undefined;
}

/** The apps' fingerprintKey, from `--fingerprint-key-file`. */
async function fingerprintKey(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  const key = (await readOptionFile('--fingerprint-key-file', file)).trim();
  if (key === '') throw new UsageError('--fingerprint-key-file: the file is empty');
  return key;
}
