/**
 * `keyflip collector`: runs the embedded collector (HTTP) until SIGINT or SIGTERM. Parsing and output
 * only; the collector lives in src/collector.
 */
import { createCollector, startCollectorServer, type CollectorServer } from '../collector/index.js';
// Not exported by the collector's index (yet): the one import of the CLI that does not go through an index.
import { isLoopback } from '../collector/server.js';
import { formatDuration } from '../duration.js';
import type { CliIo } from './io.js';
import { collectorToken, integerArg, parseDurationArg } from './option-values.js';
import { parseCommandLine } from './parse-command-line.js';
import { UsageError, usageFailure } from './usage-error.js';

/** The port `keyflip collector` listens on by default (not 4317/4318: an OpenTelemetry Collector may hold them). */
export const DEFAULT_COLLECTOR_PORT = 7391;

const HELP = `keyflip collector [--port N] [--host H] [--retention 24h] [--max-instances N] [--json]
  Runs the collector: receives usage beacons (POST /v1/beacons) and answers who uses which key
  (GET /v1/usage, GET /v1/instances; the page at /). Runs until SIGINT or SIGTERM.
  --port N           default ${DEFAULT_COLLECTOR_PORT}; 0 for any free port (the URL printed says which)
  --host H           default 127.0.0.1. Any other than loopback needs a token
  --retention D      how long reports are kept, and the longest window verify can ask for (default 24h)
  --max-instances N  instances tracked at once; beyond, the one silent longest is dropped (default 50000)
  --json             print {"url":…,"token":true|false} on start instead of a sentence
  The token is read from KEYFLIP_COLLECTOR_TOKEN (never from argv). With it, every route but /healthz and
  the page needs Authorization: Bearer <token>; open the page as URL/#token=<token>.
  Exit codes: 0 stopped by a signal, 2 bad usage or the port cannot be used.
`;

const OPTIONS = {
  port: 'string',
  host: 'string',
  retention: 'string',
  'max-instances': 'string',
  json: 'boolean',
} as const;

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Runs `keyflip collector`; returns the exit code once stopped (`stop` resolves: a signal, by default). */
export async function collectorCommand(
  args: readonly string[],
  io: CliIo,
  stop: () => Promise<unknown> = untilSignal,
): Promise<number> {
  let port = DEFAULT_COLLECTOR_PORT;
  let host = '127.0.0.1';
  let retentionMs = 86_400_000;
  let maxInstances = 50_000;
  let json: boolean;
  try {
    const { help, values } = parseCommandLine(args, OPTIONS, { max: 0 });
    if (help) {
      io.stdout.write(HELP);
      return 0;
    }
    json = values.json === true;
    if (values.port !== undefined) port = integerArg('--port', values.port, 0, 65_535);
    if (values['max-instances'] !== undefined)
      maxInstances = integerArg('--max-instances', values['max-instances'], 1, 100_000_000);
    if (values.host !== undefined) {
      if (!/^[A-Za-z0-9.:-]{1,253}$/.test(values.host)) throw new UsageError('--host needs a host name or an address');
      host = values.host;
    }
    if (values.retention !== undefined) {
      retentionMs = parseDurationArg('--retention', values.retention);
      if (retentionMs < 1_000) throw new UsageError('--retention must be at least 1s');
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageFailure(io, 'collector', error.message);
  }

  const token = collectorToken(io.env ?? process.env);
  if (token === undefined && !isLoopback(host.toLowerCase())) {
    io.stderr.write(
      `keyflip collector: listening on ${host} (not loopback) needs a token: set KEYFLIP_COLLECTOR_TOKEN\n`,
    );
    return 2;
  }

  let server: CollectorServer;
  try {
    server = await startCollectorServer({
      port,
      host,
      token,
      collector: createCollector({ retentionMs, maxInstances }),
    });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    io.stderr.write(
      `keyflip collector: cannot listen on ${host}:${port}${typeof code === 'string' ? ` (${code})` : ''}\n`,
    );
    return 2;
  }
  if (json) {
    io.stdout.write(`${JSON.stringify({ url: server.url, token: token !== undefined, retentionMs })}\n`);
  } else {
    io.stdout.write(
      `keyflip collector listening on ${server.url} (retention ${formatDuration(retentionMs)}; ` +
        (token === undefined
          ? 'no token: anything that can reach it can post reports)\n'
          : `token required; the page: ${server.url}/#token=<KEYFLIP_COLLECTOR_TOKEN>)\n`),
    );
  }
  await stop();
  await server.close();
  return 0;
}
