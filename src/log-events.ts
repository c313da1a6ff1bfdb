/**
 * `logEvents(resolver, logger)`: the one opt-in way to send a resolver's events to a logger (`console`, pino, or
 * anything with `info`/`warn`/`error` methods). The library itself prints nothing; this is how an app asks it to.
 */
import { Console } from 'node:console';
import { inspect } from 'node:util';
import { describeValue, isRecord } from './check.js';
import { ConfigurationError, type SkippedCandidate } from './errors.js';
import type {
  ErrorEvent,
  FallbackEvent,
  ResolverErrorEvent,
  ResolverEvents,
  ResolveEvent,
  RevokeEvent,
  RotateEvent,
} from './events.js';
import type { Resolver } from './resolver.js';
import type { SecretInfo } from './types.js';

/** The levels a record is written at, lowest first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** A level: `debug`, `info`, `warn` or `error`. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * How a logger method is called: `pino` passes the fields first (`logger.warn(fields, message)`: pino, bunyan,
 * Fastify's and Next.js's pino loggers); `console` passes the message first (`logger.warn(message, fields)`:
 * Node's console, winston, consola).
 */
export type LogStyle = 'pino' | 'console';

/** The styles, for checks and docs. */
export const LOG_STYLES = ['pino', 'console'] as const satisfies readonly LogStyle[];

/**
 * What {@link logEvents} writes to: `console`, a pino logger, or any object with these methods. Each is called as
 * a method (`logger.warn(…)`, so pino's `this` holds). `debug` may be missing when `level` is not `'debug'`.
 */
export interface EventLogger {
  /** Writes a `debug` record (`resolve` events); needed only with `level: 'debug'`. */
  debug?(...args: unknown[]): unknown;
  /** Writes an `info` record (`rotate`, a `fallback` over names not created yet). */
  info(...args: unknown[]): unknown;
  /** Writes a `warn` record (a `fallback` over a disabled or denied candidate, an `error` while serving stale, the
   * usage beacon's errors). */
  warn(...args: unknown[]): unknown;
  /** Writes an `error` record (`revoke`, an `error` with nothing to serve). */
  error(...args: unknown[]): unknown;
}

/** Options of {@link logEvents}. */
export interface LogEventsOptions {
  /**
   * The lowest level written: `'debug'` adds a record for every resolution (one per secret per refresh);
   * `'info'` writes rotations and above; `'warn'` fallbacks over disabled or denied candidates, stale serving,
   * beacon failures and above; `'error'` revocations and failures with nothing to serve. A pino logger's own
   * level filters after this one.
   * @default 'info'
   */
  level?: LogLevel | undefined;
  /**
   * How the logger's methods are called (see {@link LogStyle}). Detected when not given: `'console'` for Node's
   * global `console` or a `Console` from `node:console`, `'pino'` for anything else. Pass `'console'` for another
   * message-first logger (winston, consola, a wrapper around console).
   * @default 'console' for a Console, else 'pino'
   */
  style?: LogStyle | undefined;
}

/**
 * The fields of one record: what a log query filters on. Never a value: only names, candidates, sources, versions,
 * fingerprints, reasons, error codes and messages (which name a secret, never hold its value).
 */
export interface LogFields {
  /** The event: `resolve`, `fallback`, `rotate`, `revoke` or `error`. */
  readonly event: keyof ResolverEvents;
  /** The secret's name (`family[id]` for a family member); absent for the usage beacon's errors. */
  readonly secret?: string;
  readonly [field: string]: unknown;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Writes the record `build` makes, at `level`; `build` runs only when the level is logged. */
type Write = (level: LogLevel, build: () => Entry) => void;

/**
 * Subscribes to `resolver`'s events and writes one record per event to `logger`; returns a function that
 * unsubscribes (calling it twice is harmless). Nothing is logged unless you call this.
 *
 * Each record is a short message naming the secret and what happened (`keyflip: secret OPENAI_API_KEY rotated
 * from OPENAI_API_KEY_v1 (kf_…) to OPENAI_API_KEY_v2 (kf_…)`) and a fields object (`event`, `secret`,
 * `candidate`, `source`, `version`, `fingerprint`, `skipped`, `code`, …). Events carry no values; the message and
 * every string field also pass through `resolver.redact()`, so a value quoted by a source's error cannot get out.
 * An error's `cause` is not passed on (it may be a source's raw error); listen to `error` yourself for it.
 *
 * Levels: `resolve` → debug; `rotate` → info; `fallback` → info when every skipped candidate is `not-found`
 * (`KEY_v2` not created yet: the steady state between rotations), else warn; `revoke` → error; `error` → warn
 * while the last good value is still served (`servingStale`), else error; the usage beacon's errors (no `secret`)
 * → warn, since the app's secrets are not affected, only the evidence `keyflip verify` reads.
 *
 * The call convention is the one catch between console and pino: a console takes `warn(message, fields)` but
 * `pino.warn(fields, message)` (pino drops an object given after the message). `style` chooses; it is detected by
 * default — Node's console (or a `node:console` Console) is called message-first, anything else fields-first —
 * so both `logEvents(resolver, console)` and `logEvents(resolver, pino())` work as written. A logger that throws
 * is ignored: logging never affects the app. Listening to `error` here also means the resolver's errors, which it
 * drops when nothing listens, are seen.
 *
 * @param resolver - The resolver whose events are logged (its family members' events included).
 * @param logger - `console`, a pino logger, or any {@link EventLogger}.
 * @returns A function that unsubscribes.
 * @throws {ConfigurationError} When `resolver` is not a resolver, `logger` lacks `info`, `warn` or `error` (or
 * `debug` with `level: 'debug'`), or an option is not one of its values.
 * @example
 * import pino from 'pino';
 * const stop = logEvents(resolver, pino(), { level: 'info' });
 * // …
 * stop();
 */
export function logEvents(resolver: Resolver, logger: EventLogger, options: LogEventsOptions = {}): () => void {
  const emitter = checkResolver(resolver);
  const { level, style } = checkOptions(options);
  checkLogger(logger, level);
  const messageFirst = (style ?? detectStyle(logger)) === 'console';
  // A Console prints an object argument over several lines, and log collectors (Cloud Run, GKE) make each line an
  // entry of its own: to a Console the fields go as one line of text after the message.
  const oneLine = logger === console || logger instanceof Console;
  const redact = redactorOf(resolver);
  const lowest = RANK[level];
  const write: Write = (at, build) => {
    if (RANK[at] < lowest) return;
    const [message, fields] = build();
    const text = redact(message);
    const safe = redactFields(fields, redact);
    try {
      if (oneLine) logger[at]?.(`${text} ${inspect(safe, { breakLength: Number.POSITIVE_INFINITY, depth: 4 })}`);
      else if (messageFirst) logger[at]?.(text, safe);
      else logger[at]?.(safe, text);
    } catch {
      // A logger that throws never affects the app, nor turns into another event.
    }
  };
  const listeners = {
    resolve: (event: ResolveEvent) => write('debug', () => onResolve(event)),
    // Skipping names that do not exist yet (`KEY_v2` between rotations) is the steady state, not a warning.
    fallback: (event: FallbackEvent) =>
      write(event.skipped.every((s) => s.reason === 'not-found') ? 'info' : 'warn', () => onFallback(event)),
    rotate: (event: RotateEvent) => write('info', () => onRotate(event)),
    revoke: (event: RevokeEvent) => write('error', () => onRevoke(event)),
    error: (event: ErrorEvent | ResolverErrorEvent) => write(errorLevel(event), () => onError(event)),
  };
  for (const [name, listener] of Object.entries(listeners)) emitter.on(name, listener);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    for (const [name, listener] of Object.entries(listeners)) emitter.off(name, listener);
  };
}

/** The emitter methods used, untyped by event (each listener above is typed by its own event). */
interface Subscribable {
  on(event: string, listener: (payload: never) => void): unknown;
  off(event: string, listener: (payload: never) => void): unknown;
}

function checkResolver(resolver: unknown): Subscribable {
  const r = resolver as Partial<Subscribable> | null | undefined;
  if (typeof r !== 'object' || r === null || typeof r.on !== 'function' || typeof r.off !== 'function') {
    throw new ConfigurationError(
      `logEvents() needs a resolver (createResolver(…)) as its first argument, not ${kindOf(resolver)}`,
    );
  }
  return r as Subscribable;
}

function checkOptions(options: unknown): { level: LogLevel; style: LogStyle | undefined } {
  if (!isRecord(options)) {
    throw new ConfigurationError(`logEvents(): \`options\` must be an object, not ${describeValue(options)}`);
  }
  const { level = 'info', style } = options as LogEventsOptions;
  if (!(LOG_LEVELS as readonly unknown[]).includes(level)) {
    throw new ConfigurationError(
      `logEvents(): \`level\` must be one of ${LOG_LEVELS.map((l) => `'${l}'`).join(', ')}, not ` +
        describeValue(level),
    );
  }
  if (style !== undefined && !(LOG_STYLES as readonly unknown[]).includes(style)) {
    throw new ConfigurationError(`logEvents(): \`style\` must be 'pino' or 'console', not ${describeValue(style)}`);
  }
  return { level, style };
}

/** Node's console and `node:console` Consoles are called message-first; anything else fields-first. */
function detectStyle(logger: unknown): LogStyle {
  try {
    return logger === console || logger instanceof Console ? 'console' : 'pino';
  } catch {
    return 'pino'; // a Proxy whose traps throw
  }
}

/** What an argument is, by its type only (a string given by mistake may be a value). */
function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  return Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}

function checkLogger(logger: unknown, level: LogLevel): void {
  if ((typeof logger !== 'object' && typeof logger !== 'function') || logger === null) {
    throw new ConfigurationError(
      `logEvents() needs a logger (console, a pino logger, or an object with info, warn and error methods), not ` +
        kindOf(logger),
    );
  }
  const methods = logger as Record<string, unknown>;
  const needed = LOG_LEVELS.filter((method) => method !== 'debug' || level === 'debug');
  const missing = needed.filter((method) => typeof methods[method] !== 'function');
  if (missing.length > 0) {
    throw new ConfigurationError(
      `logEvents(): \`logger\` has no ${missing.join(', ')} method${missing.length > 1 ? 's' : ''}` +
        (missing.length === 1 && missing[0] === 'debug' ? ", which level 'debug' needs" : '') +
        ' (console, a pino logger, or an object with info, warn and error methods)',
    );
  }
}

function redactorOf(resolver: Resolver): (text: string) => string {
  const redact = (resolver as Partial<Resolver>).redact;
  if (typeof redact !== 'function') return (text) => text;
  return (text) => {
    try {
      return redact.call(resolver, text);
    } catch {
      return '[keyflip: the text could not be redacted, not shown]';
    }
  };
}

/** The fields with every string (nested ones in `skipped` too) through `redact`. */
function redactFields(fields: LogFields, redact: (text: string) => string): LogFields {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (typeof value === 'string') out[name] = redact(value);
    else if (Array.isArray(value))
      out[name] = value.map((item) => (isRecord(item) ? redactRecord(item, redact) : item));
    else out[name] = value;
  }
  return out as LogFields;
}

function redactRecord(record: Record<string, unknown>, redact: (text: string) => string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(record)) {
    if (value !== undefined) out[name] = typeof value === 'string' ? redact(value) : value;
  }
  return out;
}

/** One record: its message and its fields. */
type Entry = [message: string, fields: LogFields];

/** `OPENAI_API_KEY_v2 (gcp, version 3, kf_…)`. */
function held(info: SecretInfo): string {
  const version = info.version === undefined ? '' : `version ${info.version}, `;
  return `${info.candidate} (${info.source}, ${version}${info.fingerprint})`;
}

function infoFields(info: SecretInfo, prefix = ''): Record<string, unknown> {
  const key = (name: string): string => (prefix === '' ? name : `${prefix}${name[0]?.toUpperCase()}${name.slice(1)}`);
  return {
    [key('candidate')]: info.candidate,
    [key('source')]: info.source,
    [key('version')]: info.version,
    [key('fingerprint')]: info.fingerprint,
  };
}

function skippedText(skipped: readonly SkippedCandidate[]): string {
  return skipped.map((s) => `${s.candidate} (${s.reason})`).join(', ');
}

function skippedFields(skipped: readonly SkippedCandidate[]): Record<string, unknown>[] {
  return skipped.map((s) => ({ candidate: s.candidate, reason: s.reason, detail: s.detail }));
}

function onResolve({ secret, info }: ResolveEvent): Entry {
  return [
    `keyflip: secret ${secret} resolved from ${held(info)}`,
    { event: 'resolve', secret, ...infoFields(info), status: info.status },
  ];
}

function onFallback({ secret, skipped, current }: FallbackEvent): Entry {
  return [
    `keyflip: secret ${secret} skipped ${skippedText(skipped)}; serving ${held(current)}`,
    { event: 'fallback', secret, ...infoFields(current), skipped: skippedFields(skipped) },
  ];
}

function onRotate({ secret, previous, current }: RotateEvent): Entry {
  return [
    `keyflip: secret ${secret} rotated from ${held(previous)} to ${held(current)}`,
    { event: 'rotate', secret, ...infoFields(current), ...infoFields(previous, 'previous') },
  ];
}

function onRevoke({ secret, previous, skipped }: RevokeEvent): Entry {
  return [
    `keyflip: secret ${secret} revoked: every candidate is absent (${skippedText(skipped)}); ` +
      `it held ${held(previous)}`,
    { event: 'revoke', secret, ...infoFields(previous, 'previous'), skipped: skippedFields(skipped) },
  ];
}

/** `warn` while a last good value is served, or for the usage beacon's errors; else `error`. */
function errorLevel(event: ErrorEvent | ResolverErrorEvent): LogLevel {
  return event.secret === undefined || event.servingStale ? 'warn' : 'error';
}

function onError(event: ErrorEvent | ResolverErrorEvent): Entry {
  const { error, servingStale } = event;
  const described = {
    code: error.code,
    error: error.message,
    errorName: error.name,
    permanent: error.permanent,
    servingStale,
  };
  if (event.secret === undefined) {
    const component = (event as ResolverErrorEvent).component;
    return [`keyflip: usage ${component}: ${error.message}`, { event: 'error', component, ...described }];
  }
  const { secret } = event;
  const message = servingStale
    ? `keyflip: secret ${secret} could not be refreshed; serving its last good value: ${error.message}`
    : `keyflip: secret ${secret}: ${error.message}`;
  return [message, { event: 'error', secret, ...described }];
}
