import { crc32c } from '../crc32c.js';
import { createSecretManagerClient } from './gcp-client.js';
import { ConfigurationError, IntegrityError } from '../errors.js';
import type { FetchContext, Source, SourceRef, SourceResult } from '../types.js';

/**
 * The part of `SecretManagerServiceClient` (from `@google-cloud/secret-manager`, v6 or v7) this source
 * uses. Any object with this shape can be injected, so the SDK stays an optional peer.
 */
export interface SecretManagerClientLike {
  accessSecretVersion(
    request: { name: string },
    options?: { timeout?: number; retry?: null; signal?: AbortSignal; [key: string]: unknown },
  ): Promise<readonly [AccessResponse, ...unknown[]]> | Promise<unknown>;
  initialize?(): Promise<unknown>;
  close?(): Promise<void>;
}

interface AccessResponse {
  name?: string | null;
  payload?: { data?: Uint8Array | string | null; dataCrc32c?: string | number | null } | null;
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
  /** A client you built (`new SecretManagerServiceClient(…)`); it is not closed by `close()`. */
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

const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const VERSION = /^(?:[1-9][0-9]*|latest|[A-Za-z][A-Za-z0-9_-]{0,62})$/;
const LOCATION = /^[a-z][a-z0-9-]*$/;

/** gRPC status codes this source branches on (the REST transport reports the same numbers). */
const Code = { NOT_FOUND: 5, PERMISSION_DENIED: 7, FAILED_PRECONDITION: 9 } as const;

/**
 * Google Cloud Secret Manager. A candidate `name` reads `projects/P/secrets/name/versions/latest`;
 * `name@7` version 7; `name@current` the alias `current`. Polls with `AccessSecretVersion` only (its
 * quota is 90 000/min/project; metadata reads have 600/min), verifies `data_crc32c`, and reports the
 * version number the name resolved to.
 *
 * NOT_FOUND is absent `not-found`; FAILED_PRECONDITION on a disabled or destroyed version is absent
 * `disabled` / `destroyed`; PERMISSION_DENIED is absent `permission-denied` (Secret Manager answers it for
 * a secret that does not exist when the caller has per-secret grants). Everything else — UNAVAILABLE,
 * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, network errors, a checksum mismatch — is unavailable.
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
  if (options.location !== undefined && !LOCATION.test(options.location)) {
    throw new ConfigurationError(
      `gcpSecretManager(): \`location\` must be a region such as "europe-west1", not ${JSON.stringify(options.location)}`,
    );
  }
  const parent =
    options.location === undefined
      ? `projects/${options.projectId}`
      : `projects/${options.projectId}/locations/${options.location}`;
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
    name: options.name ?? 'gcp',
    async fetch(ref: SourceRef, ctx: FetchContext): Promise<SourceResult> {
      if (closed) throw new ConfigurationError('the gcp source is closed', 'CLOSED');
      const sm = await getClient();
      const name = `${parent}/secrets/${ref.name}/versions/${ref.version ?? 'latest'}`;
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
        if (absent) return { status: 'absent', reason: absent };
        throw typeof error === 'string' ? new Error(error) : error; // the client rejects with a bare string after close()
      }
      const data = toBytes(response.payload?.data);
      const expected = response.payload?.dataCrc32c;
      if (expected !== undefined && expected !== null && expected !== '' && Number(expected) !== crc32c(data)) {
        throw new IntegrityError(`the data_crc32c of ${name} does not match its payload; the value is not served`);
      }
      const version = /\/versions\/([^/]+)$/.exec(response.name ?? '')?.[1];
      return { status: 'found', value: data, ...(version === undefined ? {} : { version }) };
    },
    validate(ref: SourceRef): string | undefined {
      if (!SECRET_ID.test(ref.name)) return 'a secret id is 1 to 255 letters, digits, "_" and "-"';
      if (ref.version !== undefined && !VERSION.test(ref.version)) {
        return 'a version is a number, "latest", or an alias (a letter, then letters, digits, "_" and "-", 63 at most)';
      }
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
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (code === Code.NOT_FOUND) return 'not-found';
  if (code === Code.PERMISSION_DENIED) return 'permission-denied';
  if (code === Code.FAILED_PRECONDITION) {
    // The only FAILED_PRECONDITION an access can get is a version that is not ENABLED; the message names its state.
    // gRPC puts the text in `details` and `message`; REST in `message` only (its `details` is an array).
    const { details, message: text } = error as { details?: unknown; message?: unknown };
    const message = `${typeof details === 'string' ? details : ''} ${typeof text === 'string' ? text : ''}`;
    if (/DESTROYED/.test(message)) return 'destroyed';
    if (/DISABLED/.test(message)) return 'disabled';
  }
  return undefined;
}

function toBytes(data: Uint8Array | string | null | undefined): Uint8Array {
  if (data === undefined || data === null) return new Uint8Array(0);
  if (typeof data === 'string') return new Uint8Array(Buffer.from(data, 'base64'));
  return data;
}

/** Loads the SDK (once, on first fetch) and builds a started client. */
function createClient(options: GcpSecretManagerOptions): Promise<SecretManagerClientLike> {
  return createSecretManagerClient<SecretManagerClientLike>(options, 'keyflip/gcp', ', or pass `client`');
}
