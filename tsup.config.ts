import { readFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8')) as { version: string };

/** One entry per subpath export; `test/dist.test.ts` checks that the two lists agree. */
export const entries = {
  index: 'src/index.ts',
  gcp: 'src/sources/gcp.ts',
  'clients/index': 'src/clients/index.ts',
  'beacon/index': 'src/beacon/index.ts',
  otel: 'src/beacon/otel.ts',
  'collector/index': 'src/collector/index.ts',
  'rotation/index': 'src/rotation/index.ts',
  'testing/index': 'src/testing/index.ts',
  'cli/index': 'src/cli/index.ts',
};

export default defineConfig({
  entry: entries,
  format: ['esm', 'cjs'],
  // `stripInternal`: a second fence behind the real privacy of `#fields` and private constructors — a
  // declaration marked `@internal` never reaches the published `.d.ts` (test/dist/package.test.ts checks).
  dts: { compilerOptions: { stripInternal: true } },
  clean: true,
  sourcemap: false,
  target: 'node20',
  platform: 'node',
  removeNodeProtocol: false,
  splitting: true,
  treeshake: true,
  define: { __KEYFLIP_VERSION__: JSON.stringify(pkg.version) },
});
