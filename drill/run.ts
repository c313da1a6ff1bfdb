/**
 * `npm run drill [-- options]`: runs the rotation drill (drill/drill.ts), prints its timeline and tables,
 * and writes the result as JSON to drill/results/<time>-<layout>-w<workers>.json and drill/results/latest.json.
 * Exit code: 0 every property held; 1 one did not (the report says which); 2 bad usage; 130 interrupted.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDuration } from '../src/duration.js';
import { report, ROOT, runDrill, type DrillOptions } from './drill.js';

const HELP = `npm run drill -- [options]

  --workers N        live worker processes (default 16); one stale worker and the straggler come on top
  --rate N           requests per second per worker (default 20)
  --layout L         pair (OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1, the default), suffix (legacy, names declared
                     ahead: OPENAI_API_KEY_v4 ?? _v3 ?? _v2 ?? _v1) or alias (OPENAI_API_KEY@current ?? @previous)
  --refresh D        the workers' refreshMs (default 2s)
  --jitter F         the workers' jitter (default 0.2)
  --beacon D         the beacon interval (default 1s, at least 1s)
  --window D         the verify / revoke window (default 5s, at least 2 × the beacon)
  --lag D            the mock provider's usage reporting lag, given to the commands as --provider-lag (default 2s)
  --straggler-every D
                     how often the straggler (no keyflip, no beacon) sends a request (default 2s)
  --steady D         each steady phase: v1, v2 and v3 before the next rotation, v4 after (default 2s)
  --cli tsx|dist     run keyflip rotate from the sources with tsx (default) or the build (npm run build first)
  --concurrency N    workers starting at once (default 4)
  --no-write         do not write drill/results/
Durations: 500ms, 2s, 1m.
`;

function parse(argv: readonly string[]): { options: DrillOptions; write: boolean } {
  const options: DrillOptions = {};
  let write = true;
  const num = (flag: string, text: string | undefined, integer = false): number => {
    const n = Number(text);
    if (text === undefined || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n)))
      throw new Error(`${flag} needs a ${integer ? 'whole ' : ''}number > 0`);
    return n;
  };
  const dur = (flag: string, text: string | undefined): number => {
    if (text === undefined) throw new Error(`${flag} needs a duration (2s, 500ms)`);
    return parseDuration(text);
  };
  const text0 = (flag: string, text: string | undefined): number => (text === '0' ? 0 : dur(flag, text));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const [flag, inline] = arg.includes('=') ? (arg.split(/=(.*)/s, 2) as [string, string]) : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--workers':
        options.workers = num(flag, value(), true);
        break;
      case '--rate':
        options.rate = num(flag, value());
        break;
      case '--layout': {
        const v = value();
        if (v !== 'pair' && v !== 'suffix' && v !== 'alias') throw new Error('--layout is pair, suffix or alias');
        options.layout = v;
        break;
      }
      case '--refresh':
        options.refreshMs = dur(flag, value());
        break;
      case '--jitter': {
        const j = Number(value());
        if (!(j >= 0 && j < 1)) throw new Error('--jitter is a fraction, 0 to 1');
        options.jitter = j;
        break;
      }
      case '--beacon':
        options.beaconMs = dur(flag, value());
        break;
      case '--window':
        options.windowMs = dur(flag, value());
        break;
      case '--lag':
        options.lagMs = text0(flag, value());
        break;
      case '--straggler-every':
        options.stragglerEveryMs = dur(flag, value());
        break;
      case '--steady':
        options.steadyMs = dur(flag, value());
        break;
      case '--cli': {
        const v = value();
        if (v !== 'tsx' && v !== 'dist') throw new Error('--cli is tsx or dist');
        options.cli = v;
        break;
      }
      case '--concurrency':
        options.startConcurrency = num(flag, value(), true);
        break;
      case '--no-write':
        write = false;
        break;
      default:
        throw new Error(`unknown option ${JSON.stringify(flag.slice(0, 40))}`);
    }
  }
  return { options, write };
}

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(HELP);
  process.exit(0);
}
let parsed: ReturnType<typeof parse>;
try {
  parsed = parse(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`drill: ${(error as Error).message}\n\n${HELP}`);
  process.exit(2);
}

// Ctrl-C: the drill stops the step under way, then every process it started, and reports what it saw.
// A second Ctrl-C leaves at once (the workers leave too: they exit when the drill's IPC channel closes).
const stop = new AbortController();
const onSignal = (): void => {
  if (stop.signal.aborted) process.exit(130);
  process.stderr.write('drill: interrupted; stopping every process it started (Ctrl-C again to leave at once)\n');
  stop.abort(new Error('interrupted'));
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const result = await runDrill({
  ...parsed.options,
  signal: stop.signal,
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(`\n${report(result)}\n`);
if (parsed.write) {
  const dir = join(ROOT, 'drill', 'results');
  mkdirSync(dir, { recursive: true });
  const name = `${result.startedAt.replace(/[:.]/g, '-')}-${result.options.layout}-w${result.options.workers}.json`;
  const text = `${JSON.stringify(result, null, 2)}\n`;
  writeFileSync(join(dir, name), text);
  writeFileSync(join(dir, 'latest.json'), text);
  process.stdout.write(`\nwritten: drill/results/${name} and drill/results/latest.json\n`);
}
process.exitCode = stop.signal.aborted ? 130 : result.ok ? 0 : 1;
process.off('SIGINT', onSignal);
process.off('SIGTERM', onSignal);
