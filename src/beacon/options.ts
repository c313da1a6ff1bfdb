/**
 * The options of `usageBeacon()`, checked when it is called: their types, and every field that reaches a report
 * against {@link BEACON_LIMITS}, so that a process is never invisible because the collector refuses its reports
 * (a `ConfigurationError` names the field and the limit, never the content).
 */
import { describeValue, isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { type CharLimit, labelPath, misfit } from './fields.js';
import { BEACON_LIMITS, type BeaconOptions, type BeaconSink } from './types.js';

/** @default `BeaconOptions.intervalMs` */
export const DEFAULT_BEACON_INTERVAL_MS = 60_000;

/** Validated options. */
export interface BeaconSettings {
  readonly sinks: readonly BeaconSink[];
  readonly service: string;
  readonly environment: string | undefined;
  /** The configured period, ms, before jitter: what every report declares as `intervalMs`. */
  readonly intervalMs: number;
  /** `undefined`: a random UUID is drawn when the beacon is attached to a resolver. */
  readonly instanceId: string | undefined;
  readonly labels: Readonly<Record<string, string>> | undefined;
}

/**
 * Checks the options of `usageBeacon` and throws a `ConfigurationError` that names what is wrong. The
 * instance id is drawn when the beacon is attached (one per resolver), unless `instanceId` is given.
 */
export function validateBeaconOptions(options: unknown): BeaconSettings {
  if (!isRecord(options)) {
    throw new ConfigurationError(
      'usageBeacon(options): `beacon` options must be an object: ' +
        '{ sink, service, environment?, intervalMs?, instanceId?, labels? }',
    );
  }
  const o = options as Partial<Record<keyof BeaconOptions, unknown>>;
  if (typeof o.service !== 'string' || o.service.trim() === '') {
    throw new ConfigurationError(
      '`beacon.service` is required: a non-empty string naming the service this process belongs to ' +
        `(e.g. 'checkout-api'), not ${describeValue(o.service)}`,
    );
  }
  fits('service', o.service, 'service');
  const sinks = sinkList(o.sink);
  const intervalMs = interval(o.intervalMs);
  if (o.environment !== undefined && (typeof o.environment !== 'string' || o.environment === '')) {
    throw new ConfigurationError(
      `\`beacon.environment\` must be a non-empty string when given, not ${describeValue(o.environment)}`,
    );
  }
  if (o.environment !== undefined) fits('environment', o.environment, 'environment');
  if (o.instanceId !== undefined && (typeof o.instanceId !== 'string' || o.instanceId.trim() === '')) {
    throw new ConfigurationError(
      `\`beacon.instanceId\` must be a non-empty string when given, not ${describeValue(o.instanceId)}`,
    );
  }
  if (o.instanceId !== undefined) fits('instanceId', o.instanceId, 'id');
  return {
    sinks,
    service: o.service,
    environment: o.environment as string | undefined,
    intervalMs,
    instanceId: o.instanceId as string | undefined,
    labels: labelsOf(o.labels),
  };
}

/** Throws when `value` would not fit its field of a report. */
function fits(field: string, value: string, limit: CharLimit): void {
  const problem = misfit(value, limit);
  if (problem !== undefined) throw new ConfigurationError(`usageBeacon: ${field} ${problem}${which(value, limit)}`);
}

/** ` (BEACON_LIMITS.chars.service)` after a length problem: where the limit is written. */
function which(value: string, limit: CharLimit): string {
  return value.length > BEACON_LIMITS.chars[limit] ? ` (BEACON_LIMITS.chars.${limit})` : '';
}

function sinkList(sink: unknown): BeaconSink[] {
  const list: unknown[] = Array.isArray(sink) ? [...(sink as unknown[])] : sink === undefined ? [] : [sink];
  if (list.length === 0) {
    throw new ConfigurationError(
      '`beacon.sink` is required: a sink ({ send(report) }, e.g. logSink() or httpSink({ url }) from ' +
        'keyflip/beacon) or a non-empty array of sinks',
    );
  }
  list.forEach((one, i) => {
    const where = Array.isArray(sink) ? `\`beacon.sink[${i}]\`` : '`beacon.sink`';
    if (typeof one !== 'object' || one === null)
      throw new ConfigurationError(
        `${where} must be a sink object with a \`send(report)\` method, not ${describeValue(one)}`,
      );
    const s = one as { send?: unknown; close?: unknown; name?: unknown };
    if (typeof s.send !== 'function') throw new ConfigurationError(`${where} has no \`send(report)\` method`);
    if (s.close !== undefined && typeof s.close !== 'function')
      throw new ConfigurationError(`${where}.close must be a function when given`);
    if (s.name !== undefined && typeof s.name !== 'string')
      throw new ConfigurationError(`${where}.name must be a string when given, not ${describeValue(s.name)}`);
  });
  return list as BeaconSink[];
}

function interval(value: unknown): number {
  const { min, max } = BEACON_LIMITS.intervalMs;
  const intervalMs = value ?? DEFAULT_BEACON_INTERVAL_MS;
  if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs)) {
    throw new ConfigurationError(
      `\`beacon.intervalMs\` must be a whole number of milliseconds from ${min} to ${max}, not ${describeValue(value)}`,
    );
  }
  if (intervalMs < min || intervalMs > max) {
    throw new ConfigurationError(
      `usageBeacon: intervalMs is ${intervalMs}; the collector accepts ${min} to ${max} ms (BEACON_LIMITS.intervalMs)`,
    );
  }
  return intervalMs;
}

function labelsOf(value: unknown): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    throw new ConfigurationError(`\`beacon.labels\` must be an object of strings, not ${describeValue(value)}`);
  }
  const entries = Object.entries(value);
  if (entries.length > BEACON_LIMITS.labels) {
    throw new ConfigurationError(
      `usageBeacon: labels has ${entries.length} labels; the collector accepts at most ${BEACON_LIMITS.labels} ` +
        '(BEACON_LIMITS.labels)',
    );
  }
  const labels: [string, string][] = [];
  for (const [key, label] of entries) {
    const path = labelPath(key);
    if (typeof label !== 'string')
      throw new ConfigurationError(`\`beacon.${path}\` must be a string, not ${describeValue(label)}`);
    if (key === '') throw new ConfigurationError('usageBeacon: a label name is empty; the collector refuses it');
    const keyProblem = misfit(key, 'labelKey');
    if (keyProblem !== undefined) {
      throw new ConfigurationError(`usageBeacon: the name of ${path} ${keyProblem}${which(key, 'labelKey')}`);
    }
    fits(path, label, 'labelValue');
    labels.push([key, label]);
  }
  // Object.fromEntries defines own properties: a key named __proto__ stays a plain key.
  return Object.freeze(Object.fromEntries(labels));
}
