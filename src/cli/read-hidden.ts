/**
 * A value typed (or pasted) at a terminal, never echoed: the prompt goes to stderr, the terminal is put in raw
 * mode (no echo) while the value is read, and is restored however the read ends (Enter, Ctrl-D, Ctrl-C, an
 * error, or the process exiting).
 */
import { UsageError } from './usage-error.js';

/** The part of `tty.ReadStream` used here; a plain stream in tests. */
export interface TerminalInput extends NodeJS.ReadableStream {
  isTTY?: boolean | undefined;
  setRawMode?(mode: boolean): unknown;
}

/** True when `stream` is a terminal that can turn its echo off. */
export function isTerminal(stream: NodeJS.ReadableStream): stream is TerminalInput {
  const input = stream as TerminalInput;
  return input.isTTY === true && typeof input.setRawMode === 'function';
}

/** The read was interrupted with Ctrl-C: the command exits 130 without an answer. */
export class InterruptedInput extends Error {
  override name = 'InterruptedInput';
}

/** Options of {@link readHidden}. */
export interface ReadHiddenOptions {
  /** Written to `prompt` (stderr) before reading. */
  readonly prompt: string;
  /** Where the prompt and the final newline go. */
  readonly stderr: { write(text: string): unknown };
  /**
   * Several lines, ended by Ctrl-D; otherwise Enter ends the value, and a paste of more than one line is refused.
   * @default false
   */
  readonly multiline?: boolean | undefined;
}

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = new Set(['\u007f', '\b']);

/**
 * Reads one value from a terminal with echo off. Rejects with {@link InterruptedInput} on Ctrl-C and with a
 * {@link UsageError} when several lines are pasted without `multiline`.
 */
export function readHidden(input: TerminalInput, options: ReadHiddenOptions): Promise<string> {
  const { stderr, multiline = false } = options;
  const restore = (): void => {
    input.setRawMode?.(false);
  };
  input.setRawMode?.(true); // echo off before the prompt invites typing
  process.once('exit', restore);
  stderr.write(options.prompt);
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const finish = (error: Error | undefined): void => {
      input.removeListener('data', onData);
      input.removeListener('end', onEnd);
      input.removeListener('error', onError);
      input.pause();
      restore();
      process.removeListener('exit', restore);
      stderr.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onEnd = (): void => finish(undefined);
    const onError = (error: Error): void => finish(error);
    const onData = (chunk: string | Buffer): void => {
      const read = consume(value, typeof chunk === 'string' ? chunk : chunk.toString('utf8'), multiline);
      value = read.value;
      if (read.end) finish(read.error);
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.once('error', onError);
    input.setEncoding('utf8');
    input.resume();
  });
}

/** The value after `text` is typed, and whether (and how) the read ends there. */
function consume(
  typed: string,
  text: string,
  multiline: boolean,
): { value: string; end: boolean; error?: Error | undefined } {
  let value = typed;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === CTRL_C) return { value, end: true, error: new InterruptedInput('interrupted') };
    if (char === CTRL_D) return { value, end: true };
    if (BACKSPACE.has(char)) value = value.slice(0, -1);
    else if (char !== '\r' && char !== '\n') value += char;
    else if (multiline) value += '\n';
    // A paste of several lines arrives in one chunk: the rest is refused here, never left for the shell.
    else if (text.slice(i + 1).trim() !== '') {
      const error = new UsageError('several lines were pasted; pass --multiline to read them as one value');
      return { value, end: true, error };
    } else return { value, end: true };
  }
  return { value, end: false };
}
