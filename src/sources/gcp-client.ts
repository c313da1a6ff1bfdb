/**
 * Builds `@google-cloud/secret-manager`'s client for the gcp source and the rotation commands: loads the
 * SDK (an optional peer) on first use, picks the emulator when `SECRET_MANAGER_EMULATOR_HOST` is set, the
 * regional endpoint for a `location`, and starts the client inside a try.
 */
import { createRequire } from 'node:module';
import { ConfigurationError, DependencyError } from '../errors.js';

/** The package loaded on first use. */
export const GCP_SDK_PACKAGE = '@google-cloud/secret-manager';

export interface ClientBuildOptions {
  clientOptions?: Record<string, unknown> | undefined;
  location?: string | undefined;
  env?: Record<string, string | undefined> | undefined;
}

/**
 * Loads the SDK and builds a started client. `who` names the caller in the {@link DependencyError} thrown
 * when the SDK is missing (`keyflip/gcp needs …`), `alternative` says what else would do
 * (`, or pass \`client\``). A client that fails to start rejects with the client's own error.
 */
export async function createSecretManagerClient<C extends { initialize?(): Promise<unknown>; close?(): Promise<void> }>(
  options: ClientBuildOptions,
  who: string,
  alternative = '',
): Promise<C> {
  let sdk: { SecretManagerServiceClient: new (opts?: Record<string, unknown>) => C };
  try {
    sdk = (await import(GCP_SDK_PACKAGE)) as typeof sdk;
  } catch (cause) {
    throw new DependencyError(
      GCP_SDK_PACKAGE,
      `${who} needs ${GCP_SDK_PACKAGE} (version 6 or 7): run \`npm install ${GCP_SDK_PACKAGE}\`${alternative} ` +
        `(${describe(cause)})`,
      { cause },
    );
  }
  const env = options.env ?? process.env;
  let clientOptions: Record<string, unknown>;
  if (options.clientOptions) clientOptions = { ...options.clientOptions };
  else if (env.SECRET_MANAGER_EMULATOR_HOST) clientOptions = emulatorClientOptions(env.SECRET_MANAGER_EMULATOR_HOST);
  else if (options.location) clientOptions = { apiEndpoint: `secretmanager.${options.location}.rep.googleapis.com` };
  else clientOptions = {};
  const client = new sdk.SecretManagerServiceClient(clientOptions);
  // Started here, inside a try: a client whose stub fails to start would otherwise leave a floating
  // rejection on every call (and could crash the process); it is dropped and built again next time.
  try {
    await client.initialize?.();
  } catch (cause) {
    try {
      await client.close?.();
    } catch {
      // nothing to close
    }
    throw cause;
  }
  return client;
}

/**
 * Client options that reach a Secret Manager emulator at `host:port` in plain text with no credentials
 * and no metadata-server lookup, using the SDK's own google-gax copy (a second copy of @grpc/grpc-js
 * would be rejected by the client).
 */
export function emulatorClientOptions(hostPort: string): Record<string, unknown> {
  const match = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hostPort.trim());
  if (!match)
    throw new ConfigurationError(`SECRET_MANAGER_EMULATOR_HOST must be host:port, not ${JSON.stringify(hostPort)}`);
  const gax = loadGax();
  return {
    apiEndpoint: match[1],
    port: Number(match[2]),
    sslCreds: gax.grpc.credentials.createInsecure(),
    authClient: new gax.googleAuthLibrary.PassThroughClient(),
    'grpc.enable_http_proxy': 0,
  };
}

interface Gax {
  grpc: { credentials: { createInsecure(): unknown } };
  googleAuthLibrary: { PassThroughClient: new () => unknown };
}

function loadGax(): Gax {
  try {
    // `__filename` in the CJS build, `import.meta.url` in the ESM one (no bundler shim needed).
    const fromHere = createRequire(typeof __filename === 'string' ? __filename : import.meta.url);
    const fromSdk = createRequire(fromHere.resolve(GCP_SDK_PACKAGE));
    return fromSdk('google-gax') as Gax;
  } catch (cause) {
    throw new DependencyError(
      GCP_SDK_PACKAGE,
      `keyflip/gcp needs ${GCP_SDK_PACKAGE} to reach an emulator: run \`npm install ${GCP_SDK_PACKAGE}\` ` +
        `(${describe(cause)})`,
      { cause },
    );
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
