/**
 * Why a rotation command could not run (as opposed to a refusal, which is an answer: see
 * `RotationResult.refusal`). Messages name secrets, versions and fingerprints, never a value.
 *
 * - `INVALID_INPUT`: an argument or the value given is not usable (no value on stdin, a bad name).
 * - `BACKEND`: a Secret Manager call failed (`cause` holds the client's error; `grpcCode` its status).
 * - `INTERRUPTED`: a command failed between two of its writes; `rotate status` explains the state it left
 *   and running the same command again continues from there.
 */
export type RotationErrorCode = 'INVALID_INPUT' | 'BACKEND' | 'INTERRUPTED';

export class RotationError extends Error {
  override name = 'RotationError';
  readonly code: RotationErrorCode;
  /** For `BACKEND`: the gRPC status code of the failed call, when it had one. */
  readonly grpcCode: number | undefined;

  constructor(
    code: RotationErrorCode,
    message: string,
    options: { cause?: unknown; grpcCode?: number | undefined } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.grpcCode = options.grpcCode;
  }
}
