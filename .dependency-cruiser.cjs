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
 *   testing    → anything; nothing imports testing
 */
const CORE = '^src/(?:[^/]+\\.ts$|sources/)';
const layer = (name) => `^src/${name}/`;

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
    ]),
    {
      name: 'nothing-imports-testing',
      severity: 'error',
      from: { path: '^src/', pathNot: layer('testing') },
      to: { path: layer('testing') },
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
