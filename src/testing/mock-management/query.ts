/**
 * Reading a management request's query string the way the providers do: integers in a range, enums, RFC 3339
 * times, list parameters (`ids=a&ids=b`, `ids[]=a`, or `ids=a,b`), and the opaque page tokens of usage reports.
 */

/** A parameter that is wrong: its name and why. */
export class QueryError extends Error {
  constructor(
    readonly param: string,
    message: string,
  ) {
    super(message);
  }
}

/** An integer parameter in `[min, max]`, or `fallback` when absent. */
export function intParam(url: URL, name: string, min: number, max: number, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw new QueryError(name, `Invalid '${name}': expected an integer.`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new QueryError(name, `Invalid '${name}': must be between ${min} and ${max}, got ${value}.`);
  return value;
}

/** A required integer parameter (unix seconds). */
export function requiredInt(url: URL, name: string): number {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') throw new QueryError(name, `Missing required parameter: '${name}'.`);
  return intParam(url, name, 0, Number.MAX_SAFE_INTEGER, 0);
}

/** One of `values`, or `fallback` when absent. */
export function enumParam<T extends string>(url: URL, name: string, values: readonly T[], fallback: T): T {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return fallback;
  if (!(values as readonly string[]).includes(raw))
    throw new QueryError(name, `Invalid '${name}': expected one of ${values.join(', ')}.`);
  return raw as T;
}

/** A list parameter, in any of the forms SDKs send: repeated, with `[]`, or comma-separated. */
export function listParam(url: URL, name: string): string[] {
  const raw = [...url.searchParams.getAll(name), ...url.searchParams.getAll(`${name}[]`)];
  return raw.flatMap((value) => value.split(',')).filter((value) => value !== '');
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** An RFC 3339 time, ms since the epoch; `undefined` when absent and not `required`. */
export function timeParam(url: URL, name: string, required: boolean): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') {
    if (required) throw new QueryError(name, `${name}: Field required`);
    return undefined;
  }
  const ms = Date.parse(raw);
  if (!RFC3339.test(raw) || Number.isNaN(ms)) throw new QueryError(name, `${name}: Input should be a valid datetime`);
  return ms;
}

/** RFC 3339, UTC, without milliseconds when they are zero (`2026-12-05T07:00:00Z`). */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** The opaque token of the next usage page: where it starts. */
export function pageToken(nextStartMs: number): string {
  return `page_${Buffer.from(`keyflip-mock:${nextStartMs}`).toString('base64url')}`;
}

/** The start a page token stands for; throws a {@link QueryError} for a token it did not make. */
export function readPageToken(url: URL): number | undefined {
  const raw = url.searchParams.get('page');
  if (raw === null || raw === '') return undefined;
  const decoded = raw.startsWith('page_') ? Buffer.from(raw.slice(5), 'base64url').toString('utf8') : '';
  const match = /^keyflip-mock:(\d+)$/.exec(decoded);
  if (!match) throw new QueryError('page', "Invalid 'page': not a page token from this endpoint.");
  return Number(match[1]);
}

/** One page of `items` after the item with id `afterId`: the page and whether more follow. */
export function pageAfter<T extends { id: string }>(
  all: readonly T[],
  visible: (item: T) => boolean,
  afterId: string | null,
  limit: number,
  param: string,
): { page: T[]; hasMore: boolean } {
  let start = 0;
  if (afterId !== null && afterId !== '') {
    const at = all.findIndex((item) => item.id === afterId);
    if (at < 0) throw new QueryError(param, `Invalid '${param}': no object with id ${afterId}.`);
    start = at + 1;
  }
  const rest = all.slice(start).filter(visible);
  return { page: rest.slice(0, limit), hasMore: rest.length > limit };
}

/** One page of `items` just before the item with id `beforeId` (Anthropic's `before_id`). */
export function pageBefore<T extends { id: string }>(
  all: readonly T[],
  visible: (item: T) => boolean,
  beforeId: string,
  limit: number,
): { page: T[]; hasMore: boolean } {
  const at = all.findIndex((item) => item.id === beforeId);
  if (at < 0) throw new QueryError('before_id', `Invalid 'before_id': no object with id ${beforeId}.`);
  const rest = all.slice(0, at).filter(visible);
  return { page: rest.slice(Math.max(0, rest.length - limit)), hasMore: rest.length > limit };
}
