/** gRPC status codes (google.rpc.Code), their names, and the HTTP status the REST surface answers with. */
export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

export type CodeName = keyof typeof Code;

const NAMES = Object.keys(Code) as CodeName[];

/** The name of a status code (`5` → `NOT_FOUND`). */
export function codeName(code: number): CodeName {
  return NAMES[code] ?? 'UNKNOWN';
}

/** google.rpc.Code → HTTP status, as Google's REST APIs map them. */
const HTTP: readonly number[] = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

export function httpStatusOf(code: number): number {
  return HTTP[code] ?? 500;
}

/** An error the emulator answers with: a status code and the message production would send. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

/** The error text Secret Manager answers with on an etag mismatch. */
export const ETAG_MISMATCH =
  "The etag provided in the request does not match the resource's current etag. Please retry the whole read-modify-write with exponential backoff.";
