import { ConfigurationError } from '../../errors.js';
import { type GrpcCodeName, grpcCodeName } from '../../sources/gcp-names.js';
import { RpcError } from './status.js';

/**
 * What the emulator's admin helpers (`createSecret`, `addVersion`, `setAlias`, …) throw when the call
 * they stand for would fail: a {@link ConfigurationError} (the helper was called wrongly, or for a
 * resource in the wrong state) with the message and the gRPC status the RPC would have answered.
 */
export class EmulatorAdminError extends ConfigurationError {
  override name = 'EmulatorAdminError';
  /** The gRPC status code the RPC would have answered (`6` for ALREADY_EXISTS, …). */
  readonly grpcCode: number;
  /** Its name: `'ALREADY_EXISTS'`, … */
  readonly grpcStatus: GrpcCodeName;

  constructor(grpcCode: number, message: string) {
    super(message);
    this.grpcCode = grpcCode;
    this.grpcStatus = grpcCodeName(grpcCode);
  }
}

/** Runs an admin helper, turning the emulator's internal {@link RpcError} into an {@link EmulatorAdminError}. */
export function asAdminCall<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof RpcError) throw new EmulatorAdminError(error.code, error.message);
    throw error;
  }
}
