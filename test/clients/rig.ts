import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { inspect } from 'node:util';
import { afterEach } from 'vitest';
import {
  createResolver,
  memorySource,
  type MemorySource,
  type Resolver,
  type SecretHandle,
  type Source,
} from '../../src/index.js';
import {
  manualClock,
  startMockProvider,
  usageCounter,
  type MockProvider,
  type MockProviderOptions,
} from '../../src/testing/index.js';
import { record, type Recorded } from '../helpers.js';

/** Keys with the shapes of real ones, made up for the tests (never valid anywhere). */
export const KEYS = {
  v1: `sk-proj-${'A1b2C3d4E5'.repeat(3)}T3BlbkFJ${'x9Y8w7V6u5'.repeat(3)}`,
  v2: `sk-proj-${'F6g7H8i9J0'.repeat(3)}T3BlbkFJ${'t4S3r2Q1p0'.repeat(3)}`,
  v3: `sk-proj-${'K1l2M3n4O5'.repeat(3)}T3BlbkFJ${'o9N8m7L6k5'.repeat(3)}`,
} as const;
export const ALL_KEYS: readonly string[] = Object.values(KEYS);

export interface Rig {
  resolver: Resolver;
  /** The secret manager: a memory source. */
  memory: MemorySource;
  /** `K`, declared as `K_v2 ?? K_v1`, resolved with KEYS.v1. */
  key: SecretHandle<string>;
  /** How many times the resolver asked the secret manager (each asks one candidate). */
  fetches(): number;
  /** How many refreshes (walks that ended in a value) the resolver did for K. */
  resolves(): number;
  /** The reads of K counted since the last call (what the usage beacon would report); resets the counter. */
  uses(): number;
  events: Recorded[];
  clock: ReturnType<typeof manualClock>;
}

/**
 * Makes rigs and mock providers, and closes them after each test. `push: false` puts the memory source behind
 * a source without `watch`, like a secret manager that is only polled: a change there is seen only at the next
 * refresh (the clock is manual, so only a forced refresh).
 */
export function clientRig(): {
  rig(options?: { push?: boolean; initial?: Record<string, string> }): Promise<Rig>;
  mock(options: MockProviderOptions): Promise<MockProvider>;
} {
  let resolvers: Resolver[] = [];
  let mocks: MockProvider[] = [];
  afterEach(async () => {
    const r = resolvers;
    const m = mocks;
    resolvers = [];
    mocks = [];
    await Promise.all([...r.map((x) => x.close()), ...m.map((x) => x.close())]);
  });
  return {
    async rig({ push = false, initial = { K_v1: KEYS.v1 } } = {}) {
      const memory = memorySource(initial);
      let fetches = 0;
      const polled: Source = {
        name: 'memory',
        fetch: (ref, ctx) => {
          fetches++;
          return memory.fetch(ref, ctx);
        },
      };
      const clock = manualClock();
      const source: Source = push
        ? { ...polled, watch: (ref, onChange) => (memory.watch as NonNullable<Source['watch']>)(ref, onChange) }
        : polled;
      const counter = usageCounter();
      const resolver = createResolver({
        sources: [source],
        clock,
        refreshMs: 3_600_000,
        jitter: 0,
        beacon: counter.reporter,
      });
      resolvers.push(resolver);
      const events = record(resolver);
      const key = resolver.secret('K', 'K_v2 ?? K_v1');
      await resolver.ready();
      return {
        resolver,
        memory,
        key,
        clock,
        events,
        fetches: () => fetches,
        resolves: () => events.filter((e) => e.event === 'resolve').length,
        uses: counter.take,
      };
    },
    async mock(options) {
      const mock = await startMockProvider(options);
      mocks.push(mock);
      return mock;
    },
  };
}

/** Everything a test can print about a value: message, stack, cause chain, JSON and util.inspect. */
export function dump(value: unknown): string {
  const parts: string[] = [];
  const seen = new Set<unknown>();
  const visit = (v: unknown, depth: number): void => {
    if (depth > 5 || seen.has(v)) return;
    seen.add(v);
    parts.push(inspect(v, { depth: 8, showHidden: true, getters: true }));
    try {
      parts.push(JSON.stringify(v) ?? '');
    } catch {
      // circular: inspect has it
    }
    parts.push(String(v));
    if (v instanceof Error) {
      parts.push(v.message, v.stack ?? '');
      visit(v.cause, depth + 1);
      for (const key of Object.keys(v)) visit((v as unknown as Record<string, unknown>)[key], depth + 1);
    }
  };
  visit(value, 0);
  return parts.join('\n');
}

/** The keys of `keys` that appear in `text`. */
export function leaked(text: string, keys: readonly string[] = ALL_KEYS): string[] {
  return keys.filter((k) => text.includes(k));
}

/**
 * A server on 127.0.0.1 that records each WebSocket handshake's `Authorization` and refuses it with a 401 (a dead
 * key): for the realtime sockets, whose handshake never goes through `fetch`.
 */
export async function handshakeRecorder() {
  const authorizations: (string | undefined)[] = [];
  const sockets = new Set<Duplex>();
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
    sockets.add(socket);
    authorizations.push(req.headers.authorization);
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    authorizations,
    url: `ws://127.0.0.1:${port}`,
    /** ws client options: the OpenAI SDK always builds a `wss:` URL; this sends the handshake here in plain TCP. */
    options: { createConnection: () => connect(port, '127.0.0.1') },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}
