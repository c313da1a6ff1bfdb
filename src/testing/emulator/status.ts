/**
 * What the emulator answers when a call fails: an {@link RpcError} (a gRPC status code and the message
 * production would send), the HTTP status the REST surface maps it to, and the wordings production uses.
 * The status codes themselves are Secret Manager's, in `src/sources/gcp-names.ts`.
 */
import { GrpcCode } from '../../sources/gcp-names.js';

/** google.rpc.Code → HTTP status, as Google's REST APIs map them. */
const HTTP: readonly number[] = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

export function httpStatusOf(code: number): number {
  return HTTP[code] ?? 500;
}

/**
 * A failed call's answer inside the emulator: the store throws it, the dispatcher hands it to the gRPC or
 * the REST surface, which send it over the wire. It never reaches a user as it is: the admin helpers turn
 * it into an `EmulatorAdminError` (a `ConfigurationError`), so it stays a plain `Error`.
 */
export class RpcError extends Error {
  override name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** The error text Secret Manager answers with on an etag mismatch. */
export const ETAG_MISMATCH =
  "The etag provided in the request does not match the resource's current etag. " +
  'Please retry the whole read-modify-write with exponential backoff.';

/** What production answers for a malformed resource name. */
export const invalidName = (): RpcError =>
  new RpcError(GrpcCode.INVALID_ARGUMENT, 'Invalid resource field value in the request.');

/** What production answers for a project the caller has no access to (here: any project but the emulator's). */
export function permissionDenied(permission: string, resource: string): RpcError {
  return new RpcError(
    GrpcCode.PERMISSION_DENIED,
    `Permission '${permission}' denied for resource '${resource}' (or it may not exist).`,
  );
}
