/**
 * What the CLI reads besides argv: stdin, and the files options name. A file that cannot be read is a
 * {@link UsageError} that names the option, never the path (a key pasted where a path goes must not be printed).
 */
import { readFile } from 'node:fs/promises';
import { UsageError } from './usage-error.js';

/** A stream read to the end, as UTF-8. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** The file an option names, as UTF-8 text. */
export async function readOptionFile(option: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`${option}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** A key: the `--value-file` file, else stdin to the end. Refuses a terminal: keys come piped, never typed. */
export async function readValue(io: { stdin: NodeJS.ReadableStream }, file: string | undefined): Promise<string> {
  if (file !== undefined) return readOptionFile('--value-file', file);
  if ((io.stdin as { isTTY?: boolean }).isTTY)
    throw new UsageError('pipe the key on stdin (keyflip rotate … < key.txt) or pass --value-file FILE');
  return readAll(io.stdin);
}
