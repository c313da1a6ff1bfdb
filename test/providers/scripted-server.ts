/**
 * A local HTTP server whose answers the test scripts, route by route, recording every request: the management API
 * stand-in of the provider tests (documented example bodies, errors, retries, pagination).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The raw query string, as sent. */
  rawQuery: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface Answer {
  status?: number;
  body?: unknown;
  /** Sent as is (not JSON-encoded). */
  raw?: string;
  headers?: Record<string, string>;
  /** Never answers (the client's timeout must end the request). */
  hang?: boolean;
  /** Destroys the connection without an answer. */
  drop?: boolean;
}

export type Handler = (req: Recorded) => Answer;

export interface ScriptedServer {
  url: string;
  requests: Recorded[];
  /** Answers `METHOD /path` (no query) with the handler, or with each answer in turn (the last one repeats). */
  on(route: string, handler: Handler | Answer | Answer[]): void;
  close(): Promise<void>;
}

export async function startScriptedServer(prefix = ''): Promise<ScriptedServer> {
  const routes = new Map<string, Handler>();
  const requests: Recorded[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const path = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : url.pathname;
      const recorded: Recorded = {
        method: req.method ?? 'GET',
        path,
        query: url.searchParams,
        rawQuery: url.search,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const handler = routes.get(`${recorded.method} ${path}`);
      const answer: Answer = handler
        ? handler(recorded)
        : { status: 404, body: { error: { message: `no route ${recorded.method} ${path}`, type: 'not_found' } } };
      if (answer.hang) return;
      if (answer.drop) {
        req.socket.destroy();
        return;
      }
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.raw ?? JSON.stringify(answer.body ?? {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    requests,
    on(route, handler) {
      if (typeof handler === 'function') {
        routes.set(route, handler);
        return;
      }
      const answers = Array.isArray(handler) ? [...handler] : [handler];
      routes.set(route, () => (answers.length > 1 ? (answers.shift() as Answer) : (answers[0] as Answer)));
    },
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A sleep that records each wait and returns at once. */
export function recordingSleep(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
  };
}

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}
