#!/usr/bin/env node
/**
 * Type-checks every TypeScript code block (```ts or ```typescript) of README.md and docs/**.md, each as a module of
 * its own, as a reader would paste it into a project that depends on keyflip.
 *
 *   node scripts/check-snippets.mjs            'keyflip…' resolves to src/ (tsconfig.json's paths): no build needed
 *   node scripts/check-snippets.mjs --dist     'keyflip…' resolves through package.json's exports to the built dist/
 *   node scripts/check-snippets.mjs FILE.md…   only these files
 *
 * Prints one line per problem (`docs/guide.md:120 (line 4 of the block): …`) and exits 1 if there is any.
 * Blocks in other languages (sh, json, yaml, text) are not checked.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const dist = args.includes('--dist');
const named = args.filter((a) => !a.startsWith('--'));

/** README.md and every .md under docs/ except the generated API reference. */
function markdownFiles() {
  if (named.length > 0) return named.map((f) => relative(root, join(process.cwd(), f)));
  const found = ['README.md'];
  const walk = (dir) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && path !== join('docs', 'api')) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.md')) found.push(path);
    }
  };
  walk('docs');
  return found.sort();
}

/** The TypeScript blocks of one Markdown file, with the line of their first code line. */
export function extractBlocks(text) {
  const blocks = [];
  const lines = text.split('\n');
  let open;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) {
      if (fence) open = { marker: fence[2], indent: fence[1].length, lang: fence[3], start: i + 2, body: [] };
    } else if (fence && fence[2].startsWith(open.marker) && fence[3] === '') {
      if (open.lang === 'ts' || open.lang === 'typescript')
        blocks.push({ line: open.start, code: open.body.join('\n') });
      open = undefined;
    } else {
      open.body.push(lines[i].slice(Math.min(open.indent, /^\s*/.exec(lines[i])[0].length)));
    }
  }
  return blocks;
}

const out = join(root, '.snippets');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const origin = new Map();
for (const file of markdownFiles()) {
  for (const block of extractBlocks(readFileSync(join(root, file), 'utf8'))) {
    const name = join(out, `${file.replace(/[/\\.]/g, '_')}_L${block.line}.ts`);
    writeFileSync(name, `${block.code}\n`);
    origin.set(name, { file, line: block.line });
  }
}

const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile).config;
const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
options.noUnusedLocals = false;
options.moduleDetection = ts.ModuleDetectionKind.Force;
options.noEmit = true;
if (dist) delete options.paths;
const program = ts.createProgram([...origin.keys()], options);
const problems = [];
for (const d of ts.getPreEmitDiagnostics(program)) {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
  const at = d.file && origin.get(d.file.fileName);
  if (!at) {
    problems.push(`${d.file ? relative(root, d.file.fileName) : 'tsc'}: ${message}`);
    continue;
  }
  const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
  problems.push(`${at.file}:${at.line + line} (line ${line + 1} of the block): ${message}`);
}
rmSync(out, { recursive: true, force: true });
for (const p of problems) console.error(p);
console.log(`${origin.size} TypeScript blocks checked${dist ? ' against dist/' : ''}: ${problems.length} problems`);
process.exit(problems.length > 0 ? 1 : 0);
