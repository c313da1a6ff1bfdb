/**
 * `keyflip fingerprint`: on a terminal it prompts on stderr, turns echo off while the value is typed and restores
 * it however the read ends; a value of several lines is refused unless `--multiline` is given.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { fingerprint } from '../../src/fingerprint.js';
import { leaks } from '../helpers.js';
import { runInProcess } from '../support/cli.js';

const VALUE = 'sk-typed-at-a-terminal-0123456789';

/** A terminal as the CLI sees it: a stream with `isTTY` and `setRawMode`, the modes it was put in recorded. */
function fakeTerminal() {
  const stdin = Object.assign(new PassThrough(), {
    isTTY: true,
    modes: [] as boolean[],
    setRawMode(mode: boolean) {
      stdin.modes.push(mode);
      return stdin;
    },
  });
  let stdout = '';
  let stderr = '';
  let prompted: () => void = () => {};
  const prompt = new Promise<void>((resolve) => {
    prompted = resolve;
  });
  const io = {
    stdin,
    stdout: { write: (text: string) => (stdout += text) },
    stderr: {
      write: (text: string) => {
        stderr += text;
        if (text.includes('not shown')) prompted();
      },
    },
    env: {},
  };
  return { io, stdin, prompt, out: () => stdout, err: () => stderr };
}

describe('keyflip fingerprint on a terminal (a fake one, through CliIo)', () => {
  it('prompts on stderr, reads with echo off, restores the terminal, prints only the fingerprint', async () => {
    const t = fakeTerminal();
    const run = main(['fingerprint'], t.io);
    await t.prompt;
    expect(t.stdin.modes).toEqual([true]); // echo off before anything is typed
    t.stdin.write(`${VALUE}x\u007f\r`); // a typo and a backspace, then Enter
    expect(await run).toBe(0);
    expect(t.stdin.modes).toEqual([true, false]);
    expect(t.out()).toBe(`${fingerprint(VALUE)}\n`);
    expect(t.err()).toMatch(/^keyflip fingerprint: paste the value, then press Enter \(it is not shown\): \n$/);
    expect(leaks(t.out() + t.err(), [VALUE])).toEqual([]);
  });

  it('Ctrl-C: exit 130, the terminal restored, nothing printed', async () => {
    const t = fakeTerminal();
    const run = main(['fingerprint'], t.io);
    await t.prompt;
    t.stdin.write(`${VALUE}\u0003`);
    expect(await run).toBe(130);
    expect(t.stdin.modes).toEqual([true, false]);
    expect(t.out()).toBe('');
    expect(leaks(t.err(), [VALUE])).toEqual([]);
  });

  it('several lines pasted: refused (and consumed) unless --multiline; with it, Ctrl-D ends the value', async () => {
    const refused = fakeTerminal();
    const run = main(['fingerprint'], refused.io);
    await refused.prompt;
    refused.stdin.write(`${VALUE}\rsecond-line\r`);
    expect(await run).toBe(2);
    expect(refused.stdin.modes).toEqual([true, false]);
    expect(refused.err()).toContain('pass --multiline');
    expect(leaks(refused.out() + refused.err(), [VALUE, 'second-line'])).toEqual([]);

    const accepted = fakeTerminal();
    const multi = main(['fingerprint', '--multiline'], accepted.io);
    await accepted.prompt;
    accepted.stdin.write(`${VALUE}\rsecond-line\r\u0004`);
    expect(await multi).toBe(0);
    expect(accepted.out()).toBe(`${fingerprint(`${VALUE}\nsecond-line`)}\n`);
  });
});

describe('keyflip fingerprint, piped', () => {
  it('refuses a value of several lines unless --multiline', async () => {
    const refused = await runInProcess(['fingerprint'], { stdin: `${VALUE}\nsecond-line\n` });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('the value has several lines; pass --multiline');
    expect(leaks(refused.stdout + refused.stderr, [VALUE, 'second-line'])).toEqual([]);

    const accepted = await runInProcess(['fingerprint', '--multiline'], { stdin: `${VALUE}\nsecond-line\n` });
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toBe(`${fingerprint(`${VALUE}\nsecond-line`)}\n`);
  });

  it('one line as before: no prompt', async () => {
    const run = await runInProcess(['fingerprint'], { stdin: `${VALUE}\n` });
    expect(run).toEqual({ code: 0, stdout: `${fingerprint(VALUE)}\n`, stderr: '' });
  });
});

const SCRIPT = '/usr/bin/script';
const ENTRY = fileURLToPath(new URL('../../src/cli/index.ts', import.meta.url));

describe.skipIf(!existsSync(SCRIPT))('keyflip fingerprint on a real pseudo-terminal (util-linux script)', () => {
  it('what is typed is not echoed; the fingerprint is printed', async () => {
    // `script` runs the CLI on a pseudo-terminal and copies our input to it; the value is written only once the
    // prompt is shown (echo is off by then).
    const child = spawn(SCRIPT, ['-qfec', `${process.execPath} --import tsx ${ENTRY} fingerprint`, '/dev/null'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    const prompted = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString('utf8');
        if (output.includes('not shown')) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await Promise.race([prompted, exited.then((code) => Promise.reject(new Error(`exited ${code} unprompted`)))]);
      child.stdin.write(`${VALUE}\r`);
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL'); // a no-op once it has exited; never left running when an assertion fails
    }
    expect(output).toContain(fingerprint(VALUE));
    expect(leaks(output, [VALUE])).toEqual([]);
  }, 20_000);
});
