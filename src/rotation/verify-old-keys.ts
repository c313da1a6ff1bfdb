import { formatDuration } from '../duration.js';
import { checkWindowMs } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import { updateFresh } from './fresh-update.js';
import { checkOldKeys, keyVerdict, verificationProblem, verificationRefusal } from './old-key-checks.js';
import { LABEL, withRecord } from './records.js';
import { alreadyDone, noStoppedSequence, refuse, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';

const them = (n: number): string => (n === 1 ? 'it' : 'them');

/** Options of {@link verify}. */
export interface VerifyOldOptions {
  /** How long no process may have used an old key, in ms, counted back from now and no earlier than the flip. */
  windowMs: number;
}

/**
 * Step 4: "verify zero traffic on the old key". For each old key (enabled, not live): its fingerprint
 * (read from Secret Manager), then `verifyRetired` over the window; and the live key must have been live
 * for the whole window. With `ctx.provider`, the provider's usage of each old key's id over the window too
 * (`provider-evidence.ts`: use there blocks, data the provider's lag keeps short of the window end cannot prove);
 * each old key's verdict is the worse of the two. Records the answer on each old key. Passes only when every old
 * key is `clear`; when it does not, the result is `failed` with `refusal` saying why: `not-verified` (a key in
 * use), `evidence-incomplete` (none in use, but the evidence cannot prove it: each verification's `missing` and
 * `provider` say what to do), `provider-key-ambiguous` or `window-not-elapsed`.
 */
export async function verify(ctx: RotationContext, options: VerifyOldOptions): Promise<RotationResult> {
  const { admin, name } = ctx;
  const windowMs = checkWindowMs('verify', options.windowMs);
  return runStep(ctx, 'verify', (ring) => ({
    gates: [
      noStoppedSequence(ring),
      () =>
        ctx.usage
          ? undefined
          : refuse('no-usage-source', 'verify needs the beacons: give --collector URL or --prometheus URL'),
      () => (ring.old.length === 0 ? alreadyDone(`${name} has no old key enabled: nothing to verify`) : undefined),
      () =>
        ring.live
          ? undefined
          : refuse('no-live-key', `${name} has no live key: the enabled keys are all old; flip one first`),
    ],
    async plan(writes) {
      const checks = await checkOldKeys(ctx, ring, windowMs);
      const now = nowOf(ctx);
      const problem = verificationProblem(ring, checks, windowMs, now);
      const refusal = verificationRefusal(checks);
      const at = iso(now);
      const checked = ring.old.flatMap((key) => {
        const c = checks.find((one) => one.fingerprint === (key.fingerprint ?? '') || one.key === key.label);
        return c ? [{ key, c }] : [];
      });
      for (const { key, c } of checked) {
        const verdict = keyVerdict(c);
        const ok = verdict === 'clear' && c.windowElapsed;
        writes.add(
          `record on ${key.secretId}: verified ${key.label} over ${formatDuration(windowMs)}: ` +
            `${ok ? 'unused' : 'not yet'}`,
          async () => {
            await updateFresh(admin, key.secretId, (meta) => ({
              labels: ok ? { ...meta.labels, [LABEL.step]: 'verified' } : meta.labels,
              annotations: withRecord(meta.annotations, key.version, 'verified', {
                at,
                windowMs,
                ok,
                reason: c.windowElapsed ? verdict : 'window-not-elapsed',
                instances: c.result.instancesSeen,
              }),
            }));
          },
        );
      }
      const labels = checks.map((c) => c.key).join(', ');
      const instances = checks.map((c) => c.result.instancesSeen).reduce((a, b) => Math.max(a, b), 0);
      const provider = ctx.provider ? `, and ${ctx.provider.id} reports no use of ${them(checks.length)}` : '';
      const message = problem
        ? `not yet: ${problem}`
        : `no process used ${labels} in the last ${formatDuration(windowMs)} ` +
          `(${instances} instances reported ${ctx.beaconName ?? name})${provider}: revoke is allowed`;
      return {
        planned: `${message} (dry run: not recorded)`,
        done: () => message,
        failed: problem !== undefined,
        extra: refusal === undefined ? { verifications: checks } : { verifications: checks, refusal },
      };
    },
  }));
}
