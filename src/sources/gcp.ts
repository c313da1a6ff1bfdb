/**
 * `keyflip/gcp`: Google Cloud Secret Manager as a source (`gcpSecretManager`). The SDK,
 * `@google-cloud/secret-manager`, is an optional peer, loaded on the first fetch.
 * @module keyflip/gcp
 */
import {
  ConfigurationError,
  DependencyError,
  IntegrityError,
  type KeyflipError,
  SourceUnavailableError,
} from '../errors.js';
import type { FetchContext, Source, SourceRef, SourceResult } from '../types.js';
import { createSecretManagerClient } from './gcp-client.js';
import {
  GrpcCode,
  grpcCodeOf,
  isLocation,
  isSecretId,
  isVersionId,
  parseVersionName,
  readPayload,
  rpcMessageOf,
  SECRET_ID_RULE,
  VERSION_RULE,
  versionName,
} from './gcp-names.js';

/**
 * The part of `SecretManagerServiceClient` (from `@google-cloud/secret-manager`, v6 or v7) this source
 * uses. Any object with this shape can be injected, so the SDK stays an optional peer.
 */
export interface SecretManagerClientLike {
  /** `AccessSecretVersion`: the payload of one version (called with the SDK's retries off and a deadline). */
  accessSecretVersion(
    request: { name: string },
    options?: { timeout?: number; retry?: null; signal?: AbortSignal; [key: string]: unknown },
  ): Promise<readonly [AccessResponse, ...unknown[]]> | Promise<unknown>;
  /** Starts the client (called once, on a client keyflip built, before its first call). */
  initialize?(): Promise<unknown>;
  /** Closes the connection (called by `close()` only on a client keyflip built). */
  close?(): Promise<void>;
}

/**
 * What `accessSecretVersion` answers, as far as the source reads it.
 * @inline
 */
interface AccessResponse {
  /** The version's full name (`projects/P/secrets/S/versions/3`): the version the source reports. */
  name?: string | null;
  /** The secret's payload. */
  payload?: {
    /** The value's bytes. */
    data?: Uint8Array | string | null;
    /** The CRC32C of `data`, checked when present (an `IntegrityError` when it does not match). */
    dataCrc32c?: string | number | null;
  } | null;
}

/** Options of {@link gcpSecretManager}. */
export interface GcpSecretManagerOptions {
  /** The Google Cloud project that holds the secrets (its id or number). */
  projectId: string;
  /**
   * A location for regional secrets (`europe-west1`): names become `projects/P/locations/L/secrets/…`
   * and, unless `clientOptions` or an emulator say otherwise, the regional endpoint is used.
   * @default global secrets
   */
  location?: string | undefined;
  /**
   * A client you built (`new SecretManagerServiceClient(…)`); it is not closed by `close()`.
   * @default a client keyflip builds on the first fetch
   */
  client?: SecretManagerClientLike | undefined;
  /**
   * Options for the client keyflip builds (after loading `@google-cloud/secret-manager` on the first
   * fetch). When neither this nor `client` is given and `SECRET_MANAGER_EMULATOR_HOST` is set
   * (`host:port`), the client talks to that emulator with no TLS and no credentials.
   * @default the SDK's defaults (Application Default Credentials)
   */
  clientOptions?: Record<string, unknown> | undefined;
  /**
   * The source's name, the prefix of its candidates (`gcp:openai-key@current`).
   * @default 'gcp'
   */
  name?: string | undefined;
  /**
   * The deadline of one access call in milliseconds. The client's own retries are off: keyflip retries
   * with its own jittered backoff, so a failing call never stalls a refresh for the SDK's 60 s.
   * @default the resolver's `fetchTimeoutMs`
   */
  callTimeoutMs?: number | undefined;
  /** The environment read for `SECRET_MANAGER_EMULATOR_HOST`. @default process.env */
  env?: Record<string, string | undefined> | undefined;
}

export { emulatorClientOptions, GCP_SDK_PACKAGE } from './gcp-client.js';

/**
 * Google Cloud Secret Manager. A candidate `name` reads `projects/P/secrets/name/versions/latest`;
 * `name@7` version 7; `name@current` the alias `current`. Polls with `AccessSecretVersion` only (its
 * quota is 90 000/min/project; metadata reads have 600/min), verifies `data_crc32c`, and reports the
 * version number the name resolved to.
 *
 * NOT_FOUND is absent `not-found`; FAILED_PRECONDITION on a disabled or destroyed version is absent
 * `disabled` / `destroyed`; PERMISSION_DENIED is absent `permission-denied` (Secret Manager answers it for
 * a secret that does not exist when the caller has per-secret grants; an app needs
 * `roles/secretmanager.secretAccessor` on each secret it reads). Everything else — UNAVAILABLE,
 * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, network errors, a checksum mismatch — is unavailable.
 * The same over gRPC and REST (`fallback: true`), with SDK 6 or 7 (SDK 6's REST errors carry the HTTP status:
 * the code is read from the error body's `status`).
 *
 * Permanent failures, which only a change of configuration fixes, are thrown as such (the resolver fails
 * `ready()` at once instead of retrying): the SDK missing is a `DependencyError` (`npm install
 * @google-cloud/secret-manager`); no usable credentials (UNAUTHENTICATED, or none found) a `ConfigurationError`
 * saying how to set them; INVALID_ARGUMENT (a project that does not exist, a malformed name) a
 * `ConfigurationError` naming the project id to check.
 */
export function gcpSecretManager(options: GcpSecretManagerOptions): Source {
  if (
    typeof options !== 'object' ||
    options === null ||
    typeof options.projectId !== 'string' ||
    options.projectId === ''
  ) {
    throw new ConfigurationError('gcpSecretManager() needs `projectId`: the project that holds the secrets');
  }
  if (options.location !== undefined && !isLocation(options.location)) {
    throw new ConfigurationError(
      'gcpSecretManager(): `location` must be a region such as "europe-west1", ' +
        `not ${JSON.stringify(options.location)}`,
    );
  }
  const parent = { project: options.projectId, location: options.location };
  const sourceName = options.name ?? 'gcp';
  const ownsClient = options.client === undefined;
  let client: Promise<SecretManagerClientLike> | undefined = options.client
    ? Promise.resolve(options.client)
    : undefined;
  let closed = false;

  const getClient = (): Promise<SecretManagerClientLike> => {
    client ??= createClient(options).catch((error: unknown) => {
      client = undefined; // a failed start is tried again on the next fetch, never left half-built
      throw error;
    });
    return client;
  };

  return {
    name: sourceName,
    async fetch(ref: SourceRef, ctx: FetchContext): Promise<SourceResult> {
      if (closed) throw new ConfigurationError('the gcp source is closed', 'CLOSED');
      const name = versionName({ ...parent, secretId: ref.name, version: ref.version ?? 'latest' });
      let sm: SecretManagerClientLike;
      try {
        sm = await getClient();
      } catch (error) {
        throw permanentError(error, name, parent.project) ?? error;
      }
      const timeout = options.callTimeoutMs ?? ctx.timeoutMs;
      let response: AccessResponse;
      try {
        const result = (await sm.accessSecretVersion(
          { name },
          { retry: null, signal: ctx.signal, ...(timeout === undefined ? {} : { timeout }) },
        )) as readonly [AccessResponse, ...unknown[]];
        response = result[0];
      } catch (error) {
        const absent = absentReason(error);
        if (absent === 'permission-denied') {
          return {
            status: 'absent',
            reason: absent,
            detail: `${name}: the app needs roles/secretmanager.secretAccessor on this secret (or it does not exist)`,
          };
        }
        if (absent) return { status: 'absent', reason: absent };
        const permanent = permanentError(error, name, parent.project);
        if (permanent) throw permanent;
        // The client rejects with a bare string once closed ('The client has already been closed.').
        if (typeof error === 'string') {
          throw new SourceUnavailableError(`AccessSecretVersion ${name} failed: ${error}`, { source: sourceName });
        }
        throw error;
      }
      const { data, crc32cMatches } = readPayload(response.payload);
      if (!crc32cMatches) {
        throw new IntegrityError(`the data_crc32c of ${name} does not match its payload; the value is not served`);
      }
      const version = parseVersionName(response.name)?.version;
      return { status: 'found', value: data, ...(version === undefined ? {} : { version }) };
    },
    validate(ref: SourceRef): string | undefined {
      if (!isSecretId(ref.name)) return `a secret id is ${SECRET_ID_RULE}`;
      if (ref.version !== undefined && !isVersionId(ref.version)) return `a version is ${VERSION_RULE}`;
      return undefined;
    },
    async close(): Promise<void> {
      closed = true;
      if (!ownsClient || !client) return;
      const pending = client;
      client = undefined;
      try {
        await (await pending).close?.();
      } catch {
        // a client that never started has nothing to close
      }
    },
  };
}

function absentReason(error: unknown): 'not-found' | 'disabled' | 'destroyed' | 'permission-denied' | undefined {
  const code = grpcCodeOf(error);
  if (code === GrpcCode.NOT_FOUND) return 'not-found';
  if (code === GrpcCode.PERMISSION_DENIED) return 'permission-denied';
  if (code === GrpcCode.FAILED_PRECONDITION) {
    // The only FAILED_PRECONDITION an access can get is a version that is not ENABLED; the message names its state.
    const message = rpcMessageOf(error) ?? '';
    if (/DESTROYED/.test(message)) return 'destroyed';
    if (/DISABLED/.test(message)) return 'disabled';
  }
  return undefined;
}

/** What to do when the client has no usable credentials. */
const SET_CREDENTIALS =
  'set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run `gcloud auth application-default login` ' +
  '(on a workstation), or run with an attached service account / Workload Identity (GKE, Cloud Run); or pass `client`';

/** How google-auth-library says it found no credentials, or cannot read the ones it was pointed at. */
const NO_CREDENTIALS = [
  /Could not load the default credentials|Unable to detect a Project Id/i,
  /GOOGLE_APPLICATION_CREDENTIALS|credential file/i,
];

/**
 * The error of a call that will fail the same way until someone changes the configuration (permanent: the
 * resolver fails `ready()` at once and stops the backoff retries), or `undefined` for a transient one. A
 * {@link DependencyError} (the SDK missing) is passed on as is.
 */
function permanentError(error: unknown, name: string, project: string): KeyflipError | undefined {
  if (error instanceof DependencyError || error instanceof ConfigurationError) return error;
  const code = grpcCodeOf(error);
  const detail = describeCause(error);
  if (code === GrpcCode.UNAUTHENTICATED || (code === undefined && NO_CREDENTIALS.some((text) => text.test(detail)))) {
    return new ConfigurationError(
      `keyflip/gcp has no usable Google Cloud credentials for Secret Manager (${detail}): ${SET_CREDENTIALS}`,
      'INVALID_OPTIONS',
      { cause: error },
    );
  }
  if (code === GrpcCode.INVALID_ARGUMENT) {
    return new ConfigurationError(
      `AccessSecretVersion ${name} failed with INVALID_ARGUMENT (${detail}): check the project id ` +
        `${JSON.stringify(project)} (the project must exist; write its id or number) and the secret's name`,
      'INVALID_OPTIONS',
      { cause: error },
    );
  }
  return undefined;
}

function describeCause(error: unknown): string {
  return rpcMessageOf(error) ?? 'no detail';
}

/** Loads the SDK (once, on first fetch) and builds a started client. */
function createClient(options: GcpSecretManagerOptions): Promise<SecretManagerClientLike> {
  return createSecretManagerClient<SecretManagerClientLike>(options, 'keyflip/gcp', ', or pass `client`');
}
