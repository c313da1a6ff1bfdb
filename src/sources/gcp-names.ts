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

/** The numeric gRPC status of an error the client threw (its `code`), or `undefined` when it has none. */
export function grpcCodeOf(error: unknown): number | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'number' ? code : undefined;
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
