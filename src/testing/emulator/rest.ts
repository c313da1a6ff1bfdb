import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { escapeRegExp } from '../../regexp.js';
import { cannotListen } from './cannot-listen.js';
import type { Dispatcher } from './dispatch.js';
import type { EmulatorDeps, HttpRule, ProtoType, RpcMethod } from './load.js';
import { GrpcCode, grpcCodeName } from '../../sources/gcp-names.js';
import { httpStatusOf, RpcError } from './status.js';

/**
 * The REST surface, what the client speaks with `fallback: true`: the routes come from the
 * `google.api.http` annotations of the package's own protos, and JSON is mapped with the
 * proto3-json-serializer the client uses. A request is turned into the very object the gRPC server
 * would have decoded (JSON → message → bytes → the gRPC method's deserializer), and the answer goes
 * back the same way, so both surfaces run the same store code on the same shapes.
 *
 * Field names: "Parsers accept both the lowerCamelCase name (or the one specified by the json_name option) and
 * the original proto field name" (proto3 JSON mapping, https://protobuf.dev/programming-guides/json/). The
 * serializer only knows the lowerCamelCase names, so a request's JSON (body, query parameters) is first rewritten
 * to them, nested messages, repeated and map values included. A name the message does not have is refused with
 * the wording Google's REST front end uses, `Invalid JSON payload received. Unknown name "x" at 'secret':
 * Cannot find field.` (INVALID_ARGUMENT, HTTP 400; e.g. google-gemini/gemini-cli#13972, decolua/9router#1876:
 * the path in proto field names, no `at` part at the top level); a list given to a field that is no list, `…:
 * Proto field is not repeating, cannot start list.` (makenotion/notion-mcp-server#29); a body that is no object,
 * `Unknown name "": Root element must be a message.` (google-wallet/rest-samples#22). A field given under both
 * names is refused, as the protobuf conformance suite recommends (JsonInput.FieldNameDuplicateDifferentCasing*).
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
/** protobufjs' camelCase, the one that named the fields of the client's protos.json (`data_crc32c` → `dataCrc32c`). */
const pbCamel = (s: string): string =>
  s.slice(0, 1) + s.slice(1).replace(/_([a-z])(?=[a-z]|$)/g, (_, c: string) => c.toUpperCase());
/** The original proto field name of a lowerCamelCase one, as the service's error paths spell it. */
const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

type Json = Record<string, unknown>;
/** A message type as protobufjs resolves it: fields with their message (or enum) types. */
interface MessageType extends ProtoType {
  resolveAll?(): unknown;
}
/** Types whose JSON form is no object of fields (proto3 JSON's well-known types): passed on as they are. */
const OPAQUE_JSON = new Set(
  [
    'Any',
    'Duration',
    'Timestamp',
    'FieldMask',
    'Struct',
    'Value',
    'ListValue',
    'DoubleValue',
    'FloatValue',
    'Int64Value',
    'UInt64Value',
    'Int32Value',
    'UInt32Value',
    'BoolValue',
    'StringValue',
    'BytesValue',
  ].map((name) => `.google.protobuf.${name}`),
);
const isJsonObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const invalidJson = (detail: string): RpcError =>
  new RpcError(GrpcCode.INVALID_ARGUMENT, `Invalid JSON payload received. ${detail}`);

/** The field of `type` that a JSON key names: its lowerCamelCase name or its original proto name. */
function fieldOf(type: MessageType, key: string): string | undefined {
  for (const name of [key, pbCamel(key), toCamel(key)]) if (Object.hasOwn(type.fields, name)) return name;
  return undefined;
}

/** The message type of a field, or undefined for a scalar, an enum or a well-known type with its own JSON form. */
function messageTypeOf(type: MessageType, name: string): MessageType | undefined {
  const resolved = type.fields[name]?.resolvedType as MessageType | null | undefined;
  if (!resolved || typeof resolved !== 'object' || !('fields' in resolved)) return undefined;
  return OPAQUE_JSON.has(resolved.fullName) ? undefined : resolved;
}

/**
 * `json` with every field named by its lowerCamelCase name, recursively (`at` is where it sits, in proto names,
 * for the error). Values are not checked here: the serializer does that next.
 */
function camelJson(type: MessageType, json: unknown, at: string): unknown {
  if (!isJsonObject(json) || OPAQUE_JSON.has(type.fullName)) return json;
  const where = at === '' ? '' : ` at '${at}'`;
  const out: Json = {};
  const seen = new Map<string, string>();
  for (const [key, value] of Object.entries(json)) {
    const name = fieldOf(type, key);
    if (name === undefined) throw invalidJson(`Unknown name "${key}"${where}: Cannot find field.`);
    const other = seen.get(name);
    if (other !== undefined)
      throw invalidJson(`Duplicate field "${snake(name)}"${where}: given as "${other}" and as "${key}".`);
    seen.set(name, key);
    const field = type.fields[name] as MessageType['fields'][string];
    if (Array.isArray(value) && !field.repeated) {
      // the front end's words for a list where one value goes (makenotion/notion-mcp-server#29)
      throw invalidJson(`Unknown name "${key}"${where}: Proto field is not repeating, cannot start list.`);
    }
    const sub = messageTypeOf(type, name);
    const path = at === '' ? snake(name) : `${at}.${snake(name)}`;
    if (!sub || value === null) out[name] = value;
    else if (field.map && isJsonObject(value))
      out[name] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, camelJson(sub, v, `${path}[${k}]`)]));
    else if (field.repeated && Array.isArray(value))
      out[name] = value.map((v, i) => camelJson(sub, v, `${path}[${i}]`));
    else out[name] = camelJson(sub, value, path);
  }
  return out;
}

/**
 * A query parameter's dotted path (`options.requested_policy_version`) in lowerCamelCase field names, and the
 * field it ends on; INVALID_ARGUMENT in the REST front end's words when the request message has no such field:
 * `Unknown name "refresh_tokens": Cannot bind query parameter. Field 'refresh_tokens' could not be found in request
 * message.`, the whole key first, then the segment not found (`artifact.ip_address` … `Field 'ip_address'`, a 400
 * recorded in demisto/content Packs/GoogleChronicleBackstory/Integrations/GoogleChronicleBackstory/…_test.py).
 */
function queryField(type: MessageType, key: string): { path: string; field: MessageType['fields'][string] } {
  const names: string[] = [];
  let node: MessageType | undefined = type;
  let field: MessageType['fields'][string] | undefined;
  for (const part of key.split('.')) {
    const name = node ? fieldOf(node, part) : undefined;
    if (!node || name === undefined) {
      throw invalidJson(
        `Unknown name "${key}": Cannot bind query parameter. Field '${part}' could not be found in request message.`,
      );
    }
    names.push(name);
    field = node.fields[name];
    node = messageTypeOf(node, name);
  }
  return { path: names.join('.'), field: field as MessageType['fields'][string] };
}

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
    const requestType = route.method.requestType as MessageType;
    requestType.resolveAll?.();
    for (const key of new Set(query.keys())) {
      if (key.startsWith('$') || SYSTEM_PARAMS.has(key)) continue;
      const values = query.getAll(key);
      const { path, field } = queryField(requestType, key);
      const convert = (v: string): unknown =>
        INTEGER_TYPES.has(field.type) && v.trim() !== '' && !Number.isNaN(Number(v))
          ? Number(v)
          : field.type === 'bool'
            ? v === 'true'
            : v;
      setPath(json, path, field.repeated ? values.map(convert) : convert(values[values.length - 1] as string));
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
          // the front end's words (google-wallet/rest-samples#22)
          throw invalidJson('Unknown name "": Root element must be a message.');
        }
        Object.assign(json, camelJson(requestType, parsed, ''));
      } else {
        const { path } = queryField(requestType, route.body);
        const bodyType = path
          .split('.')
          .reduce<MessageType | undefined>((type, name) => (type ? messageTypeOf(type, name) : undefined), requestType);
        setPath(json, path, bodyType ? camelJson(bodyType, parsed, snake(path)) : parsed);
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
