import { probeKey } from '../clients/probe.js';
import { resolvePreset } from '../clients/presets.js';
import type { FingerprintUsage } from '../collector/types.js';
import { Plan } from './plan.js';
import {
  checkValue,
  fingerprintOf,
  iso,
  layoutOf,
  nowOf,
  ringFingerprints,
  updateFresh,
  newestVersion,
} from './common.js';
import { article, ANNOTATION, managedLabels, withPending, withRecord, type PendingRecord } from './records.js';
import { highestSlot, readRing, suffixId, type RotationKey } from './ring.js';
import { refused, result } from './state.js';
import type { RotationContext, RotationResult } from './types.js';
import type { ProbeStagedOptions } from './probe.js';

export interface EmergencyOptions {
  /** Probe the new key first (a dead key stops here, before any write). Strongly advised. */
  probe?: ProbeStagedOptions | undefined;
  /** How often the apps refresh, in ms, for the "picks it up when" notes. @default 300_000 (the resolver's default) */
  refreshMs?: number | undefined;
}

/**
 * The emergency path (a leaked key): adds the new key and makes it live, then disables every other
 * enabled key, at once, with no verify window. Refuses while a key is staged. Prints what will pick the
 * new key up when: processes on their next refresh; `authFetch` users at once on their first 401, once
 * the old key is revoked at the provider.
 */
export async function emergency(
  ctx: RotationContext,
  rawValue: string,
  options: EmergencyOptions = {},
): Promise<RotationResult> {
  const layout = layoutOf(ctx);
  const value = checkValue(rawValue);
  const { admin, name } = ctx;
  const ring = await readRing(admin, name, layout);
  const fp = fingerprintOf(ctx, value);
  const pending = ring.pending;
  if (pending && (pending.record.op !== 'emergency' || pending.record.fingerprint !== fp)) {
    return refused(
      ring,
      'emergency',
      pending.record.op === 'emergency' ? 'fingerprint-mismatch' : 'pending',
      `${article(pending.record.op)} of ${pending.record.fingerprint} stopped part-way: run it again with that key, or rotate discard it first`,
    );
  }
  if (!pending && ring.staged) {
    return refused(
      ring,
      'emergency',
      'staged-exists',
      `${ring.staged.label} is staged: an emergency would leave two new keys; flip it (and revoke with --force) or rotate discard it first`,
    );
  }
  const fingerprints = await ringFingerprints(ctx, ring);
  if (!pending) {
    const same = [...fingerprints].find(([, f]) => f === fp);
    if (same && same[0].role === 'live' && ring.old.length === 0) {
      return result(
        ring,
        'emergency',
        'already-done',
        `${same[0].label} (${fp}) is already live and no other key is enabled: nothing to do`,
        { fingerprints },
      );
    }
    if (same)
      return refused(
        ring,
        'emergency',
        'same-key',
        `this key (${fp}) is already ${same[0].label} (${same[0].role}): an emergency rotation needs a new key`,
      );
  }
  let probeResult: RotationResult['probe'];
  if (options.probe) {
    const preset = resolvePreset(options.probe.provider);
    const answer = await probeKey(preset, value, {
      baseUrl: options.probe.baseUrl,
      fetch: options.probe.fetch,
      timeoutMs: options.probe.timeoutMs,
    });
    probeResult = { ...answer, provider: preset.id };
    if (!answer.ok) {
      return refused(
        ring,
        'emergency',
        'probe-failed',
        `${preset.id} does not accept the new key (${fp}): ${answer.reason} (HTTP ${answer.status}); nothing was changed`,
        { probe: probeResult },
      );
    }
  }

  const at = iso(nowOf(ctx));
  const plan = new Plan();
  const target = pending ? pending.secretId : layout === 'alias' ? name : suffixId(name, highestSlot(ring) + 1);
  const isNew = (k: RotationKey): boolean =>
    pending?.key !== undefined && k.secretId === pending.key.secretId && k.version === pending.key.version;
  const keyId = (k: RotationKey): string => `${k.secretId}/${k.version}`;
  // A resumed run takes the previous live key and the keys to disable from the pending mark: the first run
  // may already have made the new key live and disabled some of them.
  const recorded = pending?.record;
  const previousLive =
    recorded?.from !== undefined
      ? ring.keys.find((k) => k.n === recorded.from && !isNew(k))
      : pending?.key && ring.live && isNew(ring.live)
        ? undefined
        : ring.live;
  const listed = new Map((recorded?.disable ?? []).map((d) => [d.key, d.fingerprint]));
  const toDisable: RotationKey[] = ring.keys.filter(
    (k) => !isNew(k) && (k.state === 'ENABLED' || listed.has(keyId(k))),
  );
  const fingerprintOfKey = (k: RotationKey): string | undefined => fingerprints.get(k) ?? listed.get(keyId(k));
  const pendingRecord: PendingRecord = {
    op: 'emergency',
    fingerprint: fp,
    at,
    after: newestVersion(ring, target),
    ...(previousLive ? { from: previousLive.n } : {}),
    disable: toDisable.map((k) => {
      const f = fingerprintOfKey(k);
      return f === undefined ? { key: keyId(k) } : { key: keyId(k), fingerprint: f };
    }),
  };
  const env = ring.environment;

  if (!pending) {
    if (!ring.secrets.has(target)) {
      plan.add(`create secret ${target} (keyflip labels; an emergency to ${fp} pending)`, async () => {
        await admin.createSecret(target, {
          labels: managedLabels({}, layout, 'emergency', env),
          annotations: withPending({ [ANNOTATION.name]: name }, pendingRecord),
        });
      });
    } else {
      plan.add(`mark ${target}: an emergency to ${fp} is pending`, async () => {
        await updateFresh(admin, target, (meta) => ({
          labels: managedLabels(meta.labels, layout, 'emergency', env),
          annotations: withPending({ ...meta.annotations, [ANNOTATION.name]: name }, pendingRecord),
        }));
      });
    }
  }
  let version = pending?.key?.version;
  if (!pending?.key) {
    plan.add(
      layout === 'suffix'
        ? `add the new key (${fp}) as ${target}: live at once for processes that declare it`
        : `add the new key (${fp}) as a version of ${target}`,
      async () => {
        version = (await admin.addVersion(target, value)).version;
      },
    );
  } else if (pending.key.state !== 'ENABLED') {
    plan.add(`enable ${pending.key.label}`, async () => {
      await admin.setState(target, pending.key?.version as number, 'ENABLED');
    });
  }
  const newRecords = (v: number, annotations: Readonly<Record<string, string>>): Record<string, string> => {
    let next = withRecord(annotations, v, 'staged', { at, fingerprint: fp, emergency: true });
    if (probeResult)
      next = withRecord(next, v, 'probed', {
        at,
        provider: probeResult.provider,
        ok: probeResult.ok,
        reason: probeResult.reason,
        status: probeResult.status,
      });
    return withRecord(next, v, 'flipped', { at, emergency: true, ...(previousLive ? { from: previousLive.n } : {}) });
  };
  if (layout === 'alias' && !(pending?.key && ring.secrets.get(name)?.aliases.current === pending.key.version)) {
    plan.add(
      `move ${name}@current to the new version${previousLive ? ` and @previous to version ${previousLive.version}` : ''}; record the flip`,
      async () => {
        await updateFresh(admin, name, (meta) => {
          const aliases: Record<string, number> = { ...meta.aliases, current: version as number };
          if (previousLive) aliases.previous = previousLive.version;
          return { aliases, annotations: newRecords(version as number, meta.annotations) };
        });
      },
    );
  }
  for (const key of toDisable) {
    if (key.state !== 'ENABLED') continue; // disabled by the run that stopped
    plan.add(`disable ${key.label} (${key.role}) now`, async () => {
      await admin.setState(key.secretId, key.version, 'DISABLED');
    });
  }
  const revokedRecord = { at, emergency: true };
  // The target last: its write clears the pending mark, so a run stopped before it is finished by running it again.
  for (const secretId of new Set([...toDisable.map((k) => k.secretId).filter((id) => id !== target), target])) {
    const keys = toDisable.filter((k) => k.secretId === secretId);
    plan.add(
      `record on ${secretId}: ${[secretId === target ? 'the emergency flip' : '', keys.length ? `revoked ${keys.map((k) => k.label).join(', ')}` : ''].filter(Boolean).join(', ')}${secretId === target ? '; clear the pending mark' : ''}`,
      async () => {
        await updateFresh(admin, secretId, (meta) => {
          let annotations: Record<string, string> = { ...meta.annotations };
          if (secretId === target) {
            if (layout === 'suffix' && !hasFlip(meta.annotations, version as number))
              annotations = newRecords(version as number, annotations);
            annotations = withPending(annotations, undefined);
          }
          for (const key of keys) {
            const f = fingerprintOfKey(key);
            annotations = withRecord(
              annotations,
              key.version,
              'revoked',
              f === undefined ? revokedRecord : { ...revokedRecord, fingerprint: f },
            );
          }
          return { labels: { ...meta.labels, 'keyflip-step': 'revoked' }, annotations };
        });
      },
    );
  }

  const refresh = options.refreshMs ?? 300_000;
  const newLabel = layout === 'alias' ? `${name}@current` : target;
  const notes = [
    `processes that read ${name} through keyflip switch to ${newLabel} on their next refresh: within their refreshMs (${Math.round(refresh / 1000)} s by default) plus 20 % jitter, at once where the source watches`,
    `processes whose calls go through authFetch switch at their first 401: revoke the old key at the provider now, and each refreshes on its next request`,
    `processes that read the key once at start-up keep the old key until restarted`,
  ];
  if (layout === 'suffix')
    notes.push(
      `only apps whose chain names ${target} can use the new key; the others have no key once the old ones are disabled`,
    );
  if (ctx.usage && toDisable.length > 0) {
    try {
      const usage = await ctx.usage.usage(ctx.beaconName ?? name, { windowMs: 3_600_000 });
      const oldFps = new Set(toDisable.map((k) => fingerprints.get(k)).filter(Boolean));
      const holders = usage.fingerprints
        .filter((f: FingerprintUsage) => oldFps.has(f.fingerprint))
        .flatMap((f) => f.instances);
      if (holders.length > 0) {
        notes.push(
          `${holders.length} instance(s) reported an old key in the last hour: ${holders
            .slice(0, 10)
            .map((i) => `${i.service} on ${i.host} pid ${i.pid}`)
            .join(', ')}${holders.length > 10 ? ', …' : ''}`,
        );
      }
    } catch (error) {
      notes.push(
        `the beacons could not be read (${error instanceof Error ? error.message : String(error)}); the rotation itself is not affected`,
      );
    }
  }
  if (ctx.dryRun)
    return result(
      ring,
      'emergency',
      'planned',
      `would make ${fp} live in ${target} and disable ${toDisable.map((k) => k.label).join(', ') || 'nothing'} at once`,
      { steps: plan.steps(), notes, probe: probeResult },
    );
  await plan.execute('emergency', name);
  const after = await readRing(admin, name, layout);
  return result(
    after,
    'emergency',
    'done',
    `${after.live?.label ?? target} (${fp}) is live; ${toDisable.map((k) => k.label).join(', ') || 'no other key'} disabled${pending ? ' (finished the emergency that had stopped part-way)' : ''}`,
    { steps: plan.steps(), notes, probe: probeResult },
  );
}

function hasFlip(annotations: Readonly<Record<string, string>>, version: number): boolean {
  return annotations[`keyflip-flipped-${version}`] !== undefined;
}
