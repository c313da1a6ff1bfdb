import type { KeyflipError, SkippedCandidate } from './errors.js';
import type { SecretInfo } from './types.js';

/** A secret resolved (first load or a refresh that confirmed or changed its value). */
export interface ResolveEvent {
  readonly secret: string;
  readonly info: SecretInfo;
}

/** The served value changed: another candidate won, or the same candidate holds a new value. */
export interface RotateEvent {
  readonly secret: string;
  readonly previous: SecretInfo;
  readonly current: SecretInfo;
}

/** Higher candidates were skipped on the way to the winner. */
export interface FallbackEvent {
  readonly secret: string;
  readonly skipped: readonly SkippedCandidate[];
  readonly current: SecretInfo;
}

/** A fetch, a parse or a listener failed. `servingStale` says whether a last good value is still served. */
export interface ErrorEvent {
  readonly secret: string;
  readonly error: KeyflipError;
  readonly servingStale: boolean;
}

/** Every candidate went absent after the secret had a value. */
export interface RevokeEvent {
  readonly secret: string;
  readonly previous: SecretInfo;
  readonly skipped: readonly SkippedCandidate[];
}

/** The events a secret handle emits: one payload object each, never a value. */
export interface SecretEvents {
  resolve: [event: ResolveEvent];
  rotate: [event: RotateEvent];
  fallback: [event: FallbackEvent];
  error: [event: ErrorEvent];
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
  error: [event: ErrorEvent | ResolverErrorEvent];
}

/** The name of an event. */
export type EventName = keyof SecretEvents;
