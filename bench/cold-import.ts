/**
 * Benchmark 4: the cost of `import 'keyflip'` in a fresh process, vs a bare `node -e 0`; and which
 * modules that import loads (the core must load no cloud SDK and no OpenTelemetry).
 *
 * Children run from the repository root, so `keyflip` resolves to dist/ by package self-reference.
 * NODE_OPTIONS is removed from their environment, so they start as bare as the baseline.
 */
import { spawnSync } from 'node:child_process';
import { type BenchResult, best, formatMs, formatRatio, median, msSince, nowNs, ROOT, type Row } from './lib.js';

const RUNS = 20;
const FORBIDDEN = ['@google-cloud', '@opentelemetry'];

const env = { ...process.env };
delete env.NODE_OPTIONS;

const COMMANDS = {
  bare: ['-e', '0'],
  esmEmpty: ['--input-type=module', '-e', '0'],
  esmImport: ['--input-type=module', '-e', "await import('keyflip')"],
  cjsRequire: ['-e', "require('keyflip')"],
} as const;
type Command = keyof typeof COMMANDS;

/** Wall time of one child, in ms. */
function timeChild(args: readonly string[]): number {
  const start = nowNs();
  const child = spawnSync(process.execPath, args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const ms = msSince(start);
  if (child.status !== 0)
    throw new Error(`node ${args.join(' ')} failed (exit ${String(child.status)}): ${child.stderr}`);
  return ms;
}

/**
 * In an ESM child: records every URL the ESM loader resolves (through a resolve hook that reports on a
 * MessagePort), imports keyflip, then adds the CommonJS modules in require.cache (CJS dependencies of
 * ESM modules land there).
 */
const ESM_MODULES_SCRIPT = `
import { register, createRequire } from 'node:module';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
const { port1, port2 } = new MessageChannel();
const hooks = 'let port; export function initialize(d) { port = d.port; } ' +
  'export async function resolve(s, c, next) { const r = await next(s, c); port.postMessage(r.url); return r; }';
register('data:text/javascript,' + encodeURIComponent(hooks), { data: { port: port2 }, transferList: [port2] });
await import('keyflip');
const seen = [];
for (let m; (m = receiveMessageOnPort(port1)); ) seen.push(m.message);
port1.close();
for (const file of Object.keys(createRequire(import.meta.url).cache)) seen.push(file);
console.log(JSON.stringify(seen));
`;

const CJS_MODULES_SCRIPT = `require('keyflip'); console.log(JSON.stringify(Object.keys(require.cache)));`;

function modulesLoaded(args: readonly string[]): string[] {
  const child = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8' });
  if (child.status !== 0)
    throw new Error(`module listing child failed (exit ${String(child.status)}): ${child.stderr}`);
  const list = JSON.parse(child.stdout.trim().split('\n').pop() ?? '[]') as string[];
  return [...new Set(list)];
}

export function coldImport(): BenchResult {
  const names = Object.keys(COMMANDS) as Command[];
  const times = {} as Record<Command, number[]>;
  for (const name of names) {
    times[name] = [];
    timeChild(COMMANDS[name]); // warm the file-system cache; untimed
  }
  for (let r = 0; r < RUNS; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + r) % names.length] as Command;
      times[name].push(timeChild(COMMANDS[name]));
    }
  }
  const bare = median(times.bare);
  const esmEmpty = median(times.esmEmpty);
  const esmImport = median(times.esmImport);
  const cjsRequire = median(times.cjsRequire);

  const esmModules = modulesLoaded(['--input-type=module', '-e', ESM_MODULES_SCRIPT]);
  const cjsModules = modulesLoaded(['-e', CJS_MODULES_SCRIPT]);
  const offending = [...esmModules, ...cjsModules].filter((m) => FORBIDDEN.some((f) => m.includes(f)));
  const packages = (list: string[]): string =>
    [
      ...new Set(
        list.map((m) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(m)?.[1]).filter((p): p is string => p !== undefined),
      ),
    ].join(', ') || 'none';

  const rows: Row[] = [
    {
      what: '4a. fresh process: `node --input-type=module -e "await import(\'keyflip\')"` vs `node -e 0`',
      keyflip: formatMs(esmImport),
      baseline: `${formatMs(bare)} (\`node -e 0\`)`,
      ratio: formatRatio(esmImport / bare),
      target: '≤ 1.5×',
      pass: esmImport / bare <= 1.5,
    },
    {
      what: "4b. the same import vs an empty ESM eval (`node --input-type=module -e 0`): keyflip's own share",
      keyflip: formatMs(esmImport),
      baseline: `${formatMs(esmEmpty)} (empty ESM eval)`,
      ratio: formatRatio(esmImport / esmEmpty),
      target: '—',
      pass: null,
    },
    {
      what: '4c. fresh process: `node -e "require(\'keyflip\')"` (CJS build) vs `node -e 0`',
      keyflip: formatMs(cjsRequire),
      baseline: `${formatMs(bare)} (\`node -e 0\`)`,
      ratio: formatRatio(cjsRequire / bare),
      target: '—',
      pass: null,
    },
    {
      what:
        "4d. modules loaded by `import`/`require('keyflip')` whose path contains " +
        '`@google-cloud` or `@opentelemetry`',
      keyflip: `${offending.length} (of ${esmModules.length} ESM, ${cjsModules.length} CJS)`,
      baseline: '—',
      ratio: '—',
      target: '0',
      pass: offending.length === 0,
    },
  ];
  const notes = [
    `4: ${RUNS} interleaved runs of each child after one untimed run; wall time of spawnSync, median. ` +
      `node -e 0 best ${formatMs(best(times.bare))}; ESM import best ${formatMs(best(times.esmImport))}; ` +
      `CJS require best ${formatMs(best(times.cjsRequire))}. ` +
      `Packages loaded — ESM: ${packages(esmModules)}; CJS: ${packages(cjsModules)}.` +
      (offending.length > 0 ? ` Offending modules: ${offending.join(', ')}.` : ''),
  ];
  return { rows, notes };
}
