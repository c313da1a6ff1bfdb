/**
 * Durations as the CLI and the collector's HTTP API write them: a number and a unit, `500ms`, `30s`,
 * `60m`, `1h`, `7d` (decimals allowed: `1.5h`). A bare number is refused: `60` could be seconds or minutes.
 */
import { ConfigurationError } from './errors.js';

const UNITS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const PATTERN = /^(\d{1,15}(?:\.\d{1,6})?)(ms|s|m|h|d)$/;

/** The longest duration accepted: 10 years, far beyond any window or retention. */
export const MAX_DURATION_MS = 10 * 365 * 86_400_000;

/**
 * Parses `500ms`, `30s`, `60m`, `1h`, `7d` into milliseconds (rounded to a whole millisecond). Throws a
 * `ConfigurationError` that says what is accepted; the message quotes the text only when it is short.
 */
export function parseDuration(text: string): number {
  const match = PATTERN.exec(text.trim());
  if (match === null) {
    throw new ConfigurationError(
      `invalid duration ${quote(text)}: write a number and a unit, ms, s, m, h or d (500ms, 30s, 60m, 1h, 7d)`,
    );
  }
  const ms = Math.round(Number(match[1]) * UNITS[match[2] as keyof typeof UNITS]);
  if (ms > MAX_DURATION_MS) throw new ConfigurationError(`invalid duration ${quote(text)}: longer than 10 years`);
  return ms;
}

/** The shortest exact spelling of a duration in whole units: 3_600_000 → `1h`, 90_000 → `90s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms}ms`;
  for (const unit of ['d', 'h', 'm', 's'] as const) {
    if (ms >= UNITS[unit] && ms % UNITS[unit] === 0) return `${ms / UNITS[unit]}${unit}`;
  }
  return `${Math.round(ms)}ms`;
}

/** A human age: `4s`, `12m`, `3h 5m`, `2d 4h`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h ${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d ${h % 24}h`;
}

function quote(text: string): string {
  return text.length <= 24 ? JSON.stringify(text) : `(${text.length} characters, not shown)`;
}
