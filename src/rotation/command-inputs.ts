/**
 * What a person gives a command, checked before anything is read: the key (from stdin or a file), the
 * environment label, the reason for a forced revoke. A bad one is `INVALID_INPUT`, and its message never
 * quotes the key.
 */
import { positiveSpanMs } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { findProviderKeys } from '../key-formats.js';
import { RotationError } from './errors.js';
import { LABEL_VALUE } from './records.js';

/** Secret Manager's payload limit. */
const MAX_VALUE_BYTES = 65_536;

/** A key read from stdin or a file: trimmed (as the resolver does); one line; within Secret Manager's limit. */
export function checkValue(raw: string): string {
  if (typeof raw !== 'string') throw new RotationError('INVALID_INPUT', 'the key must be a string');
  const value = raw.trim();
  if (value === '')
    throw new RotationError('INVALID_INPUT', 'no key was given: pipe it on stdin or pass --value-file FILE');
  if (/[\r\n\0]/.test(value))
    throw new RotationError(
      'INVALID_INPUT',
      'the key spans several lines (or holds a NUL byte): give one key, on one line',
    );
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES)
    throw new RotationError('INVALID_INPUT', `the key is longer than Secret Manager's ${MAX_VALUE_BYTES} bytes`);
  return value;
}

/** The `keyflip-environment` label value given to provision (`prod`). */
export function checkEnvironment(environment: string | undefined): string | undefined {
  if (environment === undefined) return undefined;
  if (!LABEL_VALUE.test(environment)) {
    throw new RotationError(
      'INVALID_INPUT',
      'the environment must be 1 to 63 lowercase letters, digits, "_" or "-" (it becomes a label)',
    );
  }
  return environment;
}

/** A reason given with --force: short, one line, and nothing that looks like a key (it is stored and printed). */
export function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim().length < 3)
    throw new RotationError(
      'INVALID_INPUT',
      '--force needs --reason "why" (at least 3 characters); it is recorded on the secret',
    );
  const text = reason.trim();
  if (text.length > 300 || /[\r\n\0]/.test(text))
    throw new RotationError('INVALID_INPUT', 'the reason must be one line of at most 300 characters');
  // A provider-format key, or any long unbroken token that is not a link (a ticket id, a word, a URL are fine).
  const tokenLike = text.split(/\s+/).some((word) => word.length >= 24 && !/^https?:\/\//.test(word));
  if (findProviderKeys(text).length > 0 || tokenLike) {
    throw new RotationError(
      'INVALID_INPUT',
      'the reason looks like it holds a key or a token (not shown): it is stored on the secret and printed, ' +
        'so it must not',
    );
  }
  return text;
}

/**
 * A verification window the caller must give (`verify`, `revoke`): a positive, finite number of ms. A bad one
 * is a programming error, a `ConfigurationError` (the CLI reads `--window` as a duration first).
 */
export function checkWindowMs(command: string, windowMs: unknown): number {
  const option = `${command}: windowMs`;
  if (windowMs === undefined)
    throw new ConfigurationError(`\`${option}\` is required: a positive number of milliseconds`);
  return positiveSpanMs(option, windowMs, 0);
}
