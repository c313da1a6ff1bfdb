/**
 * 'keyflip/collector': receives usage beacons and answers "who still uses fingerprint X of SECRET in the
 * last window?" — in process (`createCollector`), over HTTP (`startCollectorServer`, `keyflip collector`),
 * and as step 4 of the rotation playbook (`verifyRetired`, `keyflip verify`).
 */
export {
  createCollector,
  type Collector,
  type CollectorOptions,
  type CollectorStats,
} from './collector.js';
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
export { collectorUsageSource, type CollectorUsageSourceOptions } from './collector-usage-source.js';
export { UsageSourceError } from './usage-source-error.js';
export type {
  CollectorInstance,
  CollectorInstanceSecret,
  FingerprintUsage,
  SecretUsage,
  UsageInstance,
  UsageSource,
} from './types.js';
export { formatDuration, parseDuration } from '../duration.js';
export { prometheusUsageSource, type PrometheusUsageSourceOptions } from './prometheus.js';
