/**
 * The schedule: `audit` lists every secret `keyflip rotate` manages with the age of its live key, for a
 * scheduled job that fails when one is older than the policy; `auditByok` lists end-user keys (secrets
 * labelled for a family) older than the policy, so the app can remind their owners. Neither writes.
 */
import { formatDuration } from '../duration.js';
import type { ProviderAdmin, ProviderKey } from '../providers/index.js';
import type { SecretAdmin } from './admin.js';
import { RotationError } from './errors.js';
import { ANNOTATION, LABEL, LABEL_VALUE, readRecords } from './records.js';
import { readRing } from './key-ring.js';
import { LAYOUTS, type Layout } from './layout.js';
import { mintedUnder, readMinting, type MintingMark } from './minting-mark.js';
import { nextStep } from './next-step.js';
import { providerRecordOfKey } from './provider-keys.js';

/** Options of {@link audit}. */
export interface AuditOptions {
  /** The policy: a live key older than this is over it, in ms. */
  maxAgeMs: number;
  /** Only secrets labelled `keyflip-environment=<environment>`. @default every environment */
  environment?: string | undefined;
  /** ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
  /**
   * The provider's management API (`openProvider`): with it, a live key's age is counted from its creation at the
   * provider, keys that expire soon or have expired are reported, and keys keyflip minted that no secret holds are
   * listed as orphans.
   * @default none: ages come from Secret Manager
   */
  provider?: ProviderAdmin | undefined;
  /**
   * With a provider: a live key that expires within this long is reported (`expiring`), in ms. An expired one fails.
   * @default 2_592_000_000 (30 days)
   */
  expiryWarningMs?: number | undefined;
}

/** What the provider says about a live key, in an {@link AuditEntry}. */
export interface AuditProviderKey {
  /** The provider. */
  readonly provider: string;
  /** The key's id at the provider. */
  readonly keyId: string;
  /** Its state there (`deleted` when the provider no longer knows it). */
  readonly status: ProviderKey['status'];
  /** When it was created at the provider (ISO), when said. */
  readonly createdAt: string | undefined;
  /** When it expires (ISO); `undefined` when it does not. */
  readonly expiresAt: string | undefined;
  /** It expires within `expiryWarningMs`. */
  readonly expiring: boolean;
  /** It has expired, or is no longer active at the provider: apps using it fail. */
  readonly failing: boolean;
}

/** One rotated secret in an {@link AuditResult}. */
export interface AuditEntry {
  /** The rotated secret's name (`OPENAI_API_KEY`). */
  readonly name: string;
  /** The layout of its keys. */
  readonly layout: Layout;
  /** Its `keyflip-environment` label, if any. */
  readonly environment: string | undefined;
  /** The live key (`OPENAI_API_KEY_v3`, `OPENAI_API_KEY@3`); undefined when there is none. */
  readonly live: string | undefined;
  /** When the live key's version was created (ISO). */
  readonly liveCreatedAt: string | undefined;
  /** The live key's age, ms; undefined when there is no live key. */
  readonly ageMs: number | undefined;
  /** The live key is older than `maxAgeMs`. */
  readonly overPolicy: boolean;
  /** A rotation in flight or a ring without a live key, for people. */
  readonly attention: string | undefined;
  /**
   * Where `ageMs` is counted from: the key's creation at the `provider`, or its version's creation in
   * `secret-manager` (no provider, or no id at the provider recorded for the live key).
   */
  readonly ageFrom: 'provider' | 'secret-manager';
  /** With a provider: what it says about the live key; `undefined` when its id at the provider is not recorded. */
  readonly provider?: AuditProviderKey | undefined;
  /**
   * A mint whose key was not stored (its minting mark left by a crash): a key may exist at the provider that no
   * secret holds; `rotate discard` of this secret revokes it. Also in `attention`.
   */
  readonly minting?: MintingMark | undefined;
}

/**
 * A key at the provider that keyflip minted and that no managed secret records: an orphan. Minted: it, or its OpenAI
 * service account, is named `keyflip-…`, or its service account has the name of a minting mark left on a managed
 * secret (a mint named with `keyName` that was never stored).
 */
export interface AuditOrphan {
  /** Its id at the provider. */
  readonly keyId: string;
  /** Its name at the provider (OpenAI: its service account's). */
  readonly name: string;
  /** When it was created (ISO), when said. */
  readonly createdAt: string | undefined;
  /** Its state at the provider. */
  readonly status: ProviderKey['status'];
  /** What to do, for people. */
  readonly message: string;
}

/** What {@link audit} answers: every rotated secret with the age of its live key. */
export interface AuditResult {
  /** No live key is over the policy. */
  readonly ok: boolean;
  /** The policy it was checked against, ms. */
  readonly maxAgeMs: number;
  /** When it was checked (ISO). */
  readonly at: string;
  /** Every secret `keyflip rotate` manages (in the environment asked for), by name. */
  readonly entries: readonly AuditEntry[];
  /** How many live keys are over the policy. */
  readonly over: number;
  /** With a provider: how many live keys expire within the warning window (they do not fail the audit yet). */
  readonly expiring: number;
  /** With a provider: how many live keys have expired or are no longer active there (each fails the audit). */
  readonly failing: number;
  /** With a provider: active keys it holds that keyflip minted and no managed secret records. */
  readonly orphans: readonly AuditOrphan[];
  /** How many rotated secrets hold a minting mark: a mint whose key was not stored (see `AuditEntry.minting`). */
  readonly unstoredMints: number;
}

/** The expiry warning window by default: 30 days, ms. */
const DEFAULT_EXPIRY_WARNING_MS = 30 * 86_400_000;
/** The names keyflip gives the keys it mints (`keyflip-OPENAI_API_KEY-20261205T072335`). */
const MINTED_NAME = /^keyflip-/;

const checkMaxAge = (ms: number): void => {
  if (!(ms > 0) || !Number.isFinite(ms))
    throw new RotationError('INVALID_INPUT', 'the maximum age must be a positive duration (90d)');
};

/**
 * Lists every secret `keyflip rotate` manages (labelled `keyflip-managed=true`) with the age of its live key, for a
 * scheduled job that fails when one is over the policy (`ok: false`). Reads only. Throws a `RotationError`
 * (`INVALID_INPUT`) for a bad `maxAgeMs` or environment.
 */
export async function audit(admin: SecretAdmin, options: AuditOptions): Promise<AuditResult> {
  checkMaxAge(options.maxAgeMs);
  const env = options.environment;
  if (env !== undefined && !LABEL_VALUE.test(env))
    throw new RotationError('INVALID_INPUT', 'the environment must be 1 to 63 lowercase letters, digits, "_" or "-"');
  const warningMs = options.expiryWarningMs ?? DEFAULT_EXPIRY_WARNING_MS;
  if (!(warningMs >= 0) || !Number.isFinite(warningMs))
    throw new RotationError('INVALID_INPUT', 'the expiry warning must be a duration of zero or more (30d)');
  const { provider } = options;
  const now = (options.now ?? Date.now)();
  const filter = `labels.${LABEL.managed}=true${env === undefined ? '' : ` AND labels.${LABEL.environment}=${env}`}`;
  const secrets = await admin.listSecrets(filter);
  const rings = new Map<string, { name: string; layout: Layout }>();
  for (const s of secrets) {
    const layout = s.labels[LABEL.layout];
    const name = s.annotations[ANNOTATION.name] ?? (layout === 'suffix' ? s.id.replace(/_v\d+$/, '') : s.id);
    if (!(LAYOUTS as readonly string[]).includes(layout ?? '')) continue;
    rings.set(`${layout}:${name}`, { name, layout: layout as Layout });
  }
  const entries: AuditEntry[] = [];
  for (const { name, layout } of [...rings.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const ring = await readRing(admin, name, layout);
    const live = ring.live;
    const record = live && provider ? providerRecordOfKey(ring, live) : undefined;
    const atProvider =
      provider && record && record.provider === provider.id
        ? await providerKeyOf(provider, record.keyId, now, warningMs)
        : undefined;
    const created = atProvider?.createdAt === undefined ? live?.createdAt : Date.parse(atProvider.createdAt);
    const ageMs = created !== undefined ? Math.max(0, now - created) : undefined;
    const step = nextStep(ring);
    const inFlight = ring.pending || ring.staged || ring.old.length > 0;
    const problem = atProvider?.failing
      ? `${live?.label} is ${atProvider.status === 'active' ? 'expired' : atProvider.status} ` +
        `at ${atProvider.provider}` +
        ` (${atProvider.keyId}): apps using it fail; rotate now (rotate emergency)`
      : atProvider?.expiring
        ? `${live?.label} expires at ${atProvider.expiresAt} at ${atProvider.provider}, within ` +
          `${formatDuration(warningMs)}: rotate it before then`
        : undefined;
    const attention = !live
      ? `no live key: ${step.why}`
      : inFlight
        ? `rotation in flight: next ${step.command} (${step.why})`
        : undefined;
    const mark = ring.minting?.mark;
    const unstored = mark
      ? `a key minted at ${mark.at} (named ${mark.name}) was not stored: rotate discard ${name} revokes it` +
        ` (with ${mark.provider}'s admin key)`
      : undefined;
    entries.push({
      name,
      layout,
      environment: ring.environment,
      live: live?.label,
      liveCreatedAt: live ? new Date(live.createdAt).toISOString() : undefined,
      ageMs,
      overPolicy: ageMs !== undefined && ageMs > options.maxAgeMs,
      attention: [unstored, problem, attention].filter(Boolean).join('; ') || undefined,
      ageFrom: atProvider?.createdAt === undefined ? 'secret-manager' : 'provider',
      ...(provider ? { provider: atProvider } : {}),
      ...(mark ? { minting: mark } : {}),
    });
  }
  const over = entries.filter((e) => e.overPolicy).length;
  const failing = entries.filter((e) => e.provider?.failing).length;
  const expiring = entries.filter((e) => e.provider?.expiring && !e.provider.failing).length;
  const orphans = provider ? await orphansOf(admin, provider) : [];
  return {
    ok: over === 0 && failing === 0,
    maxAgeMs: options.maxAgeMs,
    at: new Date(now).toISOString(),
    entries,
    over,
    expiring,
    failing,
    orphans,
    unstoredMints: entries.filter((e) => e.minting).length,
  };
}

const isoOf = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString();

/** What the provider says about the key `keyId`: its state, creation, expiry. */
async function providerKeyOf(
  provider: ProviderAdmin,
  keyId: string,
  now: number,
  warningMs: number,
): Promise<AuditProviderKey> {
  const key = await provider.getKey(keyId);
  const status = key?.status ?? 'deleted';
  const expired = key?.expiresAt !== undefined && key.expiresAt <= now;
  return {
    provider: provider.id,
    keyId,
    status,
    createdAt: isoOf(key?.createdAt),
    expiresAt: isoOf(key?.expiresAt),
    expiring: key?.expiresAt !== undefined && !expired && key.expiresAt - now <= warningMs,
    failing: expired || status !== 'active',
  };
}

/**
 * Active keys at the provider that keyflip minted whose id no managed secret records, in any environment: named
 * `keyflip-…` (keyflip's default names), or minted under the name of a minting mark left on a managed secret (OpenAI:
 * owned by the service account of that name; a person's key that only has the name is not one). A mint whose key was
 * never stored (a crash between the two), or a key left after its secrets were deleted.
 */
async function orphansOf(admin: SecretAdmin, provider: ProviderAdmin): Promise<AuditOrphan[]> {
  const recorded = new Set<string>();
  const marks: { mark: MintingMark; secret: string }[] = [];
  for (const s of await admin.listSecrets(`labels.${LABEL.managed}=true`)) {
    for (const records of readRecords(s.annotations).values()) {
      if (records.provider?.keyId) recorded.add(records.provider.keyId);
    }
    const mark = readMinting(s.annotations);
    if (mark?.provider === provider.id) marks.push({ mark, secret: s.annotations[ANNOTATION.name] ?? s.id });
  }
  const orphans: AuditOrphan[] = [];
  for (const key of await provider.listKeys()) {
    if (key.status !== 'active' || recorded.has(key.id)) continue;
    const marked = marks.find((m) => mintedUnder(key, m.mark.name));
    // OpenAI names the service account keyflip mints in (the key itself is named by the provider).
    const name = marked?.mark.name ?? [key.name, key.owner.name].find((n) => n !== undefined && MINTED_NAME.test(n));
    if (name === undefined) continue;
    orphans.push({
      keyId: key.id,
      name,
      createdAt: isoOf(key.createdAt),
      status: key.status,
      message: marked
        ? `${key.id} (${name}) was minted by keyflip at ${marked.mark.at} for ${marked.secret} and never stored: ` +
          `rotate discard ${marked.secret} revokes it`
        : `${key.id} (${name}) was minted by keyflip and no managed secret holds it: a mint that was never stored; ` +
          'rotate discard the ring it was minted for (or revoke it in the console)',
    });
  }
  return orphans.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Options of {@link auditByok}. */
export interface ByokAuditOptions {
  /** The family label value: secrets labelled `keyflip-family=<family>`. */
  family: string;
  /** The policy, in ms. */
  maxAgeMs: number;
  /** ms since the epoch. @default Date.now */
  now?: (() => number) | undefined;
}

/** One end-user key over the policy, in a {@link ByokAuditResult}. */
export interface ByokEntry {
  /** The Secret Manager secret that holds it. */
  readonly secretId: string;
  /** The owner's id: the `keyflip-id` annotation, else the secret id. */
  readonly id: string;
  /** When the newest enabled version was created (ISO); undefined when none is enabled. */
  readonly keyCreatedAt: string | undefined;
  /** Its age, ms; undefined when no version is enabled. */
  readonly ageMs: number | undefined;
}

/** What {@link auditByok} answers: the end-user keys of a family that are over the policy. */
export interface ByokAuditResult {
  /** No key is over the policy. */
  readonly ok: boolean;
  /** The family asked about (`ByokAuditOptions.family`). */
  readonly family: string;
  /** The policy it was checked against, ms. */
  readonly maxAgeMs: number;
  /** When it was checked (ISO). */
  readonly at: string;
  /** How many end-user keys were looked at. */
  readonly checked: number;
  /** The keys older than the policy, oldest first. keyflip never rotates them: their owners do. */
  readonly over: readonly ByokEntry[];
}

/**
 * Lists the end-user keys of a family (secrets labelled `keyflip-family=<family>`) whose enabled version is older
 * than the policy, so the app can remind their owners; keyflip never rotates them. Reads only. Throws a
 * `RotationError` (`INVALID_INPUT`) for a bad `maxAgeMs` or family.
 */
export async function auditByok(admin: SecretAdmin, options: ByokAuditOptions): Promise<ByokAuditResult> {
  checkMaxAge(options.maxAgeMs);
  if (typeof options.family !== 'string' || !LABEL_VALUE.test(options.family)) {
    throw new RotationError('INVALID_INPUT', 'the family label must be 1 to 63 lowercase letters, digits, "_" or "-"');
  }
  const now = (options.now ?? Date.now)();
  const secrets = await admin.listSecrets(`labels.${LABEL.family}=${options.family}`);
  const over: ByokEntry[] = [];
  for (const s of secrets) {
    const enabled = (await admin.listVersions(s.id)).find((v) => v.state === 'ENABLED');
    const ageMs = enabled ? Math.max(0, now - enabled.createdAt) : undefined;
    if (ageMs !== undefined && ageMs > options.maxAgeMs) {
      over.push({
        secretId: s.id,
        id: s.annotations[ANNOTATION.id] ?? s.id,
        keyCreatedAt: new Date(enabled?.createdAt ?? 0).toISOString(),
        ageMs,
      });
    }
  }
  over.sort((a, b) => (b.ageMs ?? 0) - (a.ageMs ?? 0));
  return {
    ok: over.length === 0,
    family: options.family,
    maxAgeMs: options.maxAgeMs,
    at: new Date(now).toISOString(),
    checked: secrets.length,
    over,
  };
}
