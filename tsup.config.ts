import { readFileSync, rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * One entry per subpath export, built as ESM and CJS with their declarations (test/dist/tarball.test.ts checks that
 * this list, package.json's `exports` and its `typesVersions` agree).
 */
export const entries = {
  index: 'src/index.ts',
  gcp: 'src/sources/gcp.ts',
  'clients/index': 'src/clients/index.ts',
  'beacon/index': 'src/beacon/index.ts',
  otel: 'src/beacon/otel.ts',
  'collector/index': 'src/collector/index.ts',
  'rotation/index': 'src/rotation/index.ts',
  'providers/index': 'src/providers/index.ts',
  'testing/index': 'src/testing/index.ts',
};

/** The `keyflip` bin (package.json `bin`): ESM only, no declarations — nothing imports it. */
export const cli = { 'cli/index': 'src/cli/index.ts' };

const shared = {
  clean: false, // the three builds below write to dist/ at once: it is emptied once, before they start
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  removeNodeProtocol: false,
  splitting: true,
  treeshake: true,
  define: { __KEYFLIP_VERSION__: JSON.stringify(pkg.version) },
} satisfies Options;

// `stripInternal`: a second fence behind the real privacy of `#fields` and private constructors — a declaration
// marked `@internal` never reaches the published `.d.ts` (test/dist/package.test.ts checks).
const dts = { only: true, compilerOptions: { stripInternal: true } };

export default defineConfig(() => {
  // tsup runs the builds of an array concurrently, so none of them may clean dist/ (one would delete what another
  // wrote); emptying it here keeps a stale file (an old chunk, a dist/cli/index.cjs) out of the tarball.
  rmSync(new URL('./dist', import.meta.url), { recursive: true, force: true });
  return [
    // ESM: the library and the CLI, sharing their chunks.
    { ...shared, entry: { ...entries, ...cli }, format: ['esm'] },
    // CJS: the library only.
    { ...shared, entry: entries, format: ['cjs'] },
    // The declarations of the library, both flavours in one pass (.d.ts for ESM, .d.cts for CJS).
    { ...shared, entry: entries, format: ['esm', 'cjs'], dts },
  ];
});
