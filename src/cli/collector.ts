/**
 * `keyflip collector`: runs the embedded collector (HTTP) until SIGINT or SIGTERM. Parsing and output
 * only; the collector lives in src/collector.
 */
import { createCollector } from '../collector/collector.js';
import { isLoopback, startCollectorServer } from '../collector/server.js';
import { formatDuration, parseDuration } from '../duration.js';
import { UsageError } from './args.js';
import type { CliIo } from './main.js';

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

function intArg(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined || !/^\d{1,9}$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`${name} needs an integer from ${min} to ${max}`);
  }
  return Number(value);
}

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

/** Runs `keyflip collector`; returns the exit code once stopped. */
export async function collectorCommand(
  args: readonly string[],
  io: CliIo,
  stop: () => Promise<unknown> = untilSignal,
): Promise<number> {
  let port = DEFAULT_COLLECTOR_PORT;
  let host = '127.0.0.1';
  let retentionMs = 86_400_000;
  let maxInstances = 50_000;
  let json = false;
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string;
      if (arg === '--help' || arg === '-h') {
        io.stdout.write(HELP);
        return 0;
      } else if (arg === '--json') json = true;
      else if (arg === '--port') port = intArg('--port', args[++i], 0, 65_535);
      else if (arg === '--max-instances') maxInstances = intArg('--max-instances', args[++i], 1, 100_000_000);
      else if (arg === '--host') {
        const value = args[++i];
        if (value === undefined || !/^[A-Za-z0-9.:-]{1,253}$/.test(value))
          throw new UsageError('--host needs a host name or an address');
        host = value;
      } else if (arg === '--retention') {
        const value = args[++i];
        if (value === undefined) throw new UsageError('--retention needs a duration (24h, 7d)');
        try {
          retentionMs = parseDuration(value);
        } catch (error) {
          throw new UsageError(`--retention: ${(error as Error).message}`);
        }
        if (retentionMs < 1_000) throw new UsageError('--retention must be at least 1s');
      } else {
        throw new UsageError(`unexpected argument #${i + 1} (not shown)`);
      }
    }
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`keyflip collector: ${error.message}; see keyflip collector --help\n`);
    return 2;
  }

  const env = io.env ?? process.env;
  const raw = env.KEYFLIP_COLLECTOR_TOKEN;
  const token = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
  if (token === undefined && !isLoopback(host.toLowerCase())) {
    io.stderr.write(
      `keyflip collector: listening on ${host} (not loopback) needs a token: set KEYFLIP_COLLECTOR_TOKEN\n`,
    );
    return 2;
  }

  let server: Awaited<ReturnType<typeof startCollectorServer>>;
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
