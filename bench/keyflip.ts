/**
 * The benchmarks measure the built package (dist/), the code users run, not the TypeScript sources.
 * This builds it when it is missing or older than src/ and loads it, typed as the sources.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { newestMtime, ROOT } from './lib.js';

export type Keyflip = typeof import('../src/index.js');

const OUTPUTS = ['dist/index.js', 'dist/index.cjs'];
const INPUTS = ['src', 'package.json', 'tsup.config.ts'];

/** Why dist/ must be rebuilt, or undefined when it is up to date. */
function staleness(): string | undefined {
  const missing = OUTPUTS.filter((file) => !existsSync(join(ROOT, file)));
  if (missing.length > 0) return `${missing.join(', ')} missing`;
  const built = Math.min(...OUTPUTS.map((file) => statSync(join(ROOT, file)).mtimeMs));
  const changed = Math.max(
    ...INPUTS.map((input) => {
      const path = join(ROOT, input);
      return existsSync(path) && statSync(path).isDirectory()
        ? newestMtime(path)
        : existsSync(path)
          ? statSync(path).mtimeMs
          : 0;
    }),
  );
  return changed > built ? 'src/ is newer than dist/' : undefined;
}

/** Runs `npm run build` when dist/ is missing or stale; returns a line saying what was done. */
export function ensureBuilt(): string {
  const why = staleness();
  if (why === undefined) return 'dist/ was up to date';
  process.stdout.write(`building (${why}): npm run build … `);
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (build.status !== 0) {
    process.stdout.write('failed\n');
    process.stderr.write(`${build.stdout ?? ''}${build.stderr ?? ''}`);
    throw new Error(`npm run build failed (exit ${String(build.status)}); the benchmarks need dist/`);
  }
  process.stdout.write('done\n');
  return `dist/ was rebuilt first (${why})`;
}

export async function loadKeyflip(): Promise<Keyflip> {
  return (await import(pathToFileURL(join(ROOT, 'dist/index.js')).href)) as Keyflip;
}
