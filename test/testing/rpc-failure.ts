/**
 * How the tests read an error thrown by the real `SecretManagerServiceClient`, whatever the SDK version, and
 * which SDK is installed. Kept apart from the library's own reading (src/sources/gcp-names.ts) on purpose:
 * the emulator's answers are checked against what the client shows, not against the code under test.
 *
 * - gRPC, SDK 6 and 7: `code` is the gRPC status, `details` the server's message.
 * - REST, SDK 7 (google-gax 6): a GoogleError: `code` is the gRPC status, `message` the server's message,
 *   `httpStatusCode` the HTTP status.
 * - REST, SDK 6 (google-gax 5): gaxios rejects the non-2xx answer before gax decodes it, so the error is a
 *   GaxiosError whose `code` and `status` are the HTTP status and whose message is the raw body,
 *   `{"error":{"code":503,"message":"…","status":"UNAVAILABLE"}}` (google-gax 6 fixed this). The same
 *   three facts are read from that body, as google-gax 6 reads them: its `status` name is the gRPC code.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export type Mode = 'grpc' | 'rest';

/**
 * The installed `@google-cloud/secret-manager`'s major version: 6 (google-gax 5) or 7 (google-gax 6). Read
 * from the file, not required: a fresh process's module cache must show no SDK before the emulator starts.
 */
export const SDK_MAJOR = Number(
  (
    JSON.parse(
      readFileSync(createRequire(import.meta.url).resolve('@google-cloud/secret-manager/package.json'), 'utf8'),
    ) as { version: string }
  ).version.split('.')[0],
);

/**
 * SDK 6 over REST (google-gax 5) ignores the per-call deadline (`timeout`: its REST stub reads the deadline
 * argument as metadata) and never retries (its retry codes are gRPC codes, the errors carry HTTP statuses).
 */
export const REST_HAS_NO_DEADLINE_OR_RETRY = SDK_MAJOR < 7;

/** google.rpc.Code by name. */
const CODES: Record<string, number> = {
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
};

export interface RpcFailure {
  /** The gRPC status code; for an error that has none (a reset connection), the error's own `code`. */
  code: number;
  /** The server's message: `details` over gRPC, `message` over REST. */
  text: string;
  /** REST only: the HTTP status. */
  httpStatusCode?: number;
}

interface ClientError {
  code?: unknown;
  status?: unknown;
  details?: unknown;
  message?: unknown;
  httpStatusCode?: unknown;
}

/** Reads a client error in either SDK's shape (see the file's comment). */
export function readRpcFailure(error: unknown, mode: Mode): RpcFailure {
  const e = (typeof error === 'object' && error !== null ? error : { message: String(error) }) as ClientError;
  if (mode === 'rest' && typeof e.code === 'number' && e.code >= 100) {
    // SDK 6 over REST: the raw body is the message.
    const body = parseBody(e.message);
    if (!body) throw new Error(`an HTTP ${e.code} error without a Google error body: ${String(e.message)}`);
    if (body.code !== e.status) throw new Error(`the body's code ${String(body.code)} is not the HTTP status`);
    const code = typeof body.status === 'string' ? CODES[body.status] : undefined;
    if (code === undefined) throw new Error(`the body's status ${JSON.stringify(body.status)} is not a gRPC code`);
    return { code, text: String(body.message), httpStatusCode: e.status as number };
  }
  const out: RpcFailure = { code: e.code as number, text: mode === 'grpc' ? String(e.details) : String(e.message) };
  if (typeof e.httpStatusCode === 'number') out.httpStatusCode = e.httpStatusCode;
  return out;
}

/** Awaits a call that must fail and reads its error with {@link readRpcFailure}. */
export async function failure(promise: Promise<unknown>, mode: Mode): Promise<RpcFailure> {
  try {
    await promise;
  } catch (error) {
    return readRpcFailure(error, mode);
  }
  throw new Error('expected the call to fail, it succeeded');
}

function parseBody(message: unknown): { code?: unknown; message?: unknown; status?: unknown } | undefined {
  try {
    const json = JSON.parse(String(message)) as { error?: unknown };
    return typeof json.error === 'object' && json.error !== null ? json.error : undefined;
  } catch {
    return undefined;
  }
}
