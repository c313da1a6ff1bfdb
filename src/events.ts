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

/** The events a resolver emits: every secret's events, plus the same for family members. */
export type ResolverEvents = SecretEvents;

/** The name of an event. */
export type EventName = keyof SecretEvents;
