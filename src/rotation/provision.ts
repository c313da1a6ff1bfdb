import { Plan } from './plan.js';
import {
  checkEnvironment,
  checkValue,
  fingerprintOf,
  iso,
  layoutOf,
  nowOf,
  ringFingerprints,
  updateFresh,
  newestVersion,
} from './common.js';
import { ANNOTATION, LABEL, managedLabels, withPending, withRecord } from './records.js';
import { highestSlot, readRing, suffixId, type KeyRing } from './ring.js';
import { refused, result } from './state.js';
import type { RefusalCode, RotationContext, RotationResult } from './types.js';

export interface ProvisionOptions {
  /** Sets the `keyflip-environment` label (`prod`), for `audit --environment`. @default the ring's, if any */
  environment?: string | undefined;
}

/**
 * Step 1: stages a new key beside the live one. Suffix layout: `NAME_v{n+1}` with its version disabled;
 * alias layout: a new version of `NAME`, disabled and named by no alias. Either way no process can read it
 * until `flip`. Refuses when a key is already staged, or when the key is one the ring already holds.
 *
 * Secret Manager always adds a version enabled; keyflip disables it in the next call. In the suffix
 * layout, an app that declares `NAME_v{n+1}` and refreshes in that moment reads the new key (it is the
 * key you are rotating to, so nothing breaks); if the command stops between the two calls, `status`
 * says so and running `provision` again with the same key disables it.
 */
export async function provision(
  ctx: RotationContext,
  rawValue: string,
  options: ProvisionOptions = {},
): Promise<RotationResult> {
  const layout = layoutOf(ctx);
  const value = checkValue(rawValue);
  const environment = checkEnvironment(options.environment);
  const { admin, name } = ctx;
  const ring = await readRing(admin, name, layout);
  const fp = fingerprintOf(ctx, value);
  const refuse = (code: RefusalCode, message: string): RotationResult => refused(ring, 'provision', code, message);

  const pending = ring.pending;
  if (pending) {
    if (pending.record.op !== 'provision') {
      return refuse(
        'pending',
        `an emergency rotation to ${pending.record.fingerprint} stopped part-way: run rotate emergency again with that key, or rotate discard`,
      );
    }
    if (pending.record.fingerprint !== fp) {
      return refuse(
        'fingerprint-mismatch',
        `a provision of ${pending.record.fingerprint} stopped part-way and this key is ${fp}: run provision again with that key to finish it, or rotate discard first`,
      );
    }
  } else {
    if (ring.staged?.fingerprint === fp && ring.staged.state === 'DISABLED') {
      return result(
        ring,
        'provision',
        'already-done',
        `${ring.staged.label} (${fp}) is already staged: this key; next, probe it`,
      );
    }
    if (ring.staged) {
      const s = ring.staged;
      return refuse(
        'staged-exists',
        `${s.label} (${s.fingerprint ?? 'fingerprint not recorded'}) is already staged${s.records.staged ? ` since ${s.records.staged.at}` : ''}: probe and flip it, or rotate discard it; provision never stages a second key`,
      );
    }
    const same = [...(await ringFingerprints(ctx, ring))].find(([, f]) => f === fp);
    if (same)
      return refuse(
        'same-key',
        `this key (${fp}) is already ${same[0].label} (${same[0].role}): a rotation needs a new key`,
      );
  }

  const at = iso(nowOf(ctx));
  const env = environment ?? ring.environment;
  const plan = new Plan();
  const target = pending ? pending.secretId : layout === 'alias' ? name : suffixTarget(ring);
  const pendingRecord = { op: 'provision' as const, fingerprint: fp, at, after: newestVersion(ring, target) };
  if (!pending) {
    if (!ring.secrets.has(target)) {
      plan.add(
        `create secret ${target} (labels keyflip-managed=true, keyflip-layout=${layout}; a pending provision of ${fp})`,
        async () => {
          await admin.createSecret(target, {
            labels: managedLabels({}, layout, 'provisioning', env),
            annotations: withPending({ [ANNOTATION.name]: name }, pendingRecord),
          });
        },
      );
    } else {
      plan.add(`mark ${target}: a provision of ${fp} is pending`, async () => {
        await updateFresh(admin, target, (meta) => ({
          labels: managedLabels(meta.labels, layout, 'provisioning', env),
          annotations: withPending({ ...meta.annotations, [ANNOTATION.name]: name }, pendingRecord),
        }));
      });
    }
  }
  let version = pending?.key?.version;
  if (!pending?.key) {
    plan.add(`add the new key (${fp}) as a version of ${target}`, async () => {
      version = (await admin.addVersion(target, value)).version;
    });
  }
  if (!pending?.key || pending.key.state === 'ENABLED') {
    plan.add(`disable that version at once: no process can read it until flip`, async () => {
      await admin.setState(target, version as number, 'DISABLED');
    });
  }
  // Secrets of the ring made before keyflip managed it get its labels (for audit); their versions are not touched.
  // Before the last write, which clears the pending mark: a provision stopped here is finished by running it again.
  for (const secret of ring.secrets.values()) {
    if (secret.id === target || secret.labels[LABEL.managed] === 'true') continue;
    plan.add(`label ${secret.id} keyflip-managed=true (for audit; its versions are not touched)`, async () => {
      await updateFresh(admin, secret.id, (meta) => ({
        labels: managedLabels(meta.labels, layout, meta.labels[LABEL.step] ?? 'adopted', env),
        annotations: { ...meta.annotations, [ANNOTATION.name]: name },
      }));
    });
  }

  plan.add(`record on ${target}: staged ${fp} at ${at}; clear the pending mark`, async () => {
    await updateFresh(admin, target, (meta) => ({
      labels: managedLabels(meta.labels, layout, 'staged', env),
      annotations: withPending(
        withRecord(meta.annotations, version as number, 'staged', { at, fingerprint: fp }),
        undefined,
      ),
    }));
  });
  if (ctx.dryRun)
    return result(
      ring,
      'provision',
      'planned',
      `would stage ${fp} in ${target}${pending ? ' (finishing the provision that stopped part-way)' : ''}`,
      { steps: plan.steps() },
    );
  await plan.execute('provision', name);
  const after = await readRing(admin, name, layout);
  const staged = after.staged;
  return result(
    after,
    'provision',
    'done',
    `staged ${staged?.label ?? target} (${fp}), disabled: no process can read it until flip${pending ? ' (finished the provision that had stopped part-way)' : ''}`,
    { steps: plan.steps() },
  );
}

/** Where the suffix layout stages: the next `NAME_vN`, or the newest one again when its key was discarded. */
function suffixTarget(ring: KeyRing): string {
  const top = highestSlot(ring);
  const topId = suffixId(ring.name, top);
  const topKey = ring.keys.find((k) => k.secretId === topId);
  if (top > 0 && (!topKey || topKey.role === 'discarded')) return topId;
  return suffixId(ring.name, top + 1);
}
