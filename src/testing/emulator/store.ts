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
const MAX_ANNOTATIONS_BYTES = 16_384;
const MAX_PAGE_SIZE = 25_000;

interface Timestamp {
  seconds: string;
  nanos: number;
}
interface DurationLike {
  seconds?: string | number;
  nanos?: number;
}

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
  'tags',
  'secretType',
] as const;
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
const msOf = (d: DurationLike | undefined): number =>
  d ? Number(d.seconds ?? 0) * 1000 + Math.floor(Number(d.nanos ?? 0) / 1e6) : 0;
const toCamel = (path: string): string => path.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
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
    if (!LABEL_KEY.test(key))
      throw invalid(
        `Invalid label key [${key}]: 1-63 lowercase letters, digits, '_' or '-', starting with a lowercase letter.`,
      );
    if (!LABEL_VALUE.test(labels[key] as string))
      throw invalid(`Invalid value for label [${key}]: at most 63 lowercase letters, digits, '_' or '-'.`);
  }
}

function validateAnnotations(annotations: Record<string, string>): void {
  let size = 0;
  for (const [key, value] of Object.entries(annotations)) {
    if (!ANNOTATION_KEY.test(key)) throw invalid(`Invalid annotation key [${key}].`);
    size += Buffer.byteLength(key) + Buffer.byteLength(value);
  }
  if (size > MAX_ANNOTATIONS_BYTES) throw invalid(`The total size of annotations must be less than 16KiB.`);
}

function pageOf<T>(items: T[], pageSize: unknown, pageToken: unknown): { page: T[]; next: string } {
  const size = Number(pageSize ?? 0);
  if (!Number.isInteger(size) || size < 0) throw invalid('page_size must be a non-negative integer.');
  const token = str(pageToken);
  const start = token === '' ? 0 : /^\d{1,9}$/.test(token) ? Number(token) : NaN;
  if (Number.isNaN(start)) throw invalid(`Invalid page token [${token}].`);
  const limit = size === 0 ? MAX_PAGE_SIZE : Math.min(size, MAX_PAGE_SIZE);
  const page = items.slice(start, start + limit);
  return { page, next: start + limit < items.length ? String(start + limit) : '' };
}

export class SecretStore {
  private readonly secrets = new Map<string, SecretRecord>();
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
    this.checkProject(parent, 'secretmanager.secrets.create', str(req.parent));
    if (!isSecretId(secretId)) {
      throw invalid(`Invalid secret_id [${secretId}]: 1-255 characters of letters, digits, '_' or '-'.`);
    }
    const name = this.secretKey(secretId, parent.location);
    if (this.live(name)) throw new RpcError(GrpcCode.ALREADY_EXISTS, `Secret [${name}] already exists.`);
    const secret = isObj(req.secret) ? req.secret : {};
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
    for (const field of ECHOED) if (secret[field] !== undefined) rec.fields[field] = secret[field];
    if (isObj(secret.expireTime)) rec.expireMs = msOf(secret.expireTime);
    else if (isObj(secret.ttl)) rec.expireMs = now + msOf(secret.ttl);
    this.secrets.set(name, rec);
    return this.secretView(rec);
  }

  private getSecret(req: Obj): Obj {
    return this.secretView(this.secretFor(req.name, 'secretmanager.secrets.get'));
  }

  private updateSecret(req: Obj): Obj {
    if (!isObj(req.secret)) throw invalid('Field [secret] is required.');
    const secret = req.secret;
    const rec = this.secretFor(secret.name, 'secretmanager.secrets.update');
    const mask =
      isObj(req.updateMask) && Array.isArray(req.updateMask.paths)
        ? (req.updateMask.paths as unknown[]).map(String)
        : [];
    if (mask.length === 0) throw invalid('Field [update_mask] is required.');
    const etag = str(secret.etag);
    if (etag !== '' && etag !== rec.etag) throw new RpcError(GrpcCode.FAILED_PRECONDITION, ETAG_MISMATCH);

    // Validate everything before changing anything.
    const fields = mask.map((path) => {
      const field = toCamel(path);
      if (IMMUTABLE.has(field)) throw invalid(`The field [${path}] cannot be updated.`);
      if (!UPDATABLE.has(field)) throw invalid(`Invalid update_mask path [${path}].`);
      return field;
    });
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

    rec.labels = labels;
    rec.annotations = annotations;
    rec.aliases = aliases;
    for (const field of fields) {
      if (field === 'expireTime') {
        if (isObj(secret.expireTime)) rec.expireMs = msOf(secret.expireTime);
        else delete rec.expireMs;
      } else if (field === 'ttl') {
        if (isObj(secret.ttl)) rec.expireMs = this.now() + msOf(secret.ttl);
        else delete rec.expireMs;
      } else if ((ECHOED as readonly string[]).includes(field)) {
        if (secret[field] === undefined) delete rec.fields[field];
        else rec.fields[field] = secret[field];
      }
    }
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
    this.checkProject(parent, 'secretmanager.secrets.list', str(req.parent));
    const prefix = `${this.parent(parent.location)}/secrets/`;
    const filter = str(req.filter);
    const terms = parseFilter(filter);
    const all = [...this.secrets.keys()]
      .filter((name) => name.startsWith(prefix) && !name.slice(prefix.length).includes('/'))
      .map((name) => this.live(name))
      .filter((rec): rec is SecretRecord => rec !== undefined)
      .filter((rec) =>
        matches(
          terms,
          (field) => {
            if (field === 'name') return rec.name;
            if (field === 'labels') return Object.keys(rec.labels);
            if (field.startsWith('labels.')) return rec.labels[field.slice(7)] ?? null;
            if (field === 'annotations') return Object.keys(rec.annotations);
            if (field.startsWith('annotations.')) return rec.annotations[field.slice(12)] ?? null;
            if (field === 'version_aliases' || field === 'versionAliases') return [...rec.aliases.keys()];
            return undefined;
          },
          filter,
        ),
      )
      .sort((a, b) => b.createMs - a.createMs || b.order - a.order); // newest first
    const { page, next } = pageOf(all, req.pageSize, req.pageToken);
    return { secrets: page.map((rec) => this.secretView(rec)), nextPageToken: next, totalSize: all.length };
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
    if (!matchesCrc32c(data, sent)) {
      throw invalid(
        `Checksum mismatch: payload.data_crc32c [${String(sent)}] is not the CRC32C of payload.data [${crc}].`,
      );
    }
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
    const terms = parseFilter(filter);
    const all = rec.versions
      .slice()
      .reverse() // newest first
      .filter((v) =>
        matches(
          terms,
          (field) => {
            if (field === 'name') return `${rec.name}/versions/${v.id}`;
            if (field === 'state') return v.state;
            return undefined;
          },
          filter,
        ),
      );
    const { page, next } = pageOf(all, req.pageSize, req.pageToken);
    return { versions: page.map((v) => this.versionView(rec, v)), nextPageToken: next, totalSize: all.length };
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
    const destroyTtl = msOf(isObj(rec.fields.versionDestroyTtl) ? rec.fields.versionDestroyTtl : undefined);
    if (to === 'DESTROYED' && destroyTtl > 0) {
      // Delayed destruction: disabled now, destroyed once the TTL has passed; enabling cancels it.
      v.state = 'DISABLED';
      v.scheduledDestroyMs = now + destroyTtl;
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
