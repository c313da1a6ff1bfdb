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
 * The longest delay a Node timer takes, in milliseconds (2³¹−1, about 24.8 days). A longer one fires after 1 ms
 * with a `TimeoutOverflowWarning`, so every duration keyflip gives a timer (`refreshMs`, `ttlMs`, …) is refused
 * above it (a `ConfigurationError`).
 */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * A positive number of milliseconds, at most {@link MAX_TIMER_MS}, or `fallback` when `value` is undefined.
 * `Infinity` only with `allowInfinity`. `option` is how the caller names it in the message (`refreshMs`,
 * `createCollector: retentionMs`).
 */
export function positiveMs(option: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new ConfigurationError(
      `\`${option}\` must be a positive number of milliseconds${allowInfinity ? ' (or Infinity)' : ''}, ` +
        `not ${describeValue(value)}`,
    );
  }
  if (value > MAX_TIMER_MS && Number.isFinite(value)) {
    throw new ConfigurationError(
      `\`${option}\` must be at most ${MAX_TIMER_MS} milliseconds (about 24.8 days, the longest timer Node ` +
        `keeps)${allowInfinity ? ' or Infinity' : ''}, not ${describeValue(value)}`,
    );
  }
  return value;
}

/**
 * A positive span of time in milliseconds that is never given to a timer — a window looked back over, a retention,
 * how long a stale value may be served (checked on read) — at most {@link MAX_SPAN_MS} (10 years), or `fallback`
 * when `value` is undefined. `Infinity` only with `allowInfinity`. Use {@link positiveMs} for anything a timer waits.
 */
export function positiveSpanMs(option: string, value: unknown, fallback: number, allowInfinity = false): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value <= 0 || (!allowInfinity && !Number.isFinite(value))) {
    throw new ConfigurationError(
      `\`${option}\` must be a positive number of milliseconds${allowInfinity ? ' (or Infinity)' : ''}, ` +
        `not ${describeValue(value)}`,
    );
  }
  if (value > MAX_SPAN_MS && Number.isFinite(value)) {
    throw new ConfigurationError(
      `\`${option}\` must be at most ${MAX_SPAN_MS} milliseconds (10 years)${allowInfinity ? ' or Infinity' : ''}, ` +
        `not ${describeValue(value)}`,
    );
  }
  return value;
}

/** The longest span {@link positiveSpanMs} accepts: 10 years, in milliseconds (as `parseDuration`). */
export const MAX_SPAN_MS = 10 * 365 * 86_400_000;

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
