import { GrpcCode } from '../../sources/gcp-names.js';
import { RpcError } from './status.js';

/**
 * Secret Manager's list filtering for ListSecrets and ListSecretVersions
 * (https://cloud.google.com/secret-manager/docs/filtering): the Google list-filter grammar (AIP-160).
 *
 *   expression  = sequence { "AND" sequence }     sequence = factor { factor }   (a space is an AND)
 *   factor      = term { "OR" term }               (OR binds tighter than AND, as in AIP-160)
 *   term        = [ "NOT" | "-" ] ( "(" expression ")" | field comparator arg )
 *   comparator  = ":" | "=" | "!=" | "<" | "<=" | ">" | ">="
 *   arg         = value | "(" values joined by AND / OR / NOT / space ")"     e.g. `state:(ENABLED OR DISABLED)`
 *
 * A value is a double-quoted string or a run of non-blank characters (`create_time>2021-01-01T06:00:00Z` needs
 * no quotes). Fields are paths into the resource as the API shows it, snake_case or camelCase
 * (`replication.user_managed.replicas.location`, `labels.environment`); a repeated field matches when any element
 * does. `:` is "has": `field:*` is set, `map:key` has the key, and on text a case-insensitive substring where `*`
 * matches any run (`name:APIKEY*production`). `*_time` fields compare as timestamps (RFC 3339, or a date:
 * `expire_time<2021-07-31`), `rotation_period` and the TTLs as durations (`259200s`), numbers as numbers.
 * A syntax error answers INVALID_ARGUMENT in the service's words: `syntax error at line 1, column 11, token '('`
 * (as the service answered `labels.list():label1`, googleapis/google-cloud-dotnet#10639). For a field the resource
 * does not have, for a comparison of a `*_time` field with no timestamp (RFC 3339 or a bare `YYYY-MM-DD` date: not
 * what else `Date.parse` reads, such as `1` or `Jan 1 2021`) and of a duration field with no duration in seconds
 * (`259200s`, not `abc` or `1d`), no public source shows the service's wording (searched: the reference, the
 * filtering page, issue trackers): the emulator answers INVALID_ARGUMENT in words of its own, naming the field
 * and the value.
 */
export type Op = ':' | '=' | '!=' | '<' | '<=' | '>' | '>=';

type Arg = { k: 'val'; v: string } | { k: 'and' | 'or'; items: Arg[] } | { k: 'not'; item: Arg };
export type Node =
  | { k: 'and' | 'or'; items: Node[] }
  | { k: 'not'; item: Node }
  | { k: 'cmp'; field: string; op: Op; arg: Arg };

/** Top-level fields a filter may name: the Secret and SecretVersion resources' fields. */
const SECRET_FIELDS = new Set([
  'name',
  'create_time',
  'labels',
  'annotations',
  'version_aliases',
  'replication',
  'topics',
  'rotation',
  'expire_time',
  'ttl',
  'etag',
  'version_destroy_ttl',
  'customer_managed_encryption',
]);
const VERSION_FIELDS = new Set([
  'name',
  'create_time',
  'destroy_time',
  'state',
  'replication_status',
  'etag',
  'client_specified_payload_checksum',
  'scheduled_destroy_time',
  'customer_managed_encryption',
]);
const DURATION_FIELDS = new Set(['rotation_period', 'version_destroy_ttl', 'ttl']);

/** A filter's timestamp: RFC 3339 (`2021-01-01T06:00:00Z`, `…T06:00:00.5+01:00`) or a bare date (`2021-07-31`). */
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-](\d{2}):(\d{2})))?$/;
/** A filter's duration: seconds with up to nine fractional digits and an `s` (`259200s`, `1.5s`), as JSON shows it. */
const DURATION = /^-?\d+(?:\.\d{1,9})?s$/;

/** Whether `v` is a timestamp {@link TIMESTAMP} reads, with a day its month has and fields in range. */
function isTimestamp(v: string): boolean {
  const m = TIMESTAMP.exec(v);
  if (!m) return false;
  const [y, mo, d, h, mi, sec, oh, om] = m.slice(1).map((x) => Number(x ?? 0)) as [number, ...number[]];
  const day = new Date(Date.UTC(y, Number(mo) - 1, Number(d)));
  const below = (x: number | undefined, max: number): boolean => Number(x) < max;
  const clock = below(h, 24) && below(mi, 60) && below(sec, 60) && below(oh, 24) && below(om, 60);
  return day.getUTCMonth() === Number(mo) - 1 && day.getUTCDate() === d && clock;
}

// Sticky (`y`): they match at the parser's cursor without slicing the rest of the filter at each term.
const FIELD = /[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_-]+)*/y;
const COMPARATOR = /<=|>=|!=|<|>|=|:/y;
const QUOTED = /"(?:[^"\\]|\\.)*"/y;
const BARE = /[^\s()"]+/y;

const snake = (s: string): string => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (s: string): string => s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const invalidArgument = (message: string): RpcError => new RpcError(GrpcCode.INVALID_ARGUMENT, message);

/**
 * How deep parentheses may nest (restrictions and an arg's values alike). AIP-160 sets no limit and no public source
 * shows the service's; a deeper filter answers INVALID_ARGUMENT (the parser recurses, so without a limit a deep
 * filter would overflow the stack and answer INTERNAL).
 */
export const MAX_FILTER_DEPTH = 64;

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly src: string) {}

  fail(at = this.pos): never {
    const token = at >= this.src.length ? '<EOF>' : (/^[^\s()]+|^./.exec(this.src.slice(at))?.[0] ?? '');
    throw invalidArgument(`syntax error at line 1, column ${at}, token '${token}'`);
  }

  private ws(): boolean {
    const start = this.pos;
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos] as string)) this.pos++;
    return this.pos > start;
  }

  /** The keyword at the cursor (followed by a blank or a parenthesis), consumed when it is one of `words`. */
  private keyword(...words: string[]): string | undefined {
    for (const w of words) {
      if (this.src.startsWith(w, this.pos)) {
        const next = this.src[this.pos + w.length];
        if (next === undefined || /[\s(]/.test(next)) {
          this.pos += w.length;
          return w;
        }
      }
    }
    return undefined;
  }

  private atEnd(): boolean {
    return this.pos >= this.src.length || this.src[this.pos] === ')';
  }

  parse(): Node {
    this.ws();
    const node = this.expression(false);
    this.ws();
    if (this.pos < this.src.length) this.fail();
    return node;
  }

  /** expression / sequence / factor, for restrictions (`inArg` false) or for an arg's values. */
  private expression(inArg: true): Arg;
  private expression(inArg: false): Node;
  private expression(inArg: boolean): Node | Arg {
    const all: (Node | Arg)[] = [];
    for (;;) {
      all.push(this.factor(inArg));
      const mark = this.pos;
      this.ws();
      if (this.atEnd()) break;
      if (this.keyword('AND')) {
        if (!this.ws()) this.fail();
        continue;
      }
      if (this.pos === mark) this.fail(); // two terms with no blank between them
    }
    return all.length === 1 ? (all[0] as Node) : ({ k: 'and', items: all } as Node);
  }

  private factor(inArg: boolean): Node | Arg {
    const items = [this.term(inArg)];
    for (;;) {
      const mark = this.pos;
      this.ws();
      if (this.keyword('OR')) {
        this.ws();
        items.push(this.term(inArg));
        continue;
      }
      this.pos = mark;
      break;
    }
    return items.length === 1 ? (items[0] as Node) : ({ k: 'or', items } as Node);
  }

  private term(inArg: boolean): Node | Arg {
    if (this.atEnd()) this.fail();
    if (this.keyword('NOT')) {
      this.ws();
      return { k: 'not', item: this.simple(inArg) } as Node;
    }
    if (this.src[this.pos] === '-' && !inArg) {
      this.pos++;
      return { k: 'not', item: this.simple(inArg) } as Node;
    }
    if (this.keyword('AND', 'OR')) this.fail(this.pos - (this.src[this.pos - 1] === 'D' ? 3 : 2));
    return this.simple(inArg);
  }

  /** Enters one more level of parentheses: INVALID_ARGUMENT past {@link MAX_FILTER_DEPTH}. */
  private nest<T>(inner: () => T): T {
    if (++this.depth > MAX_FILTER_DEPTH) {
      throw invalidArgument(
        `The filter nests parentheses more than ${MAX_FILTER_DEPTH} deep (at line 1, column ${this.pos}).`,
      );
    }
    this.pos++; // the '('
    this.ws();
    const node = inner();
    this.ws();
    if (this.src[this.pos] !== ')') this.fail();
    this.pos++;
    this.depth--;
    return node;
  }

  /** The match of the sticky regular expression `re` at the cursor (not consumed). */
  private at(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    return re.exec(this.src)?.[0];
  }

  private simple(inArg: boolean): Node | Arg {
    if (this.src[this.pos] === '(')
      return inArg ? this.nest(() => this.expression(true)) : this.nest(() => this.expression(false));
    return inArg ? { k: 'val', v: this.value() } : this.restriction();
  }

  private restriction(): Node {
    const start = this.pos;
    const field = this.at(FIELD);
    if (!field) this.fail();
    this.pos += field.length;
    this.ws();
    const op = this.at(COMPARATOR) as Op | undefined;
    if (!op) this.fail(this.pos < this.src.length ? this.pos : start);
    this.pos += op.length;
    this.ws();
    const arg: Arg =
      this.src[this.pos] === '(' ? this.nest(() => this.expression(true)) : { k: 'val', v: this.value() };
    return { k: 'cmp', field, op, arg };
  }

  private value(): string {
    if (this.src[this.pos] === '"') {
      const q = this.at(QUOTED);
      if (!q) this.fail();
      this.pos += q.length;
      return q.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    const m = this.at(BARE);
    if (!m) this.fail();
    this.pos += m.length;
    return m;
  }
}

/** What a filter lists: Secrets (ListSecrets) or SecretVersions (ListSecretVersions). */
export type FilteredResource = 'secret' | 'version';

/**
 * Parses a filter; undefined for none (an empty or blank filter lists everything). A field the listed `resource`
 * does not have, or a value its field cannot hold, answers INVALID_ARGUMENT here, before anything is listed, so also
 * when nothing would be listed (`labels.x:y` on a secret with no versions).
 */
export function parseFilter(filter: string | undefined, resource: FilteredResource): Node | undefined {
  if (!filter?.trim()) return undefined;
  const node = new Parser(filter).parse();
  validate(node, resource === 'secret' ? SECRET_FIELDS : VERSION_FIELDS);
  return node;
}

const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);

/** The values at `path` in `view` (repeated fields flattened); a segment is looked up as given, then camelCased. */
function resolve(view: Record<string, unknown>, path: string[]): unknown[] {
  let current: unknown[] = [view];
  for (const seg of path) {
    const next: unknown[] = [];
    for (const v of current) {
      if (!isPlain(v)) continue;
      const got = seg in v ? v[seg] : v[camel(seg)];
      if (got === undefined || got === null) continue;
      if (Array.isArray(got)) next.push(...got);
      else next.push(got);
    }
    current = next;
  }
  return current;
}

function timeMs(v: unknown): number {
  if (typeof v === 'string') return Date.parse(v);
  if (isPlain(v) && ('seconds' in v || 'nanos' in v))
    return Number(v.seconds ?? 0) * 1000 + Math.floor(Number(v.nanos ?? 0) / 1e6);
  return Number.NaN;
}

function durationS(v: unknown): number {
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v.trim());
    return m ? Number(m[1]) : Number.NaN;
  }
  if (isPlain(v) && ('seconds' in v || 'nanos' in v)) return Number(v.seconds ?? 0) + Number(v.nanos ?? 0) / 1e9;
  return Number.NaN;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return undefined;
}

const ORDER: Record<'<' | '<=' | '>' | '>=', (c: number) => boolean> = {
  '<': (c) => c < 0,
  '<=': (c) => c <= 0,
  '>': (c) => c > 0,
  '>=': (c) => c >= 0,
};

/** Whether one value of the field satisfies `op value`; `kind` says how the field's values compare. */
function compare(actual: unknown, op: Exclude<Op, '!='>, want: string, kind: 'time' | 'duration' | 'plain'): boolean {
  if (op === ':' && want === '*') return text(actual) !== '';
  if (kind !== 'plain' && op !== ':') {
    const a = kind === 'time' ? timeMs(actual) : durationS(actual);
    const b = kind === 'time' ? Date.parse(want.toUpperCase()) : durationS(want);
    if (Number.isNaN(a)) return false;
    const c = a - b;
    return op === '=' ? c === 0 : ORDER[op](c);
  }
  if (op === ':' && isPlain(actual)) return Object.hasOwn(actual, want); // a map has the key
  const a = text(actual);
  if (a === undefined) return false;
  if (op === ':') return globIncludes(a.toLowerCase(), want.toLowerCase());
  if (op === '=') return a === want;
  const n = Number(a);
  const m = Number(want);
  const c =
    a.trim() !== '' && want.trim() !== '' && !Number.isNaN(n) && !Number.isNaN(m)
      ? n - m
      : a < want
        ? -1
        : a > want
          ? 1
          : 0;
  return ORDER[op](c);
}

/**
 * Whether `text` contains `pattern`, where `*` in the pattern matches any run of characters (both lower-cased by
 * the caller). The greedy two-pointer glob match, on `*pattern*`: a mismatch after a `*` retries one character
 * further from that `*` only, never from an earlier one, so it takes O(text × pattern) steps at worst, where a
 * backtracking RegExp (`.*a.*a.*a.*b`) takes exponential time on a long name.
 */
export function globIncludes(text: string, pattern: string): boolean {
  const p = `*${pattern}*`;
  let t = 0;
  let i = 0;
  let star = -1; // index in p of the last `*` seen
  let resume = 0; // where in text that `*` match restarts
  while (t < text.length) {
    if (i < p.length && p[i] === '*') {
      star = i++;
      resume = t;
    } else if (i < p.length && p[i] === text[t]) {
      i++;
      t++;
    } else if (star >= 0) {
      i = star + 1;
      t = ++resume;
    } else return false;
  }
  while (i < p.length && p[i] === '*') i++;
  return i === p.length;
}

function evalArg(arg: Arg, test: (value: string) => boolean): boolean {
  if (arg.k === 'val') return test(arg.v);
  if (arg.k === 'not') return !evalArg(arg.item, test);
  if (arg.k === 'and') return arg.items.every((a) => evalArg(a, test));
  return arg.items.some((a) => evalArg(a, test));
}

/** Every value in `arg`, however its values combine (where {@link evalArg} stops at the first that decides). */
function argValues(arg: Arg): string[] {
  if (arg.k === 'val') return [arg.v];
  if (arg.k === 'not') return argValues(arg.item);
  return arg.items.flatMap(argValues);
}

/** Maps whose keys are the user's: `labels.ttl` or `annotations.expire_time` is text, whatever its key says. */
const MAPS = new Set(['labels', 'annotations', 'version_aliases']);

/** How a field's values compare: `*_time` fields as timestamps, the durations as durations, the rest as text. */
function kindOf(path: string[]): 'time' | 'duration' | 'plain' {
  if (path.length > 1 && MAPS.has(snake(path[0] as string))) return 'plain';
  const leaf = snake(path[path.length - 1] as string);
  return leaf.endsWith('_time') ? 'time' : DURATION_FIELDS.has(leaf) ? 'duration' : 'plain';
}

function validate(node: Node, fields: Set<string>): void {
  if (node.k === 'not') {
    validate(node.item, fields);
    return;
  }
  if (node.k !== 'cmp') {
    for (const item of node.items) validate(item, fields);
    return;
  }
  const path = node.field.split('.');
  if (!fields.has(snake(path[0] as string))) {
    throw invalidArgument(`The filter field [${node.field}] is not a field of the listed resource.`);
  }
  const kind = kindOf(path);
  if (node.op === ':') return; // `:` is "has": `field:*`, or a substring of the value as text
  for (const v of argValues(node.arg)) {
    if (kind === 'time' && !isTimestamp(v)) {
      throw invalidArgument(
        `Invalid timestamp [${v}] for the filter field [${node.field}]: expected RFC 3339 or a date (YYYY-MM-DD).`,
      );
    }
    if (kind === 'duration' && !DURATION.test(v)) {
      throw invalidArgument(
        `Invalid duration [${v}] for the filter field [${node.field}]: expected seconds, such as 259200s.`,
      );
    }
  }
}

function evaluate(node: Node, view: Record<string, unknown>): boolean {
  if (node.k === 'not') return !evaluate(node.item, view);
  if (node.k !== 'cmp')
    return node.k === 'and' ? node.items.every((n) => evaluate(n, view)) : node.items.some((n) => evaluate(n, view));
  const path = node.field.split('.');
  const values = resolve(view, path);
  const kind = kindOf(path);
  if (node.op === '!=') return !evalArg(node.arg, (v) => values.some((a) => compare(a, '=', v, kind)));
  const op = node.op;
  return evalArg(node.arg, (v) => values.some((a) => compare(a, op, v, kind)));
}

/** Whether the resource `view` (a Secret or a SecretVersion as the API answers it) matches the parsed filter. */
export function matches(node: Node | undefined, view: Record<string, unknown>): boolean {
  return node === undefined || evaluate(node, view);
}
