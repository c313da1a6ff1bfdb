/**
 * Key identity at the provider: which key at the provider (`key_abc`, `apikey_01…`; not a secret) a key of the ring
 * is. Recorded as a `provider` record (`keyflip-provider-<version>`) on the version where keyflip stages or mints the
 * key, copied by flip onto the versions it adds with the same key, and looked up by the key's fingerprint across the
 * whole ring (whichever secret and version holds the record). A key with no record (made outside keyflip) is found by
 * its hint while its value is readable (its version enabled): the value is read from Secret Manager, matched against
 * the hints the provider lists (never sent), and dropped.
 */
import type { ProviderAdmin, ProviderKey } from '../providers/index.js';
import { iso, nowOf } from './context.js';
import { fingerprintOf } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import { readRecords, withRecord, type ProviderRecord } from './records.js';
import type { RefusalCode, RotationContext } from './types.js';
import type { WritePlan } from './write-plan.js';

/** What the record says beside the key itself: minted by keyflip (and in which OpenAI service account). */
export interface ProviderRecordExtra {
  /** keyflip minted the key. @default false */
  readonly minted?: boolean | undefined;
}

/**
 * The identity record of `key` (as the provider lists it) for the key `fingerprint`, recorded at `at` (ISO).
 * `serviceAccount` is set for a minted key whose owner is a service account (OpenAI: deleted with the key on revoke).
 */
export function providerRecord(
  key: ProviderKey,
  fingerprint: string,
  at: string,
  extra: ProviderRecordExtra = {},
): ProviderRecord {
  const record: ProviderRecord = { at, provider: key.provider, keyId: key.id, fingerprint };
  if (extra.minted) record.minted = true;
  if (extra.minted && key.owner.type === 'service-account' && key.owner.id) record.serviceAccount = key.owner.id;
  if (key.scope) record.scope = key.scope;
  if (key.hint) record.hint = key.hint;
  return record;
}

/**
 * The identity record of the key whose fingerprint is `fingerprint`, wherever the ring records it: on any version of
 * any of its secrets (`NAME_next`'s flipped versions included), the most recently recorded first. `undefined` when
 * no secret of the ring records one (a key made outside keyflip and never identified; see {@link identifyKey}), or
 * when `fingerprint` is `undefined`.
 */
export function providerRecordOf(ring: KeyRing, fingerprint: string | undefined): ProviderRecord | undefined {
  if (fingerprint === undefined) return undefined;
  let best: ProviderRecord | undefined;
  for (const secret of ring.secrets.values()) {
    for (const records of readRecords(secret.annotations).values()) {
      const record = records.provider;
      if (!record || record.fingerprint !== fingerprint || typeof record.keyId !== 'string') continue;
      if (!best || record.at > best.at) best = record;
    }
  }
  return best;
}

/**
 * Why `record` is not about a key `provider` manages, for people; `undefined` when it is. A record made at another
 * provider, or in another OpenAI project or Anthropic workspace than `provider.scope` (when that is set), names an id
 * this provider cannot see: its usage there would read as none, and a revoke there as already done.
 */
export function recordMismatch(
  record: ProviderRecord,
  provider: { readonly id: string; readonly scope: string | undefined },
): string | undefined {
  if (record.provider !== provider.id)
    return `its id is recorded at ${record.provider} (${record.keyId}), not at ${provider.id}, the provider asked`;
  if (provider.scope !== undefined && record.scope !== provider.scope) {
    const where = provider.id === 'openai' ? 'project' : 'workspace';
    const recorded = record.scope === undefined ? `no ${where}` : `${where} ${record.scope}`;
    return (
      `its id ${record.keyId} is recorded in ${recorded}, not in ${where} ${provider.scope}, the one asked: ` +
      `give the ${where} the key lives in`
    );
  }
  return undefined;
}

/** The identity record of `key`: recorded for its fingerprint anywhere in the ring (see {@link providerRecordOf}). */
export function providerRecordOfKey(ring: KeyRing, key: RotationKey): ProviderRecord | undefined {
  return key.records.provider ?? providerRecordOf(ring, key.fingerprint);
}

/**
 * What {@link identifyKey} found out about a key:
 * - `recorded`: the ring records its id (`record`).
 * - `found`: the provider lists exactly one key whose hint matches it (`record`, to be recorded; recorded by the
 *   write {@link identifyKey} added when it was given a plan).
 * - `not-found`: no key at the provider has a matching hint (another project or workspace, or deleted).
 * - `ambiguous`: several keys at the provider have a matching hint: its id cannot be told.
 * - `unreadable`: no record, and its value cannot be read (its version is disabled) to look it up.
 * - `no-provider`: no record, and the context has no provider to ask.
 * - `elsewhere`: its record names another provider, project or workspace than `ctx.provider`
 *   ({@link recordMismatch}): that provider cannot see the id, so it is unknown here.
 */
export type KeyIdentity =
  | { readonly status: 'recorded' | 'found'; readonly record: ProviderRecord; readonly message: string }
  | {
      readonly status: 'not-found' | 'ambiguous' | 'unreadable' | 'no-provider' | 'elsewhere';
      readonly record?: undefined;
      /** Why the id is unknown, for people (names the key by label and fingerprint, never its value). */
      readonly message: string;
    };

/** Options of {@link identifyKey}. */
export interface IdentifyKeyOptions {
  /**
   * A command's plan: a key found by its hint gets a write recording its id on its version (`keyflip-provider-N`).
   * @default none: nothing is recorded (the caller records `record` itself, or not at all)
   */
  writes?: WritePlan | undefined;
}

/**
 * The id at the provider of `key`, a key of `ring`: its record when the ring has one (no call to the provider), else,
 * when `ctx.provider` is set and the key's version is enabled, its value is read from Secret Manager and matched
 * against the hints the provider lists (`ProviderAdmin.findKey`; the value is never sent nor kept). A key found so is
 * recorded by a write added to `options.writes`, if given. A record that names another provider, project or
 * workspace than `ctx.provider` is `elsewhere` (unknown here: never looked up by its hint, never acted on). A key
 * the provider cannot tell (`not-found`, `ambiguous`) is an answer, not an error; any other provider failure
 * (`PROVIDER_UNAUTHORIZED`, `PROVIDER_UNAVAILABLE`, …) throws.
 */
export async function identifyKey(
  ctx: RotationContext,
  ring: KeyRing,
  key: RotationKey,
  options: IdentifyKeyOptions = {},
): Promise<KeyIdentity> {
  const { provider } = ctx;
  const recorded = providerRecordOfKey(ring, key);
  const mismatch = recorded && provider && recordMismatch(recorded, provider);
  if (mismatch) return { status: 'elsewhere', message: `${key.label}: ${mismatch}` };
  if (recorded)
    return {
      status: 'recorded',
      record: recorded,
      message: `${key.label} is ${recorded.keyId} at ${recorded.provider}`,
    };
  if (!provider) return { status: 'no-provider', message: `${key.label}'s id at the provider is not recorded` };
  if (key.state !== 'ENABLED')
    return {
      status: 'unreadable',
      message:
        `${key.label}'s id at ${provider.id} is not recorded, and its version is ${key.state.toLowerCase()}: ` +
        'its value cannot be read to find it by its hint',
    };
  const value = await ctx.admin.access(key.secretId, key.version);
  const fingerprint = fingerprintOf(ctx, value);
  const found = await findByHint(provider, value, `${key.label} (${fingerprint})`);
  if (found.status !== 'found') return found;
  const record = providerRecord(found.key, fingerprint, iso(nowOf(ctx)));
  if (options.writes) recordIdentity(ctx, options.writes, key, record);
  return { status: 'found', record, message: found.message };
}

/** The refusal of a key the provider cannot tell (`provider-key-not-found`, `provider-key-ambiguous`), if it is one. */
export function identityRefusal(identity: KeyIdentity): RefusalCode | undefined {
  if (identity.status === 'not-found') return 'provider-key-not-found';
  if (identity.status === 'ambiguous') return 'provider-key-ambiguous';
  return undefined;
}

/** Adds the write that records `record` on `key`'s version (`keyflip-provider-<version>` on its secret). */
export function recordIdentity(
  ctx: RotationContext,
  writes: WritePlan,
  key: RotationKey,
  record: ProviderRecord,
): void {
  writes.add(`record on ${key.secretId}: ${key.label} is ${record.keyId} at ${record.provider}`, async () => {
    await updateFresh(ctx.admin, key.secretId, (meta) => ({
      annotations: withRecord(meta.annotations, key.version, 'provider', record),
    }));
  });
}

/** A key found by its hint, or why not. */
export type HintMatch =
  | { readonly status: 'found'; readonly key: ProviderKey; readonly message: string }
  | { readonly status: 'not-found' | 'ambiguous'; readonly key?: undefined; readonly message: string };

/**
 * Asks `provider` which of its keys has a hint matching `value` (`ProviderAdmin.findKey`: the value is compared
 * with the listed hints, never sent). `what` names the key in the messages (a label and a fingerprint, never the
 * value). `PROVIDER_KEY_NOT_FOUND` and `PROVIDER_KEY_AMBIGUOUS` become answers; other errors are thrown.
 */
export async function findByHint(provider: ProviderAdmin, value: string, what: string): Promise<HintMatch> {
  try {
    const key = await provider.findKey(value);
    return { status: 'found', key, message: `${what} is ${key.id} at ${provider.id}` };
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'PROVIDER_KEY_NOT_FOUND')
      return {
        status: 'not-found',
        message:
          `no key at ${provider.id} has a hint that matches ${what}: is it a key of this ` +
          `${provider.id === 'openai' ? 'project' : 'organization (or workspace)'}, and not deleted?`,
      };
    if (code === 'PROVIDER_KEY_AMBIGUOUS')
      return {
        status: 'ambiguous',
        message:
          `several keys at ${provider.id} have a hint that matches ${what}: its id cannot be told from the hint ` +
          '(revoke or rename the lookalikes, or mint the key with keyflip)',
      };
    throw error;
  }
}
