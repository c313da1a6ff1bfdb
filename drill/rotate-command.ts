/**
 * The operator's side of the drill: each `keyflip rotate COMMAND OPENAI_API_KEY … --json` runs as its own
 * process, as an operator would run it, against the emulator and the collector. Its `--json` result is what
 * the drill reads (the keys' states and records, the offenders it named).
 */
import { spawn } from 'node:child_process';
import { PROJECT, ROOT, SECRET } from './constants.js';
import type { DrillContext, KeyName } from './context.js';
import type { DrillServices } from './services.js';
import { cliArgs } from './settings.js';
import { seconds } from './stats.js';

/** One `keyflip rotate` run. */
export interface CommandRun {
  /** The drill's step it belongs to (`set-up`, `rotation`, `verify (stale worker running)`, …). */
  readonly step: string;
  readonly command: string;
  readonly exitCode: number | null;
  readonly startedAt: number;
  readonly endedAt: number;
  /** The command's --json result, as it printed it. */
  // biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON, read field by field where the drill needs one
  readonly json: Record<string, any> | undefined;
}

/** A command that has not ended after this long is killed. */
const COMMAND_TIMEOUT_MS = 90_000;

/**
 * Runs `keyflip rotate COMMAND SECRET ARGS --project P --layout L --json`, with `stdin` (a key) on its
 * standard input, and records it in `runs`. Rejects on abort (the command is killed).
 */
export async function runRotate(
  drill: DrillContext,
  services: DrillServices,
  runs: CommandRun[],
  step: string,
  command: string,
  args: readonly string[],
  stdin?: string,
): Promise<CommandRun> {
  const { signal } = drill;
  signal?.throwIfAborted();
  const env = {
    ...drill.baseEnv,
    SECRET_MANAGER_EMULATOR_HOST: services.emulator.host,
    KEYFLIP_COLLECTOR_TOKEN: drill.token,
  };
  const argv = [
    ...cliArgs(drill.settings),
    'rotate',
    command,
    SECRET,
    ...args,
    '--project',
    PROJECT,
    '--layout',
    drill.settings.layout,
    '--json',
  ];
  const startedAt = Date.now();
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  if (child.pid !== undefined) drill.pids.push(child.pid);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin ?? '');
  const killer = setTimeout(() => child.kill('SIGKILL'), COMMAND_TIMEOUT_MS);
  const onAbort = (): void => void child.kill('SIGKILL');
  signal?.addEventListener('abort', onAbort, { once: true });
  const exitCode = await new Promise<number | null>((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', (code) => resolve(code));
  });
  clearTimeout(killer);
  signal?.removeEventListener('abort', onAbort);
  const endedAt = Date.now();
  drill.print(stdout, stderr);
  const json = lastJsonLine(stdout);
  signal?.throwIfAborted();
  const run: CommandRun = { step, command, exitCode, startedAt, endedAt, json };
  runs.push(run);
  drill.note(
    `rotate ${command} → exit ${exitCode} ${outcomeOf(json)} in ${seconds(endedAt - startedAt)}${said(json, stderr)}`,
    endedAt,
  );
  return run;
}

// biome-ignore lint/suspicious/noExplicitAny: see CommandRun.json
function lastJsonLine(stdout: string): Record<string, any> | undefined {
  try {
    // biome-ignore lint/suspicious/noExplicitAny: see CommandRun.json
    return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, any>;
  } catch {
    return undefined;
  }
}

/** `done`, `failed (not-verified)`, an error code, or `no JSON`. */
function outcomeOf(json: CommandRun['json']): string {
  if (!json) return 'no JSON';
  return `${json.outcome ?? json.error?.code ?? '?'}${json.refusal ? ` (${json.refusal})` : ''}`;
}

/** `: ` and the start of the command's message (or of its stderr), for the timeline. */
function said(json: CommandRun['json'], stderr: string): string {
  if (json?.message) return `: ${String(json.message).slice(0, 160)}`;
  return stderr ? `: ${stderr.trim().slice(0, 160)}` : '';
}

/** A key as a command's `--json` lists it: one Secret Manager version. */
interface KeyEntry {
  readonly label: string;
  readonly state: string;
  readonly fingerprint?: string;
  readonly records?: Record<string, { at?: string } | undefined>;
}

/**
 * The versions holding `key` in the command's `keys` list, by fingerprint: in the pair layout one key is in
 * several versions (`NAME_v2@3`, then copied to `NAME_v1@2` by the next flip), so labels do not name keys.
 */
function entriesOf(drill: DrillContext, run: CommandRun, key: KeyName): KeyEntry[] {
  const keys = (run.json?.keys ?? []) as KeyEntry[];
  return keys.filter((k) => k.fingerprint === drill.fp[key]);
}

/**
 * The state of `key` after the command, as it reported it: `ENABLED` when a version holding it is enabled, else
 * the state its versions share (`DISABLED`); undefined when it listed none.
 */
export function keyState(drill: DrillContext, run: CommandRun, key: KeyName): string | undefined {
  const states = entriesOf(drill, run, key).map((k) => k.state);
  if (states.includes('ENABLED')) return 'ENABLED';
  return states.length > 0 && states.every((s) => s === states[0]) ? states[0] : states.join('/') || undefined;
}

/** The versions holding `key` after the command (`OPENAI_API_KEY_v2@3 ENABLED, …`), for a check's detail. */
export function keyVersions(drill: DrillContext, run: CommandRun, key: KeyName): string {
  return (
    entriesOf(drill, run, key)
      .map((k) => `${k.label} ${k.state}`)
      .join(', ') || 'none listed'
  );
}

/** When `key` was recorded as `step` (flipped) by the command's records (the latest record, when several). */
export function recordAt(drill: DrillContext, run: CommandRun, key: KeyName, step: 'flipped'): number | undefined {
  const times = entriesOf(drill, run, key)
    .map((k) => k.records?.[step]?.at)
    .filter((at): at is string => typeof at === 'string')
    .map((at) => Date.parse(at));
  return times.length === 0 ? undefined : Math.max(...times);
}

/** The instances a verify (or a revoke's verification) named as still holding the retired key. */
export function offendersOf(run: CommandRun): { service: string; pid: number; id: string }[] {
  const verifications = (run.json?.verifications ?? []) as {
    result: { offenders: { service: string; pid: number; id: string }[] };
  }[];
  return verifications.flatMap((v) => v.result.offenders.map((x) => ({ service: x.service, pid: x.pid, id: x.id })));
}

/** When a verify's usage source answered (ms since the epoch): its first verification's `at`. */
export function answeredAt(run: CommandRun): number | undefined {
  const at = (run.json?.verifications as { result?: { at?: unknown } }[] | undefined)?.[0]?.result?.at;
  return typeof at === 'number' ? at : undefined;
}

/** The `missing` codes of a verify's verifications (what the evidence lacked), each once. */
export function missingOf(run: CommandRun): string[] {
  const verifications = (run.json?.verifications ?? []) as { result?: { missing?: { code: string }[] } }[];
  return [...new Set(verifications.flatMap((v) => (v.result?.missing ?? []).map((m) => m.code)))];
}
