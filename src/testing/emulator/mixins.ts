import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GCP_SDK_PACKAGE } from '../../sources/gcp-client.js';
import {
  defaultResolveBases,
  EmulatorDependencyError,
  type Protobuf,
  type ProtoLoader,
  type RpcMethod,
  type ServiceDefinition,
  serviceOf,
} from './load.js';

/**
 * What the client's mixins need beside SecretManagerService, loaded (lazily, like load.ts) from the
 * google-gax the installed `@google-cloud/secret-manager` uses:
 * - the google.cloud.location.Locations service (the client's `locationsClient`: ListLocations,
 *   GetLocation), from gax's own `build/protos/locations.json`, the very proto that client is built on;
 * - google.cloud.secretmanager.v1beta2.SecretManagerService, which the package also exports (`v1beta2.
 *   SecretManagerServiceClient`), from the package's own `build/protos/protos.json`: the same 15 RPCs as v1 but
 *   managed rotation, served by the same store (absent from a client release that has no v1beta2: skipped);
 * - google-auth-library's `GoogleAuth`, so that the REST (`fallback: true`) client gets an auth object
 *   that answers `getProjectId()` as the gRPC one does (gax's fallback GrpcClient takes `authClient` as
 *   it is, and a bare PassThroughClient has no `getProjectId`).
 */
export interface MixinDeps {
  /** google.cloud.location.Locations, for the gRPC server. */
  locationsService: ServiceDefinition;
  /** Its RPCs, in the form both surfaces serve. */
  locationsMethods: RpcMethod[];
  /** google.cloud.secretmanager.v1beta2.SecretManagerService and its RPCs, when the package has them. */
  v1beta2?: { service: ServiceDefinition; methods: RpcMethod[] };
  /** `new GoogleAuth({ authClient, projectId, universeDomain })` of the client's google-auth-library. */
  googleAuth(options: { authClient: unknown; projectId: string; universeDomain: string }): unknown;
}

const LOCATIONS = 'google.cloud.location.Locations';
const V1BETA2 = 'google.cloud.secretmanager.v1beta2.SecretManagerService';

/** The package's `build/protos/protos.json`, looked for above its entry point; `undefined` when not found. */
function packageProtos(entry: string): string | undefined {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    const candidate = join(dir, 'build', 'protos', 'protos.json');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

let cached: { key: string; deps: MixinDeps } | undefined;

export function loadMixinDeps(bases: readonly string[] = defaultResolveBases()): MixinDeps {
  let entry: string | undefined;
  for (const base of bases) {
    try {
      entry = createRequire(base).resolve(GCP_SDK_PACKAGE);
      break;
    } catch {
      // try the next base
    }
  }
  if (entry === undefined) throw new EmulatorDependencyError(`It could not be resolved from ${bases.join(' or ')}.`);
  if (cached?.key === entry) return cached.deps;
  try {
    const gaxEntry = createRequire(entry).resolve('google-gax');
    const fromGax = createRequire(gaxEntry);
    const protoLoader = fromGax('@grpc/proto-loader') as ProtoLoader;
    const protobuf = fromGax('protobufjs') as Protobuf;
    const locationsJson = fromGax(join(dirname(gaxEntry), '..', 'protos', 'locations.json')) as unknown;
    const locations = serviceOf(locationsJson, LOCATIONS, protoLoader, protobuf);
    if (!locations) throw new Error(`${LOCATIONS} is not in google-gax's locations.json`);
    const protosPath = packageProtos(entry);
    const v1beta2 =
      protosPath === undefined
        ? undefined
        : serviceOf(createRequire(entry)(protosPath), V1BETA2, protoLoader, protobuf);
    let authLibrary: { GoogleAuth: new (options: object) => unknown } | undefined;
    const deps: MixinDeps = {
      locationsService: locations.service,
      locationsMethods: locations.methods,
      ...(v1beta2 ? { v1beta2 } : {}),
      googleAuth(options) {
        authLibrary ??= fromGax('google-auth-library') as { GoogleAuth: new (options: object) => unknown };
        return new authLibrary.GoogleAuth(options);
      },
    };
    cached = { key: entry, deps };
    return deps;
  } catch (error) {
    throw new EmulatorDependencyError(
      `Loading google-gax's Locations protos from ${entry} failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}
