import { findProviderKeys } from '../key-formats.js';
import { formatDuration } from '../duration.js';
import { Plan } from './plan.js';
import { iso, keyFingerprint, layoutOf, nowOf, updateFresh } from './common.js';
import { RotationError } from './errors.js';
import { LABEL, withRecord, type RevokedRecord } from './records.js';
import { readRing, type RotationKey } from './ring.js';
import { refused, refusePending, result } from './state.js';
import type { KeyVerification, RotationContext, RotationResult } from './types.js';
import { checkOldKeys, verificationProblem } from './verify.js';

export interface RevokeOptions {
  /** The window verify must pass for, in ms; checked again now. */
  windowMs: number;
  /** Revoke without the check. The reason is required and recorded on the secret. */
  force?: { reason: string } | undefined;
}

/** A reason given with --force: short, one line, and nothing that looks like a key (it is stored and printed). */
export function checkReason(reason: unknown): string {
  if (typeof reason !== 'string' || reason.trim().length < 3)
    throw new RotationError(
      'INVALID_INPUT',
      '--force needs --reason "why" (at least 3 characters); it is recorded on the secret',
    );
  const text = reason.trim();
  if (text.length > 300 || /[\r\n\0]/.test(text))
    throw new RotationError('INVALID_INPUT', 'the reason must be one line of at most 300 characters');
  // A provider-format key, or any long unbroken token that is not a link (a ticket id, a word, a URL are fine).
  const tokenLike = text.split(/\s+/).some((word) => word.length >= 24 && !/^https?:\/\//.test(word));
  if (findProviderKeys(text).length > 0 || tokenLike) {
    throw new RotationError(
      'INVALID_INPUT',
      'the reason looks like it holds a key or a token (not shown): it is stored on the secret and printed, so it must not',
    );
  }
  return text;
}

/**
 * Step 5: disables every old key (enabled, not live). Refuses unless, checked again at this moment, no
 * process used any of them for the whole window and the live key has been live that long — or `force`,
 * whose reason is recorded. Never disables the live key; never destroys a version.
 */
export async function revoke(ctx: RotationContext, options: RevokeOptions): Promise<RotationResult> {
  const layout = layoutOf(ctx);
  const { admin, name } = ctx;
  const { windowMs } = options;
  if (!(windowMs > 0) || !Number.isFinite(windowMs))
    throw new RangeError('revoke: windowMs must be a positive number of milliseconds');
  const reason = options.force ? checkReason(options.force.reason) : undefined;
  const ring = await readRing(admin, name, layout);
  if (ring.pending) return refusePending(ring, 'revoke', ring.pending);
  if (ring.staged?.state === 'ENABLED' || (ring.live?.records.staged && !ring.live.records.flipped)) {
    return refused(ring, 'revoke', 'pending', 'a flip stopped part-way: run flip again to finish it first');
  }
  if (ring.old.length === 0) {
    const revokedKeys = ring.keys.filter((k) => k.role === 'revoked').map((k) => k.label);
    return result(
      ring,
      'revoke',
      'already-done',
      `${name} has no old key enabled${revokedKeys.length ? ` (${revokedKeys.join(', ')} revoked)` : ''}: nothing to revoke`,
    );
  }
  if (!ring.live)
    return refused(
      ring,
      'revoke',
      'no-live-key',
      `${name} has no live key: revoking would leave processes without one`,
    );
  const now = nowOf(ctx);
  let verifications: KeyVerification[] | undefined;
  if (!options.force) {
    if (!ctx.usage)
      return refused(
        ring,
        'revoke',
        'no-usage-source',
        'revoke checks the beacons again: give --collector URL or --prometheus URL (or --force --reason "why")',
      );
    verifications = await checkOldKeys(ctx, ring, windowMs);
    const problem = verificationProblem(ring, verifications, windowMs, now);
    if (problem) {
      const code = verifications.every((c) => c.result.ok) ? 'window-not-elapsed' : 'not-verified';
      return refused(ring, 'revoke', code, `revoke refused: ${problem}`, { verifications });
    }
  }
  const at = iso(now);
  const record: RevokedRecord = reason === undefined ? { at, windowMs } : { at, forced: true, reason };
  // Recorded with each key: once disabled, a key made outside keyflip could no longer be told by its fingerprint.
  const fingerprints = new Map<RotationKey, string>();
  for (const key of ring.old) {
    const fp = verifications?.find((c) => c.key === key.label)?.fingerprint ?? (await keyFingerprint(ctx, key));
    if (fp) fingerprints.set(key, fp);
  }
  const recordOf = (key: RotationKey): RevokedRecord => {
    const fp = fingerprints.get(key);
    return fp === undefined ? record : { ...record, fingerprint: fp };
  };
  const plan = new Plan();
  // The records first, then the disables: a revoke stopped in between leaves keys recorded as revoked but
  // still enabled, which the ring shows as old (with a note), so running revoke again finishes it. (The other
  // order would leave disabled keys with no record, that nothing could tell from keys disabled by hand.)
  for (const secretId of new Set(ring.old.map((k) => k.secretId))) {
    const keys = ring.old.filter((k) => k.secretId === secretId);
    plan.add(
      `record on ${secretId}: revoked ${keys.map((k) => k.label).join(', ')}${reason ? ' (forced; the reason is recorded)' : ''}`,
      async () => {
        await updateFresh(admin, secretId, (meta) => {
          let annotations = meta.annotations;
          for (const key of keys) annotations = withRecord(annotations, key.version, 'revoked', recordOf(key));
          return { labels: { ...meta.labels, [LABEL.step]: 'revoked' }, annotations };
        });
      },
    );
  }
  for (const key of ring.old) {
    plan.add(`disable ${key.label} (${key.secretId} version ${key.version})`, async () => {
      await admin.setState(key.secretId, key.version, 'DISABLED');
    });
  }
  const labels = ring.old.map((k) => k.label).join(', ');
  const notes = [
    `Secret Manager no longer serves ${labels}; revoke the key at the provider too (keyflip cannot), so that a copy kept anywhere else stops working`,
  ];
  if (ctx.dryRun)
    return result(ring, 'revoke', 'planned', `would disable ${labels}`, { steps: plan.steps(), notes, verifications });
  await plan.execute('revoke', name);
  return result(
    await readRing(admin, name, layout),
    'revoke',
    'done',
    reason
      ? `disabled ${labels} without the usage check (forced: recorded with its reason)`
      : `disabled ${labels}: no process used ${ring.old.length === 1 ? 'it' : 'them'} in the last ${formatDuration(windowMs)}`,
    { steps: plan.steps(), notes, verifications },
  );
}
