/**
 * `keyflip collector`: runs the embedded collector (HTTP) until SIGINT or SIGTERM, in memory or with a state
 * file. Parsing and output only; the collector lives in src/collector.
 */
import { resolve } from 'node:path';
import {
  type Collector,
  type CollectorServer,
  createCollector,
  openCollector,
  startCollectorServer,
} from '../collector/index.js';
// Not exported by the collector's index: the one import of the CLI that does not go through an index.
import { allowedHostNames, isLoopback } from '../collector/host-check.js';
import { formatDuration } from '../duration.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';
import { collectorToken, durationArg, integerArg, parseDurationArg } from './option-values.js';
import { refuseKey } from './shown.js';
import { parseCommandLine } from './parse-command-line.js';
import { UsageError, usageFailure } from './usage-error.js';
import { untilSignal } from './until-signal.js';

/** The port `keyflip collector` listens on by default (not 4317/4318: an OpenTelemetry Collector may hold them). */
export const DEFAULT_COLLECTOR_PORT = 7391;

const HELP = `keyflip collector [--port N] [--host H] [--retention 24h] [--state FILE [--save-every 10s]]
                  [--max-instances N] [--max-bytes SIZE] [--allow-host NAME]... [--json]
  Runs the collector: receives usage beacons (POST /v1/beacons) and answers who uses which key
  (GET /v1/usage, GET /v1/instances; the page at /). Runs until SIGINT or SIGTERM.
  --port N           default ${DEFAULT_COLLECTOR_PORT}; 0 for any free port (the URL printed says which)
  --host H           default 127.0.0.1. Any other than loopback needs a token
  --retention D      how long reports are kept, and the longest window verify can ask for (default 24h)
  --state FILE       keep the evidence in FILE (written atomically; loaded on start), so a restart does not
                     forget who held which key; the time it was down counts as missing evidence. Without it,
                     everything is in memory and a restart starts from nothing
  --save-every D     how often the state is saved (default 10s); also on SIGINT/SIGTERM
  --max-instances N  instances tracked at once; a new one beyond is refused (429) and verify cannot prove
                     anything while the refusal is in its window (default 50000)
  --max-bytes SIZE   the estimated memory the collector's state may take, bytes or with KiB/MiB/GiB; reports
                     beyond are refused (429) the same way (default 96MiB)
  --allow-host NAME  a Host name besides loopback that requests may use (a proxy's name), repeatable; bound to
                     loopback, any other Host is refused (403) against DNS rebinding
  --json             print {"url":…,"token":true|false,…} on start instead of a sentence
  The token is read from KEYFLIP_COLLECTOR_TOKEN (never from argv). With it, every route but /healthz and
  the page needs Authorization: Bearer <token>; open the page as URL/#token=<token>.
  Exit codes: 0 stopped by a signal, 1 the last save of the state failed, 2 bad usage, the state file cannot be
  used or the port cannot be used.
`;

const OPTIONS = {
  port: 'string',
  host: 'string',
  retention: 'string',
  state: 'string',
  'save-every': 'string',
  'max-instances': 'string',
  'max-bytes': 'string',
  'allow-host': 'strings',
  json: 'boolean',
} as const;

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, kib: 1_024, mib: 1_048_576, gib: 1_073_741_824 };

/** What `keyflip collector` was asked, once the arguments are checked. */
interface CollectorRequest {
  port: number;
  host: string;
  retentionMs: number;
  maxInstances: number | undefined;
  maxBytes: number | undefined;
  statePath: string | undefined;
  saveEveryMs: number | undefined;
  allowedHosts: string[];
  json: boolean;
}

/** `--max-bytes`: a whole number of bytes, or with KiB, MiB or GiB; from 64 KiB to 1 TiB. */
function sizeArg(option: string, text: string): number {
  const match = /^(\d{1,13})\s*(kib|mib|gib)?$/i.exec(text);
  const bytes = match === null ? Number.NaN : Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  if (!(bytes >= 65_536 && bytes <= 1_099_511_627_776)) {
    throw new UsageError(`${option} needs a size from 64KiB to 1024GiB: bytes, or a number with KiB, MiB or GiB`);
  }
  return bytes;
}

function collectorRequest(args: readonly string[]): CollectorRequest | 'help' {
  const { help, values } = parseCommandLine(args, OPTIONS, { max: 0 });
  if (help) return 'help';
  const request: CollectorRequest = {
    port: DEFAULT_COLLECTOR_PORT,
    host: '127.0.0.1',
    retentionMs: 86_400_000,
    maxInstances: undefined,
    maxBytes: undefined,
    statePath: undefined,
    saveEveryMs: undefined,
    allowedHosts: [],
    json: values.json === true,
  };
  if (values.port !== undefined) request.port = integerArg('--port', values.port, 0, 65_535);
  if (values['max-instances'] !== undefined)
    request.maxInstances = integerArg('--max-instances', values['max-instances'], 1, 100_000_000);
  if (values['max-bytes'] !== undefined) request.maxBytes = sizeArg('--max-bytes', values['max-bytes']);
  if (values.host !== undefined) {
    if (!/^[A-Za-z0-9.:-]{1,253}$/.test(values.host)) throw new UsageError('--host needs a host name or an address');
    refuseKey(values.host, '--host');
    request.host = values.host;
  }
  if (values.retention !== undefined) {
    request.retentionMs = parseDurationArg('--retention', values.retention);
    if (request.retentionMs < 1_000) throw new UsageError('--retention must be at least 1s');
  }
  if (values.state !== undefined) request.statePath = resolve(values.state);
  if (values['save-every'] !== undefined) {
    if (request.statePath === undefined) throw new UsageError('--save-every needs --state FILE');
    request.saveEveryMs = durationArg('--save-every', values['save-every']);
    if (request.saveEveryMs < 1_000) throw new UsageError('--save-every must be at least 1s');
  }
  for (const name of values['allow-host'] ?? []) {
    try {
      request.allowedHosts.push(...allowedHostNames('--allow-host', [name]));
    } catch {
      throw new UsageError(
        '--allow-host needs a host name or an address without a port (collector.internal, 10.0.0.5, [fd00::1])',
      );
    }
  }
  return request;
}

/** Runs `keyflip collector`; returns the exit code once stopped (`stop` resolves: a signal, by default). */
export async function collectorCommand(
  args: readonly string[],
  io: CliIo,
  stop: () => Promise<unknown> = untilSignal,
): Promise<number> {
  let request: CollectorRequest | 'help';
  try {
    request = collectorRequest(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageFailure(io, 'collector', error.message);
  }
  if (request === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  const { port, host, retentionMs, statePath, json } = request;

  const token = collectorToken(io.env ?? process.env);
  if (token === undefined && !isLoopback(host)) {
    io.stderr.write(
      `keyflip collector: listening on ${host} (not loopback) needs a token: set KEYFLIP_COLLECTOR_TOKEN\n`,
    );
    return 2;
  }

  const limits = {
    retentionMs,
    ...(request.maxInstances === undefined ? {} : { maxInstances: request.maxInstances }),
    ...(request.maxBytes === undefined ? {} : { maxBytes: request.maxBytes }),
  };
  let collector: Collector;
  try {
    collector =
      statePath === undefined
        ? createCollector(limits)
        : await openCollector({ ...limits, statePath, saveEveryMs: request.saveEveryMs });
  } catch (error) {
    io.stderr.write(`keyflip collector: ${clean(error instanceof Error ? error.message : String(error))}\n`);
    return 2;
  }

  let server: CollectorServer;
  try {
    server = await startCollectorServer({ port, host, token, collector, allowedHosts: request.allowedHosts });
  } catch (error) {
    await collector.close().catch(() => undefined);
    const code = (error as { code?: unknown }).code;
    io.stderr.write(
      `keyflip collector: cannot listen on ${host}:${port}${typeof code === 'string' ? ` (${code})` : ''}\n`,
    );
    return 2;
  }
  const saveEveryMs = request.saveEveryMs ?? 10_000;
  if (json) {
    const state = statePath === undefined ? {} : { statePath, saveEveryMs };
    io.stdout.write(`${JSON.stringify({ url: server.url, token: token !== undefined, retentionMs, ...state })}\n`);
  } else {
    const state =
      statePath === undefined ? '' : `; state in ${clean(statePath)}, saved every ${formatDuration(saveEveryMs)}`;
    io.stdout.write(
      `keyflip collector listening on ${server.url} (retention ${formatDuration(retentionMs)}${state}; ` +
        (token === undefined
          ? 'no token: anything that can reach it can post reports)\n'
          : `token required; the page: ${server.url}/#token=<KEYFLIP_COLLECTOR_TOKEN>)\n`),
    );
  }
  await stop();
  await server.close();
  try {
    await collector.close(); // the last save, with a state file
  } catch (error) {
    const why = clean(error instanceof Error ? error.message : String(error));
    io.stderr.write(`keyflip collector: the last save of the state failed: ${why}\n`);
    return 1;
  }
  return 0;
}
