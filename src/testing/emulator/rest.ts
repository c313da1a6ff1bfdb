import { createServer, type IncomingMessage, STATUS_CODES, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { escapeRegExp } from '../../regexp.js';
import { cannotListen } from './cannot-listen.js';
import type { Dispatcher } from './dispatch.js';
import type { EmulatorDeps, HttpRule, ProtoType, RpcMethod } from './load.js';
import { GrpcCode, grpcCodeName, grpcCodeOfHttpStatus } from '../../sources/gcp-names.js';
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
  /** The request's own field the body fills (`secret`), when the rule names one (not `*`). */
  bodyField: string | undefined;
  /** That field's message type (undefined for a scalar or a well-known type). */
  bodyType: MessageType | undefined;
}

const VERBS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/**
 * System parameters every Google REST API accepts; they are not request fields, so they are taken (and ignored) on
 * every method, `body: "*"` ones included. Every `$`-prefixed name is one ("The `$` name prefix is added to avoid
 * conflicting with normal request parameters": `$alt`, `$fields`, `$.xgafv`, `$callback`, `$prettyPrint`, `$key`,
 * …, https://cloud.google.com/apis/docs/system-parameters); these are the ones without it, from that page and the
 * parameters the Discovery documents list for every API (`access_token`, `upload_protocol`, `uploadType`,
 * `xgafv`). The Node client's REST transport sends `$alt=json;enum-encoding=int` on every call.
 */
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
  'xgafv',
]);
const isSystemParam = (key: string): boolean => key.startsWith('$') || SYSTEM_PARAMS.has(key);
/**
 * The limits of the request line and of the headers. Google does not publish its front end's; past them the front
 * end answers 414 (`The requested URL … is too large to process.`, its HTML page, quoted in
 * tardate/jquery.addtocalendar#3 and mgonto/restangular#497) or 431: here in the JSON error shape (see
 * {@link errorBody} for its `status`), so the client reports an error instead of a reset socket. The parser's own
 * limit is higher, so that the handler, not the parser, answers a long URL; past that one too, the `clientError`
 * handler answers.
 */
const MAX_URL_BYTES = 16 * 1024;
const MAX_HEADER_BYTES = 16 * 1024;
const PARSER_MAX_HEADER_BYTES = 1024 * 1024;
/** The front end's 400 page for a request it cannot parse (a bad percent-escape, a broken request line). */
const MALFORMED = 'Your client has issued a malformed or illegal request.';
const URL_TOO_LONG = `The requested URL is too large to process (more than ${MAX_URL_BYTES} bytes).`;
const HEADERS_TOO_LARGE = `Request header fields too large (more than ${MAX_HEADER_BYTES} bytes).`;

/** Integer ranges of proto3's integer types. */
const INTEGER_RANGES: Record<string, readonly [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};
/** Standard or URL-safe base64, padded or not, as proto3 JSON accepts for `bytes` (groups of 4: no backtracking). */
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const DECIMAL = /^-?\d+$/;
const NUMBER_TEXT = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

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

/**
 * A scalar's JSON value, checked and normalised as the proto3 JSON mapping says (https://protobuf.dev/programming-
 * guides/json/): integers as numbers or strings ("Either numbers or strings are accepted. Empty strings are invalid.
 * Exponent notation (such as 1e2) is also accepted"), 64-bit ones as decimal strings; `bytes` "encoded as a string
 * using standard base64 encoding with paddings. Either standard or URL-safe base64 encoding with/without paddings are
 * accepted." The serializer the client uses checks none of that (bad base64 became other bytes, `"abc"` became 0).
 * A value that does not fit is INVALID_ARGUMENT in the front end's words, `Invalid value at 'payload.data'
 * (TYPE_BYTES), Base64 decoding failed for "…"` (google-gemini/gemini-cli#8003), but without the value: it may
 * be (part of) a secret. Enums, strings and well-known types are left to the serializer.
 */
function checkScalar(type: string, value: unknown, path: string): unknown {
  const invalid = (why = ''): RpcError =>
    new RpcError(GrpcCode.INVALID_ARGUMENT, `Invalid value at '${path}' (TYPE_${type.toUpperCase()})${why}.`);
  const range = INTEGER_RANGES[type];
  if (range) {
    let n: bigint;
    if (typeof value === 'string' && DECIMAL.test(value)) n = BigInt(value);
    else {
      const number = typeof value === 'number' ? value : typeof value === 'string' ? textNumber(value) : Number.NaN;
      if (!Number.isSafeInteger(number)) throw invalid(', not an integer');
      n = BigInt(number);
    }
    if (n < range[0] || n > range[1]) throw invalid(', out of range');
    return type.endsWith('64') ? n.toString() : Number(n);
  }
  if (type === 'double' || type === 'float') {
    if (typeof value === 'number') return value;
    if (value === 'NaN' || value === 'Infinity' || value === '-Infinity') return value;
    if (typeof value === 'string' && NUMBER_TEXT.test(value)) return Number(value);
    throw invalid(', not a number');
  }
  if (type === 'bool') {
    if (typeof value !== 'boolean') throw invalid(', not true or false');
    return value;
  }
  if (type === 'bytes') {
    if (typeof value !== 'string') throw invalid(', not a base64 string');
    if (!BASE64.test(value)) throw invalid(', Base64 decoding failed');
    return value;
  }
  return value;
}

const textNumber = (text: string): number => (NUMBER_TEXT.test(text) ? Number(text) : Number.NaN);

/**
 * A body JSON.parse refused, in the front end's words: `Invalid JSON payload received. Unexpected token.` (quoted in
 * googlecodelabs/feedback#299 and seejohnrun/easy_translate#59). The front end goes on with the text around the
 * error and a caret (`Expected , or } after key:value pair.\n  "features": [\n  ^`, googlecodelabs/feedback#441);
 * V8's message quotes the body too. Neither is repeated here: the body may carry a secret's bytes. A body cut short
 * gets `Unexpected end of string.` (our wording, in the front end's style).
 */
function malformedJson(error: unknown): RpcError {
  const text = error instanceof Error ? error.message : '';
  const detail = /end of (?:JSON )?input|Unterminated/i.test(text) ? 'Unexpected end of string.' : 'Unexpected token.';
  return invalidJson(detail);
}

/**
 * An error of the serializer the client uses (a value of the wrong JSON type that {@link checkScalar} leaves to it:
 * an object where a string goes, a bad Duration or Timestamp). Its messages quote the value (`field data of type
 * bytes cannot contain value …`, `incorrect value … passed as google.protobuf.Duration`); ours name only the field.
 */
function serializerError(error: unknown): RpcError {
  const text = error instanceof Error ? error.message : '';
  const field = /field (\w+) of type (\w+)/.exec(text);
  if (field) return invalidJson(`Invalid value for field "${field[1]}" (TYPE_${(field[2] as string).toUpperCase()}).`);
  return invalidJson('A value does not fit the type of its field.');
}

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
 * for the error). A value of the wrong JSON type is refused ({@link fieldJson}); the rest the serializer checks.
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
    if (Array.isArray(value) && !type.fields[name]?.repeated) {
      // the front end's words for a list where one value goes (makenotion/notion-mcp-server#29)
      throw invalidJson(`Unknown name "${key}"${where}: Proto field is not repeating, cannot start list.`);
    }
    const path = at === '' ? snake(name) : `${at}.${snake(name)}`;
    // null is the field's default (proto3 JSON), so the field is left out; except in a Value, where it is NullValue
    const resolved = type.fields[name]?.resolvedType as { fullName?: string } | null | undefined;
    if (value !== null) out[name] = fieldJson(type, name, value, path);
    else if (resolved?.fullName === '.google.protobuf.Value') out[name] = value;
  }
  return out;
}

/**
 * A field's JSON value, of the JSON type its field takes, else INVALID_ARGUMENT in the front end's form: `Invalid
 * value at 'form_factor' (type.googleapis.com/google.chrome.uxreport.v1.FormFactor), "mobile"` (the CrUX API, in
 * treosh/crux-api's README), the same form for a message given a string (the Gemini API: `… (type.googleapis.com/
 * google.ai.generativelanguage.v1beta.Schema), "string"`), but without the value: it may be a secret. The `, a
 * list is expected` and `, not a string` details are ours. The serializer the client uses checks none of it: a
 * string given to a map was iterated as one (`"abc"` → `{0: "a", …}`), a number given to a message became an
 * empty one.
 */
function fieldJson(type: MessageType, name: string, value: unknown, path: string): unknown {
  const field = type.fields[name] as MessageType['fields'][string];
  const sub = messageTypeOf(type, name);
  const one = (v: unknown, at: string): unknown => (sub ? messageJson(sub, v, at) : scalarJson(field, v, at));
  if (field.map) {
    // a map's JSON is an object; its entry type is what the service names (`Secret.LabelsEntry`)
    if (!isJsonObject(value)) throw invalidValue(path, `type.googleapis.com/${entryTypeName(type, name)}`);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, one(v, `${path}[${k}]`)]));
  }
  if (field.repeated) {
    if (!Array.isArray(value)) throw invalidValue(path, typeLabel(field), ', a list is expected');
    return value.map((v, i) => one(v, `${path}[${i}]`));
  }
  return one(value, path);
}

/** A message's JSON: an object of fields (nested ones checked by {@link camelJson}). */
function messageJson(type: MessageType, value: unknown, path: string): unknown {
  if (!isJsonObject(value)) throw invalidValue(path, `type.googleapis.com/${type.fullName.replace(/^\./, '')}`);
  return camelJson(type, value, path);
}

/** A scalar, enum or well-known type's JSON value (one element of a list, one value of a map). */
function scalarJson(field: MessageType['fields'][string], value: unknown, path: string): unknown {
  const resolved = field.resolvedType as { fullName?: string; values?: unknown } | null | undefined;
  if (resolved && typeof resolved === 'object' && 'values' in resolved) {
    // an enum: its name, or its number (proto3 JSON); an unknown name is the serializer's to refuse
    if (typeof value !== 'string' && !Number.isInteger(value)) throw invalidValue(path, typeLabel(field));
    return value;
  }
  if (resolved) return value; // a well-known type with its own JSON form (Duration, Timestamp, …): the serializer's
  if (field.type === 'string' && typeof value !== 'string') throw invalidValue(path, 'TYPE_STRING', ', not a string');
  return checkScalar(field.type, value, path);
}

/** `Invalid value at 'secret.labels' (type.googleapis.com/…)`, the front end's form, without the value. */
const invalidValue = (path: string, type: string, why = ''): RpcError =>
  new RpcError(GrpcCode.INVALID_ARGUMENT, `Invalid value at '${path}' (${type})${why}.`);

/** How the front end names a field's type: `TYPE_STRING`, or the URL of a message or enum type. */
function typeLabel(field: MessageType['fields'][string]): string {
  const resolved = field.resolvedType as { fullName?: string } | null | undefined;
  if (resolved && typeof resolved.fullName === 'string')
    return `type.googleapis.com/${resolved.fullName.replace(/^\./, '')}`;
  return `TYPE_${field.type.toUpperCase()}`;
}

/** The name of a map field's entry type, as protoc names it (`labels` of `Secret` → `….Secret.LabelsEntry`). */
function entryTypeName(type: MessageType, name: string): string {
  return `${type.fullName.replace(/^\./, '')}.${name.slice(0, 1).toUpperCase()}${name.slice(1)}Entry`;
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

/**
 * A query parameter naming a field the body carries: the front end's `Cannot bind query parameter.` wording
 * ({@link queryField}), the reason in our words. The value is not quoted.
 */
const boundByBody = (key: string, field: string, body: string): RpcError =>
  invalidJson(
    `Unknown name "${key}": Cannot bind query parameter. Field '${field}' is bound by the request body ` +
      `(body: "${body}"), not by a query parameter.`,
  );

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
    const requestType = method.requestType as MessageType;
    requestType.resolveAll?.(); // field types resolved once, at start-up
    for (const rule of rules) {
      // the body field is a field of the request message itself (http.proto: "present at the top level")
      const bodyField = rule.body && rule.body !== '*' ? fieldOf(requestType, rule.body) : undefined;
      const bodyType = bodyField === undefined ? undefined : messageTypeOf(requestType, bodyField);
      for (const verb of VERBS) {
        const template = rule[verb];
        if (typeof template !== 'string') continue;
        routes.push({ method, verb: verb.toUpperCase(), ...compile(template), body: rule.body, bodyField, bodyType });
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

/**
 * Google's JSON error shape (https://cloud.google.com/apis/design/errors): `code` the HTTP status, `status` the
 * google.rpc.Code it stands for. For the statuses no google.rpc.Code maps to (408, 414, 431) Google's front end
 * answers an HTML page, no JSON at all, so there is no `status` to copy: the one given is the code Google's own
 * client derives from such an HTTP status (google-gax's `rpcCodeFromHttpStatusCode`: any other 4xx is
 * FAILED_PRECONDITION), so that the body says what the client concludes from the status line, and not
 * INVALID_ARGUMENT, which is HTTP 400.
 */
function errorBody(status: number, message: string, code: number = grpcCodeOfHttpStatus(status)): unknown {
  return { error: { code: status, message, status: grpcCodeName(code) } };
}

function sendError(res: ServerResponse, code: number, message: string): void {
  const status = httpStatusOf(code);
  sendJson(res, status, errorBody(status, message, code));
}

/** 414 for a request line past {@link MAX_URL_BYTES}, 431 for headers past {@link MAX_HEADER_BYTES}. */
function requestTooLarge(req: IncomingMessage): { status: number; message: string } | undefined {
  if (Buffer.byteLength(req.url ?? '') > MAX_URL_BYTES) return { status: 414, message: URL_TOO_LONG };
  let size = 0;
  for (const part of req.rawHeaders) size += Buffer.byteLength(part) + 2;
  return size > MAX_HEADER_BYTES ? { status: 431, message: HEADERS_TOO_LARGE } : undefined;
}

/**
 * A request the HTTP parser refused (past even {@link PARSER_MAX_HEADER_BYTES}, or no HTTP at all) gets an HTTP
 * answer, not a reset socket: on an overflow 431 when the chunk it happened in holds a line break (header lines),
 * else 414 (a request line; the parser tells neither apart, and a single header line of a MiB also lands here),
 * 408 on the parser's timeout, else 400. The rest of the request is read and dropped, so that closing the socket
 * does not reset it under the client before it read the answer.
 */
function answerClientError(error: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  let status = 400;
  let message = MALFORMED;
  if (error.code === 'HPE_HEADER_OVERFLOW') {
    const lineEnded = error.rawPacket?.includes('\r\n') ?? false;
    [status, message] = lineEnded ? [431, HEADERS_TOO_LARGE] : [414, URL_TOO_LONG];
  } else if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    [status, message] = [408, 'Request timeout.'];
  }
  const text = JSON.stringify(errorBody(status, message));
  socket.on('data', () => {});
  socket.on('error', () => {});
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=UTF-8\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`,
  );
  setTimeout(() => socket.destroy(), 2_000).unref();
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
    const bodyPath = route.bodyField;
    for (const key of new Set(query.keys())) {
      if (isSystemParam(key)) continue;
      // google/api/http.proto: "when using `*` in the body mapping, it is not possible to have HTTP parameters, as
      // all fields not bound by the path end in the body"; with `body: "secret"`, the fields of `secret` are in the
      // body too. Taking them from the URL would put a secret's value in logs and let the URL and the body disagree.
      const head = fieldOf(requestType, key.split('.')[0] as string);
      if (head !== undefined && (route.body === '*' || head === bodyPath))
        throw boundByBody(key, snake(head), route.body as string);
      const { path, field } = queryField(requestType, key);
      const values = query.getAll(key);
      const where = path.split('.').map(snake).join('.');
      // a query value is text: `true`/`false` for a bool, digits for a number (`page_size=abc` is INVALID_ARGUMENT)
      const convert = (v: string): unknown =>
        checkScalar(field.type, field.type === 'bool' && (v === 'true' || v === 'false') ? v === 'true' : v, where);
      setPath(json, path, field.repeated ? values.map(convert) : convert(values[values.length - 1] as string));
    }
    if (route.body !== undefined && route.body !== '' && body.length > 0) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw malformedJson(error);
      }
      if (route.body === '*') {
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
          // the front end's words (google-wallet/rest-samples#22)
          throw invalidJson('Unknown name "": Root element must be a message.');
        }
        Object.assign(json, camelJson(requestType, parsed, ''));
      } else {
        const path = route.bodyField ?? queryField(requestType, route.body).path;
        const bodyType = route.bodyType;
        const at = snake(path);
        // the Node client sends `""` for a body field it has nothing in (google-gax transcoding: `data = ''`,
        // then JSON.stringify), so `""` and null are the field left out; any other non-object is refused
        if (bodyType && parsed !== null && parsed !== '') setPath(json, path, messageJson(bodyType, parsed, at));
        else if (!bodyType) setPath(json, path, parsed);
      }
    }
    route.fields.forEach((field, i) => {
      let value: string;
      try {
        value = decodeURIComponent(match[i + 1] as string);
      } catch {
        throw new RpcError(GrpcCode.INVALID_ARGUMENT, MALFORMED); // a bad percent-escape (`%E0%A4%A`)
      }
      setPath(json, field, value);
    });
    let message: unknown;
    try {
      message = deps.serializer.fromProto3JSON(route.method.requestType, json);
    } catch (error) {
      throw serializerError(error);
    }
    if (message === null || message === undefined)
      throw new RpcError(GrpcCode.INVALID_ARGUMENT, 'Invalid JSON payload received.');
    const bytes = route.method.requestType.encode(message).finish();
    return route.method.definition.requestDeserialize(
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    ) as Record<string, unknown>;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const tooLarge = requestTooLarge(req);
    if (tooLarge) {
      res.shouldKeepAlive = false;
      return sendJson(res, tooLarge.status, errorBody(tooLarge.status, tooLarge.message));
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://emulator');
    } catch {
      return sendError(res, GrpcCode.INVALID_ARGUMENT, MALFORMED);
    }
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

  const server = createServer({ maxHeaderSize: PARSER_MAX_HEADER_BYTES }, (req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (error instanceof RpcError) sendError(res, error.code, error.message);
      else sendError(res, GrpcCode.INTERNAL, `Internal error in the keyflip emulator: ${String(error)}`);
    });
  });
  server.on('clientError', answerClientError);

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
