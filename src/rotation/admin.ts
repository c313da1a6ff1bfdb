/**
 * The Secret Manager calls the rotation commands make, behind a small typed interface. The client is
 * `@google-cloud/secret-manager`'s `SecretManagerServiceClient` (loaded on first use, or injected);
 * every call runs with the SDK's retries off and a deadline, and every failure becomes a
 * {@link RotationError} naming the call and the secret — never a value (none is ever in a request the
 * error could quote but `addVersion`, whose payload no error message includes).
 */
import { crc32c } from '../crc32c.js';
import { ConfigurationError, DependencyError } from '../errors.js';
import { createSecretManagerClient } from '../sources/gcp-client.js';
import {
  GrpcCode,
  grpcCodeOf,
  isLocation,
  isProject,
  isSecretId,
  parentName,
  parseSecretName,
  parseVersionName,
  readPayload,
  rpcMessageOf,
  SECRET_ID_RULE,
  secretName as nameOfSecret,
} from '../sources/gcp-names.js';
import { RotationError } from './errors.js';

/** A Secret Manager version's state. */
export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

/** A secret's metadata (never its payload). */
export interface SecretMeta {
  /** The secret id (`OPENAI_API_KEY_v2`). */
  readonly id: string;
  /** Its labels (keyflip's: `keyflip-managed`, `keyflip-layout`, `keyflip-environment`, `keyflip-family`). */
  readonly labels: Readonly<Record<string, string>>;
  /** Its annotations (where the rotation commands record each step). */
  readonly annotations: Readonly<Record<string, string>>;
  /** Alias → version number. */
  readonly aliases: Readonly<Record<string, number>>;
  /** Its etag: an update made with it fails if the secret changed since it was read. */
  readonly etag: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** A version's metadata. */
export interface VersionMeta {
  /** The secret it belongs to. */
  readonly secretId: string;
  /** Its version number. */
  readonly version: number;
  /** `ENABLED`, `DISABLED` or `DESTROYED`. */
  readonly state: VersionState;
  /** ms since the epoch. */
  readonly createdAt: number;
  /** Its etag: a state change made with it fails if the version changed since it was read. */
  readonly etag: string;
}

/** What the rotation commands need from Secret Manager. */
export interface SecretAdmin {
  /** The project that holds the secrets. */
  readonly projectId: string;
  /** The region of regional secrets; undefined for global secrets. */
  readonly location: string | undefined;
  /** `undefined` when the secret does not exist. */
  getSecret(id: string): Promise<SecretMeta | undefined>;
  /** Every secret matching a Secret Manager list filter (`labels.keyflip-managed=true`), all pages. */
  listSecrets(filter?: string): Promise<SecretMeta[]>;
  /** Creates a secret with these labels and annotations (automatic replication, or in `location`), no version. */
  createSecret(
    id: string,
    init: { labels: Record<string, string>; annotations: Record<string, string> },
  ): Promise<SecretMeta>;
  /** Replaces the fields given (labels, annotations, aliases), only if the secret's etag is still `etag`. */
  updateSecret(
    id: string,
    change: { labels?: Record<string, string>; annotations?: Record<string, string>; aliases?: Record<string, number> },
    etag: string,
  ): Promise<SecretMeta>;
  /** Versions, newest first. */
  listVersions(id: string): Promise<VersionMeta[]>;
  /** Adds a version (Secret Manager always adds it ENABLED), sending the payload's CRC32C. */
  addVersion(id: string, value: string): Promise<VersionMeta>;
  /** The payload of an ENABLED version. */
  access(id: string, version: number): Promise<string>;
  /** Enables or disables a version; with `etag`, only if the version's etag is still that. */
  setState(id: string, version: number, state: 'ENABLED' | 'DISABLED', etag?: string): Promise<VersionMeta>;
  /** Closes the client keyflip built (one passed as `client` is left open). */
  close(): Promise<void>;
}

/**
 * The part of `SecretManagerServiceClient` the rotation commands call. Any object with this shape can be
 * injected.
 */
export interface SecretManagerAdminClientLike {
  /** `GetSecret`. */
  getSecret(request: object, options?: object): Promise<unknown>;
  /** `ListSecrets` (every page: the SDK's `autoPaginate`). */
  listSecrets(request: object, options?: object): Promise<unknown>;
  /** `CreateSecret`. */
  createSecret(request: object, options?: object): Promise<unknown>;
  /** `UpdateSecret`. */
  updateSecret(request: object, options?: object): Promise<unknown>;
  /** `ListSecretVersions` (every page). */
  listSecretVersions(request: object, options?: object): Promise<unknown>;
  /** `AddSecretVersion`. */
  addSecretVersion(request: object, options?: object): Promise<unknown>;
  /** `AccessSecretVersion`. */
  accessSecretVersion(request: object, options?: object): Promise<unknown>;
  /** `EnableSecretVersion`. */
  enableSecretVersion(request: object, options?: object): Promise<unknown>;
  /** `DisableSecretVersion`. */
  disableSecretVersion(request: object, options?: object): Promise<unknown>;
  /** Starts the client (called once, on a client keyflip built, before its first call). */
  initialize?(): Promise<unknown>;
  /** Closes the connection (called only on a client keyflip built). */
  close?(): Promise<void>;
}

/** Options of {@link openSecretAdmin}. */
export interface SecretAdminOptions {
  /** The project that holds the secrets (id or number). */
  projectId: string;
  /** A region for regional secrets (`europe-west1`). @default global secrets */
  location?: string | undefined;
  /** A client you built; it is not closed by `close()`. @default a `SecretManagerServiceClient` keyflip builds */
  client?: SecretManagerAdminClientLike | undefined;
  /**
   * Options for the client keyflip builds. When neither this nor `client` is given and
   * `SECRET_MANAGER_EMULATOR_HOST` is set, the client talks to that emulator.
   * @default the SDK's defaults (Application Default Credentials)
   */
  clientOptions?: Record<string, unknown> | undefined;
  /** The deadline of one call, in milliseconds. @default 15_000 */
  callTimeoutMs?: number | undefined;
  /** Read for `SECRET_MANAGER_EMULATOR_HOST`. @default process.env */
  env?: Record<string, string | undefined> | undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function toMs(ts: unknown): number {
  if (!isObj(ts)) return 0;
  const seconds = Number(String(ts.seconds ?? 0));
  const nanos = Number(ts.nanos ?? 0);
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

function stringRecord(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, value] of Object.entries(v)) out[k] = String(value);
  return out;
}

/** Opens the Secret Manager admin the rotation commands use. Loads the SDK only when no client is given. */
export async function openSecretAdmin(options: SecretAdminOptions): Promise<SecretAdmin> {
  const { projectId, location } = options;
  if (typeof projectId !== 'string' || !isProject(projectId)) {
    throw new RotationError(
      'INVALID_INPUT',
      'the project must be a Google Cloud project id (lowercase letters, digits and "-") or number',
    );
  }
  if (location !== undefined && !isLocation(location)) {
    throw new RotationError('INVALID_INPUT', 'the location must be a region such as "europe-west1"');
  }
  const owns = options.client === undefined;
  const client = options.client ?? (await buildClient(options));
  const parent = parentName({ project: projectId, location });
  const callOptions = { retry: null, timeout: options.callTimeoutMs ?? 15_000 };
  const secretName = (id: string): string => {
    if (!isSecretId(id))
      throw new RotationError(
        'INVALID_INPUT',
        `${JSON.stringify(id.slice(0, 80))} is not a secret id (${SECRET_ID_RULE})`,
      );
    return nameOfSecret({ project: projectId, location, secretId: id });
  };
  const idOf = (name: unknown): string => parseSecretName(name)?.secretId ?? '';

  const call = async <T>(what: string, id: string, run: () => Promise<unknown>): Promise<T> => {
    try {
      const result = await run();
      return (Array.isArray(result) ? result[0] : result) as T;
    } catch (error) {
      if (error instanceof RotationError) throw error;
      const code = grpcCodeOf(error);
      // The server's own message: SDK 6 over REST puts the raw JSON body in `error.message`.
      const detail = rpcMessageOf(error) ?? String(error);
      throw new RotationError('BACKEND', `Secret Manager ${what} ${id} failed: ${detail}`, {
        cause: error,
        grpcCode: code,
      });
    }
  };

  const secretMeta = (raw: unknown): SecretMeta => {
    const s = isObj(raw) ? raw : {};
    const aliases: Record<string, number> = {};
    for (const [alias, v] of Object.entries(stringRecord(s.versionAliases))) aliases[alias] = Number(v);
    return {
      id: idOf(s.name),
      labels: stringRecord(s.labels),
      annotations: stringRecord(s.annotations),
      aliases,
      etag: String(s.etag ?? ''),
      createdAt: toMs(s.createTime),
    };
  };
  const versionMeta = (raw: unknown): VersionMeta => {
    const v = isObj(raw) ? raw : {};
    const name = parseVersionName(v.name);
    const state = String(v.state ?? '');
    return {
      secretId: name?.secretId ?? '',
      version: Number(name?.version ?? ''),
      state: state === 'ENABLED' || state === 'DISABLED' || state === 'DESTROYED' ? state : 'DESTROYED',
      createdAt: toMs(v.createTime),
      etag: String(v.etag ?? ''),
    };
  };

  return {
    projectId,
    location,
    async getSecret(id) {
      const name = secretName(id);
      try {
        return secretMeta(await call('GetSecret', id, () => client.getSecret({ name }, callOptions)));
      } catch (error) {
        if (error instanceof RotationError && error.grpcCode === GrpcCode.NOT_FOUND) return undefined;
        throw error;
      }
    },
    async listSecrets(filter) {
      const request: Obj = { parent };
      if (filter) request.filter = filter;
      // autoPaginate (the SDK's default) fetches every page.
      const secrets = await call<unknown[]>('ListSecrets', parent, () => client.listSecrets(request, callOptions));
      return (secrets ?? []).map(secretMeta);
    },
    async createSecret(id, init) {
      const secret: Obj = { labels: init.labels, annotations: init.annotations };
      if (location === undefined) secret.replication = { automatic: {} };
      return secretMeta(
        await call('CreateSecret', id, () => client.createSecret({ parent, secretId: id, secret }, callOptions)),
      );
    },
    async updateSecret(id, change, etag) {
      const secret: Obj = { name: secretName(id), etag };
      const paths: string[] = [];
      if (change.labels) {
        secret.labels = change.labels;
        paths.push('labels');
      }
      if (change.annotations) {
        secret.annotations = change.annotations;
        paths.push('annotations');
      }
      if (change.aliases) {
        secret.versionAliases = Object.fromEntries(Object.entries(change.aliases).map(([a, v]) => [a, String(v)]));
        paths.push('version_aliases');
      }
      return secretMeta(
        await call('UpdateSecret', id, () => client.updateSecret({ secret, updateMask: { paths } }, callOptions)),
      );
    },
    async listVersions(id) {
      const versions = await call<unknown[]>('ListSecretVersions', id, () =>
        client.listSecretVersions({ parent: secretName(id) }, callOptions),
      );
      return (versions ?? []).map(versionMeta).sort((a, b) => b.version - a.version);
    },
    async addVersion(id, value) {
      const data = Buffer.from(value, 'utf8');
      const payload = { data, dataCrc32c: crc32c(data) };
      return versionMeta(
        await call('AddSecretVersion', id, () =>
          client.addSecretVersion({ parent: secretName(id), payload }, callOptions),
        ),
      );
    },
    async access(id, version) {
      const response = await call<Obj>('AccessSecretVersion', `${id}/versions/${version}`, () =>
        client.accessSecretVersion({ name: `${secretName(id)}/versions/${version}` }, callOptions),
      );
      const { data, crc32cMatches } = readPayload(response?.payload);
      if (!crc32cMatches) {
        throw new RotationError('BACKEND', `the data_crc32c of ${id}/versions/${version} does not match its payload`);
      }
      return Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8').trim();
    },
    async setState(id, version, state, etag) {
      const request: Obj = { name: `${secretName(id)}/versions/${version}` };
      if (etag) request.etag = etag;
      const what = state === 'ENABLED' ? 'EnableSecretVersion' : 'DisableSecretVersion';
      const run =
        state === 'ENABLED'
          ? () => client.enableSecretVersion(request, callOptions)
          : () => client.disableSecretVersion(request, callOptions);
      return versionMeta(await call(what, `${id}/versions/${version}`, run));
    },
    async close() {
      if (!owns) return;
      try {
        await client.close?.();
      } catch {
        // nothing to close
      }
    },
  };
}

async function buildClient(options: SecretAdminOptions): Promise<SecretManagerAdminClientLike> {
  try {
    return await createSecretManagerClient<SecretManagerAdminClientLike>(options, 'keyflip rotate');
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    if (cause instanceof ConfigurationError || cause instanceof DependencyError) {
      throw new RotationError('INVALID_INPUT', message, { cause });
    }
    throw new RotationError('BACKEND', `could not start the Secret Manager client: ${message}`, { cause });
  }
}
