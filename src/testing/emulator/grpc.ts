import { createServer } from 'node:net';
import { cannotListen } from './cannot-listen.js';
import type { Dispatcher } from './dispatch.js';
import type { EmulatorDeps, GrpcServer, RpcMethod, SendUnaryData, ServerUnaryCall, ServiceDefinition } from './load.js';

/** The gRPC surface: a real @grpc/grpc-js server speaking google.cloud.secretmanager.v1, plain text. */
export interface GrpcSurface {
  port: number;
  close(): Promise<void>;
}

/**
 * Fails like a bind would when `host:port` is taken, without asking grpc-js: on a failed bind it logs
 * "No address added…" to stderr, and the emulator must never print.
 */
function assertFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => reject(cannotListen(host, port, error)));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}

type Implementation = Record<string, (call: ServerUnaryCall, callback: SendUnaryData) => void>;

/** Every method of one service, answered through the dispatcher. */
function implementationOf(methods: readonly RpcMethod[], dispatcher: Dispatcher): Implementation {
  const implementation: Implementation = {};
  for (const { name } of methods) {
    implementation[name] = (call, callback) => {
      let done = false;
      const cancel = dispatcher.run(name, (call.request ?? {}) as Record<string, unknown>, (error, response) => {
        if (done) return;
        done = true;
        if (error) callback({ code: error.code, details: error.message });
        else callback(null, response);
      });
      call.on('cancelled', () => {
        done = true;
        cancel();
      });
    };
  }
  return implementation;
}

export async function startGrpcSurface(
  deps: EmulatorDeps,
  dispatcher: Dispatcher,
  host: string,
  port: number,
  mixins: readonly { service: ServiceDefinition; methods: readonly RpcMethod[] }[] = [],
): Promise<GrpcSurface> {
  const server: GrpcServer = new deps.grpc.Server();
  for (const { service, methods } of [{ service: deps.service, methods: deps.methods }, ...mixins])
    server.addService(service, implementationOf(methods, dispatcher));
  if (port !== 0) await assertFree(host, port);
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${host.includes(':') ? `[${host}]` : host}:${port}`,
      deps.grpc.ServerCredentials.createInsecure(),
      (error, actual) => (error ? reject(cannotListen(host, port, error)) : resolve(actual)),
    );
  });
  let closing: Promise<void> | undefined;
  return {
    port: bound,
    close() {
      closing ??= new Promise<void>((resolve) => {
        // tryShutdown's callback fires once the listening socket and every session are closed;
        // forceShutdown then cancels the calls in flight so that this happens now (research P11).
        const fallback = setTimeout(resolve, 2_000);
        fallback.unref();
        server.tryShutdown(() => {
          clearTimeout(fallback);
          resolve();
        });
        server.forceShutdown();
      });
      return closing;
    },
  };
}
