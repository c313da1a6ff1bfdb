/**
 * `emergency` with a provider: which keys leaked (every key the emergency disables, one entry per key however many
 * versions hold it), their ids at the provider (the identity record, else found by hint while the key is still
 * readable), and the writes that revoke them there at once (no window: the key leaked) and record it.
 */
import { KeyflipError } from '../errors.js';
import type { ProviderAdmin, ProviderKey, RevokeKeyResult } from '../providers/index.js';
import { updateFresh } from './fresh-update.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import type { LeakedKey } from './leak-report.js';
import { findByHint, providerRecord, providerRecordOf, recordMismatch } from './provider-keys.js';
import { withRecord } from './records.js';
import type { ProviderRevocation, RotationContext } from './types.js';
import type { WritePlan } from './write-plan.js';

/** A leaked key: its versions in the ring, and its id at the provider when known. */
export interface LeakedProviderKey extends LeakedKey {
  /** The versions of the ring that hold it (pair layout: a key can be in several). */
  readonly versions: readonly RotationKey[];
  /** Found by its hint now (no identity record yet): recorded before the key is disabled. */
  readonly found?: ProviderKey | undefined;
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** A `ProviderError` (`keyflip/providers`): the provider's management API failed or refused. */
export const isProviderError = (error: unknown): error is KeyflipError =>
  error instanceof KeyflipError && error.code.startsWith('PROVIDER_');

/**
 * The leaked keys (`toDisable`, by fingerprint) with their ids at the provider: recorded, else looked up by hint
 * while a version holding the key is enabled (a disabled version cannot be read). A key not found is no error
 * here: the emergency goes on without revoking it there, and `notes` says so.
 */
export async function leakedProviderKeys(
  ctx: RotationContext,
  provider: ProviderAdmin,
  ring: KeyRing,
  toDisable: readonly RotationKey[],
  fingerprintOf: (key: RotationKey) => string | undefined,
): Promise<{ leaked: LeakedProviderKey[]; notes: string[] }> {
  const notes: string[] = [];
  const byFingerprint = new Map<string, RotationKey[]>();
  for (const key of toDisable) {
    const fp = fingerprintOf(key);
    if (fp === undefined) {
      notes.push(`${key.label} has no known fingerprint: it cannot be told which key it is at ${provider.id}`);
      continue;
    }
    byFingerprint.set(fp, [...(byFingerprint.get(fp) ?? []), key]);
  }
  const leaked: LeakedProviderKey[] = [];
  for (const [fp, versions] of byFingerprint) {
    const label = versions.map((k) => k.label).join(', ');
    const recorded = providerRecordOf(ring, fp);
    if (recorded) {
      // A record of another provider or scope (a wrong project): that key is not revoked through this one.
      const mismatch = recordMismatch(recorded, provider);
      if (mismatch === undefined) leaked.push({ key: label, fingerprint: fp, keyId: recorded.keyId, versions });
      else notes.push(`${label} (${fp}): ${mismatch}: it was not revoked there: revoke it in the console now`);
      continue;
    }
    const readable = versions.find((k) => k.state === 'ENABLED');
    let found: ProviderKey | undefined;
    if (readable) {
      try {
        const value = await ctx.admin.access(readable.secretId, readable.version);
        const match = await findByHint(provider, value, `${label} (${fp})`);
        if (match.status === 'found') found = match.key;
        else notes.push(`${match.message}: it was not revoked there: revoke it in the console now`);
      } catch (error) {
        // The emergency goes on (the new key goes live, the old ones are disabled): the provider part is reported.
        if (!isProviderError(error)) throw error;
        notes.push(
          `${label} (${fp}) could not be looked up at ${provider.id} (${messageOf(error)}): ` +
            'it was not revoked there: revoke it in the console now',
        );
      }
    } else {
      notes.push(
        `${label} (${fp}) has no id at ${provider.id} recorded and is disabled (its hint cannot be read): ` +
          'revoke it in the console now',
      );
    }
    leaked.push({ key: label, fingerprint: fp, keyId: found?.id, versions, found });
  }
  return { leaked, notes };
}

/**
 * Records the ids found by hint on the versions holding each key (before the disables: once disabled, a key can no
 * longer be read, so a resumed run finds its id here).
 */
export function planIdentityRecords(
  ctx: RotationContext,
  provider: ProviderAdmin,
  writes: WritePlan,
  leaked: readonly LeakedProviderKey[],
  at: string,
): void {
  for (const k of leaked) {
    const { found } = k;
    if (!found) continue;
    for (const secretId of new Set(k.versions.map((v) => v.secretId))) {
      const versions = k.versions.filter((v) => v.secretId === secretId);
      writes.add(`record on ${secretId}: ${k.key} is ${found.id} at ${provider.id}`, async () => {
        await updateFresh(ctx.admin, secretId, (meta) => {
          let annotations = meta.annotations;
          const record = providerRecord(found, k.fingerprint, at);
          for (const v of versions) annotations = withRecord(annotations, v.version, 'provider', record);
          return { labels: meta.labels, annotations };
        });
      });
    }
  }
}

/**
 * Revokes each leaked key with a known id at the provider (`keepProviderKey`: none, each reported `kept`). Each
 * revocation is a write of its own (a failure stops the emergency with its pending mark still set: running it again
 * revokes what is left; a key revoked already answers `already`). `revocations` is filled as the writes run.
 */
export function planProviderRevocations(
  provider: ProviderAdmin,
  writes: WritePlan,
  leaked: readonly LeakedProviderKey[],
  keep: boolean,
  revocations: ProviderRevocation[],
): Map<string, RevokeKeyResult> {
  const results = new Map<string, RevokeKeyResult>();
  for (const k of leaked) {
    const { keyId } = k;
    if (keyId === undefined) continue;
    if (keep) {
      revocations.push({ key: k.key, fingerprint: k.fingerprint, keyId, outcome: 'kept', status: undefined });
      continue;
    }
    writes.add(`revoke ${k.key} (${keyId}) at ${provider.id} now: the key leaked`, async () => {
      const result = await provider.revokeKey(keyId);
      results.set(k.fingerprint, result);
      revocations.push({
        key: k.key,
        fingerprint: k.fingerprint,
        keyId,
        outcome: result.outcome,
        status: result.status,
      });
    });
  }
  return results;
}

/**
 * Keys an earlier emergency disabled and left valid at `provider` (it ran without one, or with `keepProviderKey`):
 * disabled, recorded as revoked, with an id at this provider and no `provider-revoked` record, one entry per key.
 */
export function leftAtProvider(ring: KeyRing, provider: ProviderAdmin): LeakedProviderKey[] {
  const byFingerprint = new Map<string, { keyId: string; versions: RotationKey[] }>();
  for (const key of ring.keys) {
    const fp = key.fingerprint ?? key.records.revoked?.fingerprint;
    if (key.state === 'ENABLED' || !key.records.revoked || key.records['provider-revoked'] || fp === undefined)
      continue;
    const record = providerRecordOf(ring, fp);
    if (record === undefined || recordMismatch(record, provider) !== undefined) continue;
    const entry = byFingerprint.get(fp) ?? { keyId: record.keyId, versions: [] };
    entry.versions.push(key);
    byFingerprint.set(fp, entry);
  }
  return [...byFingerprint].map(([fingerprint, { keyId, versions }]) => ({
    key: versions.map((k) => k.label).join(', '),
    fingerprint,
    keyId,
    versions,
  }));
}

/** Records each revocation made at the provider (`results`, by fingerprint) on every version holding the key. */
export function planRevocationRecords(
  ctx: RotationContext,
  provider: ProviderAdmin,
  writes: WritePlan,
  leaked: readonly LeakedProviderKey[],
  results: ReadonlyMap<string, RevokeKeyResult>,
  at: string,
): void {
  const versions = leaked.flatMap((k) => k.versions.map((v) => ({ v, fingerprint: k.fingerprint })));
  for (const secretId of new Set(versions.map(({ v }) => v.secretId))) {
    const here = versions.filter(({ v }) => v.secretId === secretId);
    writes.add(
      `record on ${secretId}: revoked at ${provider.id} (${here.map(({ v }) => v.label).join(', ')})`,
      async () => {
        await updateFresh(ctx.admin, secretId, (meta) => {
          let annotations = meta.annotations;
          for (const { v, fingerprint } of here) {
            const result = results.get(fingerprint);
            if (!result) continue;
            annotations = withRecord(annotations, v.version, 'provider-revoked', {
              at,
              provider: provider.id,
              keyId: result.keyId,
              status: result.status,
              outcome: result.outcome,
            });
          }
          return { labels: meta.labels, annotations };
        });
      },
    );
  }
}
