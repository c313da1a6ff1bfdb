import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { fingerprint } from '../../src/index.js';
import { IGNORE_FILE, loadAllowLists, parseAllowList, readAllowList } from '../../src/scan/index.js';
import { SAMPLES } from '../clients/samples.js';
import { leaks } from '../helpers.js';

const FP = {
  groq: fingerprint(SAMPLES.groq),
  openai: fingerprint(SAMPLES.openai),
  gemini: fingerprint(SAMPLES.gemini),
};

let dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyflip-allow-'));
  dirs.push(dir);
  return dir;
}

/** The error `run` throws (it must throw). */
async function failure(run: () => unknown): Promise<Error> {
  try {
    await run();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('parseAllowList', () => {
  it('one fingerprint per line: # comments, blank lines, words after the fingerprint and CRLF are allowed', () => {
    const text = `# fixtures\r\n${FP.groq}  the groq fixture\r\n\r\n   ${FP.openai} # docs\n#${FP.gemini}\n`;
    expect(parseAllowList(text, 'allow.txt')).toEqual([FP.groq, FP.openai]);
    expect(parseAllowList('', 'empty.txt')).toEqual([]);
  });

  it('a line that is not a fingerprint is a ConfigurationError naming the file and line, never the line', async () => {
    for (const line of [SAMPLES.openai, 'kf_NOTHEX000000', `${FP.groq.toUpperCase()}`]) {
      const error = await failure(() => parseAllowList(`${FP.groq}\n\n${line}\n`, 'team.allow'));
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error.message).toBe('team.allow:3: not a fingerprint (kf_ + 12 hex digits); the line is not shown');
      expect(leaks(error.message, [line])).toEqual([]);
    }
  });
});

describe('readAllowList', () => {
  it('reads a file; a missing one fails unless optional (then a directory counts as missing)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'allow.txt'), `${FP.groq}\n`);
    expect(await readAllowList(join(dir, 'allow.txt'))).toEqual([FP.groq]);
    const missing = await failure(() => readAllowList(join(dir, 'missing.txt')));
    expect(missing).toBeInstanceOf(ConfigurationError);
    expect(missing.message).toBe(`cannot read the allow-list ${join(dir, 'missing.txt')} (ENOENT)`);
    expect(await readAllowList(join(dir, 'missing.txt'), { optional: true })).toEqual([]);
    expect(await readAllowList(dir, { optional: true })).toEqual([]);
    expect((await failure(() => readAllowList(dir))).message).toContain('(EISDIR)');
  });
});

describe('loadAllowLists', () => {
  it('the files given, then .keyflipignore in the current directory and in each directory scanned', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'repo'));
    mkdirSync(join(dir, 'cwd'));
    writeFileSync(join(dir, 'given.txt'), `${FP.groq}\n`);
    writeFileSync(join(dir, 'repo', IGNORE_FILE), `${FP.openai}\n`);
    writeFileSync(join(dir, 'cwd', IGNORE_FILE), `${FP.gemini}\n`);
    writeFileSync(join(dir, 'repo', 'file.txt'), 'text\n');
    const previous = process.cwd();
    process.chdir(join(dir, 'cwd'));
    try {
      const all = await loadAllowLists([join(dir, 'given.txt')], [join(dir, 'repo'), join(dir, 'missing')]);
      expect([...all].sort()).toEqual([FP.gemini, FP.groq, FP.openai].sort());
      // A file among the paths has no .keyflipignore of its own; a missing path is the walker's business.
      expect([...(await loadAllowLists([], [join(dir, 'repo', 'file.txt')]))]).toEqual([FP.gemini]);
    } finally {
      process.chdir(previous);
    }
  });

  it('an allow-list file given that cannot be read fails, before any .keyflipignore is read', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, IGNORE_FILE), 'not a fingerprint\n');
    const error = await failure(() => loadAllowLists([join(dir, 'nope.txt')], [dir]));
    expect(error.message).toBe(`cannot read the allow-list ${join(dir, 'nope.txt')} (ENOENT)`);
    const bad = await failure(() => loadAllowLists([], [dir]));
    expect(bad.message).toBe(
      `${join(dir, IGNORE_FILE)}:1: not a fingerprint (kf_ + 12 hex digits); the line is not shown`,
    );
  });
});
