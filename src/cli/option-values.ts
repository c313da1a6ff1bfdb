/** Checks of option values shared by the commands; each throws a {@link UsageError} naming the option. */
import { parseDuration } from '../duration.js';
import { UsageError } from './usage-error.js';

/** The Google Cloud project: `--project`, else KEYFLIP_PROJECT, else GOOGLE_CLOUD_PROJECT. */
export function projectOf(
  option: string | undefined,
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
): string {
  const project = option ?? env.KEYFLIP_PROJECT ?? env.GOOGLE_CLOUD_PROJECT;
  if (!project) throw new UsageError('--project is required (or set KEYFLIP_PROJECT or GOOGLE_CLOUD_PROJECT)');
  return project;
}

/** A positive duration option (`60m`, `90d`), in ms. */
export function durationArg(option: string, text: string): number {
  const ms = parseDurationArg(option, text);
  if (ms <= 0) throw new UsageError(`${option} must be longer than 0`);
  return ms;
}

/** A duration option in ms, as written (`0s` included); the message says what is accepted. */
export function parseDurationArg(option: string, text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new UsageError(`${option}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A whole-number option from `min` to `max`. */
export function integerArg(option: string, text: string, min: number, max: number): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < min || Number(text) > max)
    throw new UsageError(`${option} needs an integer from ${min} to ${max}`);
  return Number(text);
}

/** The collector's token from KEYFLIP_COLLECTOR_TOKEN (never from argv); blank means none. */
export function collectorToken(env: NodeJS.ProcessEnv | Record<string, string | undefined>): string | undefined {
  const token = env.KEYFLIP_COLLECTOR_TOKEN?.trim();
  return token === '' ? undefined : token;
}
