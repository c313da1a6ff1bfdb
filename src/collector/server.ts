/**
 * The collector over HTTP (node:http, no framework):
 *
 *   POST /v1/beacons                       a `keyflip.beacon/v1` report (JSON) → 204, or 429 when refused
 *   GET  /v1/usage?secret=NAME&window=60m  → SecretUsage (with its `coverage`)
 *   GET  /v1/instances[?limit=N]           → { at, retentionMs, total, stale, secrets, instances }
 *   GET  /healthz                          → { ok: true }            (never needs the token)
 *   GET  /                                 → the page                (static, holds no data: see below)
 *
 * With a token, every data route needs `Authorization: Bearer <token>` (401 otherwise), compared in
 * constant time. The page itself is served without it: a browser cannot send a header when it navigates,
 * and the page holds nothing until its script, given the token in the URL fragment, fetches the data.
 *
 * No request, however malformed, crashes it or makes it print anything: a body over the limit is refused
 * (413) without being read whole, a body that is not UTF-8 JSON or not a report gets 400 saying what is
 * wrong (never quoting it), and anything unexpected is a 500 that leaves the server running. A refusal sent
 * before the body was read (401, 403, 415, …) goes out at once, and a body up to the limit is then read and
 * discarded, so the client sees the answer rather than a reset connection.
 *
 * Idle or slow connections cannot stall it: headers must arrive within {@link SERVER_TIMEOUTS}, a whole
 * request within its `requestTimeoutMs`, and the open connections are capped (`maxConnections`) by closing
 * the oldest connection that serves no request, so a flood of idle connections never locks a beacon out.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { wholeNumber } from '../check.js';
import { parseDuration } from '../duration.js';
import { ConfigurationError, KeyflipError } from '../errors.js';
import { type Collector, createCollector } from './collector.js';
import { capConnections } from './connection-cap.js';
import { allowedHostNames, hostAllowed, isLoopback } from './host-check.js';
import { COLLECTOR_PAGE } from './page.js';
import { CollectorInputError } from './report.js';

/** Options of {@link startCollectorServer}. */
export interface CollectorServerOptions {
  /** The TCP port to listen on. @default 0 (a free port; read it from `url`) */
  port?: number | undefined;
  /** The address to listen on (loopback unless you mean it). @default '127.0.0.1' */
  host?: string | undefined;
  /**
   * When set, every route but `/healthz` and the page needs `Authorization: Bearer <token>`.
   * @default none (no route needs a token)
   */
  token?: string | undefined;
  /** The collector to serve. @default createCollector() */
  collector?: Collector | undefined;
  /** The largest request body accepted (413 beyond). @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number | undefined;
  /**
   * Host names (or addresses) besides loopback that a request's `Host` header may name, without a port: the
   * name a reverse proxy forwards, or `host.docker.internal`. Bound to loopback, the server answers only Host
   * names that are loopback literals (127.0.0.0/8 dotted quads, `[::1]`), `localhost` and these (403 otherwise,
   * against DNS rebinding); bound elsewhere, it checks the Host header only when this is given.
   * @default [] (loopback names only)
   */
  allowedHosts?: readonly string[] | undefined;
  /**
   * The number of open connections at most (a whole number). Beyond it, the oldest connection that serves no
   * request (idle, still sending its headers, or being refused) is closed to make room; only when every one serves
   * a request is the new one refused. Keep it below the process's file descriptor limit (`ulimit -n`).
   * @default 512
   */
  maxConnections?: number | undefined;
}

/**
 * The server's timeouts, ms, each with why:
 * - `headersTimeoutMs` 10 s: a beacon or `verify` sends its headers at once; a connection still without complete
 *   headers after 10 s is closed (408), so idle connections cannot pile up.
 * - `requestTimeoutMs` 30 s: a whole request, body included (1 MiB in 30 s is ~35 KiB/s, far below any link).
 * - `keepAliveTimeoutMs` 5 s: how long an idle kept-alive connection stays open after a response (Node's default;
 *   beacons come once a minute, so a longer one would mostly keep idle sockets).
 * - `checkEveryMs` 1 s: how often Node looks for connections past these timeouts (with its default, 30 s, an idle
 *   connection could live up to 30 s past its headers timeout).
 * - `drainMs` 10 s: the longest a refused request's body is read and discarded before the connection is closed.
 */
export const SERVER_TIMEOUTS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  checkEveryMs: 1_000,
  drainMs: 10_000,
} as const;

/** The default of `maxConnections`: well below the usual 1 024 file descriptors of a process. */
const DEFAULT_MAX_CONNECTIONS = 512;

/** A collector served over HTTP ({@link startCollectorServer}). */
export interface CollectorServer {
  /** `http://127.0.0.1:PORT`, no trailing slash: the `url` of `httpSink` and of `keyflip verify --collector`. */
  readonly url: string;
  /** The TCP port it listens on (the one chosen, with `port: 0`). */
  readonly port: number;
  /** The collector it serves. */
  readonly collector: Collector;
  /** Stops listening and closes every connection, idle or not; the port is free when it resolves. */
  close(): Promise<void>;
}

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** Where the position is in a JSON.parse message (V8 quotes the text too, which is never passed on). */
function jsonPosition(error: unknown): string {
  const match = error instanceof Error ? /position (\d+)/.exec(error.message) : null;
  return match === null ? '' : ` (at character ${match[1]})`;
}

/** A request the server refuses: answered with `status` and `{ error: message, ...extra }`; never thrown out of it. */
class HttpError extends KeyflipError {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super('HTTP_STATUS', message);
  }
}

/**
 * `GET /v1/instances`: every instance, or with `?limit=N` the first N with the stale ones first (then the
 * most recently reporting), so a page over a large fleet stays small; `total` and `stale` count them all.
 */
function instancesAnswer(collector: Collector, limitParam: string | null): Record<string, unknown> {
  let limit = Number.POSITIVE_INFINITY;
  if (limitParam !== null) {
    if (!/^\d{1,9}$/.test(limitParam)) throw new HttpError(400, 'limit: expected a whole number');
    limit = Number(limitParam);
  }
  const at = collector.now();
  const all = collector.instances();
  const stale = all.filter((i) => i.stale);
  const instances = limit >= all.length ? all : [...stale, ...all.filter((i) => !i.stale)].slice(0, limit);
  return {
    at,
    retentionMs: collector.retentionMs,
    total: all.length,
    stale: stale.length,
    secrets: collector.secrets(),
    instances,
  };
}

/**
 * Starts the collector's HTTP server on 127.0.0.1 (by default) and resolves once it listens.
 *
 * @example
 * const server = await startCollectorServer({ port: 7391, token: process.env.KEYFLIP_COLLECTOR_TOKEN });
 * // resolvers: beacon: usageBeacon({ service: 'api', sink: httpSink({ url: server.url, token }) })
 * await server.close();
 */
export async function startCollectorServer(options: CollectorServerOptions = {}): Promise<CollectorServer> {
  const host = options.host ?? '127.0.0.1';
  const collector = options.collector ?? createCollector();
  const maxBodyBytes = wholeNumber('startCollectorServer: maxBodyBytes', options.maxBodyBytes, 1_048_576);
  if (options.token !== undefined && options.token.length === 0)
    throw new ConfigurationError('startCollectorServer: token must not be empty (leave it out for no token)');
  const expected = options.token === undefined ? undefined : digest(options.token);
  const allowedHosts = allowedHostNames('startCollectorServer: allowedHosts', options.allowedHosts);
  const maxConnections = wholeNumber(
    'startCollectorServer: maxConnections',
    options.maxConnections,
    DEFAULT_MAX_CONNECTIONS,
  );
  /** Bound to loopback (or told which names): refuse other Host names, so no web page reaches it by DNS rebinding. */
  const checkHost = isLoopback(host) || allowedHosts.size > 0;

  const authorized = (req: IncomingMessage): boolean => {
    if (expected === undefined) return true;
    const header = req.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header) : null;
    // Always one comparison of two SHA-256 digests (equal lengths): the time taken says nothing of the token.
    const equal = timingSafeEqual(digest(match?.[1] ?? ''), expected);
    return equal && match !== null;
  };

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...JSON_HEADERS,
      ...headers,
      ...(body === undefined ? {} : { 'content-length': Buffer.byteLength(text) }),
    });
    res.end(text);
  };

  /**
   * Answers a request whose body is not wanted, and closes its connection. The whole answer is written at once,
   * before the body is read; then, with `drain`, a body of at most `maxBodyBytes` that arrives within
   * `SERVER_TIMEOUTS.drainMs` is read and discarded before the connection closes, so the client reads the answer
   * rather than a reset. A larger or slower body (or without `drain`) has the connection closed at once.
   */
  const refuseBody = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
    drain = true,
  ): void => {
    if (res.headersSent) {
      req.destroy();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...JSON_HEADERS,
      ...headers,
      'content-length': Buffer.byteLength(text),
      connection: 'close',
    });
    if (req.complete) {
      res.end(text);
      return;
    }
    if (!drain || Number(req.headers['content-length'] ?? 0) > maxBodyBytes) {
      res.end(text, () => req.destroy());
      return;
    }
    res.write(text);
    let size = 0;
    const timer = setTimeout(() => req.destroy(), SERVER_TIMEOUTS.drainMs);
    timer.unref();
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) req.destroy();
    });
    req.on('end', () => {
      clearTimeout(timer);
      res.end();
    });
    req.on('close', () => clearTimeout(timer));
  };

  const readBody = (req: IncomingMessage, res: ServerResponse): Promise<Buffer | undefined> =>
    new Promise((resolve) => {
      const declared = req.headers['content-length'];
      const tooLarge = { error: `the body is larger than ${maxBodyBytes} bytes` };
      if (declared !== undefined && Number(declared) > maxBodyBytes) {
        refuseBody(req, res, 413, tooLarge);
        resolve(undefined);
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > maxBodyBytes) {
          done = true;
          chunks.length = 0;
          refuseBody(req, res, 413, tooLarge, {}, false);
          resolve(undefined);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (done) return;
        done = true;
        resolve(Buffer.concat(chunks, size));
      });
      req.on('close', () => {
        if (done) return;
        done = true;
        resolve(undefined);
      });
    });

  const ingest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = req.headers['content-type'];
    // A JSON content type makes a browser on another origin send a CORS preflight first, which this server
    // never answers: a web page cannot post forged reports to it.
    if (typeof type !== 'string' || !/^application\/json\s*(;|$)/i.test(type)) {
      refuseBody(req, res, 415, { error: 'the body must be JSON: send Content-Type: application/json' });
      return;
    }
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      refuseBody(req, res, 415, { error: 'a compressed body is not accepted (Content-Encoding)' });
      return;
    }
    const body = await readBody(req, res);
    if (body === undefined) return;
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(body);
    } catch {
      throw new HttpError(400, 'the body is not valid UTF-8');
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, `the body is not valid JSON${jsonPosition(error)}`);
    }
    const result = collector.ingest(parsed);
    if (!result.accepted) {
      // Refused for now (instance cap, memory budget): the collector recorded the refusal as dropped evidence.
      const retryAfterMs = Number.isFinite(result.retryAfterMs) ? Math.max(0, result.retryAfterMs) : 60_000;
      send(
        res,
        429,
        { error: `report refused for now (${result.reason})`, reason: result.reason, message: result.message },
        { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
      );
      return;
    }
    send(res, 204, undefined);
  };

  const usage = (url: URL, res: ServerResponse): void => {
    const secret = url.searchParams.get('secret');
    const window = url.searchParams.get('window') ?? '60m';
    if (secret === null || secret === '') throw new HttpError(400, 'secret: the query needs ?secret=NAME');
    let windowMs: number;
    try {
      windowMs = parseDuration(window);
    } catch (error) {
      throw new HttpError(400, `window: ${(error as Error).message}`);
    }
    send(res, 200, collector.usage(secret, { windowMs }));
  };

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (checkHost && !hostAllowed(req.headers.host, allowedHosts)) {
      refuseBody(req, res, 403, {
        error:
          'the Host header must name this collector: 127.0.0.1, localhost, [::1] or a name it was given ' +
          '(allowedHosts, keyflip collector --allow-host)',
      });
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://collector.invalid');
    } catch {
      throw new HttpError(400, 'the request target is not a valid URL');
    }
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const readOnly = method === 'GET' || method === 'HEAD';
    if (path === '/healthz') {
      if (!readOnly) throw new HttpError(405, 'GET /healthz', {}, { allow: 'GET, HEAD' });
      send(res, 200, { ok: true });
      return;
    }
    if (path === '/' || path === '/index.html') {
      if (!readOnly) throw new HttpError(405, 'GET /', {}, { allow: 'GET, HEAD' });
      res.writeHead(200, {
        ...COLLECTOR_PAGE.headers,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        'content-length': Buffer.byteLength(COLLECTOR_PAGE.html),
      });
      res.end(method === 'HEAD' ? undefined : COLLECTOR_PAGE.html);
      return;
    }
    if (!authorized(req)) {
      refuseBody(
        req,
        res,
        401,
        { error: 'unauthorized: send Authorization: Bearer <token> (KEYFLIP_COLLECTOR_TOKEN)' },
        { 'www-authenticate': 'Bearer realm="keyflip-collector"' },
      );
      return;
    }
    connections.serving(res);
    if (path === '/v1/beacons') {
      if (method !== 'POST') throw new HttpError(405, 'POST /v1/beacons', {}, { allow: 'POST' });
      await ingest(req, res);
      return;
    }
    if (path === '/v1/usage') {
      if (!readOnly) throw new HttpError(405, 'GET /v1/usage', {}, { allow: 'GET, HEAD' });
      usage(url, res);
      return;
    }
    if (path === '/v1/instances') {
      if (!readOnly) throw new HttpError(405, 'GET /v1/instances', {}, { allow: 'GET, HEAD' });
      send(res, 200, instancesAnswer(collector, url.searchParams.get('limit')));
      return;
    }
    throw new HttpError(404, 'not found: POST /v1/beacons, GET /v1/usage, GET /v1/instances, GET /healthz, GET /');
  };

  const server = createServer(
    {
      headersTimeout: SERVER_TIMEOUTS.headersTimeoutMs,
      requestTimeout: SERVER_TIMEOUTS.requestTimeoutMs,
      keepAliveTimeout: SERVER_TIMEOUTS.keepAliveTimeoutMs,
      connectionsCheckingInterval: SERVER_TIMEOUTS.checkEveryMs,
    },
    (req, res) => {
      req.on('error', () => undefined);
      res.on('error', () => undefined);
      route(req, res).catch((error: unknown) => {
        try {
          if (error instanceof CollectorInputError) {
            const status = 400;
            if (req.complete) send(res, status, { error: error.message, code: error.code, issues: error.issues });
            else refuseBody(req, res, status, { error: error.message, code: error.code, issues: error.issues });
          } else if (error instanceof HttpError) {
            const body = { error: error.message, ...error.extra };
            if (req.complete || req.method === 'GET' || req.method === 'HEAD')
              send(res, error.status, body, error.headers);
            else refuseBody(req, res, error.status, body, error.headers);
          } else {
            refuseBody(req, res, 500, { error: 'internal error' });
          }
        } catch {
          res.destroy();
        }
      });
    },
  );
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    // Headers (or a whole request) that did not arrive within SERVER_TIMEOUTS: 408; anything else malformed: 400.
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  server.on('error', () => undefined);
  const connections = capConnections(server, maxConnections);

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' || host.includes(':') ? `[${address.address}]` : host;
  const url = `http://${shownHost}:${address.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    collector,
    close(): Promise<void> {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
