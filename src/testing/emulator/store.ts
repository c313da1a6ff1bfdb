import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { crc32c } from '../../crc32c.js';
import {
  GrpcCode,
  isAlias,
  isSecretId,
  isSettableAlias,
  type ParentRef,
  parentName,
  parseParentName,
  parseSecretName,
  parseVersionName,
  hasCrc32c,
  matchesCrc32c,
  secretName,
} from '../../sources/gcp-names.js';
import { matches, parseFilter } from './filter.js';
import { EMULATOR_REGIONS } from './locations.js';
import { ETAG_MISMATCH, invalidName, permissionDenied, RpcError } from './status.js';

/**
 * The in-memory Secret Manager: one project, global and regional secrets, their versions, and the
 * semantics production has (research file §6). Requests and answers are plain objects in the form
 * `@grpc/proto-loader` uses (camelCase fields, int64 as decimal strings, enums by name, bytes as
 * Buffers, absent fields absent), so the gRPC and the REST surface share every line of it.
 */

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROYED';

/** The payload limit: 64 KiB, inclusive. */
export const MAX_PAYLOAD_BYTES = 65_536;
const MAX_ALIASES = 50;
const MAX_LABELS = 64;
/**
 * Secret.labels: keys "between 1 and 63 characters long, have a UTF-8 encoding of maximum 128 bytes"; values
 * "between 0 and 63 characters long, have a UTF-8 encoding of maximum 128 bytes" (REST reference, Secret:
 * https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets).
 */
const MAX_LABEL_BYTES = 128;
/** Secret.annotations: "The total size of annotation keys and values must be less than 16KiB" (same page). */
const MAX_ANNOTATIONS_BYTES = 16_384;
/**
 * Expiration (expire_time / ttl): "A secret's expiration cannot be less than 60 seconds away or more than 100
 * years away." (https://cloud.google.com/secret-manager/docs/creating-and-managing-expiring-secrets, Limitations)
 */
const MIN_EXPIRATION_MS = 60_000;
/** "100 years away" in calendar years: the same UTC date and time 100 years after `now` (36 524 or 36 525 days). */
const MAX_EXPIRATION_YEARS = 100;
const yearsAhead = (now: number, years: number): number => {
  const at = new Date(now);
  at.setUTCFullYear(at.getUTCFullYear() + years);
  return at.getTime();
};
const MAX_PAGE_SIZE = 25_000;
/** Secret.topics: "A list of up to 10 Pub/Sub topics" (REST reference, projects.secrets). */
const MAX_TOPICS = 10;
/** Rotation (reference, google.cloud.secretmanager.v1.Rotation): next_rotation_time ≥ 300 s ahead, ≤ 100 years. */
const MIN_NEXT_ROTATION_MS = 300_000;
const MAX_ROTATION_MS = 3_153_600_000_000;
/** rotation_period: "Must be in seconds and at least 3600s (1h) and at most 3153600000s (100 years)". */
const MIN_ROTATION_PERIOD_MS = 3_600_000;
const TOPIC_NAME = /^projects\/[^/]+\/topics\/[^/]+$/;

interface Timestamp {
  seconds: string;
  nanos: number;
}
interface DurationLike {
  seconds?: string | number;
  nanos?: number;
}
/** A Duration as the store may be handed one: the message form, or its JSON form `"86400s"` / `"1.5s"`. */
type DurationInput = DurationLike | string;

type Obj = Record<string, unknown>;

interface VersionRecord {
  id: number;
  data: Buffer;
  crc: number;
  state: VersionState;
  etag: string;
  createMs: number;
  destroyMs?: number;
  scheduledDestroyMs?: number;
  clientChecksum: boolean;
}

interface SecretRecord {
  name: string;
  location: string | undefined;
  order: number;
  createMs: number;
  etag: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  aliases: Map<string, number>;
  expireMs?: number;
  /** Other Secret fields, kept as given and echoed back: replication, topics, rotation, versionDestroyTtl, … */
  fields: Obj;
  versions: VersionRecord[];
}

/** Fields kept as given and echoed back unchanged. */
const ECHOED = [
  'replication',
  'topics',
  'rotation',
  'versionDestroyTtl',
  'customerManagedEncryption',
  'secretType',
] as const;
/**
 * Fields kept but never returned: `tags` is "Optional. Input only. Immutable." (REST reference, Secret:
 * https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets).
 */
const INPUT_ONLY = ['tags'] as const;
/**
 * Sub-field paths an update mask may name (FieldMask: a path may name a field of a message field). Only the
 * message fields that are updatable have them: rotation and customer_managed_encryption.
 */
const SUB_FIELDS: Record<string, Set<string>> = {
  rotation: new Set(['nextRotationTime', 'rotationPeriod']),
  customerManagedEncryption: new Set(['kmsKeyName']),
};
/** Fields UpdateSecret may change (camelCase; the mask may also name them in snake_case). */
const UPDATABLE = new Set([
  'labels',
  'annotations',
  'versionAliases',
  'topics',
  'expireTime',
  'ttl',
  'rotation',
  'versionDestroyTtl',
  'customerManagedEncryption',
]);
const IMMUTABLE = new Set(['name', 'replication', 'createTime', 'etag', 'tags', 'secretType', 'policyMember']);

const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const ANNOTATION_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

const ts = (ms: number): Timestamp => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
/** A Duration in ms; the JSON form (`"86400s"`) is read too. NaN when it is no Duration at all. */
function msOf(d: DurationInput | undefined): number {
  if (d === undefined) return 0;
  if (typeof d === 'string') {
    const m = /^(-?\d+)(?:\.(\d{1,9}))?s$/.exec(d.trim());
    if (!m) return NaN;
    const sign = (m[1] as string).startsWith('-') ? -1 : 1;
    return Number(m[1]) * 1000 + sign * Math.floor(Number((m[2] ?? '').padEnd(9, '0')) / 1e6);
  }
  return Number(d.seconds ?? 0) * 1000 + Math.floor(Number(d.nanos ?? 0) / 1e6);
}
/** The nanoseconds part of a Duration (rotation_period "must be in seconds"). */
function nanosOf(d: DurationInput): number {
  if (typeof d === 'string') return Number((/\.(\d{1,9})s$/.exec(d.trim())?.[1] ?? '').padEnd(9, '0'));
  return Number(d.nanos ?? 0);
}
const isDuration = (v: unknown): v is DurationInput => typeof v === 'string' || isObj(v);
/** A Timestamp in ms: the message form, or its RFC 3339 JSON form. NaN when it is no Timestamp. */
function msOfTime(t: unknown): number {
  if (typeof t === 'string') return Date.parse(t);
  if (isObj(t)) return Number(t.seconds ?? 0) * 1000 + Math.floor(Number(t.nanos ?? 0) / 1e6);
  return NaN;
}
const toCamel = (path: string): string => path.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The Secret as given, with its top-level and rotation keys in camelCase: the Node client always hands the
 * store camelCase (both transports), but a hand-written REST body may name fields as in the proto (proto3
 * JSON accepts both), and `version_destroy_ttl` must then count the same.
 */
function camelSecret(secret: Obj): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(secret)) out[toCamel(key)] ??= value;
  if (isObj(out.rotation)) {
    const rotation: Obj = {};
    for (const [key, value] of Object.entries(out.rotation)) rotation[toCamel(key)] ??= value;
    out.rotation = rotation;
  }
  return out;
}
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function invalid(message: string): RpcError {
  return new RpcError(GrpcCode.INVALID_ARGUMENT, message);
}

/** A parsed resource name, or the INVALID_ARGUMENT production answers for a malformed one. */
function wellFormed<T>(ref: T | undefined): T {
  if (ref === undefined) throw invalidName();
  return ref;
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, value] of Object.entries(v)) out[k] = String(value);
  return out;
}

function validateLabels(labels: Record<string, string>): void {
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) throw invalid(`A secret can have at most ${MAX_LABELS} labels.`);
  for (const key of keys) {
    if (!LABEL_KEY.test(key) || Buffer.byteLength(key, 'utf8') > MAX_LABEL_BYTES)
      throw invalid(
        `Invalid label key [${key}]: 1-63 lowercase letters, digits, '_' or '-', starting with a lowercase letter, ` +
          `at most ${MAX_LABEL_BYTES} bytes in UTF-8.`,
      );
    const value = labels[key] as string;
    if (!LABEL_VALUE.test(value) || Buffer.byteLength(value, 'utf8') > MAX_LABEL_BYTES)
      throw invalid(
        `Invalid value for label [${key}]: at most 63 lowercase letters, digits, '_' or '-', ` +
          `at most ${MAX_LABEL_BYTES} bytes in UTF-8.`,
      );
  }
}

function validateAnnotations(annotations: Record<string, string>): void {
  let size = 0;
  for (const [key, value] of Object.entries(annotations)) {
    if (!ANNOTATION_KEY.test(key)) throw invalid(`Invalid annotation key [${key}].`);
    size += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (size >= MAX_ANNOTATIONS_BYTES) throw invalid(`The total size of annotations must be less than 16KiB.`);
}

const durationMessage = (ms: number): Obj =>
  ms % 1000 === 0
    ? { seconds: String(ms / 1000) }
    : { seconds: String(Math.trunc(ms / 1000)), nanos: (ms % 1000) * 1e6 };

/** A Duration field in the store's form (`{seconds, nanos}`), or INVALID_ARGUMENT when it is none. */
function duration(path: string, v: unknown): { ms: number; nanos: number; message: Obj } {
  const ms = isDuration(v) ? msOf(v) : NaN;
  if (!Number.isFinite(ms)) throw invalid(`Invalid value at '${path}' (type.googleapis.com/google.protobuf.Duration).`);
  const nanos = nanosOf(v as DurationInput);
  return { ms, nanos, message: nanos === 0 ? durationMessage(ms) : { ...durationMessage(ms), nanos } };
}

/** Secret.topics: at most 10, each `projects/*\/topics/*`. */
function validateTopics(topics: unknown): void {
  if (topics === undefined) return;
  const list = Array.isArray(topics) ? topics : [];
  if (list.length > MAX_TOPICS) throw invalid(`A secret can have at most ${MAX_TOPICS} topics.`);
  for (const topic of list) {
    const name = isObj(topic) ? str(topic.name) : '';
    if (!TOPIC_NAME.test(name)) throw invalid(`Invalid topic name [${name}]: expected projects/*/topics/*.`);
  }
}

/**
 * The rules of google.cloud.secretmanager.v1.Rotation (reference, Rotation; REST reference, projects.secrets):
 * next_rotation_time "Cannot be set to less than 300s (5 min) in the future and at most 3153600000s (100 years)"
 * and "MUST be set if rotation_period is set"; rotation_period "Must be in seconds and at least 3600s (1h) and at
 * most 3153600000s (100 years)"; "Secret.topics must be set to configure rotation". Returns the rotation in the
 * store's form (the output-only managed_rotation_status dropped), or undefined when none is configured.
 * `nextTimeGiven`: the request sets next_rotation_time (a stored one may since have passed).
 */
function checkedRotation(rotation: unknown, topics: unknown, now: number, nextTimeGiven: boolean): Obj | undefined {
  if (!isObj(rotation)) return undefined;
  const out: Obj = {};
  if (rotation.nextRotationTime !== undefined && rotation.nextRotationTime !== null) {
    const next = msOfTime(rotation.nextRotationTime);
    if (!Number.isFinite(next)) throw invalid("Invalid value at 'secret.rotation.next_rotation_time'.");
    if (nextTimeGiven && next < now + MIN_NEXT_ROTATION_MS)
      throw invalid('Next rotation time must be at least 5 minutes in the future.');
    if (nextTimeGiven && next > now + MAX_ROTATION_MS)
      throw invalid('Next rotation time must be at most 100 years in the future.');
    out.nextRotationTime = ts(next);
  }
  if (rotation.rotationPeriod !== undefined && rotation.rotationPeriod !== null) {
    const period = duration('secret.rotation.rotation_period', rotation.rotationPeriod);
    if (period.nanos !== 0) throw invalid('Rotation period must be in seconds.');
    if (period.ms < MIN_ROTATION_PERIOD_MS || period.ms > MAX_ROTATION_MS)
      throw invalid('Rotation period must be at least 3600s (1 hour) and at most 3153600000s (100 years).');
    if (out.nextRotationTime === undefined)
      throw invalid('Next rotation time must be set while the rotation period is set.');
    out.rotationPeriod = period.message;
  }
  if (Object.keys(out).length === 0) return undefined;
  if (!Array.isArray(topics) || topics.length === 0)
    throw invalid('Topics must be set to configure rotation: rotation notifications are sent to them.');
  return out;
}

/** version_destroy_ttl, in the store's form; a zero TTL is no delayed destruction. */
function destroyTtl(v: unknown, path: string): Obj | undefined {
  const ttl = duration(path, v);
  if (ttl.ms < 0) throw invalid(`Invalid value at '${path}': the duration must not be negative.`);
  return ttl.ms === 0 ? undefined : ttl.message;
}

/**
 * The expiration a request sets (the oneof `expiration`: expire_time or ttl), in ms since the epoch; undefined
 * when it sets none. Either must fall 60 s (MIN_EXPIRATION_MS) to 100 calendar years (the same date 100 years on,
 * MAX_EXPIRATION_YEARS) ahead: a past expire_time or a
 * negative ttl is INVALID_ARGUMENT, as the service refuses it.
 */
function expiration(secret: Obj, now: number, useExpireTime: boolean, useTtl: boolean): number | undefined {
  let at: number | undefined;
  if (useExpireTime && secret.expireTime !== undefined && secret.expireTime !== null) {
    at = msOfTime(secret.expireTime);
    if (!Number.isFinite(at))
      throw invalid("Invalid value at 'secret.expire_time' (type.googleapis.com/google.protobuf.Timestamp).");
  } else if (useTtl && secret.ttl !== undefined && secret.ttl !== null) {
    at = now + duration('secret.ttl', secret.ttl).ms;
  }
  if (at === undefined) return undefined;
  if (at < now + MIN_EXPIRATION_MS || at > yearsAhead(now, MAX_EXPIRATION_YEARS))
    throw invalid('The expiration must be at least 60 seconds and at most 100 years in the future.');
  return at;
}

/** Where a list page ends: the sort key of the last item returned (both lists are sorted by it, descending). */
type Cursor = readonly [number, number];
const before = (key: Cursor, cursor: Cursor): boolean =>
  key[0] < cursor[0] || (key[0] === cursor[0] && key[1] < cursor[1]);

/**
 * Page tokens as AIP-158 (https://google.aip.dev/158) wants them: "opaque (but URL-safe) strings, and must not be
 * user-parseable" ("Base-64 encoding an otherwise-transparent page token is not a sufficient obfuscation
 * mechanism": they are sealed with AES-256-GCM under a key of this store's own); tied to their request ("The user
 * is expected to keep all other arguments to the RPC the same; if any arguments are different, the API should
 * send an INVALID_ARGUMENT error": the parent and the filter are sealed in, and for ListSecretVersions the secret's
 * identity, so a token outlives no delete and re-create of the secret) but not the page size ("If the user changes
 * the page_size in a request for subsequent pages, the service must honor the new page size."); and a cursor, not
 * an offset: the next page continues after the last item returned, so an item created or deleted between two calls
 * neither repeats nor hides another.
 */
class PageTokens {
  private readonly key = randomBytes(32);

  seal(request: string, cursor: Cursor): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify([request, ...cursor]), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The cursor `token` holds for `request`: INVALID_ARGUMENT when it is no token of ours, or another request's. */
  open(token: string, request: string): Cursor {
    let sealed: unknown;
    try {
      const raw = Buffer.from(token, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      sealed = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8'));
    } catch {
      throw invalid(`Invalid page token [${token}].`);
    }
    const [forRequest, a, b] = Array.isArray(sealed) ? sealed : [];
    if (typeof a !== 'number' || typeof b !== 'number') throw invalid(`Invalid page token [${token}].`);
    if (forRequest !== request) {
      throw invalid(
        `Invalid page token [${token}]: it was issued for a request with other arguments ` +
          '(parent and filter must stay the same from page to page, on the same secret).',
      );
    }
    return [a, b];
  }

  /**
   * One page of `items` (sorted by `keyOf`, descending). `request` names everything but the page token and the
   * page size: a page size may change from page to page, and each page honors its own (AIP-158).
   */
  page<T>(items: T[], keyOf: (item: T) => Cursor, req: Obj, request: unknown[]): { page: T[]; next: string } {
    const size = Number(req.pageSize ?? 0);
    if (!Number.isInteger(size) || size < 0) throw invalid('page_size must be a non-negative integer.');
    const fingerprint = JSON.stringify(request);
    const token = str(req.pageToken);
    const cursor = token === '' ? undefined : this.open(token, fingerprint);
    const rest = cursor === undefined ? items : items.filter((item) => before(keyOf(item), cursor));
    const limit = size === 0 ? MAX_PAGE_SIZE : Math.min(size, MAX_PAGE_SIZE);
    const page = rest.slice(0, limit);
    const last = page[page.length - 1];
    const next = rest.length > limit && last !== undefined ? this.seal(fingerprint, keyOf(last)) : '';
    return { page, next };
  }
}

export class SecretStore {
  private readonly secrets = new Map<string, SecretRecord>();
  private readonly tokens = new PageTokens();
  private order = 0;
  private etagSeq = Date.now() * 1000;

  constructor(
    readonly projectId: string,
    readonly projectNumber: string,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Handles one RPC; `undefined` when the emulator does not implement `method` (UNIMPLEMENTED). */
  handle(method: string, request: Obj): Obj | undefined {
    switch (method) {
      case 'CreateSecret':
        return this.createSecret(request);
      case 'GetSecret':
        return this.getSecret(request);
      case 'UpdateSecret':
        return this.updateSecret(request);
      case 'DeleteSecret':
        return this.deleteSecret(request);
      case 'ListSecrets':
        return this.listSecrets(request);
      case 'AddSecretVersion':
        return this.addSecretVersion(request);
      case 'GetSecretVersion':
        return this.getSecretVersion(request);
      case 'AccessSecretVersion':
        return this.accessSecretVersion(request);
      case 'ListSecretVersions':
        return this.listSecretVersions(request);
      case 'EnableSecretVersion':
        return this.transition(request, 'ENABLED', 'secretmanager.versions.enable');
      case 'DisableSecretVersion':
        return this.transition(request, 'DISABLED', 'secretmanager.versions.disable');
      case 'DestroySecretVersion':
        return this.transition(request, 'DESTROYED', 'secretmanager.versions.destroy');
      default:
        return undefined;
    }
  }

  // ---- names, lookup, lazy expiry --------------------------------------------------------------

  private newEtag(): string {
    return `"${(++this.etagSeq).toString(16)}"`;
  }

  private checkProject(ref: ParentRef, permission: string, resource: string): void {
    if (ref.project !== this.projectId && ref.project !== this.projectNumber)
      throw permissionDenied(permission, resource);
  }

  /**
   * A regional name's location must be one of the regions the Locations mixin lists (EMULATOR_REGIONS); else
   * INVALID_ARGUMENT, before any permission check, as a malformed argument is. `locations/global` names no
   * region: regional secrets live behind regional endpoints (`secretmanager.LOCATION.rep.googleapis.com`) and
   * there is none for `global`, so such a name only reaches the global endpoint, which refuses every
   * `locations/` name in these words (production, quoted in googleapis/google-cloud-python#13389): "The provided
   * Secret ID [NAME] does not match the expected format [projects/*\/secrets/*\/versions/*]". No public source
   * shows the service's words for an unknown region: the emulator says what it checks.
   */
  private checkLocation(ref: ParentRef, name: string, kind: 'parent' | 'secret' | 'version'): void {
    const location = ref.location;
    if (location === undefined || Object.hasOwn(EMULATOR_REGIONS, location)) return;
    if (location === 'global') {
      const format = {
        parent: 'projects/*',
        secret: 'projects/*/secrets/*',
        version: 'projects/*/secrets/*/versions/*',
      };
      const what = kind === 'parent' ? 'Parent' : 'Secret ID';
      throw invalid(`The provided ${what} [${name}] does not match the expected format [${format[kind]}]`);
    }
    throw invalid(
      `Location [${location}] is not a Secret Manager location: regional secrets are offered in the regions ` +
        `that ListLocations lists.`,
    );
  }

  /** Applies what time has done since the last look: expired secrets are gone, scheduled destructions happened. */
  private live(name: string): SecretRecord | undefined {
    const rec = this.secrets.get(name);
    if (!rec) return undefined;
    const now = this.now();
    if (rec.expireMs !== undefined && rec.expireMs <= now) {
      this.secrets.delete(name);
      return undefined;
    }
    for (const v of rec.versions) {
      if (v.scheduledDestroyMs !== undefined && v.scheduledDestroyMs <= now) {
        v.state = 'DESTROYED';
        v.destroyMs = v.scheduledDestroyMs;
        delete v.scheduledDestroyMs;
        v.data = Buffer.alloc(0);
        v.etag = this.newEtag();
      }
    }
    return rec;
  }

  private secretFor(name: unknown, permission: string): SecretRecord {
    const ref = wellFormed(parseSecretName(name));
    this.checkLocation(ref, str(name), 'secret');
    this.checkProject(ref, permission, str(name));
    const key = this.secretKey(ref.secretId, ref.location);
    const rec = this.live(key);
    if (!rec) throw new RpcError(GrpcCode.NOT_FOUND, `Secret [${key}] not found.`);
    return rec;
  }

  /** Resolves `N`, `latest` (the newest version, whatever its state) or an alias. */
  private versionFor(
    name: unknown,
    permission: string,
    allowAliases: boolean,
  ): { rec: SecretRecord; v: VersionRecord } {
    const ref = wellFormed(parseVersionName(name));
    this.checkLocation(ref, str(name), 'version');
    this.checkProject(ref, permission, str(name));
    const key = this.secretKey(ref.secretId, ref.location);
    const rec = this.live(key);
    if (!rec) throw new RpcError(GrpcCode.NOT_FOUND, `Secret [${key}] not found or has no versions.`);
    const wanted = ref.version;
    let v: VersionRecord | undefined;
    if (/^\d+$/.test(wanted)) {
      v = rec.versions[Number(wanted) - 1];
    } else if (!allowAliases || !isAlias(wanted)) {
      throw invalidName();
    } else if (wanted === 'latest') {
      v = rec.versions[rec.versions.length - 1];
      if (!v) throw new RpcError(GrpcCode.NOT_FOUND, `Secret [${key}] not found or has no versions.`);
    } else {
      const id = rec.aliases.get(wanted);
      v = id === undefined ? undefined : rec.versions[id - 1];
    }
    if (!v) throw new RpcError(GrpcCode.NOT_FOUND, `Secret Version [${key}/versions/${wanted}] not found.`);
    return { rec, v };
  }

  // ---- views -------------------------------------------------------------------------------------

  private secretView(rec: SecretRecord): Obj {
    const view: Obj = {
      name: rec.name,
      createTime: ts(rec.createMs),
      labels: { ...rec.labels },
      annotations: { ...rec.annotations },
      versionAliases: Object.fromEntries([...rec.aliases].map(([alias, id]) => [alias, String(id)])),
      etag: rec.etag,
    };
    for (const field of ECHOED) if (rec.fields[field] !== undefined) view[field] = rec.fields[field];
    if (rec.expireMs !== undefined) view.expireTime = ts(rec.expireMs);
    return view;
  }

  private versionView(rec: SecretRecord, v: VersionRecord): Obj {
    const view: Obj = {
      name: `${rec.name}/versions/${v.id}`,
      createTime: ts(v.createMs),
      state: v.state,
      etag: v.etag,
      clientSpecifiedPayloadChecksum: v.clientChecksum,
    };
    if (v.destroyMs !== undefined) view.destroyTime = ts(v.destroyMs);
    if (v.scheduledDestroyMs !== undefined) view.scheduledDestroyTime = ts(v.scheduledDestroyMs);
    const replication = rec.fields.replication;
    if (isObj(replication) && isObj(replication.userManaged)) {
      const replicas = Array.isArray(replication.userManaged.replicas)
        ? (replication.userManaged.replicas as unknown[])
        : [];
      view.replicationStatus = {
        userManaged: { replicas: replicas.map((r) => ({ location: isObj(r) ? str(r.location) : '' })) },
      };
    } else if (isObj(replication) && isObj(replication.automatic)) {
      view.replicationStatus = { automatic: {} };
    }
    return view;
  }

  // ---- secrets -----------------------------------------------------------------------------------

  private createSecret(req: Obj): Obj {
    const parent = wellFormed(parseParentName(req.parent));
    const secretId = str(req.secretId);
    this.checkLocation(parent, str(req.parent), 'parent');
    this.checkProject(parent, 'secretmanager.secrets.create', str(req.parent));
    if (!isSecretId(secretId)) {
      throw invalid(`Invalid secret_id [${secretId}]: 1-255 characters of letters, digits, '_' or '-'.`);
    }
    const name = this.secretKey(secretId, parent.location);
    if (this.live(name)) throw new RpcError(GrpcCode.ALREADY_EXISTS, `Secret [${name}] already exists.`);
    const secret = camelSecret(isObj(req.secret) ? req.secret : {});
    const replication = secret.replication;
    if (parent.location === undefined) {
      if (!isObj(replication) || (!isObj(replication.automatic) && !isObj(replication.userManaged))) {
        throw invalid('Field [secret.replication] is required.');
      }
      if (
        isObj(replication.userManaged) &&
        !(Array.isArray(replication.userManaged.replicas) && replication.userManaged.replicas.length > 0)
      ) {
        throw invalid('Field [secret.replication.user_managed.replicas] is required.');
      }
    }
    const labels = stringMap(secret.labels);
    const annotations = stringMap(secret.annotations);
    validateLabels(labels);
    validateAnnotations(annotations);
    if (isObj(secret.versionAliases) && Object.keys(secret.versionAliases).length > 0) {
      throw invalid('Version aliases cannot be set when creating a secret: the secret has no versions yet.');
    }
    const now = this.now();
    validateTopics(secret.topics);
    const rotation = checkedRotation(secret.rotation, secret.topics, now, true);
    const rec: SecretRecord = {
      name,
      location: parent.location,
      order: ++this.order,
      createMs: now,
      etag: this.newEtag(),
      labels,
      annotations,
      aliases: new Map(),
      fields: {},
      versions: [],
    };
    for (const field of [...ECHOED, ...INPUT_ONLY]) if (secret[field] !== undefined) rec.fields[field] = secret[field];
    if (rotation) rec.fields.rotation = rotation;
    else delete rec.fields.rotation;
    if (secret.versionDestroyTtl !== undefined)
      rec.fields.versionDestroyTtl = destroyTtl(secret.versionDestroyTtl, 'secret.version_destroy_ttl');
    const expireMs = expiration(secret, now, true, true);
    if (expireMs !== undefined) rec.expireMs = expireMs;
    this.secrets.set(name, rec);
    return this.secretView(rec);
  }

  private getSecret(req: Obj): Obj {
    return this.secretView(this.secretFor(req.name, 'secretmanager.secrets.get'));
  }

  private updateSecret(req: Obj): Obj {
    if (!isObj(req.secret)) throw invalid('Field [secret] is required.');
    const secret = camelSecret(req.secret);
    const rec = this.secretFor(secret.name, 'secretmanager.secrets.update');
    const mask =
      isObj(req.updateMask) && Array.isArray(req.updateMask.paths)
        ? (req.updateMask.paths as unknown[]).map(String)
        : [];
    if (mask.length === 0) throw invalid('Field [update_mask] is required.');
    const etag = str(secret.etag);
    if (etag !== '' && etag !== rec.etag) throw new RpcError(GrpcCode.FAILED_PRECONDITION, ETAG_MISMATCH);

    // Validate everything before changing anything.
    // `*` is full replacement: "Update masks must support a special value `*`, meaning full replacement (the
    // equivalent of `PUT`)" (https://google.aip.dev/134). Every updatable field takes the given value (absent:
    // cleared); output-only and immutable fields are ignored, as AIP-161 requires for output-only fields named
    // through a wildcard (https://google.aip.dev/161).
    // Otherwise a path names a field, or a field of a message field (`rotation.rotation_period`): FieldMask
    // semantics. Map keys (`labels.env`) are refused: AIP-161 makes them a "may", and Secret Manager documents
    // none; its own samples update one label by sending the whole map under `labels`.
    const full = mask.includes('*');
    const paths = full ? [...UPDATABLE] : mask;
    const entries = paths.map((path) => {
      const [head = '', ...tail] = path.split('.');
      const field = toCamel(head);
      if (IMMUTABLE.has(field)) throw invalid(`The field [${path}] cannot be updated.`);
      if (!UPDATABLE.has(field)) throw invalid(`Invalid update_mask path [${path}].`);
      if (tail.length === 0) return { field, sub: undefined };
      const sub = toCamel(tail.join('.'));
      if (tail.length !== 1 || !SUB_FIELDS[field]?.has(sub)) throw invalid(`Invalid update_mask path [${path}].`);
      return { field, sub };
    });
    const fields = entries.map((e) => e.field);
    const labels = fields.includes('labels') ? stringMap(secret.labels) : rec.labels;
    const annotations = fields.includes('annotations') ? stringMap(secret.annotations) : rec.annotations;
    validateLabels(labels);
    validateAnnotations(annotations);
    let aliases = rec.aliases;
    if (fields.includes('versionAliases')) {
      aliases = new Map();
      for (const [alias, target] of Object.entries(isObj(secret.versionAliases) ? secret.versionAliases : {})) {
        if (!isSettableAlias(alias)) {
          throw invalid(
            `Invalid alias [${alias}]: 1-63 letters, digits, '_' or '-', starting with a letter; ` +
              `'latest' and 'NEW' are reserved.`,
          );
        }
        const id = Number(target);
        if (!Number.isInteger(id) || !rec.versions[id - 1]) {
          throw invalid(
            `Alias [${alias}] refers to version [${String(target)}], which does not exist in secret [${rec.name}].`,
          );
        }
        aliases.set(alias, id);
      }
      if (aliases.size > MAX_ALIASES) throw invalid(`A secret can have at most ${MAX_ALIASES} version aliases.`);
    }

    // The kept fields as they will be: a whole field replaced, or a sub-field of it, field by field.
    const next: Obj = { ...rec.fields };
    for (const { field, sub } of entries) {
      if (!(ECHOED as readonly string[]).includes(field)) continue;
      const given = secret[field];
      if (sub === undefined) {
        if (given === undefined || given === null) delete next[field];
        else next[field] = given;
        continue;
      }
      const merged: Obj = isObj(next[field]) ? { ...next[field] } : {};
      const value = isObj(given) ? given[sub] : undefined;
      if (value === undefined || value === null) delete merged[sub];
      else merged[sub] = value;
      if (Object.keys(merged).length === 0) delete next[field];
      else next[field] = merged;
    }
    validateTopics(next.topics);
    // With `*`, a Secret read and sent back as it is must be a no-op (AIP-161, read-write consistency): its
    // next_rotation_time counts as set only when it changes.
    const nextTimeGiven = full
      ? msOfTime((isObj(secret.rotation) ? secret.rotation : {}).nextRotationTime) !==
        msOfTime((isObj(rec.fields.rotation) ? rec.fields.rotation : {}).nextRotationTime)
      : entries.some((e) => e.field === 'rotation' && (e.sub === undefined || e.sub === 'nextRotationTime'));
    next.rotation = checkedRotation(next.rotation, next.topics, this.now(), nextTimeGiven);
    if (fields.includes('versionDestroyTtl') && next.versionDestroyTtl !== undefined)
      next.versionDestroyTtl = destroyTtl(next.versionDestroyTtl, 'secret.version_destroy_ttl');

    // expire_time and ttl are the oneof `expiration`: the one given wins, none given clears it.
    const expirationNamed = fields.includes('expireTime') || fields.includes('ttl');
    const expireMs = expirationNamed
      ? expiration(secret, this.now(), fields.includes('expireTime'), fields.includes('ttl'))
      : rec.expireMs;

    rec.labels = labels;
    rec.annotations = annotations;
    rec.aliases = aliases;
    rec.fields = next;
    if (expireMs === undefined) delete rec.expireMs;
    else rec.expireMs = expireMs;
    rec.etag = this.newEtag(); // every update, even a no-op one, changes the etag
    return this.secretView(rec);
  }

  private deleteSecret(req: Obj): Obj {
    const rec = this.secretFor(req.name, 'secretmanager.secrets.delete');
    const etag = str(req.etag);
    if (etag !== '' && etag !== rec.etag) throw new RpcError(GrpcCode.FAILED_PRECONDITION, ETAG_MISMATCH);
    this.secrets.delete(rec.name);
    return {};
  }

  private listSecrets(req: Obj): Obj {
    const parent = wellFormed(parseParentName(req.parent));
    this.checkLocation(parent, str(req.parent), 'parent');
    this.checkProject(parent, 'secretmanager.secrets.list', str(req.parent));
    const prefix = `${this.parent(parent.location)}/secrets/`;
    const filter = str(req.filter);
    const terms = parseFilter(filter, 'secret');
    const all = [...this.secrets.keys()]
      .filter((name) => name.startsWith(prefix) && !name.slice(prefix.length).includes('/'))
      .map((name) => this.live(name))
      .filter((rec): rec is SecretRecord => rec !== undefined)
      .filter((rec) => matches(terms, this.secretView(rec))) // the Secret as the API shows it
      .sort((a, b) => b.createMs - a.createMs || b.order - a.order); // newest first
    const { page, next } = this.tokens.page(all, (rec) => [rec.createMs, rec.order], req, [
      'ListSecrets',
      prefix,
      filter,
    ]);
    // "The total number of Secrets but 0 when the ListSecretsRequest.filter field is set." (ListSecretsResponse)
    const totalSize = filter === '' ? all.length : 0;
    return { secrets: page.map((rec) => this.secretView(rec)), nextPageToken: next, totalSize };
  }

  // ---- versions ----------------------------------------------------------------------------------

  private addSecretVersion(req: Obj): Obj {
    const rec = this.secretFor(req.parent, 'secretmanager.versions.add');
    if (!isObj(req.payload)) throw invalid('Field [payload] is required.');
    const payload = req.payload;
    const raw = payload.data;
    const data = Buffer.isBuffer(raw) ? raw : raw instanceof Uint8Array ? Buffer.from(raw) : Buffer.alloc(0);
    if (data.length > MAX_PAYLOAD_BYTES)
      throw invalid(`Secret payload data length must be at most [${MAX_PAYLOAD_BYTES}] bytes.`);
    const crc = crc32c(data);
    const sent = payload.dataCrc32c; // proto3 `optional`: absent unless the client sent it
    const clientChecksum = hasCrc32c(sent);
    // Neither checksum is quoted: the computed one is derived from the secret (it would help guess a short
    // payload), and the sent one adds nothing the caller lacks. No public source shows the service's words.
    if (!matchesCrc32c(data, sent))
      throw invalid('Checksum mismatch: payload.data_crc32c is not the CRC32C of payload.data.');
    const v: VersionRecord = {
      id: rec.versions.length + 1,
      data: Buffer.from(data),
      crc,
      state: 'ENABLED',
      etag: this.newEtag(),
      createMs: this.now(),
      clientChecksum,
    };
    rec.versions.push(v); // the secret's etag does not change (etags page: only the resource touched changes)
    return this.versionView(rec, v);
  }

  private getSecretVersion(req: Obj): Obj {
    const { rec, v } = this.versionFor(req.name, 'secretmanager.versions.get', true);
    return this.versionView(rec, v);
  }

  private accessSecretVersion(req: Obj): Obj {
    const { rec, v } = this.versionFor(req.name, 'secretmanager.versions.access', true);
    if (v.state !== 'ENABLED') {
      throw new RpcError(
        GrpcCode.FAILED_PRECONDITION,
        `Secret Version [${rec.name}/versions/${v.id}] is in ${v.state} state.`,
      );
    }
    return { name: `${rec.name}/versions/${v.id}`, payload: { data: Buffer.from(v.data), dataCrc32c: String(v.crc) } };
  }

  private listSecretVersions(req: Obj): Obj {
    const rec = this.secretFor(req.parent, 'secretmanager.versions.list');
    const filter = str(req.filter);
    const terms = parseFilter(filter, 'version');
    const all = rec.versions
      .slice()
      .reverse() // newest first
      .filter((v) => matches(terms, this.versionView(rec, v))); // the SecretVersion as the API shows it
    // the secret's identity (create time and creation order) is sealed in: a secret deleted and created again
    // under the same name is another secret, and the old one's token is INVALID_ARGUMENT on it
    const identity = [rec.name, rec.createMs, rec.order];
    const { page, next } = this.tokens.page(all, (v) => [v.id, 0], req, ['ListSecretVersions', ...identity, filter]);
    // "The total number of SecretVersions but 0 when the ListSecretsRequest.filter field is set."
    const totalSize = filter === '' ? all.length : 0;
    return { versions: page.map((v) => this.versionView(rec, v)), nextPageToken: next, totalSize };
  }

  private transition(req: Obj, to: VersionState, permission: string): Obj {
    // Only a version number names a version here: `latest` and aliases resolve in Get/Access only.
    const { rec, v } = this.versionFor(req.name, permission, false);
    const etag = str(req.etag);
    if (etag !== '' && etag !== v.etag) throw new RpcError(GrpcCode.FAILED_PRECONDITION, ETAG_MISMATCH);
    if (v.state === 'DESTROYED') {
      throw new RpcError(
        GrpcCode.FAILED_PRECONDITION,
        `Secret Version [${rec.name}/versions/${v.id}] is in DESTROYED state.`,
      );
    }
    const now = this.now();
    const ttl = rec.fields.versionDestroyTtl;
    const destroyTtlMs = isDuration(ttl) ? msOf(ttl) : 0;
    if (to === 'DESTROYED' && destroyTtlMs > 0) {
      // Delayed destruction: disabled now, destroyed once the TTL has passed; enabling cancels it.
      v.state = 'DISABLED';
      v.scheduledDestroyMs = now + destroyTtlMs;
    } else {
      v.state = to;
      if (to === 'ENABLED') delete v.scheduledDestroyMs;
      if (to === 'DESTROYED') {
        v.data = Buffer.alloc(0);
        v.destroyMs = now;
        delete v.scheduledDestroyMs;
      }
    }
    v.etag = this.newEtag(); // even a no-op transition changes the version's etag
    return this.versionView(rec, v);
  }

  // ---- admin helpers (in-process; the emulator adds no faults and counts nothing for them) -------

  private parent(location: string | undefined): string {
    return parentName({ project: this.projectNumber, location });
  }

  /** The name a secret is stored under (with the project number). */
  private secretKey(secretId: string, location: string | undefined): string {
    return secretName({ project: this.projectNumber, location, secretId });
  }

  adminCreateSecret(
    secretId: string,
    options: { labels?: Record<string, string>; annotations?: Record<string, string>; location?: string } = {},
  ): void {
    const secret: Obj = {};
    if (options.labels) secret.labels = options.labels;
    if (options.annotations) secret.annotations = options.annotations;
    if (options.location === undefined) secret.replication = { automatic: {} };
    this.createSecret({ parent: this.parent(options.location), secretId, secret });
  }

  adminAddVersion(
    secretId: string,
    value: string | Uint8Array,
    options: { location?: string; state?: 'ENABLED' | 'DISABLED' } = {},
  ): string {
    if (options.state !== undefined && options.state !== 'ENABLED' && options.state !== 'DISABLED') {
      throw invalid(`Invalid state [${String(options.state)}]: ENABLED or DISABLED.`);
    }
    const name = this.secretKey(secretId, options.location);
    if (!this.live(name))
      this.adminCreateSecret(secretId, options.location === undefined ? {} : { location: options.location });
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    const view = this.addSecretVersion({ parent: name, payload: { data } });
    const id = String(view.name).split('/').pop() as string;
    if (options.state === 'DISABLED')
      this.transition({ name: `${name}/versions/${id}` }, 'DISABLED', 'secretmanager.versions.disable');
    return id;
  }

  /** Admin: `version` may be a number, `latest` or an alias. */
  adminSetState(secretId: string, version: string, to: VersionState, location?: string): void {
    const name = this.secretKey(secretId, location);
    const { v } = this.versionFor(`${name}/versions/${version}`, 'secretmanager.versions.get', true);
    this.transition({ name: `${name}/versions/${v.id}` }, to, 'secretmanager.versions.enable');
  }

  adminSetAlias(secretId: string, alias: string, version: string | undefined, location?: string): void {
    const name = this.secretKey(secretId, location);
    const rec = this.secretFor(name, 'secretmanager.secrets.update');
    const aliases: Record<string, string> = Object.fromEntries([...rec.aliases].map(([a, id]) => [a, String(id)]));
    if (version === undefined) delete aliases[alias];
    else if (/^\d+$/.test(version)) aliases[alias] = version;
    else
      aliases[alias] = String(this.versionFor(`${name}/versions/${version}`, 'secretmanager.versions.get', true).v.id);
    this.updateSecret({ secret: { name, versionAliases: aliases }, updateMask: { paths: ['version_aliases'] } });
  }

  adminDeleteSecret(secretId: string, location?: string): void {
    this.deleteSecret({ name: this.secretKey(secretId, location) });
  }
}
