import { checkEnvironment, checkValue } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import { fingerprintOf, ringFingerprints } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { inStaging } from './key-ring.js';
import { withMinting } from './minting-mark.js';
import { findByHint, providerRecord } from './provider-keys.js';
import { ANNOTATION, LABEL, managedLabels, withPending, withRecord, type ProviderRecord } from './records.js';
import { alreadyDone, refuse, runStep } from './rotation-step.js';
import { resumesOnlyItself, stageNewKey, stagingTarget } from './stage-new-key.js';
import type { RotationContext, RotationResult } from './types.js';

/** Options of {@link provision}. */
export interface ProvisionOptions {
  /** Sets the `keyflip-environment` label (`prod`), for `audit --environment`. @default the ring's, if any */
  environment?: string | undefined;
}

/**
 * Step 1: stages a new key beside the live one. Pair and suffix layouts: a new version of `NAME_next` (labelled
 * `keyflip-role=staging`), a secret no app declares, left enabled so that flip can copy it; alias layout: a new
 * version of `NAME`, named by no alias, and disabled. Either way no process can read it until `flip`, not even
 * for a moment. Refuses when a key is already staged, or when the key is one the ring already holds.
 *
 * With `ctx.provider`: the key's id at the provider is found by its hint (the value is compared with the hints the
 * provider lists, never sent) and recorded with the staged record (`keyflip-provider-<version>`); refuses
 * `provider-key-not-found` when no key at the provider matches, `provider-key-ambiguous` when several do.
 */
export async function provision(
  ctx: RotationContext,
  rawValue: string,
  options: ProvisionOptions = {},
): Promise<RotationResult> {
  return provisionKey(ctx, rawValue, options);
}

/** What `provisionMinted` adds to a provision: the key it minted, whose id needs no look-up. */
export interface MintedIdentity {
  /** The identity record of the minted key, without its fingerprint and time (added here). */
  readonly record: (fingerprint: string, at: string) => ProviderRecord;
}

/**
 * {@link provision}, and for `provisionMinted` (`minted`): the minted key's identity is recorded without a look-up,
 * and the last write clears the minting mark too.
 */
export async function provisionKey(
  ctx: RotationContext,
  rawValue: string,
  options: ProvisionOptions,
  minted?: MintedIdentity,
): Promise<RotationResult> {
  const value = checkValue(rawValue);
  const environment = checkEnvironment(options.environment);
  const { admin, name, provider } = ctx;
  const fp = fingerprintOf(ctx, value);
  let identity: ((at: string) => ProviderRecord) | undefined = minted ? (at) => minted.record(fp, at) : undefined;
  return runStep(ctx, 'provision', (ring) => {
    const { pending, staged } = ring;
    return {
      gates: [
        resumesOnlyItself(ring, 'provision', fp),
        () =>
          !pending && staged?.fingerprint === fp && (staged.state === 'DISABLED' || inStaging(ring, staged))
            ? alreadyDone(`${staged.label} (${fp}) is already staged: this key; next, probe it`)
            : undefined,
        () =>
          !pending && staged
            ? refuse(
                'staged-exists',
                `${staged.label} (${staged.fingerprint ?? 'fingerprint not recorded'}) is already staged` +
                  `${staged.records.staged ? ` since ${staged.records.staged.at}` : ''}: ` +
                  'probe and flip it, or rotate discard it; provision never stages a second key',
              )
            : undefined,
        async () => {
          if (pending) return undefined;
          const same = [...(await ringFingerprints(ctx, ring))].find(([, f]) => f === fp);
          return same
            ? refuse(
                'same-key',
                `this key (${fp}) is already ${same[0].label} (${same[0].role}): a rotation needs a new key`,
              )
            : undefined;
        },
        // Last: the only gate that asks the provider (found by its hint, the value never sent).
        async () => {
          if (identity || !provider) return undefined;
          const found = await findByHint(provider, value, `this key (${fp})`);
          if (found.status !== 'found')
            return refuse(
              found.status === 'ambiguous' ? 'provider-key-ambiguous' : 'provider-key-not-found',
              found.message,
            );
          const { key } = found;
          identity = (at) => providerRecord(key, fp, at);
          return undefined;
        },
      ],
      plan(writes) {
        const at = iso(nowOf(ctx));
        const env = environment ?? ring.environment;
        const { layout } = ring;
        const target = stagingTarget(ring, 'provision');
        const key = stageNewKey(admin, writes, {
          command: 'provision',
          ring,
          value,
          fingerprint: fp,
          target,
          at,
          step: 'provisioning',
          environment: env,
        });
        if (layout === 'alias' && (!pending?.key || pending.key.state === 'ENABLED')) {
          writes.add('disable that version at once: no process can read it until flip', async () => {
            await admin.setState(target, key.version(), 'DISABLED');
          });
        }
        // Secrets of the ring made before keyflip managed it get its labels (for audit); their versions are not
        // touched. Before the last write, which clears the pending mark: a provision stopped here is finished by
        // running it again.
        for (const secret of ring.secrets.values()) {
          if (secret.id === target || secret.labels[LABEL.managed] === 'true') continue;
          writes.add(`label ${secret.id} keyflip-managed=true (for audit; its versions are not touched)`, async () => {
            await updateFresh(admin, secret.id, (meta) => ({
              labels: managedLabels(meta.labels, layout, meta.labels[LABEL.step] ?? 'adopted', env),
              annotations: { ...meta.annotations, [ANNOTATION.name]: name },
            }));
          });
        }
        const record = identity?.(at);
        const recorded = record ? `, ${record.keyId} at ${record.provider}` : '';
        const cleared = minted ? 'the pending and minting marks' : 'the pending mark';
        writes.add(`record on ${target}: staged ${fp}${recorded} at ${at}; clear ${cleared}`, async () => {
          await updateFresh(admin, target, (meta) => {
            let annotations = withRecord(meta.annotations, key.version(), 'staged', { at, fingerprint: fp });
            if (record) annotations = withRecord(annotations, key.version(), 'provider', record);
            if (minted) annotations = withMinting(annotations, undefined);
            return {
              labels: managedLabels(meta.labels, layout, 'staged', env),
              annotations: withPending(annotations, undefined),
            };
          });
        });
        const resumed = pending ? ' (finishing the provision that stopped part-way)' : '';
        return {
          planned: `would stage ${fp}${recorded} in ${target}${resumed}`,
          done: (after) =>
            `staged ${after.staged?.label ?? target} (${fp}${recorded}), ` +
            `${layout === 'alias' ? 'disabled' : 'in a secret no app declares'}: no process can read it until flip` +
            `${pending ? ' (finished the provision that had stopped part-way)' : ''}`,
        };
      },
    };
  });
}
