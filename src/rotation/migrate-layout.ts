/**
 * `migrate`: a legacy suffix ring (`NAME_v1`, `NAME_v2`, `NAME_v3`, … labelled `keyflip-layout=suffix`, or
 * unlabelled with a `NAME_v3`) moved to the pair layout, where apps declare `NAME_v2 ?? NAME_v1` for good.
 *
 * It only adds versions and labels; it never disables anything. In order:
 * 1. the previous live key (the newest enabled `NAME_vN` below the live one holding another key) as a new
 *    version of `NAME_v1`, unless `NAME_v1`'s latest version already holds it;
 * 2. the live key as a new version of `NAME_v2`, unless `NAME_v2`'s latest version already holds it (or the live
 *    key is `NAME_v1` and there is no `NAME_v2`: a pair ring whose `NAME_v2` does not exist yet);
 * 3. the label `keyflip-layout=pair` on every secret of the ring, `NAME_v2` last.
 *
 * An app on `NAME_v3 ?? NAME_v2 ?? NAME_v1` keeps reading `NAME_v3`; an app on `NAME_v2 ?? NAME_v1` reads the
 * previous key until step 2, the live key from then on: at no moment has either no key, and neither ever reads a
 * key that was not live or previous. Each step is decided from what the secrets hold (fingerprints of the
 * latest versions), in an order that keeps the decision the same after any step, so a migrate that stopped
 * part-way is finished by running it again. Refused while a rotation is in flight (a staged key, a sequence or
 * a flip stopped part-way).
 */
import { iso, nowOf } from './context.js';
import { fingerprintOf, keyFingerprint } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { flipInProgress, readRing, type KeyRing, type RotationKey } from './key-ring.js';
import { highestSlot, pairIds, recordedLayout, stagingId } from './layout.js';
import { ANNOTATION, LABEL, managedLabels, withRecord, type VersionRecords } from './records.js';
import { alreadyDone, once, refuse, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';
import { resultOf } from './views.js';
import type { WritePlan } from './write-plan.js';

/** One key carried into a pair slot: the key, where it goes, whether that secret must be created first. */
interface Carry {
  readonly key: RotationKey;
  readonly fingerprint: string;
  readonly target: string;
  readonly create: boolean;
  /** The key is in the target's latest version already; only its records are missing. */
  readonly recordOnly: boolean;
}

/**
 * Moves the suffix ring of `ctx.name` to the pair layout (see the module comment). Reads the ring as a suffix
 * ring whatever `ctx.layout` says; answers with the pair ring once migrated. Running it again changes nothing
 * (`already-done`).
 */
export async function migrate(ctx: RotationContext): Promise<RotationResult> {
  const { admin, name } = ctx;
  const ids = pairIds(name);
  const notes: string[] = [];
  const result = await runStep({ ...ctx, layout: 'suffix' }, 'migrate', (ring) => {
    const slots = slotKeys(ring);
    const fingerprints = once(async () => {
      const out = new Map<RotationKey, string>();
      for (const key of slots) {
        if (key.state !== 'ENABLED') continue;
        const fp = await keyFingerprint(ctx, key);
        if (fp) out.set(key, fp);
      }
      return out;
    });
    const layout = once(() => recordedLayout(admin, name));
    return {
      gates: [
        async () =>
          (await layout()) === 'alias'
            ? refuse('layout-mismatch', `${name} is in the alias layout: it stays there (migrate moves suffix rings)`)
            : undefined,
        () =>
          slots.length === 0
            ? refuse(
                'layout-mismatch',
                `${name} has no ${name}_vN secret: nothing to migrate (a new ring starts in the pair layout)`,
              )
            : undefined,
        () =>
          isPair(ring)
            ? alreadyDone(`${name} is in the pair layout: apps declare ${ids.current} ?? ${ids.previous}`)
            : undefined,
        () =>
          ring.pending
            ? refuse(
                'pending',
                `a ${ring.pending.record.op} of ${ring.pending.record.fingerprint} stopped part-way: ` +
                  'finish it or discard it before migrating',
              )
            : undefined,
        () =>
          flipInProgress(ring)
            ? refuse('pending', 'a flip stopped part-way: run flip again to finish it before migrating')
            : undefined,
        () =>
          ring.staged
            ? refuse(
                'staged-exists',
                `${ring.staged.label} is staged: flip it (or discard it) before migrating; a rotation in flight ` +
                  'is not moved',
              )
            : undefined,
        () =>
          ring.live
            ? undefined
            : refuse('no-live-key', `${name} has no live key (no enabled ${name}_vN): there is no key to carry`),
      ],
      async plan(writes) {
        const known = await fingerprints();
        const live = ring.live as RotationKey; // the gates let through only a ring with a live key
        const liveFp = known.get(live) ?? '';
        const previous = [...slots]
          .reverse()
          .find((k) => k.n < live.n && k.state === 'ENABLED' && known.get(k) !== liveFp);
        const latest = (id: string): RotationKey | undefined => slots.find((k) => k.secretId === id);
        const carries: Carry[] = [];
        const carry = (key: RotationKey, target: string): void => {
          const fp = known.get(key) ?? '';
          if (key.secretId === target) return;
          const there = latest(target);
          const holds = there?.state === 'ENABLED' && known.get(there) === fp;
          const recordOnly = holds && Object.keys(there.records).length === 0 && hasRecords(key);
          if (holds && !recordOnly) return;
          carries.push({ key, fingerprint: fp, target, create: !ring.secrets.has(target), recordOnly });
        };
        // NAME_v1 first: once NAME_v2 holds the live key, the key below it could no longer be told.
        if (previous) carry(previous, ids.previous);
        if (!(live.secretId === ids.previous && !ring.secrets.has(ids.current))) carry(live, ids.current);
        const at = iso(nowOf(ctx));
        for (const c of carries) planCarry(ctx, ring, c, writes);
        planLabels(ctx, ring, new Set(carries.filter((c) => c.create).map((c) => c.target)), writes);

        const prevFp = previous && known.get(previous);
        for (const k of slots) {
          if (k.n < 3 || k.state !== 'ENABLED') continue;
          notes.push(
            `${k.label} stays enabled (${known.get(k) ?? 'fingerprint unknown'}): apps that declare it keep ` +
              `reading it; change them to ${ids.current} ?? ${ids.previous} before the next rotation's revoke ` +
              '(verify names any still on it)',
          );
        }
        const chain = `${ids.current} ?? ${ids.previous}`;
        const holds = `${ids.current} holds the live key (${liveFp})${prevFp ? `, ${ids.previous} ${prevFp}` : ''}`;
        return {
          planned: `would move ${name} to the pair layout: ${holds}`,
          done: () => `${name} is in the pair layout since ${at}: ${holds}; apps declare ${chain}`,
          extra: { notes },
        };
      },
    };
  });
  if (result.outcome !== 'done' && result.outcome !== 'already-done') return result;
  const ring = await readRing(admin, name, 'pair', { fingerprint: (value) => fingerprintOf(ctx, value) });
  return resultOf(ring, 'migrate', result.outcome, result.message, { steps: result.steps, notes });
}

/** The ring's `NAME_vN` keys (their latest versions), lowest N first: not `NAME_next`'s. */
function slotKeys(ring: KeyRing): RotationKey[] {
  const staging = stagingId(ring.name);
  return ring.keys.filter((k) => k.secretId !== staging).sort((a, b) => a.n - b.n);
}

/**
 * Already a pair ring: no secret of it labelled `suffix`, and either one labelled `pair` or no `NAME_v3` (a ring
 * keyflip never labelled, `NAME_v2 ?? NAME_v1` at most, reads the same in both layouts).
 */
function isPair(ring: KeyRing): boolean {
  const labels = [...ring.secrets.values()].map((s) => s.labels[LABEL.layout]);
  if (labels.includes('suffix')) return false;
  return labels.includes('pair') || highestSlot(ring) < 3;
}

/** The records a key carries into its new version: staged, probed and flipped (with its fingerprint). */
function carriedRecords(key: RotationKey, fingerprint: string): Partial<VersionRecords> {
  const { staged, probed, flipped } = key.records;
  const out: Partial<VersionRecords> = {};
  if (staged) out.staged = staged;
  if (probed) out.probed = probed;
  if (flipped) {
    const { from: _from, ...rest } = flipped; // `from` is a place in the suffix ring
    out.flipped = { ...rest, fingerprint };
  }
  return out;
}

const hasRecords = (key: RotationKey): boolean =>
  Boolean(key.records.staged || key.records.probed || key.records.flipped);

/** Writes carrying `c.key` into a new version of `c.target` (creating it first if needed), then its records. */
function planCarry(ctx: RotationContext, ring: KeyRing, c: Carry, writes: WritePlan): void {
  const { admin } = ctx;
  const role = c.target === pairIds(ring.name).current ? 'the live key' : 'the previous key';
  let version: number | undefined = c.recordOnly ? ring.keys.find((k) => k.secretId === c.target)?.version : undefined;
  if (c.create) {
    writes.add(`create secret ${c.target} (keyflip labels; the suffix layout until the last write)`, async () => {
      await admin.createSecret(c.target, {
        labels: managedLabels({}, 'suffix', 'migrating', ring.environment),
        annotations: { [ANNOTATION.name]: ring.name },
      });
    });
  }
  if (!c.recordOnly) {
    writes.add(`add ${role} (${c.fingerprint}, ${c.key.label}) as a new version of ${c.target}`, async () => {
      const value = await admin.access(c.key.secretId, c.key.version);
      version = (await admin.addVersion(c.target, value)).version;
    });
  }
  const records = carriedRecords(c.key, c.fingerprint);
  if (Object.keys(records).length === 0) return;
  writes.add(`record on ${c.target}: the records of ${c.key.label} carried to its new version`, async () => {
    const v = version as number; // set by the add above, or the latest version that holds the key already
    await updateFresh(admin, c.target, (meta) => {
      let annotations: Record<string, string> = { ...meta.annotations, [ANNOTATION.name]: ring.name };
      if (records.staged) annotations = withRecord(annotations, v, 'staged', records.staged);
      if (records.probed) annotations = withRecord(annotations, v, 'probed', records.probed);
      if (records.flipped) annotations = withRecord(annotations, v, 'flipped', records.flipped);
      return { annotations };
    });
  });
}

/**
 * Labels every secret of the ring (and those the carries create) `keyflip-layout=pair`: the others first,
 * `NAME_v1`, then `NAME_v2` last.
 */
function planLabels(ctx: RotationContext, ring: KeyRing, created: ReadonlySet<string>, writes: WritePlan): void {
  const ids = pairIds(ring.name);
  const rank = (id: string): number => (id === ids.current ? 2 : id === ids.previous ? 1 : 0);
  const order = [...new Set([...ring.secrets.keys(), ...created])].sort(
    (a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0),
  );
  for (const id of order) {
    const meta = ring.secrets.get(id);
    if (meta && meta.labels[LABEL.layout] === 'pair') continue;
    writes.add(`label ${id} keyflip-layout=pair`, async () => {
      await updateFresh(ctx.admin, id, (fresh) => ({
        labels: managedLabels(fresh.labels, 'pair', 'migrated', ring.environment),
        annotations: { ...fresh.annotations, [ANNOTATION.name]: ring.name },
      }));
    });
  }
}
