/**
 * A small option parser for the commands with many options (`rotate`, `audit`): `--name value` and
 * `--flag`, positionals in order. Arguments that are not known options are never echoed back: a key
 * pasted into argv by mistake must not be printed.
 */
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
  if ((io.stdin as { isTTY?: boolean }).isTTY) throw new UsageError('pipe the key on stdin (keyflip rotate … < key.txt) or pass --value-file FILE');
  const chunks: Buffer[] = [];
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}
