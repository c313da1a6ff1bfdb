import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<
    string,
    string | { import: { types: string; default: string }; require: { types: string; default: string } }
  >;
  bin: Record<string, string>;
};
const require = createRequire(join(root, 'package.json'));

/** The LLM SDKs keyflip's clients are tested with: none may load unless the user's code loads it. */
const SDK_PACKAGES = [
  'openai',
  '@anthropic-ai/sdk',
  'groq-sdk',
  'ai',
  '@ai-sdk/[^/]+',
  '@langchain/[^/]+',
  '@google/genai',
  '@mistralai/mistralai',
];
/** An import specifier naming one of them (the package or a subpath of it). */
const SDK_SPECIFIER = new RegExp(`^(?:${SDK_PACKAGES.join('|')})(?:/|$)`);
/** A file path inside one of them. */
const SDK_PATH = new RegExp(
  `node_modules[\\\\/](?:${SDK_PACKAGES.map((p) => p.replace('/', '[\\\\/]')).join('|')})[\\\\/]`,
);
const NO_SDK_ENTRIES = ['keyflip', 'keyflip/clients', 'keyflip/testing'];

type Core = typeof import('../../src/index.js');
type Testing = typeof import('../../src/testing/index.js');

async function exercise(core: Core, testing: Testing): Promise<string> {
  const memory = core.memorySource({ K_v1: 'value-dist-1' });
  const clock = testing.manualClock();
  const resolver = core.createResolver({ sources: [memory], clock, refreshMs: 1_000 });
  const key = resolver.secret('K', 'K_v2 ?? K_v1');
  await resolver.ready();
  memory.set('K_v2', 'value-dist-2');
  await clock.flush();
  const value = key.value;
  await resolver.close();
  return `${value} ${String(key) === `[keyflip secret K ${core.fingerprint('value-dist-2')}]`}`;
}

describe('the built package', () => {
  it('every export in package.json points at a built file, ESM and CJS with types', () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string') {
        expect(existsSync(join(root, target)), `${subpath} → ${target}`).toBe(true);
        continue;
      }
      for (const file of [target.import.types, target.import.default, target.require.types, target.require.default]) {
        expect(existsSync(join(root, file)), `${subpath} → ${file}`).toBe(true);
      }
    }
    for (const bin of Object.values(pkg.bin)) expect(existsSync(join(root, bin))).toBe(true);
  });

  it('imports as ESM (the package by its name) and works', async () => {
    const core = (await import('keyflip' as string)) as Core;
    const testing = (await import('keyflip/testing' as string)) as Testing;
    const built = (await import(pathToFileURL(join(root, 'dist/index.js')).href)) as Core;
    expect(core.createResolver).toBe(built.createResolver); // the name resolves to dist, not src
    expect(core.createResolver).toBeTypeOf('function');
    expect(await exercise(core, testing)).toBe('value-dist-2 true');
  });

  it('requires as CJS and works, with error classes that survive the two copies', async () => {
    const core = require('keyflip') as Core;
    const testing = require('keyflip/testing') as Testing;
    expect(require.resolve('keyflip')).toMatch(/dist[\\/]index\.cjs$/);
    expect(await exercise(core, testing)).toBe('value-dist-2 true');
    const esm = (await import('keyflip' as string)) as Core;
    const cjsError = new core.NotReadyError('K');
    expect(cjsError instanceof esm.KeyflipError).toBe(false);
    expect(esm.isKeyflipError(cjsError)).toBe(true);
  });

  it("loading 'keyflip' loads no cloud SDK (CJS require cache, and the ESM import graph)", () => {
    const cjs = spawnSync(
      process.execPath,
      ['-e', "require('keyflip'); console.log(JSON.stringify(Object.keys(require.cache)))"],
      { cwd: root, encoding: 'utf8' },
    );
    expect(cjs.status).toBe(0);
    const loaded = JSON.parse(cjs.stdout) as string[];
    expect(loaded.some((p) => p.endsWith(join('dist', 'index.cjs')))).toBe(true);
    expect(loaded.filter((p) => /@google-cloud|@opentelemetry|google-gax|@grpc/.test(p))).toEqual([]);

    // ESM: walk the static import graph from dist/index.js.
    const seen = new Set<string>();
    const bare = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(
        /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(?\s*['"]([^'"]+)['"]/g,
      )) {
        const spec = match[1] ?? match[2] ?? '';
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
        else bare.add(spec);
      }
    };
    walk(join(root, 'dist/index.js'));
    // No node:os: the beacon engine (the only user of hostname()) is in 'keyflip/beacon', not in the core.
    // node:timers/promises: the file source's settle wait (an unref'd, abortable delay).
    // node:console, node:util: logEvents tells a Console from a pino-style logger and prints fields on one line.
    expect([...bare].sort()).toEqual([
      'eventemitter3',
      'lru-cache',
      'node:console',
      'node:crypto',
      'node:fs',
      'node:fs/promises',
      'node:path',
      'node:timers/promises',
      'node:util',
    ]);
  });

  it('the keyflip bin prints the fingerprint of the value on stdin, never the value', async () => {
    const core = require('keyflip') as Core;
    const run = spawnSync(process.execPath, [join(root, pkg.bin.keyflip as string), 'fingerprint'], {
      input: 'sk-cli-value-123\n',
      encoding: 'utf8',
    });
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(core.fingerprint('sk-cli-value-123'));
    expect(run.stdout + run.stderr).not.toContain('sk-cli-value-123');
    const bad = spawnSync(process.execPath, [join(root, pkg.bin.keyflip as string), 'fingerprint', 'sk-in-argv'], {
      encoding: 'utf8',
      input: '',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/never from argv/);
    expect(bad.stderr).not.toContain('sk-in-argv'); // a value passed by mistake is not printed back
  });

  it.each([
    'keyflip/gcp',
    'keyflip/clients',
    'keyflip/beacon',
    'keyflip/otel',
    'keyflip/collector',
    'keyflip/rotation',
    'keyflip/providers',
    'keyflip/testing',
  ])('%s loads as ESM and as CJS, with the same names, and loads no optional peer', async (subpath) => {
    const esm = (await import(subpath)) as Record<string, unknown>;
    const cjs = require(subpath) as Record<string, unknown>;
    expect(Object.keys(esm).length).toBeGreaterThan(0);
    expect(Object.keys(cjs).sort()).toEqual(
      Object.keys(esm)
        .filter((k) => k !== 'default')
        .sort(),
    );
    const child = spawnSync(
      process.execPath,
      [
        '-e',
        `require(${JSON.stringify(subpath)}); const peers = /@google-cloud|google-gax|@grpc|@opentelemetry/; ` +
          'console.log(JSON.stringify(Object.keys(require.cache).filter((p) => peers.test(p))))',
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toEqual([]);
  });

  it('the built CLI has rotate and audit, each with its help and exit codes', () => {
    for (const args of [
      ['rotate', '--help'],
      ['rotate', 'revoke', '--help'],
      ['audit', '--help'],
    ]) {
      const run = spawnSync(process.execPath, [join(root, pkg.bin.keyflip as string), ...args], { encoding: 'utf8' });
      expect([args.join(' '), run.status, run.stderr]).toEqual([args.join(' '), 0, '']);
      expect(run.stdout).toContain('Exit codes');
    }
    const noProject = spawnSync(
      process.execPath,
      [join(root, pkg.bin.keyflip as string), 'rotate', 'status', 'OPENAI_API_KEY'],
      {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      },
    );
    expect(noProject.status).toBe(2);
    expect(noProject.stderr).toContain('--project is required');
  });

  it("importing 'keyflip', 'keyflip/clients' and 'keyflip/testing' loads no LLM SDK (CJS, ESM, import graph)", () => {
    // CJS: the require cache after requiring the three entries.
    const cjs = spawnSync(
      process.execPath,
      [
        '-e',
        `for (const s of ${JSON.stringify(NO_SDK_ENTRIES)}) require(s); ` +
          `const sdk = new RegExp(${JSON.stringify(SDK_PATH.source)}); ` +
          'console.log(JSON.stringify(Object.keys(require.cache).filter((p) => sdk.test(p))))',
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(cjs.stderr).toBe('');
    expect(JSON.parse(cjs.stdout)).toEqual([]);

    // ESM: a resolve hook refuses any SDK specifier; importing the three entries must not trip it. The last
    // line proves the hook works: importing an SDK directly is refused.
    const hook =
      'export async function resolve(specifier, context, next) {' +
      ` if (new RegExp(${JSON.stringify(SDK_SPECIFIER.source)}).test(specifier))` +
      " throw new Error('SDK loaded: ' + specifier);" +
      ' return next(specifier, context); }';
    const esm = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { register } from 'node:module';" +
          `register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});` +
          `for (const s of ${JSON.stringify(NO_SDK_ENTRIES)}) await import(s);` +
          "const probe = await import('@mistralai/mistralai').then(() => 'loaded', (e) => e.message);" +
          "console.log(JSON.stringify(['imported', probe]));",
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(esm.stderr).toBe('');
    expect(JSON.parse(esm.stdout)).toEqual(['imported', 'SDK loaded: @mistralai/mistralai']);

    // The static import graph of each ESM entry names no SDK (only node: builtins and the two dependencies).
    const bare = new Set<string>();
    const seen = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(
        /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(?\s*['"]([^'"]+)['"]/g,
      )) {
        const spec = match[1] ?? match[2] ?? '';
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
        else bare.add(spec);
      }
    };
    for (const entry of ['dist/index.js', 'dist/clients/index.js', 'dist/testing/index.js']) walk(join(root, entry));
    expect([...bare].filter((spec) => SDK_SPECIFIER.test(spec))).toEqual([]);
    expect([...bare].filter((spec) => !spec.startsWith('node:')).sort()).toEqual(['eventemitter3', 'lru-cache']);
  });

  it("importing 'keyflip/gcp' does not load the SDK; the first fetch does", () => {
    const script = `
      const { gcpSecretManager } = require('keyflip/gcp');
      const loaded = () => Object.keys(require.cache).filter((p) => /@google-cloud|google-gax|@grpc/.test(p)).length;
      const before = loaded();
      const source = gcpSecretManager({ projectId: 'p', env: { SECRET_MANAGER_EMULATOR_HOST: '127.0.0.1:9' } });
      const afterCreate = loaded();
      const signal = new AbortController().signal;
      source.fetch({ name: 'K' }, { signal, timeoutMs: 200 }).catch(() => undefined).finally(async () => {
        console.log(JSON.stringify({ before, afterCreate, afterFetch: loaded() }));
        await source.close();
      });
    `;
    const run = spawnSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', timeout: 20_000 });
    expect(run.stderr).toBe('');
    const counts = JSON.parse(run.stdout) as { before: number; afterCreate: number; afterFetch: number };
    expect(counts.before).toBe(0);
    expect(counts.afterCreate).toBe(0);
    expect(counts.afterFetch).toBeGreaterThan(0);
  });

  it('without @google-cloud/secret-manager installed, a fetch fails saying which package to install', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyflip-nosdk-'));
    try {
      // The built package alone, with its two run-time dependencies and nothing else.
      cpSync(join(root, 'dist'), join(dir, 'node_modules/keyflip/dist'), { recursive: true });
      cpSync(join(root, 'package.json'), join(dir, 'node_modules/keyflip/package.json'));
      for (const dep of ['eventemitter3', 'lru-cache'])
        cpSync(join(root, 'node_modules', dep), join(dir, 'node_modules', dep), { recursive: true });
      writeFileSync(
        join(dir, 'main.mjs'),
        `import { createResolver } from 'keyflip';
         import { gcpSecretManager } from 'keyflip/gcp';
         const resolver = createResolver({ sources: [gcpSecretManager({ projectId: 'p' })], startupTimeoutMs: 300 });
         resolver.secret('K');
         await resolver.ready().catch((e) => console.log(e.message));
         await resolver.close();`,
      );
      const run = spawnSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      expect(run.stderr).toBe('');
      expect(run.stdout).toMatch(/needs @google-cloud\/secret-manager .*npm install @google-cloud\/secret-manager/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

const declarations = new Map<string, ReturnType<typeof readDeclarations>>();

/** The published declarations, read the way a user's compiler reads them (chunks and re-exports followed). */
function publicDeclarations(entry: string): ReturnType<typeof readDeclarations> {
  let read = declarations.get(entry);
  if (read === undefined) {
    read = readDeclarations(entry);
    declarations.set(entry, read);
  }
  return read;
}

function readDeclarations(entry: string) {
  const program = ts.createProgram([join(root, entry)], {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    noEmit: true,
    skipLibCheck: true,
  });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(join(root, entry));
  if (source === undefined) throw new Error(`${entry} was not loaded`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error(`${entry} is not a module`);
  const exports = new Map(checker.getExportsOfModule(moduleSymbol).map((s) => [s.name, s] as const));
  /** The members a class declares, as written: `get name`, `refresh`, `private constructor`, `#private`. */
  const members = (name: string): string[] => {
    const exported = exports.get(name);
    if (exported === undefined) throw new Error(`${entry} does not export ${name}`);
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.declarations?.find(ts.isClassDeclaration);
    if (declaration === undefined) throw new Error(`${name} is not a class in ${entry}`);
    return declaration.members.map((member) => {
      const modifiers = ts.canHaveModifiers(member) ? (ts.getModifiers(member) ?? []) : [];
      const isPrivate = modifiers.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword) ? 'private ' : '';
      if (ts.isConstructorDeclaration(member)) return `${isPrivate}constructor`;
      const written = member.name?.getText(member.getSourceFile()) ?? '?';
      if (ts.isGetAccessorDeclaration(member)) return `${isPrivate}get ${written}`;
      return `${isPrivate}${written}`;
    });
  };
  // Every declaration file the entry reaches, for text checks.
  const files = program
    .getSourceFiles()
    .filter((file) => file.fileName.startsWith(join(root, 'dist')))
    .map((file) => ({ name: file.fileName, text: file.text }));
  return { members, files, exports: [...exports.keys()] };
}

describe('the published types are sealed', () => {
  const SURFACE = {
    SecretHandle: [
      '#private',
      'private constructor',
      'get name',
      'get value',
      'get',
      'get info',
      'refresh',
      'toString',
      'toJSON',
      '[inspectSymbol]',
    ],
    SecretFamily: [
      '#private',
      'private constructor',
      'get name',
      'get size',
      'get',
      'refresh',
      'delete',
      'toString',
      'toJSON',
      '[inspectSymbol]',
    ],
    Resolver: [
      '#private',
      'private constructor',
      'secret',
      'family',
      'ready',
      'refresh',
      'snapshot',
      'handles',
      'redact',
      'beaconStats',
      'close',
      'toString',
      'toJSON',
      '[inspectSymbol]',
    ],
  };
  const INTERNALS = /\b(?:slot|slots|raw|previousRaw|takeUses|whenReady|start|uses|servable|loop)\b/;

  it.each(['dist/index.d.ts', 'dist/index.d.cts'])(
    '%s: SecretHandle, SecretFamily and Resolver show their public members only',
    (entry) => {
      const { members } = publicDeclarations(entry);
      for (const [name, expected] of Object.entries(SURFACE)) {
        const found = members(name);
        expect([name, found]).toEqual([name, expected]);
        expect(found.filter((member) => INTERNALS.test(member))).toEqual([]);
      }
    },
  );

  it.each(['dist/index.d.ts', 'dist/index.d.cts', 'dist/beacon/index.d.ts', 'dist/beacon/index.d.cts'])(
    '%s reaches no declaration marked @internal and no slot, loop or beacon engine',
    (entry) => {
      const { files } = publicDeclarations(entry);
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        expect([file.name, file.text.includes('@internal')]).toEqual([file.name, false]);
        expect([file.name, /declare class (?:Slot|RefreshLoop|Beacon)\b/.test(file.text)]).toEqual([file.name, false]);
        expect([file.name, /\b(?:previousRaw|whenReady)\b/.test(file.text)]).toEqual([file.name, false]);
      }
    },
  );

  it("usageBeacon from 'keyflip/beacon' plugs into a resolver from 'keyflip', as ESM and as CJS", async () => {
    type BeaconEntry = typeof import('../../src/beacon/index.js');
    const pairs: [Core, BeaconEntry, Testing][] = [
      [
        (await import('keyflip' as string)) as Core,
        (await import('keyflip/beacon' as string)) as BeaconEntry,
        (await import('keyflip/testing' as string)) as Testing,
      ],
      [require('keyflip') as Core, require('keyflip/beacon') as BeaconEntry, require('keyflip/testing') as Testing],
    ];
    for (const [core, beacon, testing] of pairs) {
      const reports: { secrets: readonly { name: string; uses: number }[] }[] = [];
      const resolver = core.createResolver({
        sources: [core.memorySource({ K: 'value-dist-beacon' })],
        clock: testing.manualClock(),
        beacon: beacon.usageBeacon({ service: 'dist', sink: { send: (report) => void reports.push(report) } }),
      });
      const key = resolver.secret('K');
      await resolver.ready();
      void key.value;
      await resolver.close();
      expect(reports.at(-1)?.secrets).toEqual([expect.objectContaining({ name: 'K', uses: 1 })]);
      expect(resolver.beaconStats()).toMatchObject({ reports: 1, sent: 1 });
      const old = { service: 'dist', sink: { send() {} } } as never;
      expect(() => core.createResolver({ sources: [core.memorySource()], beacon: old })).toThrow(/usageBeacon\(\)/);
    }
  });

  it("the core entry exports no beacon type; 'keyflip/beacon' exports usageBeacon and the report schema", () => {
    const core = publicDeclarations('dist/index.d.ts').exports;
    expect(core.filter((name) => /^Beacon|^BEACON_/.test(name))).toEqual([]);
    expect(core).toEqual(expect.arrayContaining(['UsageReporter', 'UsageReporterHost', 'SecretUsage']));
    const beacon = publicDeclarations('dist/beacon/index.d.ts').exports;
    expect(beacon).toEqual(
      expect.arrayContaining(['usageBeacon', 'BEACON_SCHEMA', 'BeaconReport', 'BeaconSecret', 'BeaconOptions']),
    );
  });
});
