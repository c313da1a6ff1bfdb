import { formatDuration } from '../duration.js';
import type { ProviderAdmin, RevokeKeyResult } from '../providers/index.js';
import { checkReason, checkWindowMs } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import { keyFingerprint } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { flipInProgress, type KeyRing, type RotationKey } from './key-ring.js';
import { checkOldKeys, verificationProblem, verificationRefusal } from './old-key-checks.js';
import { identifyOldKey, type OldKeyIdentity } from './provider-evidence.js';
import { providerRecordOf, recordMismatch } from './provider-keys.js';
import { LABEL, withRecord, type ProviderRecord, type RevokedRecord } from './records.js';
import { alreadyDone, noStoppedSequence, once, refuse, runStep } from './rotation-step.js';
import type { ProviderRevocation, RotationContext, RotationResult } from './types.js';
import type { WritePlan } from './write-plan.js';

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
  /**
   * With `ctx.provider`: leave the old keys valid at the provider (disable them in Secret Manager only). A later
   * revoke without it revokes them at the provider then.
   * @default false: each old key is revoked at the provider after the disables
   */
  keepProviderKey?: boolean | undefined;
  /**
   * With an Anthropic `ctx.provider`: archive the old keys (for good) instead of making them `inactive`
   * (reversible). OpenAI deletes them either way.
   * @default false
   */
  archive?: boolean | undefined;
}

/** An old key to revoke at the provider: its id there, and the versions of the ring holding it. */
export interface ProviderTarget {
  /** Its id at the provider. */
  readonly keyId: string;
  /** Its fingerprint. */
  readonly fingerprint: string;
  /** The versions of the ring holding it. */
  readonly keys: RotationKey[];
}

/**
 * Keys disabled by an earlier revoke (not by an emergency) whose id at the `asked` provider is recorded and that no
 * record says were revoked there: a revoke stopped between its disables and the provider, or one run with
 * `keepProviderKey`. Running revoke again revokes them at the provider (`status` may point them out). A key recorded
 * in another project or workspace than `asked.scope` is not one (`recordMismatch`): this provider cannot see it,
 * and would answer `already` for it.
 */
export function leftAtProvider(
  ring: KeyRing,
  asked: { readonly id: string; readonly scope: string | undefined },
): ProviderTarget[] {
  const out = new Map<string, ProviderTarget>();
  const revokedThere = new Set(ring.keys.flatMap((k) => k.records['provider-revoked']?.keyId ?? []));
  const current = new Set([ring.live?.fingerprint, ring.staged?.fingerprint].filter((f) => f !== undefined));
  for (const key of ring.keys) {
    const revoked = key.records.revoked;
    const fp = key.fingerprint ?? revoked?.fingerprint;
    if (key.role !== 'revoked' || !revoked || revoked.emergency || fp === undefined || current.has(fp)) continue;
    const record = providerRecordOf(ring, fp);
    const keyId = record && recordMismatch(record, asked) === undefined ? record.keyId : undefined;
    if (keyId === undefined || revokedThere.has(keyId)) continue;
    const target = out.get(keyId) ?? { keyId, fingerprint: fp, keys: [] };
    target.keys.push(key);
    out.set(keyId, target);
  }
  return [...out.values()];
}

/** What revoking does at `provider`, for people. */
const howRevoked = (provider: ProviderAdmin, archive: boolean): string =>
  provider.id === 'openai' ? 'delete' : archive ? 'archive' : 'make inactive';

/**
 * Adds, for each target, the revoke at the provider and then its record (`provider-revoked`) on every version
 * holding the key; fills `revocations` as the writes run.
 */
function addProviderWrites(
  ctx: RotationContext,
  provider: ProviderAdmin,
  targets: readonly ProviderTarget[],
  archive: boolean,
  writes: WritePlan,
  revocations: ProviderRevocation[],
): void {
  for (const target of targets) {
    const label = target.keys[0]?.label ?? target.fingerprint;
    let answer: RevokeKeyResult | undefined;
    writes.add(`revoke ${label} at ${provider.id} (${target.keyId}): ${howRevoked(provider, archive)}`, async () => {
      answer = await provider.revokeKey(target.keyId, { archive });
      const { outcome, status } = answer;
      revocations.push({ key: label, fingerprint: target.fingerprint, keyId: target.keyId, outcome, status });
    });
    for (const secretId of new Set(target.keys.map((k) => k.secretId))) {
      const keys = target.keys.filter((k) => k.secretId === secretId);
      writes.add(`record on ${secretId}: ${label} revoked at ${provider.id}`, async () => {
        const at = iso(nowOf(ctx));
        const status = answer?.status ?? 'deleted';
        const outcome = answer?.outcome ?? 'revoked';
        await updateFresh(ctx.admin, secretId, (meta) => {
          let annotations = meta.annotations;
          for (const key of keys)
            annotations = withRecord(annotations, key.version, 'provider-revoked', {
              at,
              provider: provider.id,
              keyId: target.keyId,
              status,
              outcome,
            });
          return { labels: meta.labels, annotations };
        });
      });
    }
  }
}

/** `revoked K1 (key_abc, deleted) at openai`, `K1 (key_abc) already revoked at openai`. */
function providerSummary(provider: ProviderAdmin, revocations: readonly ProviderRevocation[]): string {
  const revoked = revocations.filter((r) => r.outcome === 'revoked');
  const already = revocations.filter((r) => r.outcome === 'already');
  const parts: string[] = [];
  if (revoked.length > 0)
    parts.push(`revoked ${revoked.map((r) => `${r.key} (${r.keyId}, ${r.status})`).join(', ')} at ${provider.id}`);
  if (already.length > 0)
    parts.push(`${already.map((r) => `${r.key} (${r.keyId})`).join(', ')} already revoked at ${provider.id}`);
  return parts.join('; ');
}

/** The provider part of revoke's plan: which old keys to revoke there, which to keep, ids to record, notes. */
interface ProviderPlan {
  readonly targets: Map<string, ProviderTarget>;
  readonly found: Map<RotationKey, ProviderRecord>;
  readonly kept: ProviderRevocation[];
  readonly notes: string[];
}

/** Finds each old key's id at the provider (while its value is readable) and sorts them into the plan. */
async function planAtProvider(
  ctx: RotationContext,
  ring: KeyRing,
  fingerprints: ReadonlyMap<RotationKey, string>,
  identities: Map<string, OldKeyIdentity>,
  keep: boolean,
): Promise<ProviderPlan> {
  const plan: ProviderPlan = { targets: new Map(), found: new Map(), kept: [], notes: [] };
  const provider = ctx.provider;
  if (!provider) return plan;
  for (const key of ring.old) {
    const fp = fingerprints.get(key);
    if (fp === undefined) continue;
    let identity = identities.get(fp);
    if (!identity) {
      identity = await identifyOldKey(ctx, ring, key);
      identities.set(fp, identity);
    }
    const { keyId } = identity;
    if (keyId === undefined) {
      if (!plan.notes.some((n) => n.includes(fp)))
        plan.notes.push(
          `${key.label} (${fp}) is not revoked at ${provider.id}: its id there is unknown ` +
            `(${identity.unknownWhy ?? 'none recorded'}); revoke it there by hand`,
        );
      continue;
    }
    if (identity.found) plan.found.set(key, identity.found);
    if (keep) {
      if (!plan.kept.some((k) => k.keyId === keyId))
        plan.kept.push({ key: key.label, fingerprint: fp, keyId, outcome: 'kept', status: undefined });
      continue;
    }
    const target = plan.targets.get(keyId) ?? { keyId, fingerprint: fp, keys: [] };
    target.keys.push(key);
    plan.targets.set(keyId, target);
  }
  if (plan.kept.length > 0)
    plan.notes.push(
      `${plan.kept.map((k) => `${k.key} (${k.keyId})`).join(', ')} kept valid at ${provider.id} ` +
        '(keepProviderKey): a copy kept anywhere else still works; revoke it there when ready ' +
        '(running revoke again without keepProviderKey does)',
    );
  return plan;
}

/**
 * Step 5: disables every old key (enabled, not live; in the pair layout, every version of `NAME_v1` and `NAME_v2`
 * holding a retired key, `NAME_v1`'s latest included: apps then read `NAME_v2`, the live key). Refuses unless,
 * checked again at this moment, every old key is `clear` (proved unused for the whole window, by the beacons and,
 * with `ctx.provider`, by the provider's usage: `not-verified` when one is in use, `evidence-incomplete` when the
 * evidence cannot prove it) and the live key has been live that long (`window-not-elapsed`) — or `force`, whose
 * reason is recorded. Never disables the live key; never destroys a version.
 *
 * With `ctx.provider`, after the disables it revokes each old key at the provider (OpenAI: deletes it, with its
 * service account when keyflip minted it; Anthropic: `inactive`, or archived with `archive`) and records
 * `provider-revoked` on it, unless `keepProviderKey`. A revoke stopped between the disables and the provider
 * finishes the provider part when run again. A key whose id at the provider is unknown is disabled and named in
 * the notes (revoke it there by hand).
 */
export async function revoke(ctx: RotationContext, options: RevokeOptions): Promise<RotationResult> {
  const { admin, name } = ctx;
  const windowMs = checkWindowMs('revoke', options.windowMs);
  const reason = options.force ? checkReason(options.force.reason) : undefined;
  const archive = options.archive === true;
  const keep = options.keepProviderKey === true;
  const provider = keep ? undefined : ctx.provider;
  return runStep(ctx, 'revoke', (ring) => {
    const { old, live } = ring;
    const now = nowOf(ctx);
    const identities = new Map<string, OldKeyIdentity>();
    // Checked again now, unless forced.
    const verifications = once(async () =>
      reason === undefined && old.length > 0 ? checkOldKeys(ctx, ring, windowMs, identities) : undefined,
    );
    const left = provider ? leftAtProvider(ring, provider) : [];
    return {
      gates: [
        noStoppedSequence(ring),
        () =>
          flipInProgress(ring)
            ? refuse('pending', 'a flip stopped part-way: run flip again to finish it first')
            : undefined,
        () => {
          if (old.length > 0 || left.length > 0) return undefined;
          const revoked = ring.keys.filter((k) => k.role === 'revoked').map((k) => k.label);
          const already = revoked.length ? ` (${revoked.join(', ')} revoked)` : '';
          return alreadyDone(`${name} has no old key enabled${already}: nothing to revoke`);
        },
        () =>
          live || old.length === 0
            ? undefined
            : refuse('no-live-key', `${name} has no live key: revoking would leave processes without one`),
        () =>
          reason === undefined && !ctx.usage && old.length > 0
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
        // Each key's id at the provider, found while its value is still readable; an id found now by its hint is
        // recorded with the revoke, so that a revoke stopped after the disables can still revoke the key there.
        const there = await planAtProvider(ctx, ring, fingerprints, identities, keep);
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
                for (const key of keys) {
                  annotations = withRecord(annotations, key.version, 'revoked', recordOf(key));
                  const identity = there.found.get(key);
                  if (identity) annotations = withRecord(annotations, key.version, 'provider', identity);
                }
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
        // Then the provider: the keys disabled now, and those an earlier revoke disabled and left there.
        const revocations: ProviderRevocation[] = [...there.kept];
        const targets = [...there.targets.values(), ...left.filter((t) => !there.targets.has(t.keyId))];
        if (provider) addProviderWrites(ctx, provider, targets, archive, writes, revocations);
        const labels = old.map((k) => k.label).join(', ');
        const notes = [...there.notes];
        if (!ctx.provider)
          notes.push(
            `Secret Manager no longer serves ${labels}; revoke the key at the provider too (keyflip cannot), ` +
              'so that a copy kept anywhere else stops working',
          );
        const leftLabels = left.map((t) => t.keys[0]?.label ?? t.fingerprint).join(', ');
        const disabled =
          old.length === 0
            ? `${leftLabels} disabled earlier`
            : reason
              ? `disabled ${labels} without the usage check (forced: recorded with its reason)`
              : `disabled ${labels}: no process used ${old.length === 1 ? 'it' : 'them'} in the last ` +
                `${formatDuration(windowMs)}`;
        const atProvider = provider && targets.length > 0 ? ` and revoke ${targets.length} at ${provider.id}` : '';
        return {
          planned:
            old.length === 0 ? `would revoke ${leftLabels} at ${provider?.id}` : `would disable ${labels}${atProvider}`,
          done: () => {
            const summary = provider ? providerSummary(provider, revocations) : '';
            return summary ? `${disabled}; ${summary}` : disabled;
          },
          extra: {
            notes,
            verifications: checks,
            ...(ctx.provider ? { providerRevocations: revocations } : {}),
          },
        };
      },
    };
  });
}
