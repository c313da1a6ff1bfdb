import { formatDuration } from '../duration.js';
import { checkReason, checkWindowMs } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import { keyFingerprint } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { flipInProgress, type RotationKey } from './key-ring.js';
import { checkOldKeys, verificationProblem, verificationRefusal } from './old-key-checks.js';
import { LABEL, withRecord, type RevokedRecord } from './records.js';
import { alreadyDone, noStoppedSequence, once, refuse, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';

/** Options of {@link revoke}. */
export interface RevokeOptions {
  /** The window verify must pass for, in ms; checked again now. */
  windowMs: number;
  /**
   * Revoke without the check. The reason is required and recorded on the secret.
   * @default the check runs
   */
  force?:
    | {
        /** Why, for the record (`the provider revoked it already`). */
        reason: string;
      }
    | undefined;
}

/**
 * Step 5: disables every old key (enabled, not live; in the pair layout, every version of `NAME_v1` and `NAME_v2`
 * holding a retired key, `NAME_v1`'s latest included: apps then read `NAME_v2`, the live key). Refuses unless,
 * checked again at this moment, every old key is `clear` (proved unused for the whole window: `not-verified`
 * when one is in use, `evidence-incomplete` when the evidence cannot prove it) and the live key has been live
 * that long (`window-not-elapsed`) — or `force`, whose reason is recorded. Never disables the live key; never
 * destroys a version.
 */
export async function revoke(ctx: RotationContext, options: RevokeOptions): Promise<RotationResult> {
  const { admin, name } = ctx;
  const windowMs = checkWindowMs('revoke', options.windowMs);
  const reason = options.force ? checkReason(options.force.reason) : undefined;
  return runStep(ctx, 'revoke', (ring) => {
    const { old, live } = ring;
    const now = nowOf(ctx);
    // Checked again now, unless forced.
    const verifications = once(async () => (reason === undefined ? checkOldKeys(ctx, ring, windowMs) : undefined));
    return {
      gates: [
        noStoppedSequence(ring),
        () =>
          flipInProgress(ring)
            ? refuse('pending', 'a flip stopped part-way: run flip again to finish it first')
            : undefined,
        () => {
          if (old.length > 0) return undefined;
          const revoked = ring.keys.filter((k) => k.role === 'revoked').map((k) => k.label);
          const already = revoked.length ? ` (${revoked.join(', ')} revoked)` : '';
          return alreadyDone(`${name} has no old key enabled${already}: nothing to revoke`);
        },
        () =>
          live
            ? undefined
            : refuse('no-live-key', `${name} has no live key: revoking would leave processes without one`),
        () =>
          reason === undefined && !ctx.usage
            ? refuse(
                'no-usage-source',
                'revoke checks the beacons again: give --collector URL or --prometheus URL (or --force --reason "why")',
              )
            : undefined,
        async () => {
          const checks = await verifications();
          const problem = checks && verificationProblem(ring, checks, windowMs, now);
          if (!checks || !problem) return undefined;
          const code = verificationRefusal(checks) ?? 'not-verified';
          return refuse(code, `revoke refused: ${problem}`, { verifications: checks });
        },
      ],
      async plan(writes) {
        const checks = await verifications();
        const at = iso(now);
        const record: RevokedRecord = reason === undefined ? { at, windowMs } : { at, forced: true, reason };
        // Recorded with each key: once disabled, a key made outside keyflip could no longer be told by its
        // fingerprint.
        const fingerprints = new Map<RotationKey, string>();
        for (const key of old) {
          const fp = checks?.find((c) => c.key === key.label)?.fingerprint ?? (await keyFingerprint(ctx, key));
          if (fp) fingerprints.set(key, fp);
        }
        const recordOf = (key: RotationKey): RevokedRecord => {
          const fp = fingerprints.get(key);
          return fp === undefined ? record : { ...record, fingerprint: fp };
        };
        // The records first, then the disables: a revoke stopped in between leaves keys recorded as revoked but
        // still enabled, which the ring shows as old (with a note), so running revoke again finishes it. (The
        // other order would leave disabled keys with no record, that nothing could tell from keys disabled by
        // hand.)
        for (const secretId of new Set(old.map((k) => k.secretId))) {
          const keys = old.filter((k) => k.secretId === secretId);
          writes.add(
            `record on ${secretId}: revoked ${keys.map((k) => k.label).join(', ')}` +
              `${reason ? ' (forced; the reason is recorded)' : ''}`,
            async () => {
              await updateFresh(admin, secretId, (meta) => {
                let annotations = meta.annotations;
                for (const key of keys) annotations = withRecord(annotations, key.version, 'revoked', recordOf(key));
                return { labels: { ...meta.labels, [LABEL.step]: 'revoked' }, annotations };
              });
            },
          );
        }
        for (const key of old) {
          writes.add(`disable ${key.label} (${key.secretId} version ${key.version})`, async () => {
            await admin.setState(key.secretId, key.version, 'DISABLED');
          });
        }
        const labels = old.map((k) => k.label).join(', ');
        return {
          planned: `would disable ${labels}`,
          done: () =>
            reason
              ? `disabled ${labels} without the usage check (forced: recorded with its reason)`
              : `disabled ${labels}: no process used ${old.length === 1 ? 'it' : 'them'} in the last ` +
                `${formatDuration(windowMs)}`,
          extra: {
            notes: [
              `Secret Manager no longer serves ${labels}; revoke the key at the provider too (keyflip cannot), ` +
                'so that a copy kept anywhere else stops working',
            ],
            verifications: checks,
          },
        };
      },
    };
  });
}
