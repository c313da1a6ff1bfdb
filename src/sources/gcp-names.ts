/**
 * Google Cloud Secret Manager's names and rules, in one place for the gcp source, the rotation admin and
 * the emulator: resource names (`projects/P[/locations/L]/secrets/S[/versions/V]`) built and parsed, the
 * rules for secret ids, versions, aliases, locations and projects, the gRPC status codes Secret Manager
 * answers with, and the CRC32C check of an access payload. Imports no cloud SDK.
 */
import { crc32c } from '../crc32c.js';

/** A parent: `projects/P` (a global secret's) or `projects/P/locations/L` (a regional one's). */
export interface ParentRef {
  /** The project id or number. */
  readonly project: string;
  /** The region of a regional secret; `undefined` for a global one. */
  readonly location: string | undefined;
}

/** A secret: `projects/P[/locations/L]/secrets/S`. */
export interface SecretRef extends ParentRef {
  readonly secretId: string;
}

/** A secret version: `projects/P[/locations/L]/secrets/S/versions/V`. */
export interface VersionRef extends SecretRef {
  /** A version number (`"3"`), `"latest"` or an alias, as written in the name. */
  readonly version: string;
}

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const VERSION_NUMBER = /^[1-9][0-9]*$/;
const ALIAS = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
/** Names an alias may not take: `latest` resolves to the newest version, `NEW` is reserved. Any case. */
const RESERVED_ALIAS = /^(?:latest|new)$/i;
const LOCATION = /^[a-z][a-z0-9-]{0,62}$/;
const PROJECT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
const PROJECT_NUMBER = /^[1-9][0-9]{0,19}$/;

/** The secret id rule, worded for messages. */
export const SECRET_ID_RULE = '1 to 255 letters, digits, "_" and "-"';
/** The version rule, worded for messages. */
export const VERSION_RULE = 'a number, "latest", or an alias (a letter, then letters, digits, "_" and "-", 63 at most)';

/** A secret id: 1 to 255 letters, digits, `_` and `-`. */
export function isSecretId(text: string): boolean {
  return SECRET_ID.test(text);
}

/** What may follow `/versions/` in an access: a version number (1, 2, …), `latest`, or an alias. */
export function isVersionId(text: string): boolean {
  return VERSION_NUMBER.test(text) || ALIAS.test(text);
}

/** An alias name: a letter, then letters, digits, `_` and `-`, 63 characters at most (`latest` included). */
export function isAlias(text: string): boolean {
  return ALIAS.test(text);
}

/** An alias a secret's `version_aliases` may hold: an alias name other than `latest` or `NEW` (any case). */
export function isSettableAlias(text: string): boolean {
  return ALIAS.test(text) && !RESERVED_ALIAS.test(text);
}

/** A location (region) name such as `europe-west1`: a lowercase letter, then lowercase letters, digits, `-`. */
export function isLocation(text: string): boolean {
  return LOCATION.test(text);
}

/** A project number: decimal, no leading zero, at most 20 digits. */
export function isProjectNumber(text: string): boolean {
  return PROJECT_NUMBER.test(text);
}

/** A project id (lowercase letters, digits and `-`, starting with a letter or digit) or a project number. */
export function isProject(text: string): boolean {
  return PROJECT_ID.test(text) || PROJECT_NUMBER.test(text);
}

/** `projects/P` or `projects/P/locations/L`. The parts are written as given: check them first. */
export function parentName(ref: ParentRef): string {
  return ref.location === undefined ? `projects/${ref.project}` : `projects/${ref.project}/locations/${ref.location}`;
}

/** `projects/P[/locations/L]/secrets/S`. */
export function secretName(ref: SecretRef): string {
  return `${parentName(ref)}/secrets/${ref.secretId}`;
}

/** `projects/P[/locations/L]/secrets/S/versions/V`. */
export function versionName(ref: VersionRef): string {
  return `${secretName(ref)}/versions/${ref.version}`;
}

const PARENT_NAME = /^projects\/([^/]+)(?:\/locations\/([^/]+))?$/;
const SECRET_NAME = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)$/;
const VERSION_NAME = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)\/versions\/([^/]+)$/;

function parent(match: RegExpExecArray | null): ParentRef | undefined {
  if (!match) return undefined;
  const location = match[2];
  if (location !== undefined && !LOCATION.test(location)) return undefined;
  return { project: match[1] as string, location };
}

/** Parses `projects/P[/locations/L]`; `undefined` when `name` is not one or its location is not a location. */
export function parseParentName(name: unknown): ParentRef | undefined {
  return parent(PARENT_NAME.exec(typeof name === 'string' ? name : ''));
}

/** Parses `projects/P[/locations/L]/secrets/S`; `undefined` when it is not one or S is not a secret id. */
export function parseSecretName(name: unknown): SecretRef | undefined {
  const match = SECRET_NAME.exec(typeof name === 'string' ? name : '');
  const ref = parent(match);
  const secretId = match?.[3] as string;
  return ref && SECRET_ID.test(secretId) ? { ...ref, secretId } : undefined;
}

/**
 * Parses `projects/P[/locations/L]/secrets/S/versions/V`; `undefined` when it is not one or S is not a
 * secret id. V is any path segment: whether it names a version is the server's to say.
 */
export function parseVersionName(name: unknown): VersionRef | undefined {
  const match = VERSION_NAME.exec(typeof name === 'string' ? name : '');
  const ref = parent(match);
  const secretId = match?.[3] as string;
  return ref && SECRET_ID.test(secretId) ? { ...ref, secretId, version: match?.[4] as string } : undefined;
}

/** gRPC status codes (google.rpc.Code). Secret Manager's REST surface reports the same numbers. */
export const GrpcCode = {
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

/** The name of a gRPC status code: `'NOT_FOUND'`, … */
export type GrpcCodeName = keyof typeof GrpcCode;

const CODE_NAMES = Object.keys(GrpcCode) as GrpcCodeName[];

/** The name of a status code (`5` → `'NOT_FOUND'`); `'UNKNOWN'` for a number that is not one. */
export function grpcCodeName(code: number): GrpcCodeName {
  return CODE_NAMES[code] ?? 'UNKNOWN';
}

/**
 * google.rpc.Code for an HTTP status, as Google's client libraries map it (google-gax's
 * `rpcCodeFromHttpStatusCode`): used only when an error names no status of its own.
 */
export function grpcCodeOfHttpStatus(status: number): number {
  const mapped = HTTP_STATUS_CODES[status];
  if (mapped !== undefined) return mapped;
  if (status >= 200 && status < 300) return GrpcCode.OK;
  if (status >= 400 && status < 500) return GrpcCode.FAILED_PRECONDITION;
  if (status >= 500 && status < 600) return GrpcCode.INTERNAL;
  return GrpcCode.UNKNOWN;
}

const HTTP_STATUS_CODES: Readonly<Record<number, number>> = {
  400: GrpcCode.INVALID_ARGUMENT,
  401: GrpcCode.UNAUTHENTICATED,
  403: GrpcCode.PERMISSION_DENIED,
  404: GrpcCode.NOT_FOUND,
  409: GrpcCode.ABORTED,
  416: GrpcCode.OUT_OF_RANGE,
  429: GrpcCode.RESOURCE_EXHAUSTED,
  499: GrpcCode.CANCELLED,
  501: GrpcCode.UNIMPLEMENTED,
  503: GrpcCode.UNAVAILABLE,
  504: GrpcCode.DEADLINE_EXCEEDED,
};

/**
 * The gRPC status of an error the client threw, or `undefined` when it carries none (a network error, a
 * missing credential). Read the same way from every transport and SDK version:
 * - gRPC (SDK 6 and 7) and REST with SDK 7 (google-gax 6): `code` is the gRPC status;
 * - REST with SDK 6 (google-gax 5): gaxios rejects a non-2xx answer before gax decodes it, so the error is
 *   a `GaxiosError` whose `code` is the HTTP status (404) and whose message is the raw body
 *   (`{"error":{"code":404,"message":"…","status":"NOT_FOUND"}}`): the status is the body's `status`,
 *   else the HTTP status as Google maps it ({@link grpcCodeOfHttpStatus}).
 */
export function grpcCodeOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, status } = error as { code?: unknown; status?: unknown };
  if (isGrpcCode(code)) return code;
  const body = restErrorBody(error);
  const name = body?.status;
  if (typeof name === 'string' && Object.hasOwn(GrpcCode, name)) return GrpcCode[name as GrpcCodeName];
  const http = [body?.code, code, status].find(isHttpStatus);
  return http === undefined ? undefined : grpcCodeOfHttpStatus(http);
}

/**
 * What the server said about a failed call, without the transport's wrapping: a gRPC error's `details`,
 * the `message` of a REST error body (SDK 6 over REST puts the whole body in the error's message), else
 * the error's message; `undefined` when there is none.
 */
export function rpcMessageOf(error: unknown): string | undefined {
  if (typeof error === 'string') return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { details, message } = error as { details?: unknown; message?: unknown };
  if (typeof details === 'string' && details !== '') return details;
  const body = restErrorBody(error);
  if (typeof body?.message === 'string') return body.message;
  return typeof message === 'string' ? message : undefined;
}

const isGrpcCode = (code: unknown): code is number =>
  Number.isInteger(code) && (code as number) >= GrpcCode.OK && (code as number) <= GrpcCode.UNAUTHENTICATED;
const isHttpStatus = (code: unknown): code is number =>
  Number.isInteger(code) && (code as number) >= 100 && (code as number) <= 599;

/** The `error` object of a Google REST error body, `{"error":{"code","message","status","details"}}`. */
interface RestErrorBody {
  code?: unknown;
  message?: unknown;
  status?: unknown;
}

/**
 * The REST error body an error carries: its `response.data` (parsed when text), else its message when
 * that is the body itself (SDK 6 over REST: gaxios makes the raw body the message and drops `data`).
 */
function restErrorBody(error: object): RestErrorBody | undefined {
  const { response, message } = error as { response?: unknown; message?: unknown };
  const data = typeof response === 'object' && response !== null ? (response as { data?: unknown }).data : undefined;
  for (const candidate of [data, message]) {
    const body = errorObjectOf(candidate);
    if (body) return body;
  }
  return undefined;
}

function errorObjectOf(candidate: unknown): RestErrorBody | undefined {
  let json = candidate;
  if (typeof candidate === 'string') {
    if (!/^\s*[{[]/.test(candidate)) return undefined;
    try {
      json = JSON.parse(candidate);
    } catch {
      return undefined;
    }
  }
  // Some Google APIs answer with an array of such objects; the first with an `error` is the error.
  if (Array.isArray(json)) json = json.find((item) => typeof item === 'object' && item !== null && 'error' in item);
  const body = typeof json === 'object' && json !== null ? (json as { error?: unknown }).error : undefined;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as RestErrorBody) : undefined;
}

/** The bytes of an access payload, and whether they match its `data_crc32c`. */
export interface PayloadRead {
  /** The payload's bytes (empty when it has none). */
  readonly data: Uint8Array;
  /** False when the payload carries a `data_crc32c` that is not the CRC32C of `data`. An absent one matches. */
  readonly crc32cMatches: boolean;
}

/** Whether a payload carries a `data_crc32c` at all (`undefined`, `null` and `''` mean it was not sent). */
export function hasCrc32c(dataCrc32c: unknown): boolean {
  return dataCrc32c !== undefined && dataCrc32c !== null && dataCrc32c !== '';
}

/**
 * Whether `dataCrc32c` (a number or a decimal string, as either transport gives it) is the CRC32C of
 * `data`. A payload that carries none matches: there is nothing to check.
 */
export function matchesCrc32c(data: Uint8Array, dataCrc32c: unknown): boolean {
  return !hasCrc32c(dataCrc32c) || Number(dataCrc32c) === crc32c(data);
}

/**
 * Reads an AccessSecretVersion payload as either transport gives it: `data` as bytes (or base64 text),
 * and checks its `data_crc32c` with {@link matchesCrc32c}.
 */
export function readPayload(payload: unknown): PayloadRead {
  const { data: raw, dataCrc32c } =
    typeof payload === 'object' && payload !== null ? (payload as { data?: unknown; dataCrc32c?: unknown }) : {};
  const data =
    raw instanceof Uint8Array
      ? raw
      : typeof raw === 'string'
        ? new Uint8Array(Buffer.from(raw, 'base64'))
        : new Uint8Array(0);
  return { data, crc32cMatches: matchesCrc32c(data, dataCrc32c) };
}
