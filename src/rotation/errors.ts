/**
 * Why a rotation command could not run (as opposed to a refusal, which is an answer: see
 * `RotationResult.refusal`). Messages name secrets, versions and fingerprints, never a value.
 */
import { KeyflipError, type KeyflipErrorOptions } from '../errors.js';

/**
 * - `INVALID_INPUT`: an argument or the value given is not usable (no value on stdin, a bad name).
 * - `BACKEND`: a Secret Manager call failed (`cause` holds the client's error; `grpcCode` its status).
 * - `INTERRUPTED`: a command failed between two of its writes; `rotate status` explains the state it left
 *   and running the same command again continues from there.
 */
export type RotationErrorCode = 'INVALID_INPUT' | 'BACKEND' | 'INTERRUPTED';

/** Options of a {@link RotationError}: the keyflip error options, and the gRPC code of a failed call. */
export interface RotationErrorOptions extends KeyflipErrorOptions {
  /** For `BACKEND`: the gRPC status code of the failed call. @default none */
  grpcCode?: number | undefined;
}

/** A rotation command could not run; a {@link KeyflipError} with one of the {@link RotationErrorCode} codes. */
export class RotationError extends KeyflipError {
  override name = 'RotationError';
  declare readonly code: RotationErrorCode;
  /** For `BACKEND`: the gRPC status code of the failed call, when it had one. */
  readonly grpcCode: number | undefined;

  constructor(code: RotationErrorCode, message: string, options: RotationErrorOptions = {}) {
    super(code, message, { cause: options.cause, secret: options.secret });
    this.grpcCode = options.grpcCode;
  }
}
