/**
 * The schema check of a `keyflip.beacon/v1` report as the collector receives it: from the network, so
 * anything at all. It never echoes what it received (a field's type or length, never its text), walks
 * only the fields it knows (no recursion into what a sender made up), and returns a fresh object holding
 * only those fields, so a `__proto__` or `constructor` key in a body has nothing to act on.
 */
import {
  BEACON_LIMITS,
  BEACON_SCHEMA,
  type BeaconInstance,
  type BeaconReport,
  type BeaconSecret,
} from '../beacon/types.js';
import { isRecord } from '../check.js';
import { KeyflipError } from '../errors.js';
import { isFingerprint } from '../fingerprint.js';
import type { SecretStatus } from '../types.js';

/** The bounds of a report the collector accepts: the beacon's {@link BEACON_LIMITS}. A report outside them: 400. */
export const REPORT_LIMITS = BEACON_LIMITS;

/** Where a report was wrong and how; never what it held. */
export interface ReportIssue {
  /** `secrets[3].uses`, `instance.pid`, `labels["region"]` (keys truncated). */
  readonly path: string;
  /** What is wrong there, for people (`expected a string, got a number`); never the value. */
  readonly problem: string;
}

/**
 * A report (or a request to the collector) that does not pass the schema check. `code` is stable;
 * `issues` says which field is wrong and what is wrong with it (at most 10), never its content.
 */
export class CollectorInputError extends KeyflipError {
  override name = 'CollectorInputError';
  declare readonly code: 'INVALID_REPORT' | 'INVALID_QUERY';
  /** Which fields are wrong and how (at most 10). */
  readonly issues: readonly ReportIssue[];

  constructor(code: 'INVALID_REPORT' | 'INVALID_QUERY', issues: readonly ReportIssue[]) {
    const shown = issues.slice(0, MAX_ISSUES);
    super(code, shown.map((i) => (i.path === '' ? i.problem : `${i.path}: ${i.problem}`)).join('; '));
    this.issues = shown;
  }
}

const MAX_ISSUES = 10;
const STATUSES: ReadonlySet<string> = new Set<SecretStatus>(['ok', 'stale', 'revoked']);
/** C0 controls and DEL: refused in every string (they would reach terminals and logs). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is what this pattern is for
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Times are ms since the epoch: finite, not negative, before the year 2500. */
const MAX_TIME = 16_725_225_600_000;

type Issues = ReportIssue[];

/** Says what a received value is, without its content. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `a string of ${value.length} character${value.length === 1 ? '' : 's'}`;
  if (typeof value === 'number')
    return Number.isNaN(value) ? 'NaN' : Number.isFinite(value) ? 'a number' : 'an infinite number';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** ` out of …` after the description of a finite number that is not accepted; nothing for anything else. */
const outOf = (value: unknown, what: string): string =>
  typeof value === 'number' && Number.isFinite(value) ? ` out of ${what}` : '';

/** A wrong value of a field that takes fixed strings: never quoted. */
const otherThan = (value: unknown): string => (typeof value === 'string' ? 'another string' : describe(value));

/** A key written into an error path: JSON-quoted, at most 32 characters of it. */
function keyPath(key: string): string {
  const shown = key.length > 32 ? `${key.slice(0, 32)}…` : key;
  return `[${JSON.stringify(shown)}]`;
}

/** An own property only: never one inherited from Object.prototype (`constructor`, `__proto__`). */
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function str(issues: Issues, path: string, value: unknown, max: number, required: boolean): string | undefined {
  if (value === undefined) {
    if (required) issues.push({ path, problem: 'is required (a string)' });
    return undefined;
  }
  if (typeof value !== 'string') {
    issues.push({ path, problem: `expected a string, got ${describe(value)}` });
    return undefined;
  }
  if (value.length === 0 && required) {
    issues.push({ path, problem: 'must not be empty' });
    return undefined;
  }
  if (value.length > max) {
    issues.push({ path, problem: `expected at most ${max} characters, got ${value.length}` });
    return undefined;
  }
  if (CONTROL.test(value)) {
    issues.push({ path, problem: 'contains a control character' });
    return undefined;
  }
  return value;
}

function time(issues: Issues, path: string, value: unknown, required: boolean): number | undefined {
  if (value === undefined) {
    if (required) issues.push({ path, problem: 'is required (ms since the epoch)' });
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TIME) {
    issues.push({
      path,
      problem: `expected ms since the epoch (a finite number ≥ 0), got ${describe(value)}${outOf(value, 'range')}`,
    });
    return undefined;
  }
  return value;
}

function int(issues: Issues, path: string, value: unknown, max: number): number | undefined {
  if (value === undefined) {
    issues.push({ path, problem: 'is required (an integer)' });
    return undefined;
  }
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    issues.push({
      path,
      problem: `expected an integer from 0 to ${max}, got ${describe(value)}${outOf(value, 'range or not whole')}`,
    });
    return undefined;
  }
  return value;
}

/** The declared beacon interval: absent in reports before keyflip 0.2, else ms within `REPORT_LIMITS.intervalMs`. */
function intervalOf(issues: Issues, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const { min, max } = REPORT_LIMITS.intervalMs;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    issues.push({
      path: 'intervalMs',
      problem: `expected a number of ms from ${min} to ${max}, got ${describe(value)}${outOf(value, 'range')}`,
    });
    return undefined;
  }
  return value;
}

function instanceOf(issues: Issues, value: unknown): BeaconInstance | undefined {
  if (!isRecord(value)) {
    issues.push({
      path: 'instance',
      problem: value === undefined ? 'is required (an object)' : `expected an object, got ${describe(value)}`,
    });
    return undefined;
  }
  const c = REPORT_LIMITS.chars;
  const before = issues.length;
  const id = str(issues, 'instance.id', own(value, 'id'), c.id, true);
  const host = str(issues, 'instance.host', own(value, 'host'), c.host, true);
  const pid = int(issues, 'instance.pid', own(value, 'pid'), 4_294_967_295);
  const startedAt = time(issues, 'instance.startedAt', own(value, 'startedAt'), true);
  const runtime = str(issues, 'instance.runtime', own(value, 'runtime'), c.runtime, true);
  const keyflip = str(issues, 'instance.keyflip', own(value, 'keyflip'), c.keyflip, true);
  // Every field is required: each one missing pushed an issue.
  if (
    issues.length > before ||
    id === undefined ||
    host === undefined ||
    pid === undefined ||
    startedAt === undefined ||
    runtime === undefined ||
    keyflip === undefined
  )
    return undefined;
  return { id, host, pid, startedAt, runtime, keyflip };
}

function secretOf(issues: Issues, value: unknown, i: number): BeaconSecret | undefined {
  const at = `secrets[${i}]`;
  if (!isRecord(value)) {
    issues.push({ path: at, problem: `expected an object, got ${describe(value)}` });
    return undefined;
  }
  const c = REPORT_LIMITS.chars;
  const before = issues.length;
  const name = str(issues, `${at}.name`, own(value, 'name'), c.name, true);
  const candidate = str(issues, `${at}.candidate`, own(value, 'candidate'), c.candidate, true);
  const source = str(issues, `${at}.source`, own(value, 'source'), c.source, true);
  const version = str(issues, `${at}.version`, own(value, 'version'), c.version, false);
  const fp = own(value, 'fingerprint');
  if (typeof fp !== 'string' || !isFingerprint(fp)) {
    issues.push({
      path: `${at}.fingerprint`,
      problem:
        fp === undefined
          ? 'is required (kf_ + 12 lowercase hex digits)'
          : `expected kf_ + 12 lowercase hex digits, got ${describe(fp)}`,
    });
  }
  const loadedAt = time(issues, `${at}.loadedAt`, own(value, 'loadedAt'), true);
  const lastUsedAt = time(issues, `${at}.lastUsedAt`, own(value, 'lastUsedAt'), false);
  const uses = int(issues, `${at}.uses`, own(value, 'uses'), Number.MAX_SAFE_INTEGER);
  const status = own(value, 'status');
  if (typeof status !== 'string' || !STATUSES.has(status)) {
    issues.push({
      path: `${at}.status`,
      problem:
        status === undefined
          ? 'is required (ok, stale or revoked)'
          : `expected ok, stale or revoked, got ${otherThan(status)}`,
    });
  }
  if (
    issues.length > before ||
    name === undefined ||
    candidate === undefined ||
    source === undefined ||
    loadedAt === undefined ||
    uses === undefined
  )
    return undefined;
  const secret: { -readonly [K in keyof BeaconSecret]: BeaconSecret[K] } = {
    name,
    candidate,
    source,
    fingerprint: fp as string,
    loadedAt,
    uses,
    status: status as SecretStatus,
  };
  if (version !== undefined && version !== '') secret.version = version;
  if (lastUsedAt !== undefined) secret.lastUsedAt = lastUsedAt;
  return secret;
}

function labelsOf(issues: Issues, value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (!isRecord(value)) {
    issues.push({ path: 'labels', problem: `expected an object of strings, got ${describe(value)}` });
    return undefined;
  }
  const keys = Object.keys(value);
  if (keys.length > REPORT_LIMITS.labels) {
    issues.push({ path: 'labels', problem: `expected at most ${REPORT_LIMITS.labels} labels, got ${keys.length}` });
    return undefined;
  }
  const entries: [string, string][] = [];
  for (const key of keys) {
    if (key.length === 0 || key.length > REPORT_LIMITS.chars.labelKey || CONTROL.test(key)) {
      issues.push({
        path: `labels${keyPath(key)}`,
        problem: `a label name must have 1 to ${REPORT_LIMITS.chars.labelKey} characters and no control character`,
      });
      continue;
    }
    const v = str(issues, `labels${keyPath(key)}`, value[key], REPORT_LIMITS.chars.labelValue, false);
    if (v !== undefined) entries.push([key, v]);
    else if (value[key] === undefined)
      issues.push({ path: `labels${keyPath(key)}`, problem: 'expected a string, got undefined' });
  }
  // Object.fromEntries defines own properties: a key named __proto__ stays a plain key.
  return Object.fromEntries(entries);
}

/**
 * Checks that `input` is a `keyflip.beacon/v1` report within {@link REPORT_LIMITS} and returns a fresh
 * copy holding only the known fields. Throws {@link CollectorInputError} (`INVALID_REPORT`) naming each
 * wrong field (up to 10) and what is wrong with it.
 */
export function validateReport(input: unknown): BeaconReport {
  if (!isRecord(input)) {
    throw new CollectorInputError('INVALID_REPORT', [
      { path: '', problem: `a report must be a JSON object, got ${describe(input)}` },
    ]);
  }
  const issues: Issues = [];
  const schema = own(input, 'schema');
  if (schema !== BEACON_SCHEMA) {
    issues.push({
      path: 'schema',
      problem: `expected "${BEACON_SCHEMA}", got ${schema === undefined ? 'nothing' : otherThan(schema)}`,
    });
    // Not a beacon report at all: say so and stop there.
    throw new CollectorInputError('INVALID_REPORT', issues);
  }
  const c = REPORT_LIMITS.chars;
  const sentAt = time(issues, 'sentAt', own(input, 'sentAt'), true);
  const service = str(issues, 'service', own(input, 'service'), c.service, true);
  const environment = str(issues, 'environment', own(input, 'environment'), c.environment, false);
  const labels = labelsOf(issues, own(input, 'labels'));
  const instance = instanceOf(issues, own(input, 'instance'));
  const intervalMs = intervalOf(issues, own(input, 'intervalMs'));
  const list = own(input, 'secrets');
  const secrets: BeaconSecret[] = [];
  if (!Array.isArray(list)) {
    issues.push({
      path: 'secrets',
      problem: list === undefined ? 'is required (an array)' : `expected an array, got ${describe(list)}`,
    });
  } else if (list.length > REPORT_LIMITS.secrets) {
    issues.push({ path: 'secrets', problem: `expected at most ${REPORT_LIMITS.secrets} secrets, got ${list.length}` });
  } else {
    for (let i = 0; i < list.length && issues.length < MAX_ISSUES; i++) {
      const secret = secretOf(issues, list[i], i);
      if (secret !== undefined) secrets.push(secret);
    }
  }
  // The required fields missing each pushed an issue: undefined here means issues to report.
  if (issues.length > 0 || sentAt === undefined || service === undefined || instance === undefined)
    throw new CollectorInputError('INVALID_REPORT', issues);
  const report: { -readonly [K in keyof BeaconReport]: BeaconReport[K] } = {
    schema: BEACON_SCHEMA,
    sentAt,
    service,
    instance,
    secrets,
  };
  if (environment !== undefined) report.environment = environment;
  if (labels !== undefined) report.labels = labels;
  if (intervalMs !== undefined) report.intervalMs = intervalMs;
  return report;
}
