import { Code, RpcError } from './status.js';

/** A parsed `projects/P[/locations/L]` prefix. */
export interface ParentRef {
  project: string;
  location: string | undefined;
}
export interface SecretRef extends ParentRef {
  secretId: string;
}
export interface VersionRef extends SecretRef {
  version: string;
}

const PARENT = /^projects\/([^/]+)(?:\/locations\/([^/]+))?$/;
const SECRET = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)$/;
const VERSION = /^projects\/([^/]+)(?:\/locations\/([^/]+))?\/secrets\/([^/]+)\/versions\/([^/]+)$/;

/** Secret IDs: at most 255 letters, digits, `_` and `-`. */
export const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const LOCATION = /^[a-z][a-z0-9-]{0,62}$/;

export const invalidName = (): RpcError =>
  new RpcError(Code.INVALID_ARGUMENT, 'Invalid resource field value in the request.');

function checked<T extends ParentRef>(ref: T): T {
  if (ref.location !== undefined && !LOCATION.test(ref.location)) throw invalidName();
  return ref;
}

export function parseParent(name: unknown): ParentRef {
  const m = PARENT.exec(typeof name === 'string' ? name : '');
  if (!m) throw invalidName();
  return checked({ project: m[1] as string, location: m[2] });
}

export function parseSecret(name: unknown): SecretRef {
  const m = SECRET.exec(typeof name === 'string' ? name : '');
  if (!m || !SECRET_ID.test(m[3] as string)) throw invalidName();
  return checked({ project: m[1] as string, location: m[2], secretId: m[3] as string });
}

export function parseVersion(name: unknown): VersionRef {
  const m = VERSION.exec(typeof name === 'string' ? name : '');
  if (!m || !SECRET_ID.test(m[3] as string)) throw invalidName();
  return checked({ project: m[1] as string, location: m[2], secretId: m[3] as string, version: m[4] as string });
}

/** `projects/NUMBER[/locations/L]`: the form every returned name takes (production answers with the project number). */
export function parentName(projectNumber: string, location: string | undefined): string {
  return location === undefined ? `projects/${projectNumber}` : `projects/${projectNumber}/locations/${location}`;
}

export function secretName(projectNumber: string, location: string | undefined, secretId: string): string {
  return `${parentName(projectNumber, location)}/secrets/${secretId}`;
}

/** What production answers for a project the caller has no access to (here: any project but the emulator's). */
export function permissionDenied(permission: string, resource: string): RpcError {
  return new RpcError(
    Code.PERMISSION_DENIED,
    `Permission '${permission}' denied for resource '${resource}' (or it may not exist).`,
  );
}
