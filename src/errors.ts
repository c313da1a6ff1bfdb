/**
 * The keyflip error hierarchy. Every error has a stable `code`, a `name` equal to its class name, and a
 * message that names the secret and its candidates but never a value.
 */
import { redactProviderKeys } from './key-formats.js';

/** Every code a {@link KeyflipError} can carry. */
export const ERROR_CODES = [
  // core: resolver, handles, families, sources
  'NOT_READY',
  'SECRET_NOT_FOUND',
  'SECRET_REVOKED',
  'SOURCE_UNAVAILABLE',
  'INVALID_CANDIDATE',
  'INTEGRITY',
  'PARSE_FAILED',
  'READY_FAILED',
  'INVALID_OPTIONS',
  'CLOSED',
  'LISTENER_FAILED',
  /** An optional peer package (the Google SDK, OpenTelemetry) cannot be loaded. */
  'DEPENDENCY_MISSING',
  // collector (`CollectorInputError`, `UsageSourceError`)
  'INVALID_REPORT',
  'INVALID_QUERY',
  'UNREACHABLE',
  'UNAUTHORIZED',
  'HTTP_STATUS',
  'BAD_RESPONSE',
  /** The collector could not save its state file (`openCollector`; `close()` rejects with it). */
  'STATE_FILE',
  // beacon (`BeaconDeliveryError`, emitted in a resolver `error` event once per change of a sink's state)
  /** The collector refused the beacon's token (401, 403): a wrong or missing `token`. */
  'BEACON_UNAUTHORIZED',
  /** The collector refused a report whole (400, 413, another 4xx): the report or the URL is wrong. */
  'BEACON_REJECTED',
  /** The collector refused a report for now (429: its instance cap or memory budget), after every retry. */
  'BEACON_REFUSED',
  /** The collector could not be reached or did not answer (network, timeout, 408, 5xx), after every retry. */
  'BEACON_UNREACHABLE',
  /** Another sink's `send` threw, rejected or did not settle within 30 s. */
  'BEACON_SINK_FAILED',
  /** A report left out secrets whose fields do not fit `BEACON_LIMITS` (or beyond its 1 000 secrets). */
  'BEACON_SECRET_OMITTED',
  // rotation (`RotationError`)
  'INVALID_INPUT',
  'BACKEND',
  'INTERRUPTED',
  // cli (`UsageError`)
  'USAGE',
  // providers (`ProviderError`, keyflip/providers)
  /** No key at the provider matches the key or its id. */
  'PROVIDER_KEY_NOT_FOUND',
  /** Several keys at the provider match the key's hint: which one it is cannot be told. */
  'PROVIDER_KEY_AMBIGUOUS',
  /** The provider's management API cannot mint keys (Anthropic). */
  'PROVIDER_CANNOT_MINT',
  /** The provider refused the admin key (401). */
  'PROVIDER_UNAUTHORIZED',
  /** The admin key lacks a permission, or is not an admin key (403). */
  'PROVIDER_FORBIDDEN',
  /** The provider could not be reached or did not answer (network, timeout, 5xx, 429), after every retry. */
  'PROVIDER_UNAVAILABLE',
  /** The provider answered something keyflip cannot read, or refused the request itself (another 4xx). */
  'PROVIDER_BAD_RESPONSE',
  /** The OpenAI project or Anthropic workspace the provider was opened on does not exist (404). */
  'PROVIDER_SCOPE_NOT_FOUND',
] as const;

/** A {@link KeyflipError}'s `code`. */
export type KeyflipErrorCode = (typeof ERROR_CODES)[number];

const BRAND = Symbol.for('keyflip.error');

/**
 * Options every keyflip error takes.
 * @inline
 */
export interface KeyflipErrorOptions {
  /** The logical secret this error is about, when there is one. @default none */
  secret?: string | undefined;
  /** The underlying error. @default none */
  cause?: unknown;
  /**
   * The failure will not go away by retrying (see {@link KeyflipError.permanent}).
   * @default false (true for ConfigurationError and DependencyError)
   */
  permanent?: boolean | undefined;
}

/** The base class of every error keyflip throws or emits. */
export class KeyflipError extends Error {
  /** The class name (`KeyflipError`, `SecretNotFoundError`, …): every keyflip error sets its own. */
  override name = 'KeyflipError';
  /** A stable, machine-readable code. */
  readonly code: KeyflipErrorCode;
  /** The logical secret this error is about, when there is one. */
  readonly secret: string | undefined;
  readonly #permanent: boolean;

  constructor(code: KeyflipErrorCode, message: string, options: KeyflipErrorOptions = {}) {
    // A key pasted where a name goes (a secret, a candidate) is never quoted back: the last fence of every message.
    super(redactProviderKeys(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.secret = options.secret;
    this.#permanent = options.permanent === true;
  }

  /**
   * True when retrying cannot help until someone changes something (a missing package, missing credentials,
   * a wrong argument or project). A source that fails with a permanent error fails `ready()` at once with it,
   * is reported in one `error` event, and is tried again only on the normal refresh period, never on the
   * backoff schedule. True for {@link ConfigurationError} and {@link DependencyError}; a subclass may override it.
   * @default false
   */
  get permanent(): boolean {
    return this.#permanent;
  }

  /** @internal brand that survives two copies of the package (ESM and CJS). */
  get [BRAND](): true {
    return true;
  }
}

/** `handle.value` was read before the secret's first resolution. */
export class NotReadyError extends KeyflipError {
  override name = 'NotReadyError';
  constructor(secret: string) {
    super(
      'NOT_READY',
      `secret ${secret} is not resolved yet: await resolver.ready() (or handle.get()) before reading .value`,
      { secret },
    );
  }
}

/** Every candidate of a secret was absent on its first resolution. */
export class SecretNotFoundError extends KeyflipError {
  override name = 'SecretNotFoundError';
  /** Each candidate that was tried, with why it was skipped. */
  readonly skipped: readonly SkippedCandidate[];
  constructor(secret: string, skipped: readonly SkippedCandidate[]) {
    super('SECRET_NOT_FOUND', `secret ${secret} was not found: ${describeSkipped(skipped)}`, { secret });
    this.skipped = skipped;
  }
}

/** Every candidate became absent after the secret had a value: the key was revoked, and keyflip fails closed. */
export class SecretRevokedError extends KeyflipError {
  override name = 'SecretRevokedError';
  /** Each candidate that was tried, with why it was skipped. */
  readonly skipped: readonly SkippedCandidate[];
  constructor(secret: string, skipped: readonly SkippedCandidate[]) {
    super(
      'SECRET_REVOKED',
      `secret ${secret} was revoked: every candidate is now absent (${describeSkipped(skipped)}); ` +
        'the old value is no longer served',
      { secret },
    );
    this.skipped = skipped;
  }
}

/** A source could not answer (timeout, network, quota, outage). */
export class SourceUnavailableError extends KeyflipError {
  override name = 'SourceUnavailableError';
  /** The candidate whose fetch failed, as written in the chain. */
  readonly candidate: string | undefined;
  /** The source's name. */
  readonly source: string | undefined;
  constructor(
    message: string,
    options: KeyflipErrorOptions & { candidate?: string | undefined; source?: string | undefined } = {},
  ) {
    super('SOURCE_UNAVAILABLE', message, options);
    this.candidate = options.candidate;
    this.source = options.source;
  }
}

/** A chain or candidate is malformed, names an unknown source, or names something its source cannot hold. */
export class InvalidCandidateError extends KeyflipError {
  override name = 'InvalidCandidateError';
  /** The offending text. */
  readonly text: string;
  constructor(text: string, problem: string, options: KeyflipErrorOptions = {}) {
    super('INVALID_CANDIDATE', `invalid candidate ${JSON.stringify(text)}: ${problem}`, options);
    this.text = text;
  }
}

/** A fetched value failed its integrity check (for example a CRC32C mismatch); it is never served. */
export class IntegrityError extends KeyflipError {
  override name = 'IntegrityError';
  constructor(message: string, options: KeyflipErrorOptions = {}) {
    super('INTEGRITY', message, options);
  }
}

/**
 * A secret's `parse` threw. The original error is not attached, because parsers such as `JSON.parse`
 * quote their input in their messages; only its class name is kept.
 */
export class ParseError extends KeyflipError {
  override name = 'ParseError';
  /** The `name` of the error the parser threw (`SyntaxError`, …). */
  readonly parserError: string;
  constructor(secret: string, parserError: string) {
    super(
      'PARSE_FAILED',
      `parse() threw a ${parserError} for secret ${secret}; its message is withheld because it may quote the value`,
      { secret },
    );
    this.parserError = parserError;
  }
}

/** One secret that `ready()` could not resolve. */
export interface ReadyFailure {
  /** The secret's name. */
  secret: string;
  /** The candidates it tried, as written. */
  candidates: readonly string[];
  /** Why it failed. */
  error: KeyflipError;
}

/** `resolver.ready()` failed for one or more secrets; the others resolved and work. */
export class ReadyError extends KeyflipError {
  override name = 'ReadyError';
  /** Every secret that failed, with the candidates it tried. */
  readonly failures: readonly ReadyFailure[];
  constructor(failures: readonly ReadyFailure[], total: number) {
    const parts = failures.map((f) => `${f.secret} (tried ${f.candidates.join(', ')}): ${f.error.message}`);
    super('READY_FAILED', `${failures.length} of ${total} secrets could not be resolved: ${parts.join('; ')}`);
    this.failures = failures;
  }
}

/**
 * An option, an argument, a call or a state is wrong (bad option value, duplicate declaration, use after
 * close). Every function of the package throws this for a bad argument: never a bare `TypeError`/`RangeError`.
 */
export class ConfigurationError extends KeyflipError {
  override name = 'ConfigurationError';
  constructor(
    message: string,
    code: 'INVALID_OPTIONS' | 'CLOSED' = 'INVALID_OPTIONS',
    options: KeyflipErrorOptions = {},
  ) {
    super(code, message, { permanent: true, ...options });
  }
}

/** An optional peer package cannot be loaded; the message names it and the `npm install` line that fixes it. */
export class DependencyError extends KeyflipError {
  override name = 'DependencyError';
  /** The package that could not be loaded. */
  readonly packageName: string;
  constructor(packageName: string, message: string, options: KeyflipErrorOptions = {}) {
    super('DEPENDENCY_MISSING', message, { permanent: true, ...options });
    this.packageName = packageName;
  }
}

/** True for any keyflip error, even one thrown by another copy of the package. */
export function isKeyflipError(error: unknown): error is KeyflipError {
  return (
    error instanceof KeyflipError ||
    (typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[BRAND] === true)
  );
}

/** Why a candidate was skipped. */
export interface SkippedCandidate {
  /** The candidate as written in the chain. */
  candidate: string;
  /** Why it was skipped. `unavailable` only appears with `fallbackOnUnavailable`. */
  reason: SkipReason;
  /** What the source says to do about it (an absent result's `detail`), when it said something. */
  detail?: string | undefined;
}

/** Every reason a source can give for a candidate being absent. */
export const ABSENT_REASONS = ['not-found', 'disabled', 'destroyed', 'permission-denied', 'empty'] as const;
/** Why a source says a candidate is absent. */
export type AbsentReason = (typeof ABSENT_REASONS)[number];
/** Why a candidate was skipped in a walk. */
export type SkipReason = AbsentReason | 'unavailable';

function describeSkipped(skipped: readonly SkippedCandidate[]): string {
  if (skipped.length === 0) return 'no candidates';
  return skipped.map((s) => `${s.candidate} ${s.reason}${s.detail === undefined ? '' : ` (${s.detail})`}`).join(', ');
}
