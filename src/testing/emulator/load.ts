import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DependencyError } from '../../errors.js';
import { GCP_SDK_PACKAGE } from '../../sources/gcp-client.js';

/**
 * Lazy loading of what the emulator runs on, resolved FROM the installed `@google-cloud/secret-manager`
 * (→ its google-gax → @grpc/grpc-js, @grpc/proto-loader, protobufjs, proto3-json-serializer,
 * google-auth-library), so that:
 * - importing 'keyflip/testing' loads none of it (only startSecretManagerEmulator does);
 * - the emulator and the user's client share one copy of @grpc/grpc-js (research pitfall P4: credentials
 *   made by another copy fail the client's `instanceof` check);
 * - the emulator serves the very protos the client was generated from (`build/protos/protos.json`).
 * The interfaces below are the few members used, so no type comes from an undeclared package.
 */

export interface MethodDefinition {
  path: string;
  requestStream: boolean;
  responseStream: boolean;
  requestDeserialize(bytes: Buffer): unknown;
  responseSerialize(value: unknown): Buffer;
}
export type ServiceDefinition = Record<string, MethodDefinition>;

export interface ServerUnaryCall {
  request: unknown;
  on(event: 'cancelled', listener: () => void): unknown;
}
export type SendUnaryData = (error: { code: number; details: string } | null, value?: unknown) => void;

export interface GrpcServer {
  addService(
    service: ServiceDefinition,
    implementation: Record<string, (call: ServerUnaryCall, callback: SendUnaryData) => void>,
  ): void;
  bindAsync(address: string, credentials: unknown, callback: (error: Error | null, port: number) => void): void;
  tryShutdown(callback: (error?: Error) => void): void;
  forceShutdown(): void;
}

export interface GrpcJs {
  Server: new (options?: Record<string, unknown>) => GrpcServer;
  ServerCredentials: { createInsecure(): unknown };
  credentials: { createInsecure(): unknown };
}

export interface ProtoType {
  fullName: string;
  fields: Record<string, { type: string; repeated: boolean; map?: boolean; resolvedType: unknown }>;
  encode(message: unknown): { finish(): Uint8Array };
  decode(bytes: Uint8Array): unknown;
}

export interface Serializer {
  fromProto3JSON(type: ProtoType, json: unknown): unknown;
  toProto3JSON(message: unknown, options?: { numericEnums?: boolean }): unknown;
}

export interface HttpRule {
  [verb: string]: unknown;
  body?: string;
  additional_bindings?: HttpRule | HttpRule[];
}

/** One RPC of SecretManagerService, with what both surfaces need to serve it. */
export interface RpcMethod {
  name: string;
  definition: MethodDefinition;
  requestType: ProtoType;
  responseType: ProtoType;
  httpRules: HttpRule[];
}

export interface EmulatorDeps {
  grpc: GrpcJs;
  serializer: Serializer;
  service: ServiceDefinition;
  methods: RpcMethod[];
  /** `new PassThroughClient()` of the client's google-auth-library: no credentials, no ADC, no metadata server. */
  passThroughAuth(): unknown;
  secretManagerVersion: string;
}

const SERVICE = 'google.cloud.secretmanager.v1.SecretManagerService';
const PACKAGE = GCP_SDK_PACKAGE;

/**
 * Thrown when `@google-cloud/secret-manager` (or what it brings) cannot be loaded: a `DependencyError`
 * (`DEPENDENCY_MISSING`) whose `packageName` is that package.
 */
export class EmulatorDependencyError extends DependencyError {
  override name = 'EmulatorDependencyError';
  constructor(detail: string, options: { cause?: unknown } = {}) {
    super(
      PACKAGE,
      `startSecretManagerEmulator() needs the package ${PACKAGE}: it serves that package's own protos, over the ` +
        `@grpc/grpc-js its client uses. Install it (npm install --save-dev ${PACKAGE}). ${detail}`,
      options,
    );
  }
}

/** Where to resolve `@google-cloud/secret-manager` from: this module first, then the working directory. */
export function defaultResolveBases(): string[] {
  const here = typeof __filename === 'string' ? __filename : import.meta.url;
  return [here, join(process.cwd(), 'package.json')];
}

function findPackageRoot(entry: string): string {
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string };
      if (pkg.name === PACKAGE) return dir;
    } catch {
      // no package.json here: go up
    }
  }
  throw new EmulatorDependencyError(`Found ${entry} but not the package root above it.`);
}

let cached: { key: string; deps: EmulatorDeps } | undefined;

/** Loads (once per process and resolution base) everything the emulator runs on. Synchronous: all CJS. */
export function loadEmulatorDeps(bases: readonly string[] = defaultResolveBases()): EmulatorDeps {
  let entry: string | undefined;
  for (const base of bases) {
    try {
      entry = createRequire(base).resolve(PACKAGE);
      break;
    } catch {
      // try the next base
    }
  }
  if (entry === undefined) throw new EmulatorDependencyError(`It could not be resolved from ${bases.join(' or ')}.`);
  if (cached?.key === entry) return cached.deps;

  try {
    const root = findPackageRoot(entry);
    const fromClient = createRequire(entry);
    const version =
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
    const fromGax = createRequire(fromClient.resolve('google-gax'));
    const grpc = fromGax('@grpc/grpc-js') as GrpcJs;
    const protoLoader = fromGax('@grpc/proto-loader') as ProtoLoader;
    const protobuf = fromGax('protobufjs') as Protobuf;
    const serializer = fromGax('proto3-json-serializer') as Serializer;
    const protosJson = fromClient(join(root, 'build', 'protos', 'protos.json')) as unknown;
    const found = serviceOf(protosJson, SERVICE, protoLoader, protobuf);
    if (!found) throw new Error(`${SERVICE} is not in ${PACKAGE}'s protos.json`);
    const { service, methods } = found;
    let authLibrary: { PassThroughClient: new () => unknown } | undefined;
    const deps: EmulatorDeps = {
      grpc,
      serializer,
      service,
      methods,
      secretManagerVersion: version,
      passThroughAuth() {
        authLibrary ??= fromGax('google-auth-library') as { PassThroughClient: new () => unknown };
        return new authLibrary.PassThroughClient();
      },
    };
    cached = { key: entry, deps };
    return deps;
  } catch (error) {
    if (error instanceof EmulatorDependencyError) throw error;
    throw new EmulatorDependencyError(
      `Loading it from ${entry} failed: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

function lookupJson(json: unknown, fullName: string): unknown {
  let node = json as { nested?: Record<string, unknown> } | undefined;
  for (const part of fullName.split('.')) node = node?.nested?.[part] as typeof node;
  if (!node) throw new Error(`${fullName} is not in protos.json`);
  return node;
}

/** The proto-loader and protobufjs of the client's google-gax, as far as the emulator uses them. */
export type ProtoLoader = { fromJSON(json: unknown, options: Record<string, unknown>): Record<string, unknown> };
export type Protobuf = { Root: { fromJSON(json: unknown): { lookupType(name: string): ProtoType } } };

/**
 * As the server decodes: camelCase, int64 as strings, enums by name, bytes as Buffers, and no defaults, so that an
 * absent proto3 `optional` (payload.data_crc32c) stays absent.
 */
const LOADER_OPTIONS = { keepCase: false, longs: String, enums: String, defaults: false, oneofs: true };

/** One service of a protos JSON, in the form both surfaces serve; `undefined` when the JSON does not have it. */
export function serviceOf(
  json: unknown,
  fullName: string,
  protoLoader: ProtoLoader,
  protobuf: Protobuf,
): { service: ServiceDefinition; methods: RpcMethod[] } | undefined {
  const service = protoLoader.fromJSON(json, LOADER_OPTIONS)[fullName] as ServiceDefinition | undefined;
  if (!service) return undefined;
  const types = protobuf.Root.fromJSON(json);
  const pkg = fullName.slice(0, fullName.lastIndexOf('.'));
  const qualify = (type: string): string => (type.includes('.') ? type : `${pkg}.${type}`);
  const serviceJson = lookupJson(json, fullName) as {
    methods: Record<string, { requestType: string; responseType: string; parsedOptions?: Record<string, unknown>[] }>;
  };
  const methods: RpcMethod[] = Object.entries(serviceJson.methods).map(([name, m]) => ({
    name,
    definition: service[name] as MethodDefinition,
    requestType: types.lookupType(qualify(m.requestType)),
    responseType: types.lookupType(qualify(m.responseType)),
    httpRules: (m.parsedOptions ?? [])
      .map((o) => o['(google.api.http)'])
      .filter((r): r is HttpRule => typeof r === 'object' && r !== null),
  }));
  return { service, methods };
}
