/**
 * The collector's state file: what it knows — the instances, the fingerprints they listed with their use samples,
 * the dropped evidence, since when it has observed — so that a restart keeps the evidence. Fingerprints and
 * metadata only (names, sources, versions, hosts): never a secret value, which the collector never receives.
 *
 * JSON Lines, tagged with a format and a version, one record a line so no line grows with the state:
 *
 *   {"format":"keyflip.collector-state","version":1,"savedAt":…,"observedSince":…}
 *   {"drop":{"reason":…,"from":…,"to":…,"count":…[,"secret":…]}}        any number of them
 *   {"instance":{…}}                                                   each followed by what it holds:
 *   {"secret":{"name":…,"lastSeen":…,"fingerprints":[…]}}
 *   {"end":{"instances":N}}                                            a file without it is not whole
 *
 * Saved atomically: a temp file in the same directory (mode 0600), fsync, rename over the file, fsync of the
 * directory; a crash mid-save leaves the previous file whole (and a temp file, removed on the next open). Loaded
 * within the collector's bounds: what no longer fits (the bounds were lowered) is shed and recorded as dropped. A
 * file that is not one, or is damaged, is an error naming the path: the collector never starts empty over it.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BEACON_LIMITS } from '../beacon/types.js';
import { isRecord } from '../check.js';
import { ConfigurationError } from '../errors.js';
import { isFingerprint } from '../fingerprint.js';
import type { CollectorParts } from './collector.js';
import { DROP_REASONS } from './dropped-evidence.js';
import { GAPS } from './instance-registry.js';
import { fingerprintBytes, identityBytes, secretBytes } from './memory-budget.js';
import type { FingerprintRecord, InstanceRecord, SecretRecord } from './records.js';
import type { DropReason, DroppedEvidence } from './types.js';
import { restoreSamples, SAMPLE_CAP, samplePairs } from './use-samples.js';

/** The format tag of the first line. */
export const STATE_FORMAT = 'keyflip.collector-state';
/** The version of the format this keyflip writes and reads. */
export const STATE_VERSION = 1;

/** The first line's facts. */
export interface StateHeader {
  /** When the save began (collector time, ms): whatever was reported after it may be missing from the file. */
  readonly savedAt: number;
  /** Since when the collector has observed the fleet (ms), carried across restarts. */
  readonly observedSince: number;
}

/** Bytes written at once while saving. */
const CHUNK_BYTES = 1_048_576;
/** The longest line read back: far beyond any line written (a secret line holds at most a few hundred KiB). */
const MAX_LINE_BYTES = 8 * 1_048_576;
const STATUSES: ReadonlySet<string> = new Set(['ok', 'stale', 'revoked']);
const MAX_TIME = 16_725_225_600_000;

// ---------------------------------------------------------------------------------------------------------------
// Saving

/** Writes lines to a file in chunks of about {@link CHUNK_BYTES}. */
class LineWriter {
  readonly #handle: FileHandle;
  #pending: string[] = [];
  #size = 0;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async line(text: string): Promise<void> {
    this.#pending.push(text, '\n');
    this.#size += text.length + 1;
    if (this.#size >= CHUNK_BYTES) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.#size === 0) return;
    const data = Buffer.from(this.#pending.join(''), 'utf8');
    this.#pending = [];
    this.#size = 0;
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.#handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
  }
}

function instanceLine(instance: InstanceRecord): string {
  const out: Record<string, unknown> = {
    id: instance.id,
    service: instance.service,
    host: instance.host,
    pid: instance.pid,
    startedAt: instance.startedAt,
    runtime: instance.runtime,
    keyflip: instance.keyflip,
    firstSeen: instance.firstSeen,
    lastSeen: instance.lastSeen,
    sentAt: instance.sentAt,
    reports: instance.reports,
    gaps: instance.gaps,
  };
  if (instance.environment !== undefined) out.environment = instance.environment;
  if (instance.labels !== undefined) out.labels = instance.labels;
  if (instance.declaredIntervalMs !== undefined) out.intervalMs = instance.declaredIntervalMs;
  return JSON.stringify({ instance: out });
}

function secretLine(held: SecretRecord): string {
  const fingerprints = [...held.fingerprints.values()].map((fp) => {
    const out: Record<string, unknown> = {
      fingerprint: fp.fingerprint,
      candidate: fp.candidate,
      source: fp.source,
      status: fp.status,
      loadedAt: fp.loadedAt,
      lastSeen: fp.lastSeen,
      since: fp.since,
      samples: samplePairs(fp),
    };
    if (fp.version !== undefined) out.version = fp.version;
    if (fp.lastUsedAt !== undefined) out.lastUsedAt = fp.lastUsedAt;
    return out;
  });
  return JSON.stringify({ secret: { name: held.name, lastSeen: held.lastSeen, fingerprints } });
}

function dropLine(span: DroppedEvidence, secret?: string): string {
  const drop = { reason: span.reason, from: span.from, to: span.to, count: span.count };
  return JSON.stringify({ drop: secret === undefined ? drop : { ...drop, secret } });
}

/** The temp file of one save: in the same directory as the file, so the rename stays within one file system. */
function tempPath(path: string): string {
  return join(dirname(path), `${basename(path)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Saves the state atomically. Each instance is written as it stands when its turn comes (reports keep arriving
 * while the file is written, between chunks): the file holds at least everything reported before `savedAt`.
 * Rejects with the file system's error (the previous file is untouched then, the temp file removed).
 */
export async function saveState(path: string, parts: CollectorParts, header: StateHeader): Promise<void> {
  const temp = tempPath(path);
  const handle = await open(temp, 'wx', 0o600);
  try {
    const out = new LineWriter(handle);
    await out.line(JSON.stringify({ format: STATE_FORMAT, version: STATE_VERSION, ...header }));
    const drops = parts.drops.snapshot();
    for (const span of drops.all) await out.line(dropLine(span));
    for (const [secret, spans] of drops.bySecret) for (const span of spans) await out.line(dropLine(span, secret));
    let count = 0;
    for (const instance of [...parts.registry.values()]) {
      // Gone (expired) since the save began: not part of the state any more.
      if (parts.registry.get(instance.id) !== instance) continue;
      const lines = [instanceLine(instance), ...[...instance.secrets.values()].map(secretLine)];
      for (const line of lines) await out.line(line);
      count++;
    }
    await out.line(JSON.stringify({ end: { instances: count } }));
    await out.flush();
    await handle.sync();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
  await rename(temp, path);
  await syncDirectory(dirname(path));
}

/** Makes the rename durable (where the platform allows a directory to be synced). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Not supported here (Windows): the rename is as durable as the platform makes it.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Removes the temp files a save interrupted by a crash left next to `path` (theirs only, by their name). */
export async function removeLeftovers(path: string): Promise<void> {
  const base = basename(path).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`^${base}\\.\\d+-[0-9a-f]{8}\\.tmp$`);
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return; // no directory: the first save says so
  }
  for (const name of names) {
    if (pattern.test(name)) await rm(join(dirname(path), name), { force: true }).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Loading

/** What is wrong with a line, for the error message (never the line's content). */
class Damaged extends Error {}

const damaged = (problem: string): never => {
  throw new Damaged(problem);
};

function record(value: unknown, what: string): Record<string, unknown> {
  return isRecord(value) ? value : damaged(`${what} is not an object`);
}

function text(object: Record<string, unknown>, key: string, max: number, what: string): string {
  const value = Object.hasOwn(object, key) ? object[key] : undefined;
  if (typeof value !== 'string' || value.length > max) return damaged(`${what}.${key} is not a string of ≤ ${max}`);
  return value;
}

function optionalText(object: Record<string, unknown>, key: string, max: number, what: string): string | undefined {
  return Object.hasOwn(object, key) ? text(object, key, max, what) : undefined;
}

function number(object: Record<string, unknown>, key: string, what: string, max = MAX_TIME): number {
  const value = Object.hasOwn(object, key) ? object[key] : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max)
    return damaged(`${what}.${key} is not a number from 0 to ${max}`);
  return value;
}

function optionalNumber(object: Record<string, unknown>, key: string, what: string): number | undefined {
  return Object.hasOwn(object, key) ? number(object, key, what) : undefined;
}

function labelsOf(value: unknown): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const labels = record(value, 'instance.labels');
  const keys = Object.keys(labels);
  if (keys.length > BEACON_LIMITS.labels) damaged('instance.labels has too many labels');
  const entries = keys.map((key) => {
    if (key.length > BEACON_LIMITS.chars.labelKey) damaged('instance.labels has a name too long');
    return [key, text(labels, key, BEACON_LIMITS.chars.labelValue, 'instance.labels')] as const;
  });
  return Object.fromEntries(entries);
}

function instanceOf(value: unknown): InstanceRecord {
  const o = record(value, 'instance');
  const c = BEACON_LIMITS.chars;
  const w = 'instance';
  const gaps = Object.hasOwn(o, 'gaps') ? o.gaps : undefined;
  if (!Array.isArray(gaps) || gaps.length > GAPS || !gaps.every((g) => typeof g === 'number' && g > 0 && g < MAX_TIME))
    damaged('instance.gaps is not a list of positive numbers');
  const intervalMs = optionalNumber(o, 'intervalMs', w);
  if (intervalMs !== undefined && intervalMs < BEACON_LIMITS.intervalMs.min)
    damaged('instance.intervalMs is too short');
  return {
    id: text(o, 'id', c.id, w),
    service: text(o, 'service', c.service, w),
    environment: optionalText(o, 'environment', c.environment, w),
    labels: labelsOf(Object.hasOwn(o, 'labels') ? o.labels : undefined),
    host: text(o, 'host', c.host, w),
    pid: number(o, 'pid', w, 4_294_967_295),
    startedAt: number(o, 'startedAt', w),
    runtime: text(o, 'runtime', c.runtime, w),
    keyflip: text(o, 'keyflip', c.keyflip, w),
    firstSeen: number(o, 'firstSeen', w),
    lastSeen: number(o, 'lastSeen', w),
    sentAt: number(o, 'sentAt', w),
    reports: number(o, 'reports', w, Number.MAX_SAFE_INTEGER),
    gaps: [...(gaps as number[])],
    declaredIntervalMs: intervalMs,
    bytes: 0,
    secrets: new Map(),
  };
}

function fingerprintOf(value: unknown): FingerprintRecord {
  const o = record(value, 'secret.fingerprints[]');
  const c = BEACON_LIMITS.chars;
  const w = 'secret.fingerprints[]';
  const fingerprint = text(o, 'fingerprint', 15, w);
  if (!isFingerprint(fingerprint)) damaged(`${w}.fingerprint is not a fingerprint`);
  const status = text(o, 'status', 10, w);
  if (!STATUSES.has(status)) damaged(`${w}.status is not ok, stale or revoked`);
  const samples = Object.hasOwn(o, 'samples') ? o.samples : undefined;
  if (
    !Array.isArray(samples) ||
    samples.length % 2 !== 0 ||
    samples.length > 2 * SAMPLE_CAP ||
    !samples.every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= Number.MAX_SAFE_INTEGER)
  )
    damaged(`${w}.samples is not a list of (time, uses) pairs`);
  const fp: FingerprintRecord = {
    fingerprint,
    version: optionalText(o, 'version', c.version, w),
    candidate: text(o, 'candidate', c.candidate, w),
    source: text(o, 'source', c.source, w),
    status,
    loadedAt: number(o, 'loadedAt', w),
    lastUsedAt: optionalNumber(o, 'lastUsedAt', w),
    lastSeen: number(o, 'lastSeen', w),
    samples: undefined,
    n: 0,
    since: number(o, 'since', w),
  };
  restoreSamples(fp, samples as number[], fp.since);
  return fp;
}

function dropOf(value: unknown): { span: DroppedEvidence; secret: string | undefined } {
  const o = record(value, 'drop');
  const reason = text(o, 'reason', 20, 'drop');
  if (!DROP_REASONS.has(reason)) damaged('drop.reason is not a known reason');
  const span: DroppedEvidence = {
    reason: reason as DropReason,
    from: number(o, 'from', 'drop'),
    to: number(o, 'to', 'drop'),
    count: number(o, 'count', 'drop', Number.MAX_SAFE_INTEGER),
  };
  if (span.from > span.to) damaged('drop.from is after drop.to');
  return { span, secret: optionalText(o, 'secret', BEACON_LIMITS.chars.name, 'drop') };
}

/** Splits a file into lines of at most {@link MAX_LINE_BYTES}, strictly UTF-8. */
async function* linesOf(handle: FileHandle): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = (last: Buffer): string => {
    const bytes = pending.length === 0 ? last : Buffer.concat([...pending, last]);
    pending = [];
    pendingBytes = 0;
    try {
      return decoder.decode(bytes);
    } catch {
      return damaged('a line is not valid UTF-8');
    }
  };
  for await (const chunk of handle.createReadStream({ highWaterMark: 65_536, autoClose: false })) {
    const buffer = chunk as Buffer;
    let start = 0;
    for (let newline = buffer.indexOf(10, start); newline !== -1; newline = buffer.indexOf(10, start)) {
      if (pendingBytes + newline - start > MAX_LINE_BYTES) damaged('a line is too long');
      yield take(buffer.subarray(start, newline));
      start = newline + 1;
    }
    if (start < buffer.length) {
      pendingBytes += buffer.length - start;
      if (pendingBytes > MAX_LINE_BYTES) damaged('a line is too long');
      pending.push(buffer.subarray(start));
    }
  }
  if (pendingBytes > 0) yield take(Buffer.alloc(0));
}

/** The instances read so far, the most recently listed last, within the bounds (the oldest shed beyond them). */
class Kept {
  readonly instances: InstanceRecord[] = [];
  bytes = 0;
  /** Instances shed because of each bound. */
  readonly shed = { 'instance-cap': 0, 'memory-budget': 0 };
  readonly #parts: CollectorParts;

  constructor(parts: CollectorParts) {
    this.#parts = parts;
  }

  add(instance: InstanceRecord): void {
    let bytes = identityBytes(instance);
    for (const held of instance.secrets.values()) {
      bytes += secretBytes(held.name);
      for (const fp of held.fingerprints.values()) bytes += fingerprintBytes(fp);
    }
    instance.bytes = bytes;
    this.instances.push(instance);
    this.bytes += bytes;
    const { maxInstances, maxBytes } = this.#parts.limits;
    while (this.instances.length > maxInstances || this.bytes > maxBytes) {
      this.shed[this.instances.length > maxInstances ? 'instance-cap' : 'memory-budget']++;
      const gone = this.instances.shift() as InstanceRecord;
      this.bytes -= gone.bytes;
    }
  }
}

/**
 * Adds a secret line to `instance`, within the caps (what is beyond them goes to `shed`); throws {@link Damaged}
 * when the line is not right.
 */
function addSecret(
  instance: InstanceRecord,
  value: unknown,
  limits: { maxSecretsPerInstance: number; maxFingerprints: number },
  shed: (secret: string, reason: 'memory-budget' | 'fingerprint-cap') => void,
): void {
  const s = record(value, 'secret');
  const name = text(s, 'name', BEACON_LIMITS.chars.name, 'secret');
  if (instance.secrets.has(name)) damaged('the same secret twice for one instance');
  const list = Object.hasOwn(s, 'fingerprints') ? s.fingerprints : undefined;
  if (!Array.isArray(list) || list.length > 1_024) damaged('secret.fingerprints is not a list');
  // The most recently listed first: those are the ones kept when the cap is lower than when the file was saved.
  const fingerprints = (list as unknown[]).map(fingerprintOf).sort((a, b) => b.lastSeen - a.lastSeen);
  const lastSeen = number(s, 'lastSeen', 'secret');
  if (instance.secrets.size >= limits.maxSecretsPerInstance) {
    shed(name, 'memory-budget');
    return;
  }
  const held: SecretRecord = { name, instance, lastSeen, fingerprints: new Map() };
  for (const fp of fingerprints) {
    if (held.fingerprints.size >= limits.maxFingerprints) shed(name, 'fingerprint-cap');
    else held.fingerprints.set(fp.fingerprint, fp);
  }
  instance.secrets.set(name, held);
}

/** Reads the lines of a state file into `parts`; throws {@link Damaged} for anything that is not right. */
async function readInto(
  lines: AsyncGenerator<string>,
  parts: CollectorParts,
  now: number,
): Promise<StateHeader | 'foreign' | { version: unknown }> {
  const first = await lines.next();
  let head: unknown;
  try {
    head = first.done === true ? undefined : JSON.parse(first.value);
  } catch {
    return 'foreign';
  }
  if (!isRecord(head) || head.format !== STATE_FORMAT) return 'foreign';
  if (head.version !== STATE_VERSION) return { version: head.version };
  const header: StateHeader = {
    savedAt: number(head, 'savedAt', 'header'),
    observedSince: number(head, 'observedSince', 'header'),
  };

  const { limits } = parts;
  const kept = new Kept(parts);
  let current: InstanceRecord | undefined;
  let instances = 0;
  const ids = new Set<string>();
  let ended = false;
  let lineNumber = 1;

  for await (const line of lines) {
    lineNumber++;
    if (ended) damaged(`line ${lineNumber} follows the end`);
    let item: unknown;
    try {
      item = JSON.parse(line);
    } catch {
      damaged(`line ${lineNumber} is not JSON`);
    }
    const o = record(item, `line ${lineNumber}`);
    const key = Object.keys(o)[0];
    if (Object.keys(o).length !== 1) damaged(`line ${lineNumber} is not one record`);
    if (key === 'drop') {
      const { span, secret } = dropOf(o.drop);
      parts.drops.restore(
        secret === undefined ? { all: [span], bySecret: [] } : { all: [], bySecret: [[secret, [span]]] },
      );
    } else if (key === 'instance') {
      if (current !== undefined) kept.add(current);
      current = instanceOf(o.instance);
      if (ids.has(current.id)) damaged(`line ${lineNumber}: the same instance twice`);
      ids.add(current.id);
      instances++;
    } else if (key === 'secret') {
      if (current === undefined) return damaged(`line ${lineNumber}: a secret before any instance`);
      addSecret(current, o.secret, limits, (name, reason) => parts.drops.forSecret(name, reason, now));
    } else if (key === 'end') {
      if (current !== undefined) kept.add(current);
      current = undefined;
      if (number(record(o.end, 'end'), 'instances', 'end', Number.MAX_SAFE_INTEGER) !== instances)
        damaged('the end does not count the instances the file holds');
      ended = true;
    } else {
      damaged(`line ${lineNumber} is not a record of this format`);
    }
  }
  if (!ended) damaged('the file ends before its end record (it was cut short)');

  for (const reason of ['instance-cap', 'memory-budget'] as const) {
    if (kept.shed[reason] > 0) parts.drops.forEverySecret(reason, now, now, kept.shed[reason]);
  }
  for (const instance of kept.instances.sort((a, b) => a.lastSeen - b.lastSeen)) {
    // Charged anew: its identity here, what it holds by the index.
    instance.bytes = 0;
    parts.registry.adopt(instance);
    parts.budget.charge(instance, identityBytes(instance));
    parts.index.adopt(instance);
  }
  return header;
}

/**
 * Loads the state file at `path` into the empty `parts` (at `now`, collector time) and returns its header;
 * undefined when there is no file. Throws a `ConfigurationError` naming the path when it cannot be read, is not a
 * keyflip collector state file, was written by another version of the format, or is damaged.
 */
export async function loadState(path: string, parts: CollectorParts, now: number): Promise<StateHeader | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigurationError(`openCollector: cannot read the state file ${path} (${errorCode(error)})`, undefined, {
      cause: error,
    });
  }
  const lines = linesOf(handle);
  try {
    const result = await readInto(lines, parts, now);
    if (result === 'foreign') {
      throw new ConfigurationError(
        `openCollector: ${path} is not a keyflip collector state file: it is left as it is; move it away or give ` +
          'another path',
      );
    }
    if (!('savedAt' in result)) {
      throw new ConfigurationError(
        `openCollector: the state file ${path} has format version ${describeVersion(result.version)}, this keyflip ` +
          `reads version ${STATE_VERSION}: use the keyflip that wrote it, or move it away`,
      );
    }
    return result;
  } catch (error) {
    if (error instanceof Damaged) {
      throw new ConfigurationError(
        `openCollector: the state file ${path} is damaged (${error.message}): it is left as it is; move it away ` +
          'to start without the evidence it held',
      );
    }
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError(`openCollector: cannot read the state file ${path} (${errorCode(error)})`, undefined, {
      cause: error,
    });
  } finally {
    // Ends the read stream (when the read stopped early) before its file handle closes.
    await lines.return(undefined).catch(() => undefined);
    await handle.close().catch(() => undefined);
  }
}

function describeVersion(version: unknown): string {
  return typeof version === 'number' && Number.isSafeInteger(version) ? String(version) : 'unknown';
}

/** A file system error's code (`EACCES`), never its message (which may quote more than the path). */
export function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[A-Z0-9_]{1,32}$/.test(code) ? code : 'an error';
}
