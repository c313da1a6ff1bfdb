/**
 * 'keyflip/collector': receives usage beacons and answers "who still uses fingerprint X of SECRET in the
 * last window?" — in process (`createCollector`), over HTTP (`startCollectorServer`, `keyflip collector`),
 * and as step 4 of the rotation playbook (`verifyRetired`, `keyflip verify`).
 */
export {
  createCollector,
  CollectorInputError,
  REPORT_LIMITS,
  validateReport,
  type Collector,
  type CollectorInstance,
  type CollectorInstanceSecret,
  type CollectorOptions,
  type CollectorStats,
  type ReportIssue,
} from './collector.js';
export { startCollectorServer, type CollectorServer, type CollectorServerOptions } from './server.js';
export {
  collectorUsageSource,
  UsageSourceError,
  verifyRetired,
  type CollectorUsageSourceOptions,
  type UsageAnswerer,
  type VerifyOffender,
  type VerifyOptions,
  type VerifyReason,
  type VerifyResult,
} from './verify.js';
export type { FingerprintUsage, SecretUsage, UsageInstance, UsageSource } from './types.js';
export { formatDuration, parseDuration } from '../duration.js';
export { prometheusUsageSource, type PrometheusUsageSourceOptions } from './prometheus.js';
