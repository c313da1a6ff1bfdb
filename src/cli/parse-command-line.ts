/**
 * The one argv parser of every command: Node's `util.parseArgs` splits argv into tokens (`--name value`,
 * `--name=value`, `-h`, `--` and positionals), and this module checks them against the command's options.
 *
 * parseArgs runs non-strict on purpose: in strict mode its errors quote the offending argument, and an argument
 * that is not a known option may be a key pasted into argv by mistake. Every problem is reported here instead,
 * as a {@link UsageError} that names a known option or gives the argument's position (`#3`), never its text.
 */
import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

/** How an option is written: `string` takes a value (once), `strings` a value and may repeat, `boolean` none. */
export type OptionKind = 'string' | 'strings' | 'boolean';

/** A command's options, by long name without the dashes: `{ 'max-age': 'string', json: 'boolean' }`. */
export type OptionSpec = Readonly<Record<string, OptionKind>>;

/** The values given, by option name; an option not given is absent. */
export type OptionValues<S extends OptionSpec> = {
  readonly [K in keyof S]?: S[K] extends 'boolean' ? true : S[K] extends 'strings' ? readonly string[] : string;
};

/** A parsed command line. */
export interface CommandLine<S extends OptionSpec> {
  /** `--help` or `-h` was given (before any malformed argument): print the help, check nothing else. */
  readonly help: boolean;
  readonly values: OptionValues<S>;
  readonly positionals: readonly string[];
}

/** How many positionals a command takes, and what to add to the message when there are more. */
export interface PositionalRule {
  /** At most this many positionals. */
  readonly max: number;
  /** Appended to "unexpected argument #N (not shown)": `: one SECRET only`. @default '' */
  readonly tooMany?: string | undefined;
}

/**
 * Parses `args` (argv after the command's name) against `spec`; `--help`/`-h` is always known. Throws a
 * {@link UsageError} for an unknown option, a value missing (or empty), a value given to a flag, a `string`
 * option given twice, or too many positionals — in argv order, so `--help` before a bad argument still wins.
 */
export function parseCommandLine<const S extends OptionSpec>(
  args: readonly string[],
  spec: S,
  positional: PositionalRule,
): CommandLine<S> {
  const values: Record<string, true | string | string[]> = {};
  const positionals: string[] = [];
  for (const token of tokensOf(args, spec)) {
    const at = `#${token.index + 1}`;
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (positionals.length >= positional.max)
        throw new UsageError(`unexpected argument ${at} (not shown)${positional.tooMany ?? ''}`);
      positionals.push(token.value);
      continue;
    }
    const kind = Object.hasOwn(spec, token.name) ? spec[token.name] : undefined;
    if (token.name === 'help' && kind === undefined) {
      if (token.value !== undefined) throw new UsageError('--help takes no value');
      return { help: true, values: {}, positionals: [] };
    }
    if (kind === undefined || !token.rawName.startsWith('--')) throw new UsageError(`unknown option ${at} (not shown)`);
    const option = `--${token.name}`;
    if (kind === 'boolean') {
      if (token.value !== undefined) throw new UsageError(`${option} takes no value`);
      values[token.name] = true;
      continue;
    }
    if (token.value === undefined || token.value === '') throw new UsageError(`${option} needs a value`);
    const previous = values[token.name];
    if (kind === 'strings') values[token.name] = [...((previous as string[] | undefined) ?? []), token.value];
    else if (previous !== undefined) throw new UsageError(`${option} given twice`);
    else values[token.name] = token.value;
  }
  return { help: false, values: values as OptionValues<S>, positionals };
}

function tokensOf(args: readonly string[], spec: OptionSpec) {
  const options = Object.fromEntries(
    Object.entries(spec).map(([name, kind]) => [name, { type: kind === 'boolean' ? 'boolean' : 'string' } as const]),
  );
  try {
    return parseArgs({
      args: [...args],
      options: { help: { type: 'boolean', short: 'h' }, ...options },
      strict: false,
      allowPositionals: true,
      tokens: true,
    }).tokens;
  } catch {
    // Not expected in non-strict mode; if it happens, its message may quote an argument: neither it nor the
    // error is passed on.
    throw new UsageError('the arguments cannot be parsed (not shown)');
  }
}
