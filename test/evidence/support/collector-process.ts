/**
 * A real collector process: `keyflip collector --port P --json …` (test/support/cli.ts runs it), started,
 * restarted on the same port (with the same `--state` file or none), stopped by SIGTERM or killed by SIGKILL,
 * and its resident memory read from /proc. Everything on 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { type CliProcess, startCli } from '../../support/cli.js';

/** The token every collector of these tests requires (KEYFLIP_COLLECTOR_TOKEN). */
export const TOKEN = 'evidence-collector-token-5e1f0c';

export interface CollectorProcessOptions {
  /** @default 0 (any free port); a restart passes the port of the process it replaces */
  port?: number;
  /** `--state FILE`: the state the collector reloads on start and saves while it runs. */
  state?: string;
  /** `--max-instances N`. */
  maxInstances?: number;
  /** `--retention D`. @default the collector's */
  retention?: string;
  /** Other arguments, as they are. */
  args?: readonly string[];
}

export interface CollectorProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly options: CollectorProcessOptions;
  readonly cli: CliProcess;
  /** Whether the process still runs. */
  alive(): boolean;
  /** Its resident set size now (VmRSS of /proc/PID/status), bytes; 0 once it has exited. */
  rssBytes(): number;
  /** SIGTERM (the collector closes and saves its state), and the exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: nothing saved after the last periodic save. */
  kill(): Promise<void>;
}

/** Longest life of one collector process of these tests (then test/support/cli.ts kills it). */
const LIFETIME_MS = 170_000;

/** Starts `keyflip collector` and resolves once it listens (its first line, `--json`, gives the URL). */
export async function startCollector(options: CollectorProcessOptions = {}): Promise<CollectorProcess> {
  const args = ['collector', '--port', String(options.port ?? 0), '--json'];
  if (options.state !== undefined) args.push('--state', options.state);
  if (options.maxInstances !== undefined) args.push('--max-instances', String(options.maxInstances));
  if (options.retention !== undefined) args.push('--retention', options.retention);
  args.push(...(options.args ?? []));
  const cli = startCli(args, { env: { KEYFLIP_COLLECTOR_TOKEN: TOKEN }, timeoutMs: LIFETIME_MS });
  const first = JSON.parse(await cli.firstLine()) as { url: string };
  const url = first.url;
  const pid = cli.child.pid as number;
  let exited = false;
  cli.exited.then(
    () => {
      exited = true;
    },
    () => {
      exited = true;
    },
  );
  const exit = async (): Promise<number | null> => {
    try {
      return (await cli.exited).code;
    } catch {
      return null;
    }
  };
  return {
    url,
    port: Number(new URL(url).port),
    pid,
    options,
    cli,
    alive: () => !exited && cli.child.exitCode === null && cli.child.signalCode === null,
    rssBytes: () => (exited ? 0 : rssOf(pid)),
    async stop() {
      if (!exited) cli.child.kill('SIGTERM');
      return exit();
    },
    async kill() {
      if (!exited) cli.child.kill('SIGKILL');
      await exit();
    },
  };
}

/** Starts a collector on the same port as `previous` (which must have exited), with `options` over its own. */
export function restartCollector(
  previous: CollectorProcess,
  options: Partial<CollectorProcessOptions> = {},
): Promise<CollectorProcess> {
  if (previous.alive()) throw new Error('restartCollector: the previous collector still runs');
  return startCollector({ ...previous.options, ...options, port: previous.port });
}

/** VmRSS of a process, bytes (0 when it is gone). */
export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status)?.[1];
    return kib === undefined ? 0 : Number(kib) * 1024;
  } catch {
    return 0;
  }
}

/** `GET url+path` with the token; the status and the parsed JSON body (undefined when it is not JSON). */
export async function getJson(
  url: string,
  path: string,
  timeoutMs = 10_000,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${url}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/** The instance ids the collector tracks now (`GET /v1/instances`). */
export async function instanceIds(url: string): Promise<string[]> {
  const { status, body } = await getJson(url, '/v1/instances');
  if (status !== 200) throw new Error(`GET /v1/instances answered ${status}`);
  return ((body as { instances: { id: string }[] }).instances ?? []).map((i) => i.id);
}
