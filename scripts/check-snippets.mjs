#!/usr/bin/env node
/**
 * Type-checks every TypeScript code block (```ts or ```typescript) of README.md and docs/**.md, each as a module of
 * its own, as a reader would paste it into a project that depends on keyflip.
 *
 *   node scripts/check-snippets.mjs            'keyflip…' resolves to src/ (tsconfig.json's paths): no build needed
 *   node scripts/check-snippets.mjs --dist     'keyflip…' resolves through package.json's exports to the built dist/
 *   node scripts/check-snippets.mjs FILE.md…   only these files
 *
 * Prints one line per problem (`docs/guide.md:120 (line 4 of the block): …`) and exits 1 if there is any — or if it
 * found no TypeScript block at all, or a fence left open, so that it cannot pass by checking nothing.
 * Blocks in other languages (sh, json, yaml, text) are not checked.
 * Also importable: `checkSnippets(files, { againstDist })`, `extractBlocks(text)`. test/dist/snippets.test.ts runs it
 * with --dist, and checks that it finds the blocks and fails on a broken one.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const dist = args.includes('--dist');
const named = args.filter((a) => !a.startsWith('--'));

/** README.md and every .md under docs/ except the generated API reference. */
function markdownFiles() {
  if (named.length > 0) return named.map((f) => relative(root, resolve(process.cwd(), f)));
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
  return extractBlocksAndFences(text).blocks;
}

/** The TypeScript blocks, and the line of a fence left open at the end of the file (whose block would be lost). */
function extractBlocksAndFences(text) {
  const blocks = [];
  const lines = text.split('\n');
  let open;
  for (let i = 0; i < lines.length; i++) {
    const fence = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) {
      if (fence) open = { marker: fence[2], indent: fence[1].length, lang: fence[3], start: i + 2, body: [] };
    } else if (fence?.[2].startsWith(open.marker) && fence[3] === '') {
      const lang = open.lang.toLowerCase();
      if (lang === 'ts' || lang === 'typescript') blocks.push({ line: open.start, code: open.body.join('\n') });
      open = undefined;
    } else {
      open.body.push(lines[i].slice(Math.min(open.indent, /^\s*/.exec(lines[i])[0].length)));
    }
  }
  return { blocks, unclosed: open === undefined ? undefined : open.start - 1 };
}

/** Type-checks the blocks of the given Markdown files; returns the count and one line per problem. */
export function checkSnippets(files, { againstDist = false } = {}) {
  // One directory per run under the repository (so that 'keyflip' resolves to it), apart from any other run.
  const out = join(root, '.snippets', `run-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const problems = [];
  const origin = new Map();
  try {
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8');
      const { blocks, unclosed } = extractBlocksAndFences(text);
      if (unclosed !== undefined) problems.push(`${file}:${unclosed}: a code fence opened here is never closed`);
      for (const block of blocks) {
        const name = join(out, `${file.replace(/[/\\.]/g, '_')}_L${block.line}.ts`);
        writeFileSync(name, `${block.code}\n`);
        origin.set(name, { file, line: block.line });
      }
    }
    if (origin.size === 0) problems.push(`no TypeScript block found in ${files.join(', ')}`);

    const config = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile).config;
    const { options } = ts.parseJsonConfigFileContent(config, ts.sys, root);
    options.noUnusedLocals = false;
    options.moduleDetection = ts.ModuleDetectionKind.Force;
    options.noEmit = true;
    if (againstDist) delete options.paths;
    const program = ts.createProgram([...origin.keys()], options);
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
    // The mode checks what it says: the package's sources, or the built package and never src/.
    const wrong = join(root, againstDist ? 'src' : 'dist') + sep;
    const strays = program.getSourceFiles().filter((f) => resolve(f.fileName).startsWith(wrong));
    if (strays.length > 0) problems.push(`'keyflip' resolved to ${relative(root, strays[0].fileName)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
  return { blocks: origin.size, problems };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { blocks, problems } = checkSnippets(markdownFiles(), { againstDist: dist });
  for (const p of problems) console.error(p);
  console.log(`${blocks} TypeScript blocks checked${dist ? ' against dist/' : ''}: ${problems.length} problems`);
  process.exit(problems.length > 0 ? 1 : 0);
}
