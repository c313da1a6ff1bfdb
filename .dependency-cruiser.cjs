/**
 * The layers of src/ (docs/architecture.md): each may import only the layers below it, and nothing imports
 * `testing`. `npm run lint` runs this; a violation or a cycle fails `npm test`.
 *
 *   cli        → rotation, collector, clients, scan, beacon, core
 *   rotation   → providers, collector, clients, sources (gcp admin), core
 *   collector  → beacon schema (types), core
 *   clients    → core
 *   providers  → core
 *   scan       → core
 *   beacon     → core (through the plug-in interface the resolver exposes)
 *   core       = src/*.ts and src/sources/**
 *   testing    → anything; nothing imports testing, but for one exception: `keyflip emulator`
 *                (src/cli/emulator.ts) runs the Secret Manager emulator, through src/testing/emulator/index.ts only
 */
const CORE = '^src/(?:[^/]+\\.ts$|sources/)';
const layer = (name) => `^src/${name}/`;
/** `keyflip emulator`, the one file outside `testing` that may import it, and the one module of it that it may. */
const EMULATOR_COMMAND = '^src/cli/emulator\\.ts$';
const EMULATOR_INDEX = '^src/testing/emulator/index\\.ts$';

/** A rule: files in `from` may import only `allowed` (besides their own layer, node built-ins and packages). */
function only(name, from, allowed) {
  return {
    name: `layer-${name}`,
    severity: 'error',
    comment: `${name} may import only: ${allowed.join(', ') || 'its own layer'}`,
    from: { path: from },
    to: {
      path: '^src/',
      pathNot: [from, ...allowed],
    },
  };
}

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'Import cycles hide which module depends on which.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    only('core', CORE, []),
    only('beacon', layer('beacon'), [CORE]),
    only('collector', layer('collector'), [CORE, '^src/beacon/types\\.ts$']),
    only('clients', layer('clients'), [CORE]),
    only('providers', layer('providers'), [CORE]),
    only('scan', layer('scan'), [CORE]),
    only('rotation', layer('rotation'), [
      CORE,
      layer('providers'),
      layer('collector'),
      layer('clients'),
      '^src/beacon/types\\.ts$',
    ]),
    only('cli', layer('cli'), [
      CORE,
      layer('rotation'),
      layer('collector'),
      layer('clients'),
      layer('providers'),
      layer('scan'),
      layer('beacon'),
      // Only src/cli/emulator.ts, and only this module: `nothing-imports-testing` refuses every other case.
      EMULATOR_INDEX,
    ]),
    {
      name: 'nothing-imports-testing',
      severity: 'error',
      comment:
        'testing is for tests; the one exception is `keyflip emulator` (src/cli/emulator.ts), which runs the ' +
        "emulator for an app's local development: the command is the emulator, so it imports it, through its index.",
      from: { path: '^src/', pathNot: [layer('testing'), EMULATOR_COMMAND] },
      to: { path: layer('testing') },
    },
    {
      name: 'emulator-command-imports-only-the-emulator',
      severity: 'error',
      comment: 'keyflip emulator may import the emulator (src/testing/emulator/index.ts) and nothing else of testing.',
      from: { path: EMULATOR_COMMAND },
      to: { path: layer('testing'), pathNot: EMULATOR_INDEX },
    },
    {
      name: 'core-imports-no-cloud-sdk',
      severity: 'error',
      comment: 'The core loads the Google SDK lazily in sources/gcp*.ts only.',
      from: { path: CORE, pathNot: '^src/sources/gcp' },
      to: { path: 'node_modules/@google-cloud/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    exclude: { path: '^(?:node_modules|dist)/' },
  },
};
