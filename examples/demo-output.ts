/**
 * How `examples/demo.ts` prints: steps, indented lines, colours on a terminal (none with NO_COLOR or when piped),
 * times since the step began, and a record of every line printed, checked at the end for any slice of a value.
 * keyflip itself prints nothing: every line here is written by the demo from what the library returned.
 */
import { stripVTControlCharacters } from 'node:util';
import { fingerprint } from 'keyflip';
import { DEMO_VALUES } from './demo-values.js';

const useColor = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const paint =
  (code: number) =>
  (text: string): string =>
    useColor ? `\x1b[${code}m${text}\x1b[0m` : text;
export const dim = paint(2);
export const bold = paint(1);
export const green = paint(32);
export const red = paint(31);
export const cyan = paint(36);

/** Everything printed, to check at the end that no value ever appeared. */
const printed: string[] = [];

export function say(text = ''): void {
  printed.push(text);
  process.stdout.write(`${text}\n`);
}

/** The widest line printed, in columns: longer text is wrapped. */
const WIDTH = 118;

/**
 * Prints `head` then `text` wrapped at {@link WIDTH} columns, its next lines indented under the text's first
 * character; `paint` colours the text.
 */
export function sayWrapped(head: string, text: string, paint: (text: string) => string = (t) => t): void {
  const indent = stripVTControlCharacters(head).length;
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  lines.forEach((text, i) => {
    say(`${i === 0 ? head : ' '.repeat(indent)}${paint(text)}`);
  });
}

/** A note, dimmed and wrapped. */
export const note = (text: string): void => sayWrapped('   ', text, dim);

const started = performance.now();
let stepStarted = started;
let steps = 0;

/** A numbered step: a rule with its title, then its notes dimmed. Times (`since()`) count from here. */
export function step(title: string, ...notes: string[]): void {
  steps++;
  say();
  say(bold(`── ${steps}. ${title} `.padEnd(100, '─')));
  for (const text of notes) note(text);
  stepStarted = performance.now();
}

/** `+0.84s`: the time since the current step began. */
export function since(): string {
  return `+${((performance.now() - stepStarted) / 1000).toFixed(2)}s`;
}

/** `4 steps in 7.9 s`. */
export function summary(): string {
  return `${steps} steps in ${((performance.now() - started) / 1000).toFixed(1)} s`;
}

/**
 * The demo's three keys, named A, B and C rather than after a secret: in the pair layout a key moves from
 * `OPENAI_API_KEY_v2` to `OPENAI_API_KEY_v1` as it ages, so the secrets are slots, not names of keys.
 */
export const DEMO_KEYS = {
  A: DEMO_VALUES.OPENAI_API_KEY_v1,
  B: DEMO_VALUES.OPENAI_API_KEY_v2,
  C: DEMO_VALUES.OPENAI_API_KEY_v3,
} as const;

/** `key A` for a fingerprint of the demo's keys: the demo knows its own keys, the library does not. */
export function keyName(fp: string | undefined): string {
  for (const [name, value] of Object.entries(DEMO_KEYS)) if (fingerprint(value) === fp) return `key ${name}`;
  return 'unknown key';
}

/** `kf_0d92512ee29d (key A)`. */
export const shownKey = (fp: string | undefined): string => `${fp} (${keyName(fp)})`;

/** The values found in the output (none, or the demo fails): any 8-character slice of one counts. */
export function leakedValues(): string[] {
  const text = printed.join('\n');
  return Object.values(DEMO_VALUES).filter((value) => {
    for (let i = 0; i + 8 <= value.length; i++) if (text.includes(value.slice(i, i + 8))) return true;
    return false;
  });
}
