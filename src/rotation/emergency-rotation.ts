import type { FingerprintUsage } from '../collector/index.js';
import { checkValue } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import type { ProviderAdmin } from '../providers/index.js';
import {
  isProviderError,
  leakedProviderKeys,
  leftAtProvider,
  planIdentityRecords,
  planProviderRevocations,
  planRevocationRecords,
  type LeakedProviderKey,
} from './emergency-provider.js';
import { RotationError } from './errors.js';
import { fingerprintOf, ringFingerprints } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import type { KeyRing, RotationKey } from './key-ring.js';
import { leakReport } from './leak-report.js';
import { findByHint, providerRecord } from './provider-keys.js';
import { probeWithProvider, type ProbeStagedOptions } from './probe-staged-key.js';
import { withPending, withRecord, type ProviderRecord } from './records.js';
import { alreadyDone, once, refuse, runStep } from './rotation-step.js';
import { resumesOnlyItself, stageNewKey, stagingTarget } from './stage-new-key.js';
import type { LeakReport, ProviderRevocation, RotationContext, RotationResult } from './types.js';

/** Options of {@link emergency}. */
export interface EmergencyOptions {
  /**
   * Probe the new key first (a dead key stops here, before any write). Strongly advised.
   * @default no probe
   */
  probe?: ProbeStagedOptions | undefined;
  /** How often the apps refresh, in ms, for the "picks it up when" notes. @default 300_000 (the resolver's default) */
  refreshMs?: number | undefined;
  /**
   * With a provider: the start of the exposure window the leak report covers (when the key may have leaked), ms
   * since the epoch.
   * @default 24 hours before now
   */
  sinceMs?: number | undefined;
  /**
   * With a provider: leave the leaked keys valid at the provider (only Secret Manager stops serving them).
   * @default false: they are revoked at the provider at once
   */
  keepProviderKey?: boolean | undefined;
}

/** The exposure window of the leak report by default: the last day, ms. */
const DEFAULT_EXPOSURE_MS = 86_400_000;

/**
 * The emergency path (a leaked key): adds the new key and makes it live, then disables every other
 * enabled key, at once, with no verify window. Pair layout: the new key is a new version of `NAME_v2` (live at
 * once for every app declaring `NAME_v2 ?? NAME_v1`), then every other enabled version of `NAME_v1` and
 * `NAME_v2` is disabled (`NAME_v1` reads as absent until the next flip fills it). Refuses while a key is
 * staged. Prints what will pick the new key up when: processes on their next refresh; `authFetch` users at
 * once on their first 401, once the old key is revoked at the provider.
 */
export async function emergency(
  ctx: RotationContext,
  rawValue: string,
  options: EmergencyOptions = {},
): Promise<RotationResult> {
  const value = checkValue(rawValue);
  const { admin, name, provider } = ctx;
  const fp = fingerprintOf(ctx, value);
  const sinceOption = options.sinceMs;
  if (sinceOption !== undefined && !(Number.isFinite(sinceOption) && sinceOption < nowOf(ctx)))
    throw new RotationError('INVALID_INPUT', 'emergency: sinceMs must be a time in the past (ms since the epoch)');
  return runStep(ctx, 'emergency', (ring) => {
    const { pending } = ring;
    const fingerprints = once(() => ringFingerprints(ctx, ring));
    const probed = once(async () => (options.probe ? probeWithProvider(value, options.probe) : undefined));
    // Keys an earlier emergency left valid at the provider: finished here when it is otherwise done.
    const left = provider && !pending && options.keepProviderKey !== true ? leftAtProvider(ring, provider) : [];
    let finishing = false;
    return {
      gates: [
        resumesOnlyItself(ring, 'emergency', fp),
        () =>
          !pending && ring.staged
            ? refuse(
                'staged-exists',
                `${ring.staged.label} is staged: an emergency would leave two new keys; ` +
                  'flip it (and revoke with --force) or rotate discard it first',
              )
            : undefined,
        async () => {
          const known = await fingerprints();
          if (pending) return undefined;
          const same = [...known].find(([, f]) => f === fp);
          if (same && same[0].role === 'live' && ring.old.length === 0) {
            // Done in Secret Manager; keys it left valid at the provider are revoked there by the plan.
            finishing = left.length > 0;
            if (!finishing)
              return alreadyDone(
                `${same[0].label} (${fp}) is already live and no other key is enabled: nothing to do`,
                { fingerprints: known },
              );
            return undefined;
          }
          return same
            ? refuse(
                'same-key',
                `this key (${fp}) is already ${same[0].label} (${same[0].role}): an emergency rotation needs a new key`,
              )
            : undefined;
        },
        async () => {
          const answer = await probed();
          return answer && !answer.ok
            ? refuse(
                'probe-failed',
                `${answer.provider} does not accept the new key (${fp}): ${answer.reason} (HTTP ${answer.status}); ` +
                  'nothing was changed',
                { probe: answer },
              )
            : undefined;
        },
      ],
      async plan(writes) {
        if (provider && finishing) {
          // Done in Secret Manager by an earlier emergency: revoke at the provider what it left there.
          const at = iso(nowOf(ctx));
          const untilMs = nowOf(ctx);
          const leak = await leakReport(ctx, provider, left, sinceOption ?? untilMs - DEFAULT_EXPOSURE_MS, untilMs);
          const revocations: ProviderRevocation[] = [];
          const results = planProviderRevocations(provider, writes, left, false, revocations);
          planRevocationRecords(ctx, provider, writes, left, results, at);
          const labels = left.map((k) => k.key).join(', ');
          return {
            planned: `${fp} is live already; would revoke ${labels} at ${provider.id}, left there by the emergency`,
            done: () =>
              `${fp} is live already; revoked ${labels} at ${provider.id} (left there by the emergency): ` +
              revocations.map((r) => `${r.keyId} (${r.status})`).join(', '),
            extra: { providerRevocations: revocations, leak },
          };
        }
        const known = await fingerprints();
        const probe = await probed();
        const at = iso(nowOf(ctx));
        const { layout } = ring;
        const target = stagingTarget(ring, 'emergency');
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
        const toDisable = ring.keys.filter((k) => !isNew(k) && (k.state === 'ENABLED' || listed.has(keyId(k))));
        const fingerprintOfKey = (k: RotationKey): string | undefined => known.get(k) ?? listed.get(keyId(k));
        const from = previousLive ? { from: previousLive.n } : {};
        // With a provider: the leaked keys' ids (found by hint while they can still be read) and the leak report.
        const untilMs = nowOf(ctx);
        const atProvider = provider
          ? await leakedProviderKeys(ctx, provider, ring, toDisable, fingerprintOfKey)
          : { leaked: [] as LeakedProviderKey[], notes: [] as string[] };
        // The new key's id too (it is staged here, as provision stages it): recorded with its staged record.
        const identity = provider ? await newKeyIdentity(provider, value, fp, at) : undefined;
        const leak: LeakReport | undefined = provider
          ? await leakReport(ctx, provider, atProvider.leaked, sinceOption ?? untilMs - DEFAULT_EXPOSURE_MS, untilMs)
          : undefined;

        const key = stageNewKey(admin, writes, {
          command: 'emergency',
          ring,
          value,
          fingerprint: fp,
          target,
          at,
          markExtra: {
            ...from,
            disable: toDisable.map((k) => {
              const f = fingerprintOfKey(k);
              return f === undefined ? { key: keyId(k) } : { key: keyId(k), fingerprint: f };
            }),
          },
          step: 'emergency',
          environment: ring.environment,
        });
        if (provider) planIdentityRecords(ctx, provider, writes, atProvider.leaked, at);
        if (pending?.key && pending.key.state !== 'ENABLED') {
          const added = pending.key;
          writes.add(`enable ${added.label}`, async () => {
            await admin.setState(target, added.version, 'ENABLED');
          });
        }
        const newRecords = (v: number, annotations: Readonly<Record<string, string>>): Record<string, string> => {
          let next = withRecord(annotations, v, 'staged', { at, fingerprint: fp, emergency: true });
          if (probe)
            next = withRecord(next, v, 'probed', {
              at,
              provider: probe.provider,
              ok: probe.ok,
              reason: probe.reason,
              status: probe.status,
            });
          if (identity?.record) next = withRecord(next, v, 'provider', identity.record);
          return withRecord(next, v, 'flipped', { at, emergency: true, ...from });
        };
        if (layout === 'alias' && !(pending?.key && ring.secrets.get(name)?.aliases.current === pending.key.version)) {
          writes.add(
            `move ${name}@current to the new version` +
              `${previousLive ? ` and @previous to version ${previousLive.version}` : ''}; record the flip`,
            async () => {
              await updateFresh(admin, name, (meta) => {
                const aliases: Record<string, number> = { ...meta.aliases, current: key.version() };
                if (previousLive) aliases.previous = previousLive.version;
                return { aliases, annotations: newRecords(key.version(), meta.annotations) };
              });
            },
          );
        }
        for (const old of toDisable) {
          if (old.state !== 'ENABLED') continue; // disabled by the run that stopped
          writes.add(`disable ${old.label} (${old.role}) now`, async () => {
            await admin.setState(old.secretId, old.version, 'DISABLED');
          });
        }
        // Then at the provider, at once: the key leaked, no window is waited for. Before the last write (which clears
        // the pending mark): a revocation that fails is retried by running the emergency again.
        const revocations: ProviderRevocation[] = [];
        const keep = options.keepProviderKey === true;
        const revoked = provider
          ? planProviderRevocations(provider, writes, atProvider.leaked, keep, revocations)
          : new Map<string, never>();
        const revokedRecord = { at, emergency: true };
        // The target last: its write clears the pending mark, so a run stopped before it is finished by running
        // it again.
        for (const secretId of new Set([...toDisable.map((k) => k.secretId).filter((id) => id !== target), target])) {
          const keys = toDisable.filter((k) => k.secretId === secretId);
          const what = [
            secretId === target ? 'the emergency flip' : '',
            keys.length ? `revoked ${keys.map((k) => k.label).join(', ')}` : '',
          ].filter(Boolean);
          writes.add(
            `record on ${secretId}: ${what.join(', ')}${secretId === target ? '; clear the pending mark' : ''}`,
            async () => {
              await updateFresh(admin, secretId, (meta) => {
                let annotations: Record<string, string> = { ...meta.annotations };
                if (secretId === target) {
                  if (layout !== 'alias' && annotations[`keyflip-flipped-${key.version()}`] === undefined)
                    annotations = newRecords(key.version(), annotations);
                  annotations = withPending(annotations, undefined);
                }
                for (const k of keys) {
                  const f = fingerprintOfKey(k);
                  annotations = withRecord(
                    annotations,
                    k.version,
                    'revoked',
                    f === undefined ? revokedRecord : { ...revokedRecord, fingerprint: f },
                  );
                  const atIt = f === undefined ? undefined : revoked.get(f);
                  if (provider && atIt)
                    annotations = withRecord(annotations, k.version, 'provider-revoked', {
                      at,
                      provider: provider.id,
                      keyId: atIt.keyId,
                      status: atIt.status,
                      outcome: atIt.outcome,
                    });
                }
                return { labels: { ...meta.labels, 'keyflip-step': 'revoked' }, annotations };
              });
            },
          );
        }
        const disabled = toDisable.map((k) => k.label).join(', ');
        const ids = atProvider.leaked.flatMap((k) => (k.keyId === undefined ? [] : [k.keyId]));
        const atProviderPlanned =
          provider && ids.length > 0 ? `; ${keep ? 'keep' : 'revoke'} ${ids.join(', ')} at ${provider.id}` : '';
        const disabling = `disable ${disabled || 'nothing'} at once${atProviderPlanned}`;
        const atProviderDone = (): string => {
          if (!provider || revocations.length === 0) return '';
          const kept = revocations.filter((r) => r.outcome === 'kept').map((r) => r.keyId);
          const gone = revocations.filter((r) => r.outcome !== 'kept').map((r) => `${r.keyId} (${r.status})`);
          return (
            `${gone.length ? `; revoked at ${provider.id}: ${gone.join(', ')}` : ''}` +
            `${kept.length ? `; kept at ${provider.id} (keepProviderKey): ${kept.join(', ')}` : ''}`
          );
        };
        const revokedThere = provider !== undefined && !keep && ids.length > 0;
        return {
          planned: `would make ${fp} live in ${target} and ${disabling}`,
          done: (after) =>
            `${after.live?.label ?? target} (${fp}) is live; ${disabled || 'no other key'} disabled` +
            `${atProviderDone()}${pending ? ' (finished the emergency that had stopped part-way)' : ''}`,
          extra: {
            notes: [
              ...(identity?.note ? [identity.note] : []),
              ...atProvider.notes,
              ...(await pickUpNotes(ctx, ring, target, toDisable, known, options, revokedThere)),
            ],
            probe,
            ...(provider ? { providerRevocations: revocations, leak } : {}),
          },
        };
      },
    };
  });
}

/** The new key's identity record at the provider (found by its hint), or why it could not be found. */
async function newKeyIdentity(
  provider: ProviderAdmin,
  value: string,
  fp: string,
  at: string,
): Promise<{ record?: ProviderRecord; note?: string }> {
  try {
    const match = await findByHint(provider, value, `the new key (${fp})`);
    if (match.status === 'found') return { record: providerRecord(match.key, fp, at) };
    return { note: `${match.message}: its id is not recorded` };
  } catch (error) {
    if (!isProviderError(error)) throw error;
    return { note: `the new key's id could not be looked up at ${provider.id} (${error.message}): it is not recorded` };
  }
}

/** What picks the new key up when; and, from the beacons, the instances that reported an old key lately. */
async function pickUpNotes(
  ctx: RotationContext,
  ring: KeyRing,
  target: string,
  toDisable: readonly RotationKey[],
  fingerprints: ReadonlyMap<RotationKey, string>,
  options: EmergencyOptions,
  revokedAtProvider = false,
): Promise<string[]> {
  const { name } = ring;
  const refresh = options.refreshMs ?? 300_000;
  const newLabel = ring.layout === 'alias' ? `${name}@current` : target;
  const notes = [
    `processes that read ${name} through keyflip switch to ${newLabel} on their next refresh: within their ` +
      `refreshMs (${Math.round(refresh / 1000)} s by default) plus 20 % jitter, at once where the source watches`,
    revokedAtProvider
      ? 'the old key is revoked at the provider: processes whose calls go through authFetch get a 401 and switch ' +
        'on their next request'
      : 'processes whose calls go through authFetch switch at their first 401: revoke the old key at the provider ' +
        'now, and each refreshes on its next request',
    'processes that read the key once at start-up keep the old key until restarted',
  ];
  if (ring.layout === 'suffix')
    notes.push(
      `only apps whose chain names ${target} can use the new key; the others have no key once the old ones are ` +
        'disabled',
    );
  if (ctx.usage && toDisable.length > 0) {
    try {
      const usage = await ctx.usage.usage(ctx.beaconName ?? name, { windowMs: 3_600_000 });
      const oldFps = new Set(toDisable.map((k) => fingerprints.get(k)).filter(Boolean));
      const holders = usage.fingerprints
        .filter((f: FingerprintUsage) => oldFps.has(f.fingerprint))
        .flatMap((f) => f.instances);
      if (holders.length > 0) {
        const named = holders
          .slice(0, 10)
          .map((i) => `${i.service} on ${i.host} pid ${i.pid}`)
          .join(', ');
        notes.push(
          `${holders.length} instance(s) reported an old key in the last hour: ` +
            `${named}${holders.length > 10 ? ', …' : ''}`,
        );
      }
    } catch (error) {
      notes.push(
        `the beacons could not be read (${error instanceof Error ? error.message : String(error)}); ` +
          'the rotation itself is not affected',
      );
    }
  }
  return notes;
}
