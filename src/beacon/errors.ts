/**
 * The errors of the usage beacon. They reach the app as the resolver's `error` event (`component: 'beacon'`,
 * no `secret`), once per change of state, never per report; an `httpSink`'s `send()` also rejects with a
 * {@link BeaconDeliveryError}. They name the sink, the collector's URL (without credentials or query), the HTTP
 * status and the secrets' names; never a value, never the token.
 */
import { KeyflipError, type KeyflipErrorOptions } from '../errors.js';

/** The codes of a {@link BeaconDeliveryError} (see `ERROR_CODES` for what each means). */
export type BeaconDeliveryCode =
  | 'BEACON_UNAUTHORIZED'
  | 'BEACON_REJECTED'
  | 'BEACON_REFUSED'
  | 'BEACON_UNREACHABLE'
  | 'BEACON_SINK_FAILED';

/** Options of {@link BeaconDeliveryError}. */
export interface BeaconDeliveryErrorOptions extends KeyflipErrorOptions {
  /** The sink: `httpSink`, `logSink`, `otelSink`, or `sink[i]` (its place in `BeaconOptions.sink`). */
  sink: string;
  /**
   * The URL the report was posted to, without credentials, query or fragment (`httpSink`).
   * @default none: the sink is not an HTTP sink
   */
  url?: string | undefined;
  /**
   * The collector's last HTTP status code.
   * @default none: it did not answer (or the sink is not an HTTP sink)
   */
  status?: number | undefined;
  /**
   * `failed`: the sink tried and gave up. `dropped`: the report was never tried (a full queue, or what `close()`
   * had no time for); a drop is counted in `beaconStats().dropped` and is not itself a change of state.
   * @default 'failed'
   */
  outcome?: 'failed' | 'dropped' | undefined;
}

/** A sink could not deliver a report. `code` says how; see {@link BeaconDeliveryCode}. */
export class BeaconDeliveryError extends KeyflipError {
  override name = 'BeaconDeliveryError';
  declare readonly code: BeaconDeliveryCode;
  /** The sink, as {@link BeaconDeliveryErrorOptions.sink} says. */
  readonly sink: string;
  /** The URL posted to, without credentials, query or fragment; undefined for a sink that is not HTTP. */
  readonly url: string | undefined;
  /** The collector's last HTTP status, when it answered. */
  readonly status: number | undefined;
  /** Whether the sink tried and gave up (`failed`) or never tried (`dropped`). */
  readonly outcome: 'failed' | 'dropped';

  constructor(code: BeaconDeliveryCode, message: string, options: BeaconDeliveryErrorOptions) {
    super(code, message, options);
    this.sink = options.sink;
    this.url = options.url;
    this.status = options.status;
    this.outcome = options.outcome ?? 'failed';
  }
}

/** One secret a report left out, or sent without its version, and why. */
export interface OmittedSecret {
  /** The secret's name (cut to 256 characters). */
  readonly secret: string;
  /** The field that does not fit (`name`, `candidate`, `source`, `version`), or `secrets` beyond the limit. */
  readonly field: 'name' | 'candidate' | 'source' | 'version' | 'secrets';
  /** What is wrong with it, without its content: `is 300 characters; the collector accepts at most 256`. */
  readonly problem: string;
  /** `left-out`: the secret is not in the reports. `no-version`: it is, without its `version`. */
  readonly effect: 'left-out' | 'no-version';
}

/**
 * The beacon's reports leave out secrets whose fields the collector would refuse (the whole report with them),
 * or list more secrets than a report may (`BEACON_LIMITS.secrets`): those secrets are invisible to `verify`.
 * Code `BEACON_SECRET_OMITTED`.
 */
export class BeaconOmissionError extends KeyflipError {
  override name = 'BeaconOmissionError';
  declare readonly code: 'BEACON_SECRET_OMITTED';
  /** Every secret concerned, in declaration order. */
  readonly omitted: readonly OmittedSecret[];

  constructor(omitted: readonly OmittedSecret[]) {
    super('BEACON_SECRET_OMITTED', omissionMessage(omitted));
    this.omitted = omitted;
  }
}

const SHOWN = 5;

function omissionMessage(omitted: readonly OmittedSecret[]): string {
  const leftOut = omitted.filter((o) => o.effect === 'left-out').length;
  const noVersion = omitted.length - leftOut;
  const head = [
    leftOut > 0 ? `leave out ${leftOut} secret${leftOut === 1 ? '' : 's'} (\`verify\` cannot see them)` : '',
    noVersion > 0 ? `send ${noVersion} without its version (verify those by fingerprint)` : '',
  ]
    .filter((part) => part !== '')
    .join(' and ');
  const parts = omitted
    .slice(0, SHOWN)
    .map((o) => `${quote(o.secret)}: ${o.field === 'secrets' ? '' : `its ${o.field} `}${o.problem}`);
  if (omitted.length > SHOWN) parts.push(`and ${omitted.length - SHOWN} more`);
  return (
    `usage beacon: its reports ${head}, because the collector would refuse them: ${parts.join('; ')}. ` +
    'Shorten those names or candidates, or declare fewer secrets per resolver'
  );
}

function quote(name: string): string {
  return JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
}
