import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, posix, resolve } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, entries } from '../../tsup.config.js';

/**
 * The package as npm publishes it: `npm pack` of the built dist/ (after `npm run build`), then what a user's tools
 * see in the tarball — its types in every resolution mode (attw), its package.json (publint), its files (each one
 * reachable from an entry point) — all offline.
 */
const root = resolve(import.meta.dirname, '../..');

type Conditions = { types: string; default: string };
interface PackageJson {
  main: string;
  module: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  exports: Record<string, string | { import: Conditions; require: Conditions }>;
  typesVersions: Record<string, Record<string, string[]>>;
  repository: { type: string; url: string };
  bugs: { url: string };
  homepage: string;
}
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
const require = createRequire(join(root, 'package.json'));

/** The files npm ships whatever `files` says, and those `files` adds beside dist/. */
const NOT_BUILT = ['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json'];

let work: string;
let tarball: string;
let packed: { path: string; size: number }[];

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'keyflip-tarball-'));
  // --ignore-scripts: pack what `npm run build` built (a prepack build would empty dist/ under the other tests).
  const run = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--offline', '--pack-destination', work], {
    cwd: root,
    encoding: 'utf8',
  });
  expect([run.status, run.stderr]).toEqual([0, expect.any(String)]);
  const [result] = JSON.parse(run.stdout) as [{ filename: string; files: { path: string; size: number }[] }];
  tarball = join(work, result.filename);
  packed = result.files;
}, 60_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

/** Every file of the package that a module or declaration file refers to, from the given starting files. */
function reachable(files: Map<string, string>, start: string[]): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = files.get(file);
    if (text === undefined || !/\.(?:c?js|d\.c?ts)$/.test(file)) return;
    const declaration = /\.d\.c?ts$/.test(file);
    for (const match of text.matchAll(/(?:\bfrom|\bimport|\brequire)\s*\(?\s*(['"])(\.{1,2}\/[^'"]+)\1/g)) {
      let target = posix.join(posix.dirname(file), match[2] ?? '');
      // A declaration imports its neighbour by the JavaScript name: './types-X.js' is types-X.d.ts.
      if (declaration) target = target.replace(/\.js$/, '.d.ts').replace(/\.cjs$/, '.d.cts');
      visit(target);
    }
  };
  for (const file of start) visit(posix.normalize(file));
  return seen;
}

/** Every file package.json points at: exports (all conditions), main, module, types, typesVersions, bin. */
function entryFiles(): string[] {
  const found = [pkg.main, pkg.module, pkg.types, ...Object.values(pkg.bin)];
  for (const target of Object.values(pkg.exports)) {
    if (typeof target === 'string') found.push(target);
    else found.push(target.import.types, target.import.default, target.require.types, target.require.default);
  }
  for (const paths of Object.values(pkg.typesVersions['*'] ?? {})) found.push(...paths);
  return [...new Set(found.map((file) => posix.normalize(file)))];
}

/** One name used from each subpath, by a consumer that imports them all. */
const USED = [
  ['.', 'createResolver'],
  ['./gcp', 'gcpSecretManager'],
  ['./clients', 'authFetch'],
  ['./beacon', 'usageBeacon'],
  ['./otel', 'otelSink'],
  ['./collector', 'createCollector'],
  ['./rotation', 'openSecretAdmin'],
  ['./providers', 'openProvider'],
  ['./testing', 'manualClock'],
] as const;
const CONSUMER = [
  ...USED.map(([subpath, name]) => `import { ${name} } from '${posix.join('keyflip', subpath)}';`),
  "import { memorySource } from 'keyflip';",
  "const resolver = createResolver({ sources: [memorySource({ K: 'v' })], clock: manualClock() });",
  `export const used = [resolver.secret('K'), ${USED.slice(1, -1)
    .map(([, name]) => name)
    .join(', ')}];`,
  '',
].join('\n');

describe('the packed tarball', () => {
  it('arethetypeswrong finds no problem: every subpath has types under node10, node16 (CJS and ESM), bundler', () => {
    const attw = join(dirname(require.resolve('@arethetypeswrong/cli/package.json')), 'dist/index.js');
    // cwd: the temporary directory, so that no .attw.json can turn a rule off; no @types lookup (no network).
    const run = spawnSync(process.execPath, [attw, tarball, '--format', 'json', '--no-definitely-typed'], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    const report = JSON.parse(run.stdout) as {
      problems: Record<string, unknown[]> | unknown[]; // an empty object when there is none
      analysis: {
        entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> }>;
      };
    };
    expect(Object.values(report.problems).flat()).toEqual([]);
    expect(run.status).toBe(0);
    const entrypoints = report.analysis.entrypoints;
    expect(Object.keys(entrypoints).sort()).toEqual(Object.keys(pkg.exports).sort());
    for (const [subpath, entry] of Object.entries(entrypoints)) {
      const modes = Object.entries(entry.resolutions).map(([mode, r]) => [mode, r.resolution?.fileName ?? 'none']);
      const typed = subpath === './package.json' ? /package\.json$/ : /\.d\.c?ts$/;
      expect(modes.map(([mode]) => mode).sort()).toEqual(['bundler', 'node10', 'node16-cjs', 'node16-esm']);
      for (const [mode, file] of modes) expect(`${subpath} ${mode} ${file}`).toMatch(typed);
    }
  });

  it('publint reports nothing (no error, warning or suggestion)', async () => {
    const buffer = readFileSync(tarball);
    const data = buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) as ArrayBuffer;
    const { messages, pkg: linted } = await publint({ pack: { tarball: data }, level: 'suggestion', strict: true });
    expect(messages.map((m) => `${m.type}: ${formatMessage(m, linted, { color: false }) ?? m.code}`)).toEqual([]);
  });

  it('ships no unused file: each file of dist/ is reachable from an entry point or the bin', () => {
    const paths = packed.map((file) => file.path);
    expect(paths.filter((path) => !path.startsWith('dist/')).sort()).toEqual(NOT_BUILT);
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    expect(spawnSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']).status).toBe(0);
    const files = new Map(paths.map((path) => [path, readFileSync(join(unpacked, path), 'utf8')]));
    const starts = entryFiles();
    expect(starts.filter((file) => !files.has(file))).toEqual([]); // each entry point is in the tarball
    const reached = reachable(files, starts);
    expect([...reached].filter((file) => !files.has(file))).toEqual([]); // no import of a missing file
    expect(paths.filter((path) => path.startsWith('dist/') && !reached.has(path))).toEqual([]);
    // The CLI is ESM only (bin → dist/cli/index.js) and nothing imports it: no CJS copy, no declarations.
    expect(paths.filter((path) => path.startsWith('dist/cli/'))).toEqual(['dist/cli/index.js']);
    expect(paths.filter((path) => path.endsWith('.map'))).toEqual([]);
  });

  it('the consumer below imports every subpath', () => {
    expect(USED.map(([subpath]) => subpath)).toEqual(Object.keys(pkg.exports).filter((s) => s !== './package.json'));
  });

  it('names its repository, issue tracker and home page', () => {
    expect(pkg.repository).toEqual({ type: 'git', url: 'git+https://github.com/keyflip/keyflip.git' });
    expect(pkg.bugs).toEqual({ url: 'https://github.com/keyflip/keyflip/issues' });
    expect(pkg.homepage).toBe('https://github.com/keyflip/keyflip#readme');
  });

  // The case, beside attw's view of it: an Express service with a classic tsconfig.
  it('a project with "module": "commonjs" (node10 resolution) type-checks an import of every subpath', () => {
    const project = mkdtempSync(join(work, 'project-'));
    const installed = join(project, 'node_modules', 'keyflip');
    mkdirSync(installed, { recursive: true });
    expect(spawnSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']).status).toBe(0);
    // What a user has installed beside it: the dependencies and the optional peers.
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, object>;
    for (const dep of [...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]) {
      mkdirSync(dirname(join(project, 'node_modules', dep)), { recursive: true });
      symlinkSync(join(root, 'node_modules', dep), join(project, 'node_modules', dep), 'dir');
    }
    const main = join(project, 'main.ts');
    writeFileSync(main, CONSUMER);
    const program = ts.createProgram([main], {
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      esModuleInterop: true,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
    });
    const problems = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(problems).toEqual([]);
    const keyflipFiles = program.getSourceFiles().filter((f) => f.fileName.startsWith(installed));
    expect(keyflipFiles.length).toBeGreaterThan(USED.length); // the types came from the tarball
  });
});

describe('the entry points agree', () => {
  it('tsup.config.ts builds exactly the subpaths of exports and typesVersions, and tsconfig maps each to src', () => {
    const subpaths = Object.keys(pkg.exports).filter((subpath) => subpath !== './package.json');
    const built = Object.keys(entries).map((name) => {
      const subpath = name === 'index' ? '.' : `./${name.replace(/\/index$/, '')}`;
      return [subpath, name] as const;
    });
    expect(built.map(([subpath]) => subpath).sort()).toEqual(subpaths.sort());
    const tsconfig = ts.readConfigFile(join(root, 'tsconfig.json'), ts.sys.readFile).config as {
      compilerOptions: { paths: Record<string, string[]> };
    };
    for (const [subpath, name] of built) {
      expect(pkg.exports[subpath]).toEqual({
        import: { types: `./dist/${name}.d.ts`, default: `./dist/${name}.js` },
        require: { types: `./dist/${name}.d.cts`, default: `./dist/${name}.cjs` },
      });
      const specifier = posix.join('keyflip', subpath);
      const source = `./${entries[name as keyof typeof entries]}`;
      expect([specifier, tsconfig.compilerOptions.paths[specifier]]).toEqual([specifier, [source]]);
      if (subpath !== '.') expect(pkg.typesVersions['*']?.[subpath.slice(2)]).toEqual([`./dist/${name}.d.ts`]);
    }
    expect(Object.keys(pkg.typesVersions['*'] ?? {}).length).toBe(subpaths.length - 1);
    expect([pkg.main, pkg.module, pkg.types]).toEqual(['./dist/index.cjs', './dist/index.js', './dist/index.d.ts']);
    expect(pkg.bin).toEqual({ keyflip: `./dist/${Object.keys(cli)[0]}.js` });
  });
});
