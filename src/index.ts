/**
 * `keyflip`: the resolver (`createResolver`), its secrets and families, the sources that ship with it (memory,
 * env, file), fingerprints, redaction, opt-in logging of its events and the error classes.
 * @module keyflip
 */
export { createResolver, Resolver, type ResolverOptions } from './resolver.js';
export { SecretHandle } from './handle.js';
export { SecretFamily } from './family.js';
export { parseChain, type Candidate } from './chain.js';
export { MAX_TIMER_MS } from './check.js';
export { fingerprint, isFingerprint, DEFAULT_FINGERPRINT_KEY } from './fingerprint.js';
export {
  ABSENT_REASONS,
  ConfigurationError,
  DependencyError,
  ERROR_CODES,
  IntegrityError,
  InvalidCandidateError,
  isKeyflipError,
  KeyflipError,
  NotReadyError,
  ParseError,
  ReadyError,
  SecretNotFoundError,
  SecretRevokedError,
  SourceUnavailableError,
  type AbsentReason,
  type KeyflipErrorCode,
  type ReadyFailure,
  type SkippedCandidate,
  type SkipReason,
} from './errors.js';
export type {
  ErrorEvent,
  FallbackEvent,
  ResolveEvent,
  ResolverErrorEvent,
  ResolverEvents,
  RevokeEvent,
  RotateEvent,
  SecretEvents,
} from './events.js';
export type {
  AbsentResult,
  Clock,
  FamilyOptions,
  FetchContext,
  FoundResult,
  SecretInfo,
  SecretOptions,
  SecretStatus,
  Source,
  SourceRef,
  SourceResult,
  TimerHandle,
} from './types.js';
export {
  LOG_LEVELS,
  LOG_STYLES,
  logEvents,
  type EventLogger,
  type LogEventsOptions,
  type LogFields,
  type LogLevel,
  type LogStyle,
} from './log-events.js';
export { memorySource, type MemorySource, type MemorySourceOptions } from './sources/memory.js';
export { envSource, type EnvSourceOptions } from './sources/env.js';
export { fileSource, type FileSourceOptions } from './sources/file.js';
export type {
  AttachedUsageReporter,
  SecretChange,
  SecretUsage,
  UsageReporter,
  UsageReporterHost,
  UsageReporterStats,
} from './usage-reporter.js';
