/**
 * `keyflip rotate <command> SECRET`: the rotation playbook as commands. Parsing and output only; every
 * decision is made in src/rotation.
 */
import { providers, type ProviderId } from '../clients/presets.js';
import type { UsageSource } from '../collector/types.js';
import { collectorUsageSource } from '../collector/verify.js';
import { formatAge, formatDuration } from '../duration.js';
import { openSecretAdmin, type SecretAdmin } from '../rotation/admin.js';
import { discard } from '../rotation/discard.js';
import { emergency } from '../rotation/emergency.js';
import { RotationError } from '../rotation/errors.js';
import { flip } from '../rotation/flip.js';
import { probe } from '../rotation/probe.js';
import { provision } from '../rotation/provision.js';
import { revoke } from '../rotation/revoke.js';
import { LAYOUTS, recordedLayout, type Layout } from '../rotation/ring.js';
import { status } from '../rotation/status.js';
import {
  ROTATE_COMMANDS,
  type KeyView,
  type RotateCommand,
  type RotationContext,
  type RotationResult,
} from '../rotation/types.js';
import { verify } from '../rotation/verify.js';
import { clean, columns, durationArg, parseArgs, projectOf, readValue, UsageError, type OptionSpec } from './args.js';
import type { CliIo } from './main.js';

const COMMON = `Common options:
  --project P             the Google Cloud project (default: KEYFLIP_PROJECT, then GOOGLE_CLOUD_PROJECT)
  --location L            a region, for regional secrets (default: global secrets)
  --layout suffix|alias   suffix: NAME_v1, NAME_v2 … (apps declare NAME_v2 ?? NAME_v1); alias: NAME@current,
                          NAME@previous. Default: the layout recorded on the secrets, else suffix
  --beacon-name NAME      the name the apps' beacons report (their resolver.secret() name; default SECRET)
  --fingerprint-key-file F  the apps' fingerprintKey, if they set one
  --json                  print the result as one JSON object (same exit codes)
  --dry-run               print the writes the command would make, and make none
SECRET_MANAGER_EMULATOR_HOST=host:port sends every call to an emulator. KEYFLIP_COLLECTOR_TOKEN is the
collector's token. Keys are read from stdin or --value-file, never from argv, and never printed.
Exit codes: 0 done (or already done, or planned by --dry-run); 1 refused by a safety gate, or the check
failed (a dead key, a key still in use); 2 bad usage, bad input, or Secret Manager / the beacons could not
answer; 3 stopped part-way between two writes: rotate status explains, the same command again continues.`;

const HELP = `keyflip rotate <command> SECRET [options] — the rotation playbook, with safety gates

Commands, in playbook order:
  status     SECRET [--collector URL | --prometheus URL] [--window 60m]
             every key with its role, state, fingerprint and recorded steps; what the beacons say; the next step
  provision  SECRET [--environment E] [--value-file F]          < new-key.txt
             stage the new key beside the live one, disabled (no process can read it). Refuses if one is staged
  probe      SECRET --provider P [--base-url URL] [--value-file F] < new-key.txt
             ask the provider whether the staged key works (give the staged key again: a disabled version
             is served to no one). A dead key stops here
  flip       SECRET [--skip-probe]
             make the staged key live. Refuses unless it was probed alive
  verify     SECRET --window 60m (--collector URL | --prometheus URL)
             no process used the old key(s) for the whole window since the flip
  revoke     SECRET --window 60m (--collector URL | --prometheus URL)  |  --force --reason "why"
             disable the old key(s). Checks again now and refuses unless verify passes; --force is recorded
  emergency  SECRET [--provider P [--base-url URL]] [--refresh 5m] < new-key.txt
             stage, make live and disable every other key at once; says what picks the new key up when
  discard    SECRET
             abandon the staged key (or a provision/emergency that stopped part-way); it is disabled, never deleted

Run keyflip rotate <command> --help for one command.
${COMMON}
`;

const COMMAND_HELP: Record<RotateCommand, string> = {
  status: `keyflip rotate status SECRET [--collector URL | --prometheus URL] [--window 60m] [common options]
  Every key of SECRET (role, state, fingerprint, the steps recorded on it), the instances the beacons saw on
  each key in the window (with a backend), anything left part-way, and the next step. Makes no write.`,
  provision: `keyflip rotate provision SECRET [--environment E] [--value-file F] [common options]   < new-key.txt
  Stages the new key beside the live one: suffix layout, SECRET_v{n+1} with its version disabled; alias
  layout, a new disabled version of SECRET that no alias names. No process can read it until flip.
  Refuses when a key is already staged (probe and flip it, or discard it) or when the key is already in the
  ring. --environment E labels the secrets keyflip-environment=E for audit --environment.`,
  probe: `keyflip rotate probe SECRET --provider P [--base-url URL] [--value-file F] [common options]   < new-key.txt
  Asks the provider (${Object.keys(providers).join(', ')}) whether the staged key works with its cheapest
  authenticated request, and records the answer. Give the staged key again on stdin: a staged version is
  disabled, and Secret Manager serves a disabled version to no one (its fingerprint is checked against the
  one recorded at provision). Exit 1 when the provider refuses the key: flip will refuse it too.`,
  flip: `keyflip rotate flip SECRET [--skip-probe] [common options]
  Makes the staged key live: suffix layout, enables SECRET_vN; alias layout, enables the version and moves
  current to it (previous to the key that was live) in one write. Refuses unless the staged key was probed
  alive; --skip-probe flips anyway and records that it did. Running it again changes nothing.`,
  verify: `keyflip rotate verify SECRET --window 60m (--collector URL | --prometheus URL) [common options]
  For every old key (enabled, not live): its fingerprint, then keyflip verify over the window. Passes only
  when the live key has been live for the whole window, beacons were seen, and no instance reported an old
  key; otherwise names the instances still on one. Exit 1 when not yet.`,
  revoke: `keyflip rotate revoke SECRET --window 60m (--collector URL | --prometheus URL) [common options]
  keyflip rotate revoke SECRET --force --reason "why" [common options]
  Disables every old key. Checks the beacons again at this moment and refuses (exit 1, naming the
  instances) unless verify passes for the whole window. --force skips the check; the reason is recorded on
  the secret. Never disables the live key; never destroys a version. Revoke the key at the provider too.`,
  emergency: `keyflip rotate emergency SECRET [--provider P [--base-url URL]] [--refresh 5m] [--value-file F] [common options]   < new-key.txt
  A leaked key: adds the new key and makes it live, then disables every other key, at once. Refuses while
  a key is staged. With --provider the new key is probed first (a dead one changes nothing). Prints what
  picks the new key up when (--refresh: the apps' refreshMs, default 5m) and, with a backend, who held the
  old key. Run it again with the same key after it stopped part-way.`,
  discard: `keyflip rotate discard SECRET [common options]
  Abandons the staged key (a dead probe, a wrong key), or a provision/emergency that stopped part-way: its
  version is disabled (never destroyed) and recorded as discarded, so provision can stage another.`,
};

const SPEC: OptionSpec = {
  '--project': 'value',
  '--location': 'value',
  '--layout': 'value',
  '--beacon-name': 'value',
  '--fingerprint-key-file': 'value',
  '--json': 'flag',
  '--dry-run': 'flag',
  '--value-file': 'value',
  '--environment': 'value',
  '--provider': 'value',
  '--base-url': 'value',
  '--skip-probe': 'flag',
  '--window': 'value',
  '--collector': 'value',
  '--prometheus': 'value',
  '--force': 'flag',
  '--reason': 'value',
  '--refresh': 'value',
};

/** Which options each command takes, besides the common ones. */
const ALLOWED: Record<RotateCommand, readonly string[]> = {
  status: ['--collector', '--prometheus', '--window'],
  provision: ['--value-file', '--environment'],
  probe: ['--value-file', '--provider', '--base-url'],
  flip: ['--skip-probe'],
  verify: ['--window', '--collector', '--prometheus'],
  revoke: ['--window', '--collector', '--prometheus', '--force', '--reason'],
  emergency: ['--value-file', '--provider', '--base-url', '--refresh', '--collector', '--prometheus'],
  discard: [],
};
const COMMON_OPTIONS = [
  '--project',
  '--location',
  '--layout',
  '--beacon-name',
  '--fingerprint-key-file',
  '--json',
  '--dry-run',
];

/** Runs `keyflip rotate …`; returns the exit code. */
export async function rotateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === undefined || command === '--help' || command === '-h') {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (!(ROTATE_COMMANDS as readonly string[]).includes(command)) {
    io.stderr.write(`keyflip rotate: unknown command (not shown); one of ${ROTATE_COMMANDS.join(', ')}\n`);
    return 2;
  }
  const cmd = command as RotateCommand;
  const env = io.env ?? process.env;
  let parsed;
  let ctxBase: Omit<RotationContext, 'admin' | 'layout'>;
  let layoutFlag: Layout | undefined;
  let projectId: string;
  let windowMs: number | undefined;
  let refreshMs: number | undefined;
  try {
    parsed = parseArgs(rest, SPEC, 1);
    if (parsed.help) {
      io.stdout.write(`${COMMAND_HELP[cmd]}\n${COMMON}\n`);
      return 0;
    }
    const allowed = new Set([...COMMON_OPTIONS, ...ALLOWED[cmd]]);
    for (const name of [...parsed.values.keys(), ...parsed.flags])
      if (!allowed.has(name)) throw new UsageError(`rotate ${cmd} does not take ${name}`);
    const name = parsed.positionals[0];
    if (name === undefined) throw new UsageError('SECRET is required: the name being rotated (OPENAI_API_KEY)');
    projectId = projectOf(parsed.values, env);
    const layout = parsed.values.get('--layout');
    if (layout !== undefined && !(LAYOUTS as readonly string[]).includes(layout))
      throw new UsageError('--layout is suffix or alias');
    layoutFlag = layout as Layout | undefined;
    const window = parsed.values.get('--window');
    if (window !== undefined) windowMs = durationArg('--window', window);
    if ((cmd === 'verify' || (cmd === 'revoke' && !parsed.flags.has('--force'))) && windowMs === undefined)
      throw new UsageError(`rotate ${cmd} needs --window (60m: how long no process may have used the old key)`);
    const refresh = parsed.values.get('--refresh');
    if (refresh !== undefined) refreshMs = durationArg('--refresh', refresh);
    if (parsed.flags.has('--force') !== parsed.values.has('--reason'))
      throw new UsageError('--force and --reason "why" go together');
    if (parsed.values.has('--base-url') && !parsed.values.has('--provider'))
      throw new UsageError('--base-url needs --provider');
    if (cmd === 'probe' && !parsed.values.has('--provider'))
      throw new UsageError(`rotate probe needs --provider (${Object.keys(providers).join(', ')})`);
    const provider = parsed.values.get('--provider');
    if (provider !== undefined && !(provider in providers))
      throw new UsageError(`--provider is one of ${Object.keys(providers).join(', ')}`);
    const collector = parsed.values.get('--collector');
    const prometheus = parsed.values.get('--prometheus');
    if (collector !== undefined && prometheus !== undefined)
      throw new UsageError('give one backend: --collector URL or --prometheus URL');
    let usage: UsageSource | undefined;
    if (collector !== undefined) {
      const token = env.KEYFLIP_COLLECTOR_TOKEN?.trim();
      usage = collectorUsageSource({ url: collector, token: token === '' ? undefined : token });
    } else if (prometheus !== undefined) {
      const { prometheusUsageSource } = await import('../collector/prometheus.js');
      usage = prometheusUsageSource({ url: prometheus });
    }
    let fingerprintKey: string | undefined;
    const keyFile = parsed.values.get('--fingerprint-key-file');
    if (keyFile !== undefined) {
      const { readFile } = await import('node:fs/promises');
      try {
        fingerprintKey = (await readFile(keyFile, 'utf8')).trim();
      } catch (error) {
        throw new UsageError(
          `--fingerprint-key-file: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
      if (fingerprintKey === '') throw new UsageError('--fingerprint-key-file: the file is empty');
    }
    ctxBase = {
      name,
      beaconName: parsed.values.get('--beacon-name'),
      usage,
      fingerprintKey,
      dryRun: parsed.flags.has('--dry-run'),
    };
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof RangeError)) throw error;
    io.stderr.write(`keyflip rotate ${cmd}: ${clean(error.message)}; see keyflip rotate ${cmd} --help\n`);
    return 2;
  }

  const json = parsed.flags.has('--json');
  let admin: SecretAdmin | undefined;
  try {
    // The value first: a bad one should not cost a Secret Manager connection.
    const needsValue = cmd === 'provision' || cmd === 'probe' || cmd === 'emergency';
    const value = needsValue ? await readValue(io, parsed.values.get('--value-file')) : '';
    admin = await openSecretAdmin({ projectId, location: parsed.values.get('--location'), env });
    const recorded = await recordedLayout(admin, ctxBase.name);
    if (layoutFlag !== undefined && recorded !== undefined && layoutFlag !== recorded) {
      throw new UsageError(
        `${ctxBase.name} is managed in the ${recorded} layout (its keyflip-layout label); --layout ${layoutFlag} does not match`,
      );
    }
    const ctx: RotationContext = { ...ctxBase, admin, layout: layoutFlag ?? recorded ?? 'suffix' };
    const provider = parsed.values.get('--provider') as ProviderId | undefined;
    const probeOptions = provider ? { provider, baseUrl: parsed.values.get('--base-url') } : undefined;
    let outcome: RotationResult;
    switch (cmd) {
      case 'status':
        outcome = await status(ctx, { windowMs });
        break;
      case 'provision':
        outcome = await provision(ctx, value, { environment: parsed.values.get('--environment') });
        break;
      case 'probe':
        outcome = await probe(ctx, value, probeOptions as NonNullable<typeof probeOptions>);
        break;
      case 'flip':
        outcome = await flip(ctx, { skipProbe: parsed.flags.has('--skip-probe') });
        break;
      case 'verify':
        outcome = await verify(ctx, { windowMs: windowMs as number });
        break;
      case 'revoke':
        outcome = await revoke(ctx, {
          windowMs: windowMs ?? 3_600_000,
          force: parsed.flags.has('--force') ? { reason: parsed.values.get('--reason') as string } : undefined,
        });
        break;
      case 'emergency':
        outcome = await emergency(ctx, value, { probe: probeOptions, refreshMs });
        break;
      case 'discard':
        outcome = await discard(ctx);
        break;
    }
    io.stdout.write(json ? `${JSON.stringify(outcome)}\n` : render(outcome, ctx));
    return outcome.ok ? 0 : 1;
  } catch (error) {
    const code = error instanceof RotationError && error.code === 'INTERRUPTED' ? 3 : 2;
    const message = error instanceof Error ? error.message : String(error);
    if (json)
      io.stdout.write(
        `${JSON.stringify({ command: cmd, secret: ctxBase.name, ok: false, error: { code: error instanceof RotationError ? error.code : 'INVALID_INPUT', message } })}\n`,
      );
    io.stderr.write(`keyflip rotate ${cmd}: ${clean(message)}\n`);
    return code;
  } finally {
    await admin?.close();
  }
}

/** The result for people. */
export function render(r: RotationResult, ctx: Pick<RotationContext, 'name'>): string {
  const lines: string[] = [];
  const head =
    r.outcome === 'refused'
      ? `REFUSED (${r.refusal})`
      : r.outcome === 'failed'
        ? 'NOT OK'
        : r.outcome === 'planned'
          ? 'DRY RUN'
          : r.outcome === 'already-done'
            ? 'ALREADY DONE'
            : 'OK';
  lines.push(`${head}: ${clean(r.message)}`);
  if (r.keys.length > 0) lines.push('', table(r.keys));
  if (r.probe)
    lines.push(
      '',
      `probe: ${r.probe.provider} answered ${r.probe.reason} (HTTP ${r.probe.status}${r.probe.detail ? `, ${clean(r.probe.detail)}` : ''})`,
    );
  for (const v of r.verifications ?? []) {
    lines.push(
      '',
      `verify ${v.key} (${v.fingerprint}) over ${formatDuration(v.result.windowMs)}: ${v.result.ok && v.windowElapsed ? 'unused' : v.result.ok ? 'unused so far, window not elapsed' : clean(v.result.message)}`,
    );
    for (const o of v.result.offenders.slice(0, 20)) {
      lines.push(
        `  ${clean(o.service)}${o.environment ? `/${clean(o.environment)}` : ''}  ${clean(o.host)}  pid ${o.pid}  instance ${clean(o.id)}  last seen ${formatAge(v.result.at - o.lastSeen)} ago  uses ${o.uses}`,
      );
    }
    if (v.result.offenders.length > 20) lines.push(`  … and ${v.result.offenders.length - 20} more`);
  }
  if (r.steps.length > 0) {
    lines.push('', r.outcome === 'planned' ? 'Would write:' : 'Writes:');
    for (const s of r.steps)
      lines.push(`  ${s.done ? '✓' : r.outcome === 'planned' ? '·' : '✗'} ${clean(s.description)}`);
  }
  if (r.notes.length > 0) {
    lines.push('', 'Notes:');
    for (const n of r.notes) lines.push(`  - ${clean(n)}`);
  }
  if (r.next.command !== 'none')
    lines.push(
      '',
      `Next: keyflip rotate ${r.next.command} ${ctx.name}${nextArgs(r.next.command)} — ${clean(r.next.why)}`,
    );
  return `${lines.join('\n')}\n`;
}

function nextArgs(command: string): string {
  if (command === 'provision' || command === 'emergency') return ' < new-key.txt';
  if (command === 'probe') return ' --provider <id> < new-key.txt';
  if (command === 'verify' || command === 'revoke') return ' --window 60m --collector <url>';
  return '';
}

function table(keys: readonly KeyView[]): string {
  const withInstances = keys.some((k) => k.instances !== undefined);
  const header = [
    'KEY',
    'VERSION',
    'STATE',
    'ROLE',
    'CREATED',
    'FINGERPRINT',
    ...(withInstances ? ['INSTANCES'] : []),
    'LAST STEP',
  ];
  const rows = keys.map((k) => {
    const steps = Object.entries(k.records) as [string, { at: string }][];
    const last = steps.sort((a, b) => (a[1].at < b[1].at ? 1 : a[1].at > b[1].at ? -1 : 0))[0];
    return [
      clean(k.label),
      String(k.version),
      k.state,
      k.role,
      k.createdAt.replace(/\.\d{3}Z$/, 'Z'),
      k.fingerprint ?? '-',
      ...(withInstances ? [k.instances === undefined ? '-' : String(k.instances)] : []),
      last ? `${last[0]} ${clean(last[1].at).replace(/\.\d{3}Z$/, 'Z')}` : '-',
    ];
  });
  return columns(header, rows);
}
