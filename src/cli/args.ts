/**
 * A small option parser for the commands with many options (`rotate`, `audit`): `--name value` and
 * `--flag`, positionals in order. Arguments that are not known options are never echoed back: a key
 * pasted into argv by mistake must not be printed.
 */
import { parseDuration } from '../duration.js';

export class UsageError extends Error {}

export type OptionSpec = Readonly<Record<string, 'value' | 'flag'>>;

export interface ParsedArgs {
  readonly positionals: readonly string[];
  readonly values: ReadonlyMap<string, string>;
  readonly flags: ReadonlySet<string>;
  readonly help: boolean;
}

export function parseArgs(args: readonly string[], spec: OptionSpec, maxPositionals: number): ParsedArgs {
  const positionals: string[] = [];
  const values = new Map<string, string>();
  const flags = new Set<string>();
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg.startsWith('-')) {
      const eq = arg.indexOf('=');
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      const kind = spec[name];
      if (kind === undefined) throw new UsageError(`unknown option #${i + 1} (not shown)`);
      if (kind === 'flag') {
        if (eq > 0) throw new UsageError(`${name} takes no value`);
        flags.add(name);
      } else {
        const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
        if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
        if (values.has(name)) throw new UsageError(`${name} given twice`);
        values.set(name, value);
      }
      continue;
    }
    if (positionals.length >= maxPositionals) throw new UsageError(`unexpected argument #${i + 1} (not shown)`);
    positionals.push(arg);
  }
  return { positionals, values, flags, help };
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
/** Text from a backend or a record, safe for a terminal. */
export const clean = (text: string): string => text.replace(CONTROL, '?');

/** Reads stdin (or a file) to the end. Refuses a terminal: values come piped, never typed into argv. */
export async function readValue(io: { stdin: NodeJS.ReadableStream }, file: string | undefined): Promise<string> {
  if (file !== undefined) {
    const { readFile } = await import('node:fs/promises');
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(`--value-file: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if ((io.stdin as { isTTY?: boolean }).isTTY)
    throw new UsageError('pipe the key on stdin (keyflip rotate … < key.txt) or pass --value-file FILE');
  return readAll(io.stdin);
}

/** A stream read to the end, as UTF-8. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The Google Cloud project: `--project`, else KEYFLIP_PROJECT, else GOOGLE_CLOUD_PROJECT. */
export function projectOf(
  values: ReadonlyMap<string, string>,
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): string {
  const project = values.get('--project') ?? env.KEYFLIP_PROJECT ?? env.GOOGLE_CLOUD_PROJECT;
  if (!project) throw new UsageError('--project is required (or set KEYFLIP_PROJECT or GOOGLE_CLOUD_PROJECT)');
  return project;
}

/** A positive duration option (`60m`, `90d`), in ms. */
export function durationArg(flag: string, text: string): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new UsageError(`${flag}: ${(error as Error).message}`);
  }
  if (ms <= 0) throw new UsageError(`${flag} must be longer than 0`);
  return ms;
}

/** Rows under a header, each column as wide as its widest cell, indented two spaces. */
export function columns(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    `  ${cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd()}`;
  return [line(header), ...rows.map(line)].join('\n');
}
