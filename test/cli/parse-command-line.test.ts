import { describe, expect, it } from 'vitest';
import { KeyflipError } from '../../src/errors.js';
import { parseCommandLine } from '../../src/cli/parse-command-line.js';
import { table } from '../../src/cli/table.js';
import { UsageError } from '../../src/cli/usage-error.js';
import { SAMPLES } from '../clients/samples.js';
import { leaks } from '../helpers.js';

const ALL = Object.values(SAMPLES);
const SPEC = { window: 'string', allow: 'strings', json: 'boolean', 'max-age': 'string' } as const;
const parse = (args: string[], max = 1) => parseCommandLine(args, SPEC, { max, tooMany: ': one SECRET only' });

/** The UsageError message `args` give. */
function problem(args: string[], max = 1): string {
  try {
    parse(args, max);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toBeInstanceOf(KeyflipError);
    expect((error as UsageError).code).toBe('USAGE');
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${args.length} arguments`);
}

describe('parseCommandLine (util.parseArgs, non-echoing)', () => {
  it('values as --name value and --name=value, flags, repeatable options, positionals, -- ends the options', () => {
    expect(parse(['S', '--window', '60m', '--json', '--allow=a', '--allow', 'b', '--max-age', '-5'])).toEqual({
      help: false,
      values: { window: '60m', json: true, allow: ['a', 'b'], 'max-age': '-5' },
      positionals: ['S'],
    });
    expect(parse(['--', '--json', '-'], 2)).toEqual({ help: false, values: {}, positionals: ['--json', '-'] });
  });

  it('--help or -h wins over anything after it; a bad argument before it is still reported', () => {
    expect(parse(['--help', '--bogus', 'a', 'b']).help).toBe(true);
    expect(parse(['S', '-h']).help).toBe(true);
    expect(problem(['--bogus', '--help'])).toBe('unknown option #1 (not shown)');
    expect(problem(['--help=yes'])).toBe('--help takes no value');
  });

  it('names a known option in its message, and gives anything else by position only', () => {
    const cases: [string[], string][] = [
      [['S', '--window'], '--window needs a value'],
      [['S', '--window='], '--window needs a value'],
      [['--window', ''], '--window needs a value'],
      [['--json=1'], '--json takes no value'],
      [['--window', '1h', '--window=2h'], '--window given twice'],
      [['S', 'T'], 'unexpected argument #2 (not shown): one SECRET only'],
      [['S', '--json', `--${SAMPLES.openai}`], 'unknown option #3 (not shown)'],
      [['S', `--x=${SAMPLES.groq}`], 'unknown option #2 (not shown)'],
      [['-xyz'], 'unknown option #1 (not shown)'],
      [['-w', '1h'], 'unknown option #1 (not shown)'],
      [['--WINDOW', '1h'], 'unknown option #1 (not shown)'],
      [['--__proto__'], 'unknown option #1 (not shown)'],
    ];
    for (const [args, message] of cases) {
      const text = problem(args);
      expect([args.length, text]).toEqual([args.length, message]);
      expect(leaks(text, ALL)).toEqual([]);
    }
    expect(problem(['K'], 0)).toBe('unexpected argument #1 (not shown): one SECRET only');
  });
});

describe('table', () => {
  it('pads each column to its widest cell, two spaces apart, indented, right-aligned where asked', () => {
    const out = table(
      ['NAME', 'PID', 'NOTE'],
      [
        ['checkout-api', '7', 'old key'],
        ['w', '12345', ''],
      ],
      { alignRight: ['PID'] },
    );
    expect(out.split('\n')).toEqual([
      '  NAME            PID  NOTE',
      '  checkout-api      7  old key',
      '  w             12345',
    ]);
  });
});
