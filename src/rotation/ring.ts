/**
 * The key ring: every key of one rotated secret as Secret Manager holds it, with the role each plays.
 * Read from Secret Manager on every command (the secrets are the only state; nothing is kept locally),
 * in either layout:
 *
 * - `suffix`: one secret per key, `NAME_v1`, `NAME_v2`, …; a key is its secret's latest version (what an
 *   app declaring `NAME_v2 ?? NAME_v1` reads). The live key is the highest-numbered enabled one.
 * - `alias`: one secret `NAME`; a key is a version; the live key is the version the alias `current`
 *   names (apps declare `NAME@current ?? NAME@previous`).
 */
import type { SecretAdmin, SecretMeta, VersionMeta, VersionState } from './admin.js';
import { RotationError } from './errors.js';
import {
  article,
  ANNOTATION,
  LABEL,
  readPending,
  readRecords,
  type PendingRecord,
  type VersionRecords,
} from './records.js';

export const LAYOUTS = ['suffix', 'alias'] as const;
export type Layout = (typeof LAYOUTS)[number];

/**
 * - `live`: what apps resolve now.
 * - `old`: enabled, not live: a process may still hold it; verify, then revoke.
 * - `staged`: provisioned by keyflip and not yet live (disabled: no process can read it).
 * - `pending`: written by a `provision`/`emergency` that stopped before its last write.
 * - `revoked`, `discarded`: disabled by keyflip (`revoke`, `emergency`, `discard`).
 * - `inactive`: disabled or destroyed outside keyflip.
 */
export type KeyRole = 'live' | 'old' | 'staged' | 'pending' | 'revoked' | 'discarded' | 'inactive';

export interface RotationKey {
  /** How people name it: `OPENAI_API_KEY_v3` (suffix) or `OPENAI_API_KEY@3` (alias). */
  readonly label: string;
  /** Its place in the ring: N of `NAME_vN`, or the version number. */
  readonly n: number;
  readonly secretId: string;
  readonly version: number;
  readonly state: VersionState;
  readonly createdAt: number;
  readonly etag: string;
  readonly role: KeyRole;
  /** Aliases naming this version (alias layout). */
  readonly aliases: readonly string[];
  readonly records: VersionRecords;
  /** The fingerprint recorded when keyflip staged (or revoked) it (readable even while the version is disabled). */
  readonly fingerprint: string | undefined;
}

export interface KeyRing {
  readonly name: string;
  readonly layout: Layout;
  /** The secrets read, by id. */
  readonly secrets: ReadonlyMap<string, SecretMeta>;
  /** Every key, in ring order (oldest first). */
  readonly keys: readonly RotationKey[];
  readonly live: RotationKey | undefined;
  /** Enabled keys other than the live one, oldest first. */
  readonly old: readonly RotationKey[];
  readonly staged: RotationKey | undefined;
  /** A write sequence that stopped part-way: which, on which secret, and the key it had added if any. */
  readonly pending:
    | { readonly record: PendingRecord; readonly secretId: string; readonly key: RotationKey | undefined }
    | undefined;
  /** The environment label of the ring's secrets, if any. */
  readonly environment: string | undefined;
  /** Things `status` should point out (an interrupted write, a missing alias). */
  readonly notes: readonly string[];
}

/** The name being rotated: a secret id, and in the suffix layout not itself ending in `_vN`. */
const NAME = /^[A-Za-z0-9_-]{1,240}$/;

export function checkName(name: string, layout: Layout): void {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new RotationError('INVALID_INPUT', 'SECRET must be a secret id (1 to 240 letters, digits, "_" and "-")');
  }
  if (layout === 'suffix' && /_v\d+$/.test(name)) {
    throw new RotationError(
      'INVALID_INPUT',
      `${name} already ends in _vN: give the name without it (${name.replace(/_v\d+$/, '')}); keyflip adds the suffix`,
    );
  }
}

export const suffixId = (name: string, n: number): string => `${name}_v${n}`;

/** The highest N among the ring's `NAME_vN` secrets (0 when there is none; the alias layout has none). */
export function highestSlot(ring: Pick<KeyRing, 'secrets'>): number {
  let top = 0;
  for (const id of ring.secrets.keys()) top = Math.max(top, Number(/_v(\d+)$/.exec(id)?.[1] ?? 0));
  return top;
}

/** Reads the ring of `name`. */
export async function readRing(admin: SecretAdmin, name: string, layout: Layout): Promise<KeyRing> {
  checkName(name, layout);
  return layout === 'suffix' ? readSuffix(admin, name) : readAlias(admin, name);
}

interface Draft {
  n: number;
  secret: SecretMeta;
  version: VersionMeta;
  records: VersionRecords;
}

function key(draft: Draft, role: KeyRole, label: string): RotationKey {
  const aliases = Object.entries(draft.secret.aliases)
    .filter(([, v]) => v === draft.version.version)
    .map(([a]) => a)
    .sort();
  return {
    label,
    n: draft.n,
    secretId: draft.secret.id,
    version: draft.version.version,
    state: draft.version.state,
    createdAt: draft.version.createdAt,
    etag: draft.version.etag,
    role,
    aliases,
    records: draft.records,
    fingerprint: draft.records.staged?.fingerprint ?? draft.records.revoked?.fingerprint,
  };
}

function environmentOf(secrets: Iterable<SecretMeta>): string | undefined {
  for (const s of secrets) if (s.labels[LABEL.environment]) return s.labels[LABEL.environment];
  return undefined;
}

async function readSuffix(admin: SecretAdmin, name: string): Promise<KeyRing> {
  const pattern = new RegExp(`^${name.replace(/[-]/g, '\\-')}_v([1-9]\\d{0,8})$`);
  const listed = (await admin.listSecrets(`name:${name}_v`)).filter((s) => pattern.test(s.id));
  const secrets = new Map(listed.map((s) => [s.id, s]));
  const notes: string[] = [];
  const drafts: Draft[] = [];
  let pendingAt: { record: PendingRecord; secretId: string; draft: Draft | undefined } | undefined;
  for (const secret of listed.sort((a, b) => slotOf(a.id, pattern) - slotOf(b.id, pattern))) {
    const n = slotOf(secret.id, pattern);
    const latest = (await admin.listVersions(secret.id))[0];
    const draft = latest
      ? { n, secret, version: latest, records: readRecords(secret.annotations).get(latest.version) ?? {} }
      : undefined;
    if (draft) drafts.push(draft);
    const record = readPending(secret.annotations);
    // The latest version is the one the stopped sequence added: when nothing was recorded for it yet, or
    // it was recorded as staged with the pending fingerprint (an emergency records before it finishes).
    if (record)
      pendingAt = {
        record,
        secretId: secret.id,
        draft: draft && isPendingKey(draft.version.version, draft.records, record) ? draft : undefined,
      };
  }

  const liveDraft = [...drafts].reverse().find((d) => d.version.state === 'ENABLED');
  const keys = drafts.map((d) => {
    const label = suffixId(name, d.n);
    if (d === liveDraft) return key(d, 'live', label);
    if (d.records.discarded) return key(d, 'discarded', label);
    if (d.records.revoked && d.version.state !== 'ENABLED') return key(d, 'revoked', label);
    if (d.version.state === 'ENABLED') return key(d, 'old', label);
    if (d === pendingAt?.draft) return key(d, 'pending', label);
    if (d.version.state === 'DISABLED' && d.records.staged && !d.records.flipped && (!liveDraft || d.n > liveDraft.n))
      return key(d, 'staged', label);
    return key(d, 'inactive', label);
  });
  const live = keys.find((k) => k.role === 'live');
  let pending: KeyRing['pending'];
  if (pendingAt) {
    const pk = pendingAt.draft ? keys[drafts.indexOf(pendingAt.draft)] : undefined;
    pending = { record: pendingAt.record, secretId: pendingAt.secretId, key: pk };
    if (pk?.role === 'live')
      notes.push(
        `${pk.label} was added by a ${pendingAt.record.op} that stopped before its last write, and is enabled: apps that declare it use it now`,
      );
  }
  if (live && live.records.staged && !live.records.flipped && !pending) {
    notes.push(
      `${live.label} is enabled but its flip was not recorded: a flip stopped part-way; run flip again to finish it`,
    );
  }
  return finish(name, 'suffix', secrets, keys, pending, notes);
}

/** The key a stopped provision/emergency added: nothing recorded for it yet, or staged with its fingerprint. */
function isPendingKey(version: number, records: VersionRecords, pending: PendingRecord): boolean {
  if (version <= pending.after || records.discarded || records.revoked) return false;
  if (Object.keys(records).length === 0) return true;
  return records.staged?.fingerprint === pending.fingerprint;
}

function slotOf(id: string, pattern: RegExp): number {
  return Number(pattern.exec(id)?.[1] ?? 0);
}

async function readAlias(admin: SecretAdmin, name: string): Promise<KeyRing> {
  const secret = await admin.getSecret(name);
  const secrets = new Map<string, SecretMeta>();
  const notes: string[] = [];
  if (!secret) return finish(name, 'alias', secrets, [], undefined, notes);
  secrets.set(secret.id, secret);
  const versions = (await admin.listVersions(name)).sort((a, b) => a.version - b.version);
  const records = readRecords(secret.annotations);
  const pendingRecord = readPending(secret.annotations);
  const currentVersion = secret.aliases.current;
  const liveMeta = versions.find((v) => v.version === currentVersion && v.state === 'ENABLED');
  if (currentVersion === undefined && versions.length > 0)
    notes.push(
      `${name} has no alias "current": apps declaring ${name}@current find nothing; flip a staged key to set it`,
    );
  else if (currentVersion !== undefined && !liveMeta)
    notes.push(`${name}@current names version ${currentVersion}, which is not enabled`);
  const keys = versions.map((v) => {
    const d: Draft = { n: v.version, secret, version: v, records: records.get(v.version) ?? {} };
    const label = `${name}@${v.version}`;
    if (v === liveMeta) return key(d, 'live', label);
    if (d.records.discarded) return key(d, 'discarded', label);
    if (d.records.revoked && v.state !== 'ENABLED') return key(d, 'revoked', label);
    const newer = !liveMeta || v.version > liveMeta.version;
    if (newer && d.records.staged && !d.records.flipped) return key(d, 'staged', label);
    if (newer && pendingRecord && isPendingKey(v.version, d.records, pendingRecord)) return key(d, 'pending', label);
    if (v.state === 'ENABLED') return key(d, 'old', label);
    return key(d, 'inactive', label);
  });
  let pending: KeyRing['pending'];
  if (pendingRecord) {
    const added = keys
      .filter((k) => (k.role === 'pending' || k.role === 'live') && isPendingKey(k.version, k.records, pendingRecord))
      .pop();
    pending = { record: pendingRecord, secretId: name, key: added };
    if (added?.role === 'live')
      notes.push(
        `${added.label} was made current by an ${pendingRecord.op} that stopped before its last write: run it again with the same key to finish it`,
      );
  }
  const staged = keys.filter((k) => k.role === 'staged').pop();
  if (staged && staged.state === 'ENABLED')
    notes.push(`${staged.label} is enabled but not current: a flip stopped part-way; run flip again to finish it`);
  return finish(name, 'alias', secrets, keys, pending, notes);
}

function finish(
  name: string,
  layout: Layout,
  secrets: Map<string, SecretMeta>,
  keys: RotationKey[],
  pending: KeyRing['pending'],
  notes: string[],
): KeyRing {
  const staged = keys.filter((k) => k.role === 'staged');
  for (const k of keys) {
    if (k.role === 'old' && k.records.revoked)
      notes.push(
        `${k.label} is recorded as revoked but still enabled: a revoke stopped part-way (or the version was enabled again by hand); run revoke again`,
      );
  }
  if (staged.length > 1)
    notes.push(
      `more than one staged key (${staged.map((k) => k.label).join(', ')}): the newest is the one flip makes live; discard the others`,
    );
  if (pending && !pending.key)
    notes.push(
      `${article(pending.record.op)} of ${pending.record.fingerprint} stopped before adding its key; run it again with the same key, or discard`,
    );
  else if (pending?.key && pending.key.role !== 'live')
    notes.push(
      `${article(pending.record.op)} of ${pending.record.fingerprint} stopped after adding ${pending.key.label}; run it again with the same key, or discard`,
    );
  return {
    name,
    layout,
    secrets,
    keys,
    live: keys.find((k) => k.role === 'live'),
    old: keys.filter((k) => k.role === 'old'),
    staged: staged.pop(),
    pending,
    environment: environmentOf(secrets.values()),
    notes,
  };
}

/** The layout recorded on the ring's secrets (the `keyflip-layout` label), if any. */
export async function recordedLayout(admin: SecretAdmin, name: string): Promise<Layout | undefined> {
  const alias = await admin.getSecret(name);
  if (alias?.labels[LABEL.layout] === 'alias') return 'alias';
  if (alias?.labels[LABEL.layout] === 'suffix') return 'suffix';
  const suffix = await admin.listSecrets(`labels.${LABEL.layout}=suffix AND name:${name}_v`);
  if (suffix.some((s) => s.annotations[ANNOTATION.name] === name)) return 'suffix';
  return undefined;
}
