/**
 * The key ring: every key of one rotated secret as Secret Manager holds it, with the role each plays.
 * Read from Secret Manager on every command (the secrets are the only state; nothing is kept locally),
 * in any layout:
 *
 * - `pair`: a key is a version of `NAME_v1`, `NAME_v2` or `NAME_next` (labelled `NAME_v2@3`). The live key is
 *   `NAME_v2`'s latest version when enabled, else `NAME_v1`'s (what an app declaring `NAME_v2 ?? NAME_v1`
 *   reads). The same key can be in several versions: every enabled version is read (fingerprinted, never kept)
 *   so that a copy of the live key is told from an old key. A `NAME_vN` with N ≥ 3 (left by the suffix layout)
 *   is a key too (its latest version). `NAME_next` holds the staged key (a version of it that was flipped is no
 *   key any more: its key is in `NAME_v2`). `pairSlots` gives the current and previous slots.
 * - `suffix`: one secret per key, `NAME_v1`, `NAME_v2`, …; a key is its secret's latest version (what an
 *   app declaring `NAME_v3 ?? NAME_v2 ?? NAME_v1` reads). The live key is the highest-numbered enabled one.
 *   New keys are staged in `NAME_next` (a key staged in `NAME_vN` by an older keyflip still flips).
 * - `alias`: one secret `NAME`; a key is a version; the live key is the version the alias `current`
 *   names (apps declare `NAME@current ?? NAME@previous`).
 *
 * Each layout's reader finds the keys and the facts about them; one table (key-roles.ts) gives the roles.
 * For the commands: `latestOf` (a secret's newest version), `pairSlots`, `inStaging` (a key in `NAME_next`),
 * `flipInProgress` (a flip stopped part-way, in any layout: every command but flip waits for it).
 */
import type { SecretAdmin, SecretMeta, VersionMeta, VersionState } from './admin.js';
import { roleOf, type KeyFacts, type KeyRole } from './key-roles.js';
import { checkName, pairIds, stagingId, suffixId, type Layout } from './layout.js';
import { readMinting, type MintingMark } from './minting-mark.js';
import { article, LABEL, readPending, readRecords, type PendingRecord, type VersionRecords } from './records.js';

/** One key of a ring: a Secret Manager version, with the role it plays in the rotation. Never its value. */
export interface RotationKey {
  /**
   * How people name it: `OPENAI_API_KEY_v2@3` (pair, and a staged key: secret and version), `OPENAI_API_KEY_v3`
   * (suffix) or `OPENAI_API_KEY@3` (alias).
   */
  readonly label: string;
  /** Its place in the ring: N of `NAME_vN` (suffix), or the version number (pair: of its secret; alias). */
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
  /** It is its secret's newest version: what an app declaring that secret reads (when it is enabled). */
  readonly latest: boolean;
  /** The part it plays: `live`, `old`, `staged`, `pending`, `revoked`, `discarded` or `inactive`. */
  readonly role: KeyRole;
  /** Aliases naming this version (alias layout). */
  readonly aliases: readonly string[];
  /** What the commands recorded on it. */
  readonly records: VersionRecords;
  /**
   * Its fingerprint: read from Secret Manager when the ring was read with a `fingerprint` function and the version
   * is enabled, else the one recorded when keyflip staged, flipped or revoked it (kept while it is disabled).
   */
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
  /** The newest version number of each secret read (of versions that are no key too: a flipped `NAME_next` one). */
  readonly newest: ReadonlyMap<string, number>;
  /** A write sequence that stopped part-way: which, on which secret, and the key it had added if any. */
  readonly pending: StoppedSequence | undefined;
  /** The environment label of the ring's secrets, if any. */
  readonly environment: string | undefined;
  /** Things `status` should point out (an interrupted write, a missing alias). */
  readonly notes: readonly string[];
  /**
   * A minting mark left on a secret of the ring: a key minted at the provider that the mint's own store did not
   * finish (a crash between the mint and the store); `discard` revokes it at the provider.
   */
  readonly minting?:
    | {
        /** The mark: the provider, the name the key was minted under, when. */
        readonly mark: MintingMark;
        /** The secret the mark is on (the staging secret). */
        readonly secretId: string;
      }
    | undefined;
}

/** Options of {@link readRing}. */
export interface ReadRingOptions {
  /**
   * The fingerprint of a value (`fingerprintOf(ctx, value)`): with it, every enabled version of a pair ring is
   * read and fingerprinted (a copy of the live key is then told from an old key). Without it (`audit`, which
   * needs no access to values), only recorded fingerprints are known.
   * @default none: nothing is read
   */
  fingerprint?: ((value: string) => string) | undefined;
}

/** Reads the ring of `name`. */
export async function readRing(
  admin: SecretAdmin,
  name: string,
  layout: Layout,
  options: ReadRingOptions = {},
): Promise<KeyRing> {
  checkName(name, layout);
  if (layout === 'pair') return readPair(admin, name, options);
  return layout === 'suffix' ? readSuffix(admin, name) : readAlias(admin, name);
}

/** The newest version number of a secret of the ring (0 when it has none or is not there yet). */
export function newestVersion(ring: KeyRing, secretId: string): number {
  return Math.max(
    ring.newest.get(secretId) ?? 0,
    ...ring.keys.filter((k) => k.secretId === secretId).map((k) => k.version),
  );
}

/** The key that is `secretId`'s newest version (pair: `latestOf(ring, pairIds(name).current)` is the current). */
export function latestOf(ring: KeyRing, secretId: string): RotationKey | undefined {
  return ring.keys.find((k) => k.secretId === secretId && k.latest);
}

/**
 * The pair layout's two slots: `current`, `NAME_v2`'s newest version (what apps read first), and `previous`,
 * `NAME_v1`'s (what they read when `NAME_v2` has no enabled latest version). Either may be missing or disabled.
 */
export function pairSlots(ring: KeyRing): { current: RotationKey | undefined; previous: RotationKey | undefined } {
  const ids = pairIds(ring.name);
  return { current: latestOf(ring, ids.current), previous: latestOf(ring, ids.previous) };
}

/** The key is in `NAME_next`, the staging secret of the pair and suffix layouts. */
export const inStaging = (ring: KeyRing, key: RotationKey): boolean => key.secretId === stagingId(ring.name);

/**
 * A flip stopped part-way: its pending mark (pair and suffix layouts), or a staged key enabled outside
 * `NAME_next` (alias layout; a suffix ring staged by an older keyflip), or a live key staged and never recorded
 * as flipped. Every command but flip refuses (`pending`) until flip runs again and finishes it.
 */
export function flipInProgress(ring: KeyRing): boolean {
  const { pending, staged, live } = ring;
  if (pending?.record.op === 'flip') return true;
  if (staged && staged.state === 'ENABLED' && !inStaging(ring, staged)) return true;
  return Boolean(live?.records.staged && !live.records.flipped);
}

/** A version found by a layout reader, with what the role rules need to know about it. */
interface Found {
  readonly n: number;
  readonly label: string;
  readonly secret: SecretMeta;
  readonly version: VersionMeta;
  readonly records: VersionRecords;
}

/** The role facts the suffix and alias layouts do not use. */
type LayoutFacts = Omit<KeyFacts, 'state' | 'records' | 'copy'> & { copy?: boolean; latest?: boolean };

function keyOf(found: Found, facts: LayoutFacts, fingerprint?: string): RotationKey {
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
    latest: facts.latest ?? true,
    role: roleOf({ copy: false, ...facts, state: version.state, records }),
    aliases,
    records,
    fingerprint:
      fingerprint ?? records.staged?.fingerprint ?? records.flipped?.fingerprint ?? records.revoked?.fingerprint,
  };
}

/** The minting mark left on a secret of the ring, if any. */
function mintingOf(secrets: Iterable<SecretMeta>): KeyRing['minting'] {
  for (const s of secrets) {
    const mark = readMinting(s.annotations);
    if (mark) return { mark, secretId: s.id };
  }
  return undefined;
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

/** `name` as a regular expression, for the ids of its ring. */
const escaped = (name: string): string => name.replace(/-/g, '\\-');

/** A sequence's pending mark found on a secret, and the version it added if it got that far. */
interface Stopped {
  readonly record: PendingRecord;
  readonly secretId: string;
  readonly added: Found | undefined;
}

/**
 * `NAME_next`'s versions that are keys (pair and suffix layouts): those not flipped (a flipped one's key is in
 * `NAME_v2` or `NAME_vN` now) that are enabled, recorded, or the one a stopped sequence added; and its mark.
 */
async function readStaging(
  admin: SecretAdmin,
  secret: SecretMeta | undefined,
  newest: Map<string, number>,
): Promise<{ found: Found[]; stopped: Stopped | undefined }> {
  if (!secret) return { found: [], stopped: undefined };
  const versions = (await admin.listVersions(secret.id)).sort((a, b) => a.version - b.version);
  newest.set(secret.id, versions.at(-1)?.version ?? 0);
  const records = readRecords(secret.annotations);
  const record = readPending(secret.annotations);
  const found: Found[] = [];
  let added: Found | undefined;
  for (const v of versions) {
    const r = records.get(v.version) ?? {};
    const one: Found = { n: v.version, label: `${secret.id}@${v.version}`, secret, version: v, records: r };
    // (A flip's mark names the staged key it is flipping.)
    const isAdded = record !== undefined && isPendingKey(v.version, r, record);
    if (isAdded) added = one;
    if (r.flipped || (!isAdded && v.state !== 'ENABLED' && Object.keys(r).length === 0)) continue;
    found.push(one);
  }
  return { found, stopped: record ? { record, secretId: secret.id, added } : undefined };
}

/** `NAME_next`'s keys (pair and suffix layouts): never live, newer than every key apps read. */
function stagedKeys(
  staged: readonly Found[],
  stopped: Stopped | undefined,
  newest: Map<string, number>,
): RotationKey[] {
  return staged.map((f) =>
    keyOf(f, {
      live: false,
      newer: true,
      added: f === stopped?.added,
      latest: f.version.version === newest.get(f.secret.id),
    }),
  );
}

/** The sequence that stopped part-way, with the key it had added (`keys` is in the order of `every`). */
function stoppedSequence(
  stopped: Stopped | undefined,
  every: readonly Found[],
  keys: readonly RotationKey[],
): StoppedSequence | undefined {
  if (!stopped) return undefined;
  const key = stopped.added ? keys[every.indexOf(stopped.added)] : undefined;
  return { record: stopped.record, secretId: stopped.secretId, key };
}

async function readSuffix(admin: SecretAdmin, name: string): Promise<KeyRing> {
  const pattern = new RegExp(`^${escaped(name)}_v([1-9]\\d{0,8})$`);
  const slotOf = (id: string): number => Number(pattern.exec(id)?.[1] ?? 0);
  const all = await admin.listSecrets(`name:${name}_`);
  const listed = all.filter((s) => pattern.test(s.id));
  const staging = all.find((s) => s.id === stagingId(name));
  const secrets = new Map(listed.map((s) => [s.id, s]));
  const newest = new Map<string, number>();
  const notes: string[] = [];
  const found: Found[] = [];
  let stopped: Stopped | undefined;
  for (const secret of listed.sort((a, b) => slotOf(a.id) - slotOf(b.id))) {
    const n = slotOf(secret.id);
    const latest = (await admin.listVersions(secret.id))[0];
    newest.set(secret.id, latest?.version ?? 0);
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
  if (staging) secrets.set(staging.id, staging);
  const staged = await readStaging(admin, staging, newest);
  stopped = staged.stopped ?? stopped;

  const live = [...found].reverse().find((f) => f.version.state === 'ENABLED');
  const keys = [
    ...found.map((f) => keyOf(f, { live: f === live, newer: !live || f.n > live.n, added: f === stopped?.added })),
    ...stagedKeys(staged.found, stopped, newest),
  ];
  const every = [...found, ...staged.found];
  const pending = stoppedSequence(stopped, every, keys);
  if (pending) {
    const { key, record } = pending;
    if (key?.role === 'live')
      notes.push(
        `${key.label} was added by a ${record.op} that stopped before its last write, and is enabled: ` +
          'apps that declare it use it now',
      );
  }
  const liveKey = keys.find((k) => k.role === 'live');
  if (liveKey?.records.staged && !liveKey.records.flipped && !pending) {
    notes.push(
      `${liveKey.label} is enabled but its flip was not recorded: a flip stopped part-way; run flip again to finish it`,
    );
  }
  return finish(name, 'suffix', secrets, keys, pending, notes, newest);
}

/**
 * The pair layout: `NAME_v1`'s versions, then `NAME_v2`'s, then the latest version of each `NAME_vN` (N ≥ 3,
 * left by the suffix layout), then `NAME_next`'s keys, each oldest first.
 */
async function readPair(admin: SecretAdmin, name: string, options: ReadRingOptions): Promise<KeyRing> {
  const ids = pairIds(name);
  const legacy = new RegExp(`^${escaped(name)}_v([3-9]|[1-9]\\d{1,8})$`);
  const slotOf = (id: string): number => Number(/_v(\d+)$/.exec(id)?.[1] ?? 0);
  const all = await admin.listSecrets(`name:${name}_`);
  const listed = all
    .filter((s) => s.id === ids.previous || s.id === ids.current || legacy.test(s.id))
    .sort((a, b) => slotOf(a.id) - slotOf(b.id));
  const staging = all.find((s) => s.id === stagingId(name));
  const secrets = new Map(listed.map((s) => [s.id, s]));
  const newest = new Map<string, number>();
  const notes: string[] = [];
  const found: Found[] = [];
  let stopped: Stopped | undefined;
  const latest = new Map<string, Found>();
  for (const secret of listed) {
    const versions = (await admin.listVersions(secret.id)).sort((a, b) => a.version - b.version);
    newest.set(secret.id, versions.at(-1)?.version ?? 0);
    const records = readRecords(secret.annotations);
    const record = readPending(secret.annotations);
    const own = legacy.test(secret.id) ? versions.slice(-1) : versions;
    for (const v of own) {
      const r = records.get(v.version) ?? {};
      const one: Found = { n: v.version, label: `${secret.id}@${v.version}`, secret, version: v, records: r };
      found.push(one);
      if (v === versions.at(-1)) latest.set(secret.id, one);
      if (record && isPendingKey(v.version, r, record)) stopped = { record, secretId: secret.id, added: one };
    }
    if (record && stopped?.secretId !== secret.id) stopped = { record, secretId: secret.id, added: undefined };
  }
  if (staging) secrets.set(staging.id, staging);
  const staged = await readStaging(admin, staging, newest);
  stopped = staged.stopped ?? stopped;

  const enabled = (f: Found | undefined): Found | undefined => (f?.version.state === 'ENABLED' ? f : undefined);
  const live = enabled(latest.get(ids.current)) ?? enabled(latest.get(ids.previous));
  const read = new Map<Found, string>();
  if (options.fingerprint) {
    for (const f of found) {
      if (f.version.state !== 'ENABLED') continue;
      read.set(f, options.fingerprint(await admin.access(f.secret.id, f.version.version)));
    }
  }
  const fingerprintOf = (f: Found): string | undefined =>
    read.get(f) ?? f.records.staged?.fingerprint ?? f.records.flipped?.fingerprint ?? f.records.revoked?.fingerprint;
  const liveFingerprint = live && fingerprintOf(live);
  const keys = [
    ...found.map((f) =>
      keyOf(
        f,
        {
          live: f === live,
          newer: f === stopped?.added && f !== live,
          added: f === stopped?.added,
          copy: f !== live && liveFingerprint !== undefined && read.get(f) === liveFingerprint,
          latest: latest.get(f.secret.id) === f,
        },
        read.get(f),
      ),
    ),
    ...stagedKeys(staged.found, stopped, newest),
  ];
  const every = [...found, ...staged.found];
  const pending = stoppedSequence(stopped, every, keys);
  if (pending) {
    const { key, record } = pending;
    if (key?.role === 'live')
      notes.push(
        `${key.label} was made live by ${article(record.op)} that stopped before its last write: ` +
          'run it again with the same key to finish it',
      );
  }

  for (const [id, f] of latest) {
    if (!legacy.test(id) || f.version.state !== 'ENABLED') continue;
    notes.push(
      `${id} (left by the suffix layout) is enabled: apps that still declare it read it before ${ids.current}; ` +
        'verify names them, and revoke disables it once no process uses its key',
    );
  }
  return finish(name, 'pair', secrets, keys, pending, notes, newest);
}

async function readAlias(admin: SecretAdmin, name: string): Promise<KeyRing> {
  const secret = await admin.getSecret(name);
  const secrets = new Map<string, SecretMeta>();
  const notes: string[] = [];
  if (!secret) return finish(name, 'alias', secrets, [], undefined, notes, new Map());
  secrets.set(secret.id, secret);
  const versions = (await admin.listVersions(name)).sort((a, b) => a.version - b.version);
  const newest = new Map([[name, versions.at(-1)?.version ?? 0]]);
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
    const latest = v === versions.at(-1);
    return keyOf(one, { live: v === live, newer: !live || v.version > live.version, added: added(v, r), latest });
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
  return finish(name, 'alias', secrets, keys, pending, notes, newest);
}

/** The ring from its keys, with the notes every layout shares. */
function finish(
  name: string,
  layout: Layout,
  secrets: Map<string, SecretMeta>,
  keys: RotationKey[],
  pending: StoppedSequence | undefined,
  notes: string[],
  newest: ReadonlyMap<string, number>,
): KeyRing {
  const staged = keys.filter((k) => k.role === 'staged');
  const held = staged.find((k) => k.state !== 'ENABLED' && k.secretId === stagingId(name));
  if (held && !pending)
    notes.push(
      `${held.label} is staged but disabled: a discard stopped part-way (or it was disabled by hand); ` +
        'run discard again to finish it',
    );
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
  if (pending && pending.record.op !== 'provision' && pending.record.op !== 'emergency')
    notes.push(`${sequence} stopped part-way: run ${pending.record.op} again to finish it`);
  else if (pending && !pending.key)
    notes.push(`${sequence} stopped before adding its key; run it again with the same key, or discard`);
  else if (pending?.key && pending.key.role !== 'live')
    notes.push(`${sequence} stopped after adding ${pending.key.label}; run it again with the same key, or discard`);
  const minting = mintingOf(secrets.values());
  if (minting) {
    const { mark } = minting;
    const stored = pending?.record.op === 'provision' ? pending.key : undefined;
    notes.push(
      stored
        ? `a key minted at ${mark.at} (${mark.provider}, named ${mark.name}) was stored as ${stored.label} but its ` +
            'provision stopped part-way: rotate discard (with the provider) disables it and revokes it at the ' +
            'provider; then mint again'
        : `a key minted at ${mark.at} (${mark.provider}, named ${mark.name}) was not stored: ` +
            'rotate discard (with the provider) revokes it at the provider',
    );
  }
  return {
    name,
    layout,
    secrets,
    keys,
    minting,
    live: keys.find((k) => k.role === 'live'),
    old: keys.filter((k) => k.role === 'old'),
    staged: staged.pop(),
    newest,
    pending,
    environment: environmentOf(secrets.values()),
    notes,
  };
}
