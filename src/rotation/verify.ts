import { verifyRetired } from '../collector/verify.js';
import { formatAge, formatDuration } from '../duration.js';
import { Plan } from './plan.js';
import { iso, keyFingerprint, layoutOf, nowOf, updateFresh } from './common.js';
import { LABEL, withRecord } from './records.js';
import { readRing, type KeyRing } from './ring.js';
import { liveSince, refused, refusePending, result } from './state.js';
import type { KeyVerification, RotationContext, RotationResult } from './types.js';

export interface VerifyOldOptions {
  /** How long no process may have used an old key, in ms, counted back from now and no earlier than the flip. */
  windowMs: number;
}

/** Checks every old key against the beacons: the heart of `verify` and of `revoke`'s re-check. */
export async function checkOldKeys(ctx: RotationContext, ring: KeyRing, windowMs: number): Promise<KeyVerification[]> {
  const usage = ctx.usage;
  if (!usage) throw new Error('checkOldKeys needs ctx.usage');
  const now = nowOf(ctx);
  const since = liveSince(ring) ?? now;
  const out: KeyVerification[] = [];
  for (const key of ring.old) {
    const fp = await keyFingerprint(ctx, key);
    if (!fp) continue;
    const verdict = await verifyRetired({ source: usage, secret: ctx.beaconName ?? ctx.name, retired: fp, windowMs });
    out.push({
      key: key.label,
      fingerprint: fp,
      liveSince: since,
      windowElapsed: now - since >= windowMs,
      result: verdict,
    });
  }
  return out;
}

/** Why the verifications do not allow a revoke, for people; `undefined` when they do. */
export function verificationProblem(
  ring: KeyRing,
  checks: readonly KeyVerification[],
  windowMs: number,
  now: number,
): string | undefined {
  const window = formatDuration(windowMs);
  const problems: string[] = [];
  for (const c of checks) {
    if (!c.result.ok) {
      const who = c.result.offenders
        .slice(0, 5)
        .map(
          (o) => `${o.service}${o.environment ? `/${o.environment}` : ''} on ${o.host} pid ${o.pid} (instance ${o.id})`,
        )
        .join(', ');
      const more = c.result.offenders.length > 5 ? ` and ${c.result.offenders.length - 5} more` : '';
      problems.push(
        c.result.reason === 'in-use'
          ? `${c.key} (${c.fingerprint}) is still used: ${who}${more}`
          : `${c.key} (${c.fingerprint}): ${c.result.message}`,
      );
    } else if (!c.windowElapsed) {
      problems.push(
        `${ring.live?.label} went live ${formatAge(now - c.liveSince)} ago, less than the ${window} window: verify again after ${iso(c.liveSince + windowMs)}`,
      );
    }
  }
  return problems.length === 0 ? undefined : problems.join('; ');
}

/**
 * Step 4: "verify zero traffic on the old key". For each old key (enabled, not live): its fingerprint
 * (read from Secret Manager), then `verifyRetired` over the window; and the live key must have been live
 * for the whole window. Records the answer on each old key.
 */
export async function verify(ctx: RotationContext, options: VerifyOldOptions): Promise<RotationResult> {
  const layout = layoutOf(ctx);
  const { admin, name } = ctx;
  const { windowMs } = options;
  if (!(windowMs > 0) || !Number.isFinite(windowMs))
    throw new RangeError('verify: windowMs must be a positive number of milliseconds');
  const ring = await readRing(admin, name, layout);
  if (ring.pending) return refusePending(ring, 'verify', ring.pending);
  if (!ctx.usage)
    return refused(
      ring,
      'verify',
      'no-usage-source',
      'verify needs the beacons: give --collector URL or --prometheus URL',
    );
  if (ring.old.length === 0)
    return result(ring, 'verify', 'already-done', `${name} has no old key enabled: nothing to verify`);
  if (!ring.live)
    return refused(
      ring,
      'verify',
      'no-live-key',
      `${name} has no live key: the enabled keys are all old; flip one first`,
    );
  const checks = await checkOldKeys(ctx, ring, windowMs);
  const now = nowOf(ctx);
  const problem = verificationProblem(ring, checks, windowMs, now);
  const at = iso(now);
  const plan = new Plan();
  for (const c of checks) {
    const key = ring.old.find((k) => k.label === c.key);
    if (!key) continue;
    const ok = c.result.ok && c.windowElapsed;
    plan.add(
      `record on ${key.secretId}: verified ${key.label} over ${formatDuration(windowMs)}: ${ok ? 'unused' : 'not yet'}`,
      async () => {
        await updateFresh(admin, key.secretId, (meta) => ({
          labels: ok ? { ...meta.labels, [LABEL.step]: 'verified' } : meta.labels,
          annotations: withRecord(meta.annotations, key.version, 'verified', {
            at,
            windowMs,
            ok,
            reason: c.windowElapsed ? c.result.reason : 'window-not-elapsed',
            instances: c.result.instancesSeen,
          }),
        }));
      },
    );
  }
  const labels = checks.map((c) => c.key).join(', ');
  const message = problem
    ? `not yet: ${problem}`
    : `no process used ${labels} in the last ${formatDuration(windowMs)} (${checks.map((c) => c.result.instancesSeen).reduce((a, b) => Math.max(a, b), 0)} instances reported ${ctx.beaconName ?? name}): revoke is allowed`;
  if (ctx.dryRun)
    return result(ring, 'verify', problem ? 'failed' : 'planned', `${message} (dry run: not recorded)`, {
      steps: plan.steps(),
      verifications: checks,
    });
  await plan.execute('verify', name);
  return result(await readRing(admin, name, layout), 'verify', problem ? 'failed' : 'done', message, {
    steps: plan.steps(),
    verifications: checks,
  });
}
