/**
 * Argument checks shared by every layer. Each throws a {@link ConfigurationError} that names the option (or
 * argument) and what is accepted; values are described, never quoted at length.
 */
import { ConfigurationError } from './errors.js';

/** A plain object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A positive number of milliseconds, or `fallback` when `value` is undefined. `Infinity` only with
 * `allowInfinity`. `option` is how the caller names it in the message (`refreshMs`, `createCollector: retentionMs`).
 */
export function positiveMs(option: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new ConfigurationError(
      `\`${option}\` must be a positive number of milliseconds${allowInfinity ? ' (or Infinity)' : ''}, ` +
        `not ${describeValue(value)}`,
    );
  }
  return value;
}

/** A whole number of at least `min` (default 1), or `fallback` when `value` is undefined. */
export function wholeNumber(option: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new ConfigurationError(
      `\`${option}\` must be a whole number of at least ${min}, not ${describeValue(value)}`,
    );
  }
  return value;
}

/** A number from 0 to 1, or `fallback` when `value` is undefined. */
export function fraction(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new ConfigurationError(`\`${option}\` must be a number from 0 to 1, not ${describeValue(value)}`);
  }
  return value;
}

/** Says what a value is for a message: numbers, booleans and short strings as written; anything else by type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null)
    return String(value);
  if (typeof value === 'string')
    return value.length <= 24 ? JSON.stringify(value) : `a string of ${value.length} characters`;
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}
