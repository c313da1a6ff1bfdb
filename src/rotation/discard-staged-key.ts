import { iso, nowOf } from './context.js';
import { updateFresh } from './fresh-update.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import { article, LABEL, withPending, withRecord } from './records.js';
import { alreadyDone, refuse, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';

/**
 * Abandons the staged key (a dead probe, a wrong key) or a provision/emergency that stopped part-way:
 * its version is disabled (never destroyed) and recorded as discarded, so `provision` can stage another.
 * Never touches the live key or an old one. Refuses (`pending`) while a flip (or another sequence that makes
 * a key live) stopped part-way: its key may be live already; run it again to finish it.
 */
export async function discard(ctx: RotationContext): Promise<RotationResult> {
  const { admin, name } = ctx;
  return runStep(ctx, 'discard', (ring) => {
    const { pending } = ring;
    const key = discardedKey(ring);
    const what = key?.label ?? `the pending ${pending?.record.op}`;
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
        () => (!pending && !key ? alreadyDone(`${name} has nothing staged or pending: nothing to discard`) : undefined),
      ],
      plan(writes) {
        const at = iso(nowOf(ctx));
        if (key && key.state === 'ENABLED') {
          writes.add(`disable ${key.label} (never live by a flip)`, async () => {
            await admin.setState(key.secretId, key.version, 'DISABLED');
          });
        }
        // The gate let through a ring with a key to discard or a stopped sequence.
        const secretId = key?.secretId ?? (pending as NonNullable<typeof pending>).secretId;
        writes.add(
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
        return { planned: `would discard ${what}`, done: () => `discarded ${what}: provision can stage another key` };
      },
    };
  });
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
