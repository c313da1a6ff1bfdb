import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The TypeScript blocks of README.md and docs/ compile against the BUILT package (`--dist`: 'keyflip…' resolves
 * through package.json's exports, as in a user's project); `npm run typecheck` checks them against src/. And the
 * checker is not vacuous: it finds the blocks, and it fails on a broken one.
 */
const root = resolve(import.meta.dirname, '../..');
const script = join(root, 'scripts/check-snippets.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'keyflip-snippets-'));

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function check(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [script, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
}

function page(name: string, text: string): string {
  const file = join(scratch, name);
  writeFileSync(file, text);
  return file;
}

describe('the code blocks of README.md and docs/', () => {
  it('every TypeScript block compiles against the built package', () => {
    const run = check('--dist');
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/^(\d+) TypeScript blocks checked against dist\/: 0 problems\n$/);
    // README.md alone has several (install, quick start): a count of 0 would mean nothing was checked.
    expect(Number(/^(\d+)/.exec(run.stdout)?.[1])).toBeGreaterThan(5);
    expect(run.status).toBe(0);
  });

  it('the checker fails on a broken block, names its page and line, and checks blocks nested in a list', () => {
    const file = page(
      'broken.md',
      [
        '# A page',
        '',
        '```ts',
        "import { createResolver, memorySource } from 'keyflip';",
        'const resolver = createResolver({ sources: [memorySource({ K: "v" })] });',
        'export const key = resolver.secret("K");',
        '```',
        '',
        '- a step:',
        '',
        '  ```typescript',
        "  import { fingerprint } from 'keyflip';",
        '  export const shown: number = fingerprint("value");',
        '  ```',
        '',
        '```sh',
        'this is not TypeScript',
        '```',
        '',
      ].join('\n'),
    );
    const run = check('--dist', file);
    expect(run.stdout).toMatch(/^2 TypeScript blocks checked against dist\/: 1 problems\n$/);
    expect(run.stderr).toMatch(
      /broken\.md:13 \(line 2 of the block\): Type 'string' is not assignable to type 'number'/,
    );
    expect(run.status).toBe(1);
  });

  it('the checker fails when it finds nothing to check, or a fence left open', () => {
    const none = check(page('none.md', '# No TypeScript here\n\n```sh\nnpm test\n```\n'));
    expect([none.status, none.stderr]).toEqual([1, expect.stringMatching(/no TypeScript block found/)]);
    const open = check(page('open.md', '# Open\n\n```ts\nconst x = 1;\n'));
    expect([open.status, open.stderr]).toEqual([1, expect.stringMatching(/open\.md:3: a code fence .* never closed/)]);
  });
});
