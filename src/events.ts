import type { KeyflipError, SkippedCandidate } from './errors.js';
import type { SecretInfo } from './types.js';

/** A secret resolved (first load or a refresh that confirmed or changed its value). */
export interface ResolveEvent {
  /** The secret's name (`family[id]` for a family member). */
  readonly secret: string;
  /** What is served now: candidate, source, version, fingerprint; never the value. */
  readonly info: SecretInfo;
}

/** The served value changed: another candidate won, or the same candidate holds a new value. */
export interface RotateEvent {
  /** The secret's name (`family[id]` for a family member). */
  readonly secret: string;
  /** What was served before. */
  readonly previous: SecretInfo;
  /** What is served now. */
  readonly current: SecretInfo;
}

/** Higher candidates were skipped on the way to the winner. */
export interface FallbackEvent {
  /** The secret's name (`family[id]` for a family member). */
  readonly secret: string;
  /** The candidates skipped, in chain order, each with the reason (`not-found`, `disabled`, …). */
  readonly skipped: readonly SkippedCandidate[];
  /** What is served now: the winner. */
  readonly current: SecretInfo;
}

/** A fetch, a parse or a listener failed. `servingStale` says whether a last good value is still served. */
export interface ErrorEvent {
  /** The secret's name (`family[id]` for a family member). */
  readonly secret: string;
  /** What failed: a `KeyflipError` (its `code` says what), with no value in its message. */
  readonly error: KeyflipError;
  /** True when the last good value is still served (status `stale`); false when the secret has none. */
  readonly servingStale: boolean;
}

/** Every candidate went absent after the secret had a value. */
export interface RevokeEvent {
  /** The secret's name (`family[id]` for a family member). */
  readonly secret: string;
  /** What was served until then. */
  readonly previous: SecretInfo;
  /** Every candidate of the chain, each with the reason it is absent. */
  readonly skipped: readonly SkippedCandidate[];
}

/** The events a secret handle emits: one payload object each, never a value. */
export interface SecretEvents {
  /** A load or a refresh succeeded ({@link ResolveEvent}). */
  resolve: [event: ResolveEvent];
  /** The served value changed ({@link RotateEvent}). */
  rotate: [event: RotateEvent];
  /** Higher candidates were skipped ({@link FallbackEvent}). */
  fallback: [event: FallbackEvent];
  /** A fetch, a parse or a listener failed ({@link ErrorEvent}). */
  error: [event: ErrorEvent];
  /** Every candidate went absent ({@link RevokeEvent}). */
  revoke: [event: RevokeEvent];
}

/**
 * An `error` of the resolver itself, about no one secret: the usage beacon's (`ResolverOptions.beacon`) — a sink
 * that cannot deliver reports, or secrets left out of them — told once per change of state, never per report.
 * Tell it from an {@link ErrorEvent} by `secret`, which is undefined here.
 */
export interface ResolverErrorEvent {
  /** Undefined: the error is about no one secret. */
  readonly secret?: undefined;
  /** What raised it: `'beacon'`, the usage reporter plugged in as `ResolverOptions.beacon`. */
  readonly component: 'beacon';
  /** A `KeyflipError` with a `BEACON_*` code (a `BeaconDeliveryError` from `keyflip/beacon`). */
  readonly error: KeyflipError;
  /** Always false: no secret's value is concerned. */
  readonly servingStale: false;
}

/**
 * The events a resolver emits: every secret's events, plus the same for family members; its `error` event also
 * carries the resolver's own errors ({@link ResolverErrorEvent}, `secret` undefined).
 */
export interface ResolverEvents extends Omit<SecretEvents, 'error'> {
  /** A secret's failure ({@link ErrorEvent}) or the resolver's own ({@link ResolverErrorEvent}). */
  error: [event: ErrorEvent | ResolverErrorEvent];
}

/** The name of an event. */
export type EventName = keyof SecretEvents;
