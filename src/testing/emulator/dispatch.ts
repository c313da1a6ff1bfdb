import { GrpcCode } from '../../sources/gcp-names.js';
import type { Faults } from './faults.js';
import { RpcError } from './status.js';
import type { SecretStore } from './store.js';

export type Reply = (error: RpcError | null, response?: Record<string, unknown>) => void;

/**
 * What Google's front end answers, with UNIMPLEMENTED (12; HTTP 501), for an operation it does not serve:
 * the wording quoted from production in googleapis/python-run#66, googleapis/python-datacatalog#33 and
 * googleapis/google-cloud-node-core#205. The emulator answers it for every RPC it does not imitate
 * (EnableManagedRotation, RotateSecret: see docs/emulator.md).
 */
export const UNIMPLEMENTED_MESSAGE = 'Operation is not implemented, or supported, or enabled.';

/** Answers some RPCs beside the store (the IAM policies, the Locations mixin); `undefined` for the others. */
export interface RpcHandler {
  handle(method: string, request: Record<string, unknown>): Record<string, unknown> | undefined;
}

/**
 * One call, whatever the transport: counted, delayed by the injected latency, failed by an injected
 * fault, else answered by the store. `run` returns a cancel function (the client went away); `closeAll`
 * drops every call still waiting out its latency, so close() never waits for them.
 */
export class Dispatcher {
  private readonly waiting = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: SecretStore,
    private readonly faults: Faults,
    private readonly handlers: readonly RpcHandler[] = [],
  ) {}

  run(method: string, request: Record<string, unknown>, reply: Reply): () => void {
    const { delayMs, failure } = this.faults.arrive(method);
    const answer = (): void => {
      if (failure) {
        reply(new RpcError(failure.code, failure.message));
        return;
      }
      let response: Record<string, unknown> | undefined;
      try {
        for (const handler of this.handlers) {
          response = handler.handle(method, request);
          if (response !== undefined) break;
        }
        response ??= this.store.handle(method, request);
      } catch (error) {
        reply(
          error instanceof RpcError
            ? error
            : new RpcError(GrpcCode.INTERNAL, `Internal error in the keyflip emulator: ${String(error)}`),
        );
        return;
      }
      if (response === undefined) {
        reply(new RpcError(GrpcCode.UNIMPLEMENTED, UNIMPLEMENTED_MESSAGE));
        return;
      }
      if (method === 'AccessSecretVersion' && this.faults.takeCorruption()) {
        const payload = response.payload as { dataCrc32c: string };
        response = {
          ...response,
          payload: { ...payload, dataCrc32c: String((Number(payload.dataCrc32c) ^ 0x1) >>> 0) },
        };
      }
      reply(null, response);
    };
    if (delayMs <= 0) {
      answer();
      return () => {};
    }
    const timer = setTimeout(() => {
      this.waiting.delete(timer);
      answer();
    }, delayMs);
    this.waiting.add(timer);
    return () => {
      clearTimeout(timer);
      this.waiting.delete(timer);
    };
  }

  closeAll(): void {
    for (const timer of this.waiting) clearTimeout(timer);
    this.waiting.clear();
  }
}
