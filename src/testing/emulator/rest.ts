import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeRegExp } from '../../regexp.js';
import { cannotListen } from './cannot-listen.js';
import type { Dispatcher } from './dispatch.js';
import type { EmulatorDeps, HttpRule, RpcMethod } from './load.js';
import { GrpcCode, grpcCodeName } from '../../sources/gcp-names.js';
import { httpStatusOf, RpcError } from './status.js';

/**
 * The REST surface, what the client speaks with `fallback: true`: the routes come from the
 * `google.api.http` annotations of the package's own protos, and JSON is mapped with the
 * proto3-json-serializer the client uses. A request is turned into the very object the gRPC server
 * would have decoded (JSON → message → bytes → the gRPC method's deserializer), and the answer goes
 * back the same way, so both surfaces run the same store code on the same shapes.
 */
export interface RestSurface {
  port: number;
  close(): Promise<void>;
}

interface Route {
  method: RpcMethod;
  verb: string;
  pattern: RegExp;
  fields: string[];
  body: string | undefined;
}

const VERBS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** System parameters every Google REST API accepts; they are not request fields. */
const SYSTEM_PARAMS = new Set([
  'alt',
  'prettyPrint',
  'fields',
  'key',
  'access_token',
  'callback',
  'quotaUser',
  'upload_protocol',
  'uploadType',
]);
const INTEGER_TYPES = new Set(['int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'double', 'float']);

const toCamel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** `/v1/{name=projects/*\/secrets/*}:access` → a regex over the raw (still percent-encoded) path. */
function compile(template: string): { pattern: RegExp; fields: string[] } {
  const fields: string[] = [];
  let source = '';
  let rest = template;
  for (;;) {
    const m = /\{([^}=]+)(?:=([^}]*))?\}/.exec(rest);
    if (!m) break;
    source += escapeRegExp(rest.slice(0, m.index));
    fields.push(m[1] as string);
    const inner = (m[2] ?? '*')
      .split('/')
      .map((part) => (part === '**' ? '.+' : part === '*' ? '[^/:]+' : escapeRegExp(part)))
      .join('/');
    source += `(${inner})`;
    rest = rest.slice(m.index + m[0].length);
  }
  source += escapeRegExp(rest);
  return { pattern: new RegExp(`^${source}$`), fields };
}

function routesOf(methods: readonly RpcMethod[]): Route[] {
  const routes: Route[] = [];
  for (const method of methods) {
    const rules: HttpRule[] = [];
    for (const rule of method.httpRules) {
      rules.push(rule);
      const extra = rule.additional_bindings;
      if (extra) rules.push(...(Array.isArray(extra) ? extra : [extra]));
    }
    for (const rule of rules) {
      for (const verb of VERBS) {
        const template = rule[verb];
        if (typeof template !== 'string') continue;
        routes.push({ method, verb: verb.toUpperCase(), ...compile(template), body: rule.body });
      }
    }
  }
  return routes;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.').map(toCamel);
  let node = target;
  for (const part of parts.slice(0, -1)) {
    let next = node[part];
    if (typeof next !== 'object' || next === null) {
      next = {};
      node[part] = next;
    }
    node = next as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function sendError(res: ServerResponse, code: number, message: string): void {
  const status = httpStatusOf(code);
  sendJson(res, status, { error: { code: status, message, status: grpcCodeName(code) } });
}

function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? 'too-large' : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startRestSurface(
  deps: EmulatorDeps,
  dispatcher: Dispatcher,
  host: string,
  mixinMethods: readonly RpcMethod[] = [],
): Promise<RestSurface> {
  const routes = routesOf([...deps.methods, ...mixinMethods]);

  const buildRequest = (
    route: Route,
    match: RegExpExecArray,
    query: URLSearchParams,
    body: Buffer,
  ): Record<string, unknown> => {
    const json: Record<string, unknown> = {};
    const fields = route.method.requestType.fields;
    for (const key of new Set(query.keys())) {
      if (key.startsWith('$') || SYSTEM_PARAMS.has(key)) continue;
      const values = query.getAll(key);
      const field = fields[toCamel(key)];
      const convert = (v: string): unknown =>
        field && INTEGER_TYPES.has(field.type) && v.trim() !== '' && !Number.isNaN(Number(v))
          ? Number(v)
          : field?.type === 'bool'
            ? v === 'true'
            : v;
      setPath(json, key, field?.repeated ? values.map(convert) : convert(values[values.length - 1] as string));
    }
    if (route.body !== undefined && route.body !== '' && body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw new RpcError(
          GrpcCode.INVALID_ARGUMENT,
          `Invalid JSON payload received. ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      if (route.body === '*') {
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          throw new RpcError(
            GrpcCode.INVALID_ARGUMENT,
            'Invalid JSON payload received. The request body must be a JSON object.',
          );
        }
        Object.assign(json, parsed);
      } else {
        setPath(json, route.body, parsed);
      }
    }
    route.fields.forEach((field, i) => {
      setPath(json, field, decodeURIComponent(match[i + 1] as string));
    });
    let message: unknown;
    try {
      message = deps.serializer.fromProto3JSON(route.method.requestType, json);
    } catch (error) {
      throw new RpcError(
        GrpcCode.INVALID_ARGUMENT,
        `Invalid JSON payload received. ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (message === null || message === undefined)
      throw new RpcError(GrpcCode.INVALID_ARGUMENT, 'Invalid JSON payload received.');
    const bytes = route.method.requestType.encode(message).finish();
    return route.method.definition.requestDeserialize(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ) as Record<string, unknown>;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const verb = (req.method ?? 'GET').toUpperCase();
    let route: Route | undefined;
    let match: RegExpExecArray | null = null;
    for (const candidate of routes) {
      if (candidate.verb !== verb) continue;
      match = candidate.pattern.exec(url.pathname);
      if (match) {
        route = candidate;
        break;
      }
    }
    const body = await readBody(req);
    if (!route || !match) {
      return sendError(
        res,
        GrpcCode.NOT_FOUND,
        `The requested URL ${url.pathname} was not found on this server (keyflip Secret Manager emulator).`,
      );
    }
    if (body === 'too-large')
      return sendError(
        res,
        GrpcCode.INVALID_ARGUMENT,
        `Request payload size exceeds the limit: ${MAX_BODY_BYTES} bytes.`,
      );
    const numericEnums = /enum-encoding=int/.test(url.searchParams.get('$alt') ?? '');
    const request = buildRequest(route, match, url.searchParams, body);
    const rpc = route.method;
    let answered = false;
    const cancel = dispatcher.run(rpc.name, request, (error, response) => {
      answered = true;
      if (error) return sendError(res, error.code, error.message);
      try {
        const message = rpc.responseType.decode(rpc.definition.responseSerialize(response));
        sendJson(res, 200, deps.serializer.toProto3JSON(message, { numericEnums }));
      } catch (e) {
        sendError(res, GrpcCode.INTERNAL, `Internal error in the keyflip emulator: ${String(e)}`);
      }
    });
    res.on('close', () => {
      if (!answered) cancel();
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RpcError) sendError(res, error.code, error.message);
      else sendError(res, GrpcCode.INTERNAL, `Internal error in the keyflip emulator: ${String(error)}`);
    });
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error): void => reject(cannotListen(host, 0, error));
    server.once('error', failed);
    server.listen(0, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    port: (server.address() as AddressInfo).port,
    close() {
      closing ??= new Promise<void>((resolve) => {
        const fallback = setTimeout(resolve, 2_000);
        fallback.unref();
        server.close(() => {
          clearTimeout(fallback);
          resolve();
        });
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
