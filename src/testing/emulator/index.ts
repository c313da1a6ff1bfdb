import { ConfigurationError } from '../../errors.js';
import { isProjectNumber } from '../../sources/gcp-names.js';
import { asAdminCall } from './admin-error.js';
import { Dispatcher } from './dispatch.js';
import { Faults } from './faults.js';
import { startGrpcSurface, type GrpcSurface } from './grpc.js';
import { type IamEnforcementOptions, IamPolicies } from './iam.js';
import { loadEmulatorDeps } from './load.js';
import { Locations } from './locations.js';
import { loadMixinDeps } from './mixins.js';
import { startRestSurface, type RestSurface } from './rest.js';
import { SecretStore } from './store.js';

/** Options of {@link startSecretManagerEmulator}. */
export interface SecretManagerEmulatorOptions {
  /**
   * The project ID requests may name. Any other project answers PERMISSION_DENIED.
   * @default 'keyflip-test'
   */
  projectId?: string;
  /**
   * The project number, which every returned name carries, as production's do.
   * @default '123456789012'
   */
  projectNumber?: string;
  /**
   * The gRPC server's TCP port. The REST server always takes a free port.
   * @default 0 (any free port)
   */
  port?: number;
  /**
   * The interface both servers listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Enforce the secrets' IAM policies (set with SetIamPolicy) on AccessSecretVersion, for one caller
   * identity: `{ enforce: true, caller: 'serviceAccount:app@p.iam.gserviceaccount.com' }`. Off by default
   * (every call is allowed, as before). See {@link IamEnforcementOptions}.
   * @default { enforce: false }
   */
  iam?: IamEnforcementOptions;
}

export type { IamEnforcementOptions } from './iam.js';

/**
 * Constructor options for `SecretManagerServiceClient`, typed loosely so that they are accepted as they
 * are (`new SecretManagerServiceClient(emulator.clientOptions)`) without keyflip depending on the SDK's types.
 */
// biome-ignore lint/suspicious/noExplicitAny: `unknown` values would not be accepted as the SDK's ClientOptions
export type EmulatorClientOptions = { readonly [option: string]: any };

/** Where an admin helper acts: a regional secret when `location` is set. */
export interface EmulatorLocationOptions {
  /** The region of a regional secret (`europe-west1`). @default a global secret */
  location?: string;
}

/**
 * An in-process Secret Manager (google.cloud.secretmanager.v1) for tests: a real gRPC server and a
 * REST server over one in-memory store, with production's semantics, admin helpers, fault injection
 * and call counts.
 */
export interface SecretManagerEmulator {
  /** `host:port` of the gRPC server: the SECRET_MANAGER_EMULATOR_HOST value. */
  readonly host: string;
  /** The project ID requests must name (`SecretManagerEmulatorOptions.projectId`). */
  readonly projectId: string;
  /** The project number every returned name carries. */
  readonly projectNumber: string;
  /**
   * Options for `new SecretManagerServiceClient(clientOptions)`: gRPC, plain text, no credentials, no
   * ADC and no metadata-server lookup, proxies ignored. A fresh object on every read.
   */
  readonly clientOptions: EmulatorClientOptions;
  /**
   * The same for REST mode (`fallback: true`), served by the emulator's HTTP server. A fresh object on
   * every read.
   */
  readonly restClientOptions: EmulatorClientOptions;
  /** `http://host:port` of the REST server. */
  readonly restUrl: string;

  // Admin helpers: synchronous, in-process; no fault injection, not counted. Where the RPC would fail they throw
  // an `EmulatorAdminError` (a `ConfigurationError`) with its message and its gRPC status in `grpcCode`.
  /** Creates a secret (no version yet), with labels and annotations, global or in `location`. */
  createSecret(
    secretId: string,
    options?: { labels?: Record<string, string>; annotations?: Record<string, string>; location?: string },
  ): void;
  /** Adds a version (creating the secret if missing) and returns its number: "1", "2", … */
  addVersion(
    secretId: string,
    value: string | Uint8Array,
    options?: { location?: string; state?: 'ENABLED' | 'DISABLED' },
  ): string;
  /** `version` is a number, `latest` or an alias. */
  disableVersion(secretId: string, version: string, options?: EmulatorLocationOptions): void;
  /** Enables a disabled version; `version` as for `disableVersion`. */
  enableVersion(secretId: string, version: string, options?: EmulatorLocationOptions): void;
  /** Destroys a version (its payload is gone for good); `version` as for `disableVersion`. */
  destroyVersion(secretId: string, version: string, options?: EmulatorLocationOptions): void;
  /** Points `alias` at `version` (a number, `latest` or another alias); `undefined` removes the alias. */
  setAlias(secretId: string, alias: string, version: string | undefined, options?: EmulatorLocationOptions): void;
  /** Deletes a secret and every version of it. */
  deleteSecret(secretId: string, options?: EmulatorLocationOptions): void;

  // Faults and counters, for calls over either transport.
  /**
   * The next `times` (default 1) calls of `method` ('AccessSecretVersion', as the proto names it) fail with
   * gRPC status `code`; REST answers the matching HTTP error.
   */
  failNext(method: string, code: number, times?: number): void;
  /** Adds `ms` to every call, or to every call of `method` (the two add up). `setLatency(0[, method])` removes it. */
  setLatency(ms: number, method?: string): void;
  /** The next `times` (default 1) successful AccessSecretVersion answers carry a wrong `data_crc32c`. */
  corruptNextChecksum(times?: number): void;
  /** Calls received of `method`, or of all methods, over gRPC and REST. */
  calls(method?: string): number;
  /** Sets every call count back to 0. */
  resetCalls(): void;
  /** Stops both servers and frees both ports, cancelling the calls in flight. Idempotent. */
  close(): Promise<void>;
}

const formatHost = (host: string, port: number): string =>
  host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;

/** Where a client connects to reach a server listening on `host` (a wildcard address means loopback). */
function connectHost(host: string): string {
  if (host === '0.0.0.0' || host === '') return '127.0.0.1';
  if (host === '::') return '::1';
  return host;
}

/**
 * Starts a Secret Manager emulator on 127.0.0.1 (gRPC on `port`, default any free port; REST on another).
 * Needs `@google-cloud/secret-manager` installed: its protos and its own @grpc/grpc-js are loaded now,
 * never when 'keyflip/testing' is imported.
 * @example
 * const emulator = await startSecretManagerEmulator();
 * emulator.addVersion('openai-key', 'sk-test-1');
 * const client = new SecretManagerServiceClient(emulator.clientOptions);
 * const name = `projects/${emulator.projectId}/secrets/openai-key/versions/latest`;
 * const [res] = await client.accessSecretVersion({ name });
 * await client.close();
 * await emulator.close();
 */
export async function startSecretManagerEmulator(
  options: SecretManagerEmulatorOptions = {},
): Promise<SecretManagerEmulator> {
  const projectId = options.projectId ?? 'keyflip-test';
  const projectNumber = options.projectNumber ?? '123456789012';
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  // The project id may be anything a resource name can hold: tests may use ids production would refuse.
  if (!/^[^\s/]+$/.test(projectId)) {
    throw new ConfigurationError(`Invalid projectId '${projectId}'.`);
  }
  if (!isProjectNumber(projectNumber)) {
    throw new ConfigurationError(`Invalid projectNumber '${projectNumber}': a decimal number.`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigurationError(`Invalid port ${String(port)}.`);
  }

  const deps = loadEmulatorDeps();
  const mixins = loadMixinDeps();
  const store = new SecretStore(projectId, projectNumber);
  const faults = new Faults(new Set([...deps.methods, ...mixins.locationsMethods].map((m) => m.name)));
  const iam = new IamPolicies(store, options.iam); // a bad option throws here, before anything listens
  const dispatcher = new Dispatcher(store, faults, [new Locations(projectId, projectNumber), iam]);
  const locations = { service: mixins.locationsService, methods: mixins.locationsMethods };
  // v1beta2 (the package's `v1beta2.SecretManagerServiceClient`) is served by the same store: its RPCs are v1's.
  const extra = mixins.v1beta2 ? [locations, mixins.v1beta2] : [locations];

  const grpc: GrpcSurface = await startGrpcSurface(deps, dispatcher, host, port, extra);
  let rest: RestSurface;
  try {
    rest = await startRestSurface(
      deps,
      dispatcher,
      host,
      extra.flatMap((s) => s.methods),
    );
  } catch (error) {
    await grpc.close();
    throw error;
  }

  const target = connectHost(host);
  const apiEndpoint = target.includes(':') ? `[${target}]` : target;
  let closing: Promise<void> | undefined;

  return {
    host: formatHost(target, grpc.port),
    projectId,
    projectNumber,
    restUrl: `http://${formatHost(target, rest.port)}`,
    get clientOptions(): EmulatorClientOptions {
      return {
        apiEndpoint,
        port: grpc.port,
        sslCreds: deps.grpc.credentials.createInsecure(), // the client's own grpc-js copy
        authClient: deps.passThroughAuth(), // no ADC discovery, no metadata-server probe
        universeDomain: 'googleapis.com', // matches the auth client's even if GOOGLE_CLOUD_UNIVERSE_DOMAIN is set
        projectId,
        'grpc.enable_http_proxy': 0, // loopback must not go through http(s)_proxy / grpc_proxy
      };
    },
    get restClientOptions(): EmulatorClientOptions {
      const authClient = deps.passThroughAuth();
      return {
        fallback: true,
        protocol: 'http',
        apiEndpoint,
        port: rest.port,
        // gax's REST GrpcClient takes `authClient` as the client's auth as it is, and a bare PassThroughClient
        // has no getProjectId(): give it, as gRPC mode builds for itself, a GoogleAuth around that client.
        auth: mixins.googleAuth({ authClient, projectId, universeDomain: 'googleapis.com' }),
        authClient,
        universeDomain: 'googleapis.com',
        projectId,
      };
    },
    createSecret: (secretId, opts) => asAdminCall(() => store.adminCreateSecret(secretId, opts)),
    addVersion: (secretId, value, opts) => asAdminCall(() => store.adminAddVersion(secretId, value, opts)),
    disableVersion: (secretId, version, opts) =>
      asAdminCall(() => store.adminSetState(secretId, version, 'DISABLED', opts?.location)),
    enableVersion: (secretId, version, opts) =>
      asAdminCall(() => store.adminSetState(secretId, version, 'ENABLED', opts?.location)),
    destroyVersion: (secretId, version, opts) =>
      asAdminCall(() => store.adminSetState(secretId, version, 'DESTROYED', opts?.location)),
    setAlias: (secretId, alias, version, opts) =>
      asAdminCall(() => store.adminSetAlias(secretId, alias, version, opts?.location)),
    deleteSecret: (secretId, opts) => asAdminCall(() => store.adminDeleteSecret(secretId, opts?.location)),
    failNext: (method, code, times) => faults.failNext(method, code, times),
    setLatency: (ms, method) => faults.setLatency(ms, method),
    corruptNextChecksum: (times) => faults.corruptNextChecksum(times),
    calls: (method) => faults.calls(method),
    resetCalls: () => faults.resetCalls(),
    close() {
      closing ??= (async () => {
        dispatcher.closeAll();
        await Promise.all([grpc.close(), rest.close()]);
      })();
      return closing;
    },
  };
}
