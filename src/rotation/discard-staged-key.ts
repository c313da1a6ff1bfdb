import type { ProviderAdmin } from '../providers/index.js';
import { iso, nowOf } from './context.js';
import { RotationError } from './errors.js';
import { updateFresh } from './fresh-update.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import { mintedUnder, withMinting } from './minting-mark.js';
import { providerRecordOfKey } from './provider-keys.js';
import { article, LABEL, withPending, withRecord, type ProviderRevokedRecord } from './records.js';
import { alreadyDone, refuse, runStep } from './rotation-step.js';
import type { ProviderRevocation, RotationContext, RotationResult } from './types.js';

/**
 * Abandons the staged key (a dead probe, a wrong key) or a provision/emergency that stopped part-way:
 * its version is disabled (never destroyed) and recorded as discarded, so `provision` can stage another.
 * Never touches the live key or an old one. Refuses (`pending`) while a flip (or another sequence that makes
 * a key live) stopped part-way: its key may be live already; run it again to finish it.
 *
 * With `ctx.provider`: a discarded key that keyflip minted is revoked at the provider too (it was never live: no one
 * else holds it), and a mint that was not stored (a minting mark left by a crash) is cleaned: the keys keyflip
 * minted under the mark's name (OpenAI: owned by the service account of that name; never a person's key that only has
 * that name) are revoked, then the mark is cleared. A minting mark needs the provider it names.
 */
export async function discard(ctx: RotationContext): Promise<RotationResult> {
  const { admin, name, provider } = ctx;
  return runStep(ctx, 'discard', (ring) => {
    const { pending, minting } = ring;
    const key = discardedKey(ring);
    const what = key?.label ?? (pending ? `the pending ${pending.record.op}` : `the mint of ${minting?.mark.name}`);
    const identity = key ? providerRecordOfKey(ring, key) : undefined;
    const mintedHere = identity?.minted === true ? identity : undefined;
    return {
      gates: [
        () =>
          pending && pending.record.op !== 'provision' && pending.record.op !== 'emergency'
            ? refuse(
                'pending',
                `${article(pending.record.op)} of ${pending.record.fingerprint} stopped part-way: its key may be ` +
                  `live already; run rotate ${pending.record.op} again to finish it`,
              )
            : undefined,
        () =>
          !pending && !key && !minting
            ? alreadyDone(`${name} has nothing staged or pending: nothing to discard`)
            : undefined,
        () => {
          if (!minting || provider?.id === minting.mark.provider) return undefined;
          throw new RotationError(
            'INVALID_INPUT',
            `a key minted at ${minting.mark.at} (${minting.mark.provider}, named ${minting.mark.name}) was not ` +
              `stored: discard needs ${minting.mark.provider}'s management API (an admin key) to revoke it there`,
          );
        },
      ],
      plan(writes) {
        const at = iso(nowOf(ctx));
        const notes: string[] = [];
        const revocations: ProviderRevocation[] = [];
        if (key && key.state === 'ENABLED') {
          writes.add(`disable ${key.label} (never live by a flip)`, async () => {
            await admin.setState(key.secretId, key.version, 'DISABLED');
          });
        }
        let revoked: ProviderRevokedRecord | undefined;
        if (key && mintedHere && provider?.id === mintedHere.provider) {
          writes.add(
            `revoke ${mintedHere.keyId} at ${provider.id} (keyflip minted it; it was never live)`,
            async () => {
              const result = await provider.revokeKey(mintedHere.keyId);
              revoked = {
                at,
                provider: provider.id,
                keyId: result.keyId,
                status: result.status,
                outcome: result.outcome,
              };
              revocations.push({
                key: key.label,
                fingerprint: mintedHere.fingerprint,
                keyId: result.keyId,
                outcome: result.outcome,
                status: result.status,
              });
            },
          );
        } else if (mintedHere) {
          notes.push(
            `${key?.label} was minted by keyflip as ${mintedHere.keyId} at ${mintedHere.provider}: it stays valid ` +
              'there (discard with the provider revokes it)',
          );
        }
        if (minting && provider) {
          writes.add(
            `revoke the keys of the service account ${minting.mark.name} at ${provider.id} (minted at ` +
              `${minting.mark.at}, not stored)`,
            async () => {
              for (const r of await revokeNamed(provider, minting.mark.name))
                revocations.push({ key: minting.mark.name, fingerprint: '', ...r });
            },
          );
        }
        // The gate let through a ring with a key to discard, a stopped sequence or a minting mark.
        const secretId = key?.secretId ?? pending?.secretId ?? (minting as NonNullable<typeof minting>).secretId;
        const clears = minting?.secretId === secretId ? 'the pending and minting marks' : 'the pending mark';
        writes.add(
          `record on ${secretId}: ${key ? `discarded ${key.label}` : 'nothing was added'}; clear ${clears}`,
          async () => {
            await updateFresh(admin, secretId, (meta) => {
              let annotations = key ? withRecord(meta.annotations, key.version, 'discarded', { at }) : meta.annotations;
              if (key && revoked) annotations = withRecord(annotations, key.version, 'provider-revoked', revoked);
              if (minting?.secretId === secretId) annotations = withMinting(annotations, undefined);
              return {
                labels: { ...meta.labels, [LABEL.step]: 'discarded' },
                annotations: withPending(annotations, undefined),
              };
            });
          },
        );
        if (minting && minting.secretId !== secretId) {
          writes.add(`clear the minting mark on ${minting.secretId}`, async () => {
            await updateFresh(admin, minting.secretId, (meta) => ({
              annotations: withMinting(meta.annotations, undefined),
            }));
          });
        }
        return {
          planned: `would discard ${what}`,
          done: () => `discarded ${what}: provision can stage another key`,
          extra: { notes, providerRevocations: revocations },
        };
      },
    };
  });
}

/** Revokes every key at `provider` that keyflip minted under `keyName` (OpenAI: its service account's name). */
async function revokeNamed(
  provider: ProviderAdmin,
  keyName: string,
): Promise<Omit<ProviderRevocation, 'key' | 'fingerprint'>[]> {
  const out: Omit<ProviderRevocation, 'key' | 'fingerprint'>[] = [];
  for (const k of await provider.listKeys()) {
    if (!mintedUnder(k, keyName)) continue;
    const result = await provider.revokeKey(k.id);
    out.push({ keyId: result.keyId, outcome: result.outcome, status: result.status });
  }
  return out;
}

/**
 * The key discard disables: the one a stopped sequence added, else the staged one. A stopped emergency's key
 * is the live one by design: discarding it would leave the ring without a key, so only its mark is cleared.
 */
function discardedKey(ring: KeyRing): RotationKey | undefined {
  const { pending } = ring;
  if (!pending) return ring.staged;
  return pending.record.op === 'provision' || pending.key?.role !== 'live' ? pending.key : undefined;
}
