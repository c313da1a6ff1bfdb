/**
 * 'keyflip/collector': receives usage beacons and answers "who still uses fingerprint X of SECRET in the
 * last window?" — in process (`createCollector`), over HTTP (`startCollectorServer`, `keyflip collector`),
 * and as step 4 of the rotation playbook (`verifyRetired`, `keyflip verify`).
 * @module keyflip/collector
 */
export {
  createCollector,
  type Collector,
  type CollectorClock,
  type CollectorOptions,
  type CollectorStats,
  type IngestRefusal,
  type IngestResult,
  type RefusalReason,
  type StateFileStats,
} from './collector.js';
export { DEFAULT_MAX_BYTES, type CollectorLimitOptions } from './limits.js';
export { openCollector, type OpenCollectorOptions } from './open-collector.js';
export { CollectorInputError, REPORT_LIMITS, validateReport, type ReportIssue } from './report.js';
export { startCollectorServer, type CollectorServer, type CollectorServerOptions } from './server.js';
export {
  verifyRetired,
  type UsageAnswerer,
  type VerifyOffender,
  type VerifyOptions,
  type VerifyReason,
  type VerifyResult,
} from './verify-retired.js';
export { MISSING_CODES, type MissingCode, type MissingEvidence } from './missing-evidence.js';
export { parseRetired, type RetiredKey } from './retired-key.js';
export { collectorUsageSource, type CollectorUsageSourceOptions } from './collector-usage-source.js';
export { UsageSourceError } from './usage-source-error.js';
export type {
  CollectorInstance,
  CollectorInstanceSecret,
  DropReason,
  DroppedEvidence,
  FingerprintUsage,
  SecretUsage,
  UsageCoverage,
  UsageInstance,
  UsageSource,
} from './types.js';
export { formatDuration, parseDuration } from '../duration.js';
export { prometheusUsageSource, type PrometheusUsageSourceOptions } from './prometheus.js';
