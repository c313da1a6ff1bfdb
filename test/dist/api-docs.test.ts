import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { entries } from '../../tsup.config.js';

/**
 * The API reference (`npm run docs`): typedoc over every public entry point, with its validation on (nothing public
 * undocumented, no broken {@link}, no public type that refers to an unexported one) and warnings as errors.
 */
const root = resolve(import.meta.dirname, '../..');
const config = JSON.parse(readFileSync(join(root, 'typedoc.json'), 'utf8')) as {
  entryPoints: string[];
  out: string;
  treatWarningsAsErrors: boolean;
  validation: Record<string, boolean>;
};
const out = mkdtempSync(join(tmpdir(), 'keyflip-api-'));

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the API reference', () => {
  it('covers every entry point of the package, warnings as errors, every validation on', () => {
    expect([...config.entryPoints].sort()).toEqual(Object.values(entries).sort());
    expect(config.out).toBe('docs/api'); // gitignored
    expect(config.treatWarningsAsErrors).toBe(true);
    expect(config.validation).toMatchObject({ notExported: true, invalidLink: true, notDocumented: true });
  });

  it('npm run docs builds it without a warning', () => {
    const typedoc = join(root, 'node_modules/typedoc/bin/typedoc');
    // Into a temporary directory: a test does not overwrite the docs/api/ a developer built.
    const run = spawnSync(process.execPath, [typedoc, '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: 170_000,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect(output.split('\n').filter((line) => /\[(?:warning|error)\]/.test(line))).toEqual([]);
    expect(run.status).toBe(0);
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    // One page per entry point, named by its import specifier.
    const modules = readFileSync(join(out, 'index.html'), 'utf8');
    for (const name of ['keyflip', 'keyflip/gcp', 'keyflip/testing']) expect(modules).toContain(`>${name}<`);
  }, 180_000);
});
