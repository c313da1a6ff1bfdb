/**
 * `npm run bench`: runs every benchmark once and writes ONE table, every ratio in it measured in this run,
 * with the machine it ran on and how to reproduce it, to BENCHMARKS.md at the repository root (the README and
 * CONTRIBUTING.md link to it; no other file is written). Exits 0 even when a target is missed (benchmarks
 * inform; they are not tests) but says clearly which ones were.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beaconBench } from './beacon.js';
import { clientsBench } from './clients.js';
import { coldImport } from './cold-import.js';
import { drillBench } from './drill.js';
import { gcpBench } from './gcp.js';
import { hotPath } from './hot-path.js';
import { ensureBuilt, loadKeyflip } from './keyflip.js';
import { type BenchResult, machine, markdownTable, msSince, nowNs, ROOT, type Row } from './lib.js';
import { readyBench } from './ready.js';
import { redactBench } from './redact.js';

const started = nowNs();
const host = machine();
console.log(`keyflip benchmarks — ${host.cpu}, ${host.cores} cores, Node ${host.node}`);

const build = ensureBuilt();
const keyflip = await loadKeyflip();
const sink = { value: 0 };

const results: BenchResult[] = [];
const step = async (label: string, run: () => BenchResult | Promise<BenchResult>): Promise<void> => {
  const start = nowNs();
  process.stdout.write(`${label} … `);
  results.push(await run());
  process.stdout.write(`${(msSince(start) / 1000).toFixed(1)} s\n`);
};
await step('1–2. hot path (handle.value, handle.get())', () => hotPath(keyflip, sink));
await step('3. ready() on 50 slow secrets', () => readyBench(keyflip, sink));
await step('4. cold import in fresh processes', () => coldImport());
await step('5–7. clients: authFetch round trip and overhead, redact per KiB', () => clientsBench(keyflip, sink));
await step('7c–7d. redact with 10 000 held values, and adding one', () => redactBench(keyflip, sink));
await step('8. Secret Manager: calls per refresh, cold import, round trip vs a bare call', () =>
  gcpBench(keyflip, sink),
);
await step('9. beacon: handle.value with the usage beacon on vs off, uses reported vs reads', () =>
  beaconBench(keyflip, sink),
);
await step(
  '10. collector: ingest in process and over HTTP, usage() over 10 000 instances, memory per instance',
  async () => (await import('./collector.js')).collectorBench(sink),
);

const rows = results.flatMap((r) => r.rows);
const notes = results.flatMap((r) => r.notes);
const missed = rows.filter((r) => r.pass === false);
const table = markdownTable(rows);
const totalS = msSince(started) / 1000;
/** A row's number: the first word of `what`, without its trailing dot (`1c.` → `1c`). */
const rowNumber = (row: Row): string | undefined => row.what.split(' ')[0]?.replace(/\.$/, '');
const summary =
  missed.length === 0
    ? `All ${rows.filter((r) => r.pass !== null).length} targets met.`
    : `**Missed ${missed.length} target${missed.length === 1 ? '' : 's'}:** ${missed.map(rowNumber).join(', ')}.`;

const drill = await drillBench();
const drillSection =
  drill === undefined
    ? 'Rotation drill: no result yet. ' +
      'Run `npm run drill` (and `npm run drill -- --layout alias`, `npm run drill -- --workers 64`): ' +
      'it writes drill/results/, which `npm run bench` quotes.'
    : `From the drill's own summary (\`npm run drill\`), not measured by this run.

${markdownTable(drill.rows)}

${drill.notes.map((n) => `- ${n}`).join('\n')}`;

const report = `# keyflip benchmarks

Written by \`npm run bench\` (bench/run.ts). Every row of the table below was measured in one run, on the
machine below, and every ratio is keyflip ÷ a baseline measured in that same run. Benchmarks inform; they
are not tests: a missed target does not fail the run. In-process benchmarks load the built package (dist/);
${build}.

## Machine

- **CPU:** ${host.cpu}
- **Cores:** ${host.cores}
- **Memory:** ${host.memoryGiB} GiB
- **OS:** ${host.os}
- **Node:** ${host.node}
- **Date:** ${host.date}
- **Run time:** ${totalS.toFixed(1)} s

## Reproduce

\`\`\`sh
npm ci
npm run bench
\`\`\`

The run rewrites this file. Absolute times depend on the machine; the ratios, each against a baseline
interleaved with it in the same process, carry over better.

## Results

${table}

${summary}

## Rotation drill

${drillSection}

## How each row was measured

${notes.map((n) => `- ${n}`).join('\n')}
- Times are medians of the rounds (\`process.hrtime.bigint()\`); ratios are keyflip ÷ baseline.
- Sink (keeps the loops from being optimised away): ${sink.value}.
`;

writeFileSync(join(ROOT, 'BENCHMARKS.md'), report);

console.log(`\n${table}\n\n${summary}`);
console.log(`sink ${sink.value}; ${totalS.toFixed(1)} s; written to BENCHMARKS.md`);
