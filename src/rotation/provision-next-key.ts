import { checkEnvironment, checkValue } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import { fingerprintOf, ringFingerprints } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { inStaging } from './key-ring.js';
import { ANNOTATION, LABEL, managedLabels, withPending, withRecord } from './records.js';
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
 */
export async function provision(
  ctx: RotationContext,
  rawValue: string,
  options: ProvisionOptions = {},
): Promise<RotationResult> {
  const value = checkValue(rawValue);
  const environment = checkEnvironment(options.environment);
  const { admin, name } = ctx;
  const fp = fingerprintOf(ctx, value);
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
        writes.add(`record on ${target}: staged ${fp} at ${at}; clear the pending mark`, async () => {
          await updateFresh(admin, target, (meta) => ({
            labels: managedLabels(meta.labels, layout, 'staged', env),
            annotations: withPending(
              withRecord(meta.annotations, key.version(), 'staged', { at, fingerprint: fp }),
              undefined,
            ),
          }));
        });
        const resumed = pending ? ' (finishing the provision that stopped part-way)' : '';
        return {
          planned: `would stage ${fp} in ${target}${resumed}`,
          done: (after) =>
            `staged ${after.staged?.label ?? target} (${fp}), ` +
            `${layout === 'alias' ? 'disabled' : 'in a secret no app declares'}: no process can read it until flip` +
            `${pending ? ' (finished the provision that had stopped part-way)' : ''}`,
        };
      },
    };
  });
}
