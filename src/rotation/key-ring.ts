/**
 * The key ring: every key of one rotated secret as Secret Manager holds it, with the role each plays.
 * Read from Secret Manager on every command (the secrets are the only state; nothing is kept locally),
 * in either layout:
 *
 * - `suffix`: one secret per key, `NAME_v1`, `NAME_v2`, …; a key is its secret's latest version (what an
 *   app declaring `NAME_v2 ?? NAME_v1` reads). The live key is the highest-numbered enabled one.
 * - `alias`: one secret `NAME`; a key is a version; the live key is the version the alias `current`
 *   names (apps declare `NAME@current ?? NAME@previous`).
 *
 * Each layout's reader finds the keys and the facts about them; one table (key-roles.ts) gives the roles.
 */
import type { SecretAdmin, SecretMeta, VersionMeta, VersionState } from './admin.js';
import { roleOf, type KeyFacts, type KeyRole } from './key-roles.js';
import { checkName, suffixId, type Layout } from './layout.js';
import { article, LABEL, readPending, readRecords, type PendingRecord, type VersionRecords } from './records.js';

/** One key of a ring: a Secret Manager version, with the role it plays in the rotation. Never its value. */
export interface RotationKey {
  /** How people name it: `OPENAI_API_KEY_v3` (suffix) or `OPENAI_API_KEY@3` (alias). */
  readonly label: string;
  /** Its place in the ring: N of `NAME_vN`, or the version number. */
  readonly n: number;
  /** The Secret Manager secret that holds it. */
  readonly secretId: string;
  /** Its Secret Manager version number. */
  readonly version: number;
  /** Its Secret Manager state. */
  readonly state: VersionState;
  /** When the version was created (ms since the epoch). */
  readonly createdAt: number;
  /** The version's etag. */
  readonly etag: string;
  /** The part it plays: `live`, `old`, `staged`, `pending`, `revoked`, `discarded` or `inactive`. */
  readonly role: KeyRole;
  /** Aliases naming this version (alias layout). */
  readonly aliases: readonly string[];
  /** What the commands recorded on it. */
  readonly records: VersionRecords;
  /** The fingerprint recorded when keyflip staged (or revoked) it (readable even while the version is disabled). */
  readonly fingerprint: string | undefined;
}

/** A write sequence that stopped part-way: which, on which secret, and the key it had added if any. */
export interface StoppedSequence {
  /** The mark the sequence left: which command, for which key, since when. */
  readonly record: PendingRecord;
  /** The secret it was writing to. */
  readonly secretId: string;
  /** The key it had added, if it got that far. */
  readonly key: RotationKey | undefined;
}

/** Every key of one rotated secret as Secret Manager holds it, with the role each plays ({@link readRing}). */
export interface KeyRing {
  /** The rotated secret's name (`OPENAI_API_KEY`). */
  readonly name: string;
  /** The layout of its keys. */
  readonly layout: Layout;
  /** The secrets read, by id. */
  readonly secrets: ReadonlyMap<string, SecretMeta>;
  /** Every key, in ring order (oldest first). */
  readonly keys: readonly RotationKey[];
  /** The key apps resolve now; undefined when there is none. */
  readonly live: RotationKey | undefined;
  /** Enabled keys other than the live one, oldest first. */
  readonly old: readonly RotationKey[];
  /** The key provisioned and not flipped yet, if any. */
  readonly staged: RotationKey | undefined;
  /** A write sequence that stopped part-way: which, on which secret, and the key it had added if any. */
  readonly pending: StoppedSequence | undefined;
  /** The environment label of the ring's secrets, if any. */
  readonly environment: string | undefined;
  /** Things `status` should point out (an interrupted write, a missing alias). */
  readonly notes: readonly string[];
}

/** Reads the ring of `name`. */
export async function readRing(admin: SecretAdmin, name: string, layout: Layout): Promise<KeyRing> {
  checkName(name, layout);
  return layout === 'suffix' ? readSuffix(admin, name) : readAlias(admin, name);
}

/** The newest version number of a secret of the ring (0 when it has none or is not there yet). */
export function newestVersion(ring: KeyRing, secretId: string): number {
  return Math.max(0, ...ring.keys.filter((k) => k.secretId === secretId).map((k) => k.version));
}

/** A version found by a layout reader, with what the role rules need to know about it. */
interface Found {
  readonly n: number;
  readonly label: string;
  readonly secret: SecretMeta;
  readonly version: VersionMeta;
  readonly records: VersionRecords;
}

function keyOf(found: Found, facts: Omit<KeyFacts, 'state' | 'records'>): RotationKey {
  const { secret, version, records } = found;
  const aliases = Object.entries(secret.aliases)
    .filter(([, v]) => v === version.version)
    .map(([a]) => a)
    .sort();
  return {
    label: found.label,
    n: found.n,
    secretId: secret.id,
    version: version.version,
    state: version.state,
    createdAt: version.createdAt,
    etag: version.etag,
    role: roleOf({ ...facts, state: version.state, records }),
    aliases,
    records,
    fingerprint: records.staged?.fingerprint ?? records.revoked?.fingerprint,
  };
}

function environmentOf(secrets: Iterable<SecretMeta>): string | undefined {
  for (const s of secrets) if (s.labels[LABEL.environment]) return s.labels[LABEL.environment];
  return undefined;
}

/** The key a stopped provision/emergency added: nothing recorded for it yet, or staged with its fingerprint. */
function isPendingKey(version: number, records: VersionRecords, pending: PendingRecord): boolean {
  if (version <= pending.after || records.discarded || records.revoked) return false;
  if (Object.keys(records).length === 0) return true;
  return records.staged?.fingerprint === pending.fingerprint;
}

async function readSuffix(admin: SecretAdmin, name: string): Promise<KeyRing> {
  const pattern = new RegExp(`^${name.replace(/[-]/g, '\\-')}_v([1-9]\\d{0,8})$`);
  const slotOf = (id: string): number => Number(pattern.exec(id)?.[1] ?? 0);
  const listed = (await admin.listSecrets(`name:${name}_v`)).filter((s) => pattern.test(s.id));
  const secrets = new Map(listed.map((s) => [s.id, s]));
  const notes: string[] = [];
  const found: Found[] = [];
  let stopped: { record: PendingRecord; secretId: string; added: Found | undefined } | undefined;
  for (const secret of listed.sort((a, b) => slotOf(a.id) - slotOf(b.id))) {
    const n = slotOf(secret.id);
    const latest = (await admin.listVersions(secret.id))[0];
    const one = latest
      ? {
          n,
          label: suffixId(name, n),
          secret,
          version: latest,
          records: readRecords(secret.annotations).get(latest.version) ?? {},
        }
      : undefined;
    if (one) found.push(one);
    const record = readPending(secret.annotations);
    // The latest version is the one the stopped sequence added: when nothing was recorded for it yet, or
    // it was recorded as staged with the pending fingerprint (an emergency records before it finishes).
    if (record) {
      const added = one && isPendingKey(one.version.version, one.records, record) ? one : undefined;
      stopped = { record, secretId: secret.id, added };
    }
  }

  const live = [...found].reverse().find((f) => f.version.state === 'ENABLED');
  const keys = found.map((f) =>
    keyOf(f, { live: f === live, newer: !live || f.n > live.n, added: f === stopped?.added }),
  );
  let pending: StoppedSequence | undefined;
  if (stopped) {
    const key = stopped.added ? keys[found.indexOf(stopped.added)] : undefined;
    pending = { record: stopped.record, secretId: stopped.secretId, key };
    if (key?.role === 'live')
      notes.push(
        `${key.label} was added by a ${stopped.record.op} that stopped before its last write, and is enabled: ` +
          'apps that declare it use it now',
      );
  }
  const liveKey = keys.find((k) => k.role === 'live');
  if (liveKey?.records.staged && !liveKey.records.flipped && !pending) {
    notes.push(
      `${liveKey.label} is enabled but its flip was not recorded: a flip stopped part-way; run flip again to finish it`,
    );
  }
  return finish(name, 'suffix', secrets, keys, pending, notes);
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
  const live = versions.find((v) => v.version === currentVersion && v.state === 'ENABLED');
  if (currentVersion === undefined && versions.length > 0)
    notes.push(
      `${name} has no alias "current": apps declaring ${name}@current find nothing; flip a staged key to set it`,
    );
  else if (currentVersion !== undefined && !live)
    notes.push(`${name}@current names version ${currentVersion}, which is not enabled`);
  const added = (v: VersionMeta, r: VersionRecords): boolean =>
    pendingRecord !== undefined && isPendingKey(v.version, r, pendingRecord);
  const keys = versions.map((v) => {
    const r = records.get(v.version) ?? {};
    const one: Found = { n: v.version, label: `${name}@${v.version}`, secret, version: v, records: r };
    return keyOf(one, { live: v === live, newer: !live || v.version > live.version, added: added(v, r) });
  });
  let pending: StoppedSequence | undefined;
  if (pendingRecord) {
    const key = keys
      .filter((k) => (k.role === 'pending' || k.role === 'live') && isPendingKey(k.version, k.records, pendingRecord))
      .pop();
    pending = { record: pendingRecord, secretId: name, key };
    if (key?.role === 'live')
      notes.push(
        `${key.label} was made current by an ${pendingRecord.op} that stopped before its last write: ` +
          'run it again with the same key to finish it',
      );
  }
  const staged = keys.filter((k) => k.role === 'staged').pop();
  if (staged && staged.state === 'ENABLED')
    notes.push(`${staged.label} is enabled but not current: a flip stopped part-way; run flip again to finish it`);
  return finish(name, 'alias', secrets, keys, pending, notes);
}

/** The ring from its keys, with the notes both layouts share. */
function finish(
  name: string,
  layout: Layout,
  secrets: Map<string, SecretMeta>,
  keys: RotationKey[],
  pending: StoppedSequence | undefined,
  notes: string[],
): KeyRing {
  const staged = keys.filter((k) => k.role === 'staged');
  for (const k of keys) {
    if (k.role === 'old' && k.records.revoked)
      notes.push(
        `${k.label} is recorded as revoked but still enabled: a revoke stopped part-way ` +
          '(or the version was enabled again by hand); run revoke again',
      );
  }
  if (staged.length > 1)
    notes.push(
      `more than one staged key (${staged.map((k) => k.label).join(', ')}): ` +
        'the newest is the one flip makes live; discard the others',
    );
  const sequence = pending ? `${article(pending.record.op)} of ${pending.record.fingerprint}` : '';
  if (pending && !pending.key)
    notes.push(`${sequence} stopped before adding its key; run it again with the same key, or discard`);
  else if (pending?.key && pending.key.role !== 'live')
    notes.push(`${sequence} stopped after adding ${pending.key.label}; run it again with the same key, or discard`);
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
