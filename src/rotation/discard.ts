import { Plan } from './plan.js';
import { iso, layoutOf, nowOf, updateFresh } from './common.js';
import { LABEL, withPending, withRecord } from './records.js';
import { readRing } from './ring.js';
import { result } from './state.js';
import type { RotationContext, RotationResult } from './types.js';

/**
 * Abandons the staged key (a dead probe, a wrong key) or a provision/emergency that stopped part-way:
 * its version is disabled (never destroyed) and recorded as discarded, so `provision` can stage another.
 * Never touches the live key or an old one.
 */
export async function discard(ctx: RotationContext): Promise<RotationResult> {
  const layout = layoutOf(ctx);
  const { admin, name } = ctx;
  const ring = await readRing(admin, name, layout);
  const pending = ring.pending;
  // A pending emergency's key is the live one by design: discarding it would leave the ring without a key.
  const key = pending
    ? pending.record.op === 'provision' || pending.key?.role !== 'live'
      ? pending.key
      : undefined
    : ring.staged;
  if (!pending && !key)
    return result(ring, 'discard', 'already-done', `${name} has nothing staged or pending: nothing to discard`);
  const at = iso(nowOf(ctx));
  const plan = new Plan();
  if (key && key.state === 'ENABLED') {
    plan.add(`disable ${key.label} (never live by a flip)`, async () => {
      await admin.setState(key.secretId, key.version, 'DISABLED');
    });
  }
  const secretId = key?.secretId ?? (pending as NonNullable<typeof pending>).secretId;
  plan.add(
    `record on ${secretId}: ${key ? `discarded ${key.label}` : 'nothing was added'}; clear the pending mark`,
    async () => {
      await updateFresh(admin, secretId, (meta) => ({
        labels: { ...meta.labels, [LABEL.step]: 'discarded' },
        annotations: withPending(
          key ? withRecord(meta.annotations, key.version, 'discarded', { at }) : meta.annotations,
          undefined,
        ),
      }));
    },
  );
  if (ctx.dryRun)
    return result(ring, 'discard', 'planned', `would discard ${key?.label ?? `the pending ${pending?.record.op}`}`, {
      steps: plan.steps(),
    });
  await plan.execute('discard', name);
  return result(
    await readRing(admin, name, layout),
    'discard',
    'done',
    `discarded ${key?.label ?? `the pending ${pending?.record.op}`}: provision can stage another key`,
    { steps: plan.steps() },
  );
}
