import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { GCP_SDK_PACKAGE } from '../../sources/gcp-client.js';
import {
  defaultResolveBases,
  EmulatorDependencyError,
  type MethodDefinition,
  type ProtoType,
  type RpcMethod,
  type ServiceDefinition,
} from './load.js';

/**
 * What the client's mixins need beside SecretManagerService, loaded (lazily, like load.ts) from the
 * google-gax the installed `@google-cloud/secret-manager` uses:
 * - the google.cloud.location.Locations service (the client's `locationsClient`: ListLocations,
 *   GetLocation), from gax's own `build/protos/locations.json`, the very proto that client is built on;
 * - google-auth-library's `GoogleAuth`, so that the REST (`fallback: true`) client gets an auth object
 *   that answers `getProjectId()` as the gRPC one does (gax's fallback GrpcClient takes `authClient` as
 *   it is, and a bare PassThroughClient has no `getProjectId`).
 */
export interface MixinDeps {
  /** google.cloud.location.Locations, for the gRPC server. */
  locationsService: ServiceDefinition;
  /** Its RPCs, in the form both surfaces serve. */
  locationsMethods: RpcMethod[];
  /** `new GoogleAuth({ authClient, projectId, universeDomain })` of the client's google-auth-library. */
  googleAuth(options: { authClient: unknown; projectId: string; universeDomain: string }): unknown;
}

const LOCATIONS = 'google.cloud.location.Locations';

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
    const protoLoader = fromGax('@grpc/proto-loader') as {
      fromJSON(json: unknown, options: Record<string, unknown>): Record<string, unknown>;
    };
    const protobuf = fromGax('protobufjs') as {
      Root: { fromJSON(json: unknown): { lookupType(name: string): ProtoType } };
    };
    const locationsJson = fromGax(join(dirname(gaxEntry), '..', 'protos', 'locations.json')) as {
      nested: Record<string, unknown>;
    };
    const packageDefinition = protoLoader.fromJSON(locationsJson, {
      keepCase: false,
      longs: String,
      enums: String,
      defaults: false,
      oneofs: true,
    });
    const service = packageDefinition[LOCATIONS] as ServiceDefinition | undefined;
    if (!service) throw new Error(`${LOCATIONS} is not in google-gax's locations.json`);
    const types = protobuf.Root.fromJSON(locationsJson);
    const serviceJson = lookupJson(locationsJson, LOCATIONS) as {
      methods: Record<string, { requestType: string; responseType: string; parsedOptions?: Record<string, unknown>[] }>;
    };
    const methods: RpcMethod[] = Object.entries(serviceJson.methods).map(([name, m]) => ({
      name,
      definition: service[name] as MethodDefinition,
      requestType: types.lookupType(`google.cloud.location.${m.requestType}`),
      responseType: types.lookupType(`google.cloud.location.${m.responseType}`),
      httpRules: (m.parsedOptions ?? [])
        .map((o) => o['(google.api.http)'])
        .filter((r): r is RpcMethod['httpRules'][number] => typeof r === 'object' && r !== null),
    }));
    let authLibrary: { GoogleAuth: new (options: object) => unknown } | undefined;
    const deps: MixinDeps = {
      locationsService: service,
      locationsMethods: methods,
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

function lookupJson(json: unknown, fullName: string): unknown {
  let node = json as { nested?: Record<string, unknown> } | undefined;
  for (const part of fullName.split('.')) node = node?.nested?.[part] as typeof node;
  if (!node) throw new Error(`${fullName} is not in locations.json`);
  return node;
}
