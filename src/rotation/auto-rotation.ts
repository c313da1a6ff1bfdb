/**
 * `rotate auto`: the scheduled pipeline, safe to run every 15 minutes from cron or a CI schedule. Each run reads the
 * ring and advances it by at most one step:
 *
 *   a sequence stopped part-way → finish it
 *   key young enough → nothing
 *   key over the policy → mint (or stage the key given) + probe + flip
 *   old key enabled → wait until the gate is clear (beacons and provider) → revoke (Secret Manager and provider)
 *
 * A "not yet" is `ok` with a message that says what it is waiting for (`outcome: 'already-done'`, `refusal` the
 * gate's code); a state only a person can fix is `refused` or `failed`, saying why. Without a usage source
 * (`ctx.usage`) every run that would write or mint is refused (`no-usage-source`): only "nothing to do" answers.
 */
import { formatAge, formatDuration } from '../duration.js';
import { checkValue, checkWindowMs } from './command-inputs.js';
import { iso, layoutOf, nowOf, ringOptionsOf } from './context.js';
import { discard } from './discard-staged-key.js';
import { RotationError } from './errors.js';
import { fingerprintOf } from './fingerprints.js';
import { flip } from './flip-to-staged-key.js';
import { flipInProgress, inStaging, readRing, type KeyRing } from './key-ring.js';
import { provisionMinted } from './mint-key.js';
import { liveSince } from './old-key-checks.js';
import { probe, type ProbeStagedOptions } from './probe-staged-key.js';
import { askedRange } from './provider-evidence.js';
import { identifyKey } from './provider-keys.js';
import { provision } from './provision-next-key.js';
import { leftAtProvider, revoke } from './revoke-old-keys.js';
import type { RefusalCode, RotationContext, RotationOutcome, RotationResult } from './types.js';
import { resultOf } from './views.js';

/** Options of {@link auto}. */
export interface AutoOptions {
  /** The policy: a live key older than this is rotated, in ms (from its creation at the provider when known). */
  maxAgeMs: number;
  /** How long no process may have used an old key before it is revoked, in ms (the verify window). */
  windowMs: number;
  /** How to ask the provider whether the new key works (probed before any process can see it). */
  probe: ProbeStagedOptions;
  /**
   * The new key to stage, for a provider that cannot mint keys by API (Anthropic) or without `ctx.provider`: used
   * only when a rotation starts (the live key is over the policy). Never printed.
   * @default none: the key is minted at `ctx.provider`
   */
  value?: string | undefined;
  /** The name a minted key gets at the provider. @default `keyflip-<NAME>-<yyyymmddThhmmss>` */
  keyName?: string | undefined;
  /** Sets the `keyflip-environment` label on a new key's secrets (`prod`). @default the ring's, if any */
  environment?: string | undefined;
  /** Revoke leaves the old keys valid at the provider (Secret Manager only). @default false */
  keepProviderKey?: boolean | undefined;
  /** With an Anthropic provider: archive the old keys instead of making them `inactive`. @default false */
  archive?: boolean | undefined;
  /**
   * A mint or a provision that stopped part-way (its mark left) this long ago is taken as crashed and discarded (a
   * minted key is revoked at the provider); a younger one may still be running, and is waited for. In ms.
   * @default 3_600_000 (an hour)
   */
  staleMs?: number | undefined;
}

const DEFAULT_STALE_MS = 3_600_000;

const NO_USAGE_SOURCE =
  'auto needs a usage source (ctx.usage: --collector URL or --prometheus URL): it revokes an old key only once the ' +
  'beacons show no process uses it, so without one it would start a rotation it could never finish';

/**
 * Advances the rotation of `ctx.name` by at most one step (see the module comment); the result's `command` is
 * `auto`, its `steps` every write made. `ok` is true when it did its step, had nothing to do, or waits for time to
 * pass (the message starts with `waiting for`); false when a person must act (`refused` or `failed`, and why).
 * Throws what the commands it runs throw (an `INTERRUPTED` write: running auto again continues).
 */
export async function auto(ctx: RotationContext, options: AutoOptions): Promise<RotationResult> {
  if (!(options.maxAgeMs > 0) || !Number.isFinite(options.maxAgeMs))
    throw new RotationError('INVALID_INPUT', 'auto: maxAgeMs must be a positive duration (90d)');
  const windowMs = checkWindowMs('auto', options.windowMs);
  const value = options.value === undefined ? undefined : checkValue(options.value);
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const ring = await readRing(ctx.admin, ctx.name, await layoutOf(ctx), ringOptionsOf(ctx));
  const now = nowOf(ctx);
  const run = new AutoRun(ctx, ring, windowMs);

  const { minting, pending, staged } = ring;
  const keep = options.keepProviderKey === true;
  const leftThere = ctx.provider !== undefined && !keep && leftAtProvider(ring, ctx.provider).length > 0;
  // Without a usage source auto could never revoke the old key (the beacons prove it unused): it refuses before any
  // write or mint, unless there is nothing to do (checked below, at rest).
  const atRest = !minting && !pending && !staged && !flipInProgress(ring) && ring.old.length === 0 && !leftThere;
  if (!ctx.usage && !atRest) return run.human('no-usage-source', NO_USAGE_SOURCE);

  // 1. A sequence that stopped part-way is finished first (or, when it cannot be, left to a person).
  if (minting) {
    const age = now - Date.parse(minting.mark.at);
    if (!(age >= staleMs))
      return run.waiting(
        'pending',
        `the mint of ${minting.mark.name} started at ${minting.mark.at}: it may still be running; ` +
          `auto takes it as crashed (and discards it) after ${iso(Date.parse(minting.mark.at) + staleMs)}`,
      );
    return run.finish(await discard(ctx), 'discarded a mint that never stored its key (revoked at the provider)');
  }
  if (pending) {
    const { op, at } = pending.record;
    if (op === 'flip') return run.finish(await flip(ctx), 'finished the flip that had stopped part-way');
    if (op !== 'provision')
      return run.human(
        'pending',
        `${op === 'emergency' ? 'an emergency' : `a ${op}`} stopped part-way: auto does not finish it; run ` +
          `rotate ${op} again (${op === 'emergency' ? 'with the same key' : 'with the same options'}) first`,
      );
    const added = pending.key;
    if (added?.state === 'ENABLED') {
      const stored = await ctx.admin.access(added.secretId, added.version);
      if (fingerprintOf(ctx, stored) === pending.record.fingerprint)
        return run.finish(await provision(ctx, stored), 'finished the provision that had stopped part-way');
    }
    if (!(now - Date.parse(at) >= staleMs))
      return run.waiting(
        'pending',
        `the provision started at ${at}: it may still be running; auto discards it after ` +
          iso(Date.parse(at) + staleMs),
      );
    return run.finish(await discard(ctx), 'discarded a provision that had stopped part-way');
  }
  if (flipInProgress(ring)) return run.finish(await flip(ctx), 'finished the flip that had stopped part-way');

  // 2. A staged key: probe it (unless done), then flip it.
  if (staged) {
    if (inStaging(ring, staged) && staged.state !== 'ENABLED')
      return run.finish(await discard(ctx), 'finished the discard that had stopped part-way');
    return run.probeAndFlip(value, options.probe, []);
  }

  // 3. Old keys enabled (or disabled but not yet revoked at the provider): revoke once the gate is clear.
  if (ring.old.length > 0 || leftThere) {
    return run.revoked(await revoke(ctx, { windowMs, keepProviderKey: keep, archive: options.archive === true }));
  }

  // 4. Nothing in flight: rotate when the live key is over the policy.
  const { live } = ring;
  if (!live)
    return run.human(
      'no-live-key',
      `${ctx.name} has no live key: auto rotates a ring that has one (provision and flip the first key by hand)`,
    );
  const age = await run.keyAge();
  if (age.ms <= options.maxAgeMs) {
    const due = now - age.ms + options.maxAgeMs;
    return run.result(
      'already-done',
      `nothing to do: ${live.label} is ${formatAge(age.ms)} old (${age.from}), within the ` +
        `${formatDuration(options.maxAgeMs)} policy; the next rotation starts after ${iso(due)}`,
      { command: 'auto', why: `the next rotation starts after ${iso(due)}` },
      age.notes,
    );
  }
  const policy = formatDuration(options.maxAgeMs);
  const over = `${live.label} is ${formatAge(age.ms)} old (${age.from}), over the ${policy} policy`;
  if (!ctx.usage) return run.human('no-usage-source', `${over}; ${NO_USAGE_SOURCE}`, age.notes);
  let staging: RotationResult;
  if (value !== undefined) {
    staging = await provision(ctx, value, { environment: options.environment });
  } else if (ctx.provider?.canMint) {
    if (ring.layout === 'alias')
      return run.human(
        'cannot-mint',
        `${over}: auto mints in the pair and suffix layouts only (the alias layout keeps the staged key ` +
          'disabled, so keyflip could not read it back to probe it); migrate the ring, or give the new key',
      );
    staging = await provisionMinted(ctx, { keyName: options.keyName, environment: options.environment });
  } else {
    return run.human(
      'cannot-mint',
      ctx.provider
        ? `${over}: ${ctx.provider.id} cannot mint keys by API: make a key in its console and give it to auto ` +
            '(--value-file FILE); keyflip stages, probes and flips it'
        : `${over}: give a provider that can mint keys (--provider openai with an admin key), or the new key ` +
            '(--value-file FILE)',
      age.notes,
    );
  }
  if (ctx.dryRun || staging.outcome !== 'done')
    return run.finish(staging, `${over}: ${ctx.dryRun ? 'would stage a new key, probe and flip it' : 'staging'}`);
  return run.probeAndFlip(value, options.probe, [staging], `${over}: rotated`);
}

/** One run of auto: the ring it read, and how it reports what the commands it ran answered. */
class AutoRun {
  constructor(
    private readonly ctx: RotationContext,
    private readonly ring: KeyRing,
    private readonly windowMs: number,
  ) {}

  /** An answer made of no command's result (nothing to do, waiting, a person needed): the ring as read. */
  result(
    outcome: RotationOutcome,
    message: string,
    next?: RotationResult['next'],
    notes: readonly string[] = [],
    refusal?: RefusalCode,
  ): RotationResult {
    const base = resultOf(this.ring, 'auto', outcome, message, { notes: [...notes] });
    return {
      ...base,
      ...(refusal === undefined ? {} : { refusal }),
      ...(next ? { next } : {}),
    };
  }

  /** Time must pass: `ok`, and run auto again. */
  waiting(refusal: RefusalCode, why: string, from?: RotationResult): RotationResult {
    const message = `waiting for ${why}`;
    const next = { command: 'auto' as const, why: 'run auto again later (every 15 minutes is fine)' };
    if (!from) return this.result('already-done', message, next, [], refusal);
    return { ...from, command: 'auto', outcome: 'already-done', ok: true, refusal, message, next };
  }

  /** Only a person can go on: refused, saying why. */
  human(refusal: RefusalCode, message: string, notes: readonly string[] = []): RotationResult {
    return this.result('refused', message, undefined, notes, refusal);
  }

  /** The answer of the command auto ran, as auto's. */
  finish(result: RotationResult, what: string, before: readonly RotationResult[] = []): RotationResult {
    const all = [...before, result];
    const ok = result.ok;
    const message = ok ? `${what}: ${result.message}` : `${what}; stopped: ${result.message}`;
    return {
      ...result,
      command: 'auto',
      message,
      steps: all.flatMap((r) => r.steps),
      notes: [...new Set(all.flatMap((r) => r.notes))],
      probe: all.findLast((r) => r.probe)?.probe,
      ...(ok && result.outcome === 'done' ? { next: this.afterStep(result) } : {}),
    };
  }

  /** What auto does on its next run after a step that made writes. */
  private afterStep(result: RotationResult): RotationResult['next'] {
    if (result.command === 'flip')
      return {
        command: 'auto',
        why:
          `auto revokes the old key once no process used it for ${formatDuration(this.windowMs)} ` +
          '(beacons and provider): run it again on its schedule',
      };
    return { command: 'auto', why: 'run auto again on its schedule' };
  }

  /** Probes the staged key (unless probed alive already), then flips it: one step. */
  async probeAndFlip(
    value: string | undefined,
    options: ProbeStagedOptions,
    before: RotationResult[],
    what = 'flipped the staged key',
  ): Promise<RotationResult> {
    const ring =
      before.length > 0
        ? await readRing(this.ctx.admin, this.ctx.name, this.ring.layout, ringOptionsOf(this.ctx))
        : this.ring;
    const staged = ring.staged;
    const probed = staged?.records.probed;
    const done = [...before];
    if (staged && !probed) {
      const readable = inStaging(ring, staged) && staged.state === 'ENABLED';
      const given = value !== undefined && fingerprintOf(this.ctx, value) === staged.fingerprint ? value : undefined;
      if (!readable && given === undefined)
        return this.human(
          'nothing-staged',
          `${staged.label} is staged but keyflip cannot read it to probe it (it is disabled): give it to auto ` +
            '(--value-file FILE), or probe it by hand',
        );
      const answer = await probe(this.ctx, given, options);
      done.push(answer);
      if (answer.outcome !== 'done') {
        const stopped = this.finish(answer, `${what}: probing ${staged.label}`, done.slice(0, -1));
        // A key the provider refused is never flipped: a person discards it (auto then starts again).
        return answer.outcome === 'failed' ? { ...stopped, refusal: answer.refusal ?? 'probe-failed' } : stopped;
      }
    } else if (staged && probed && !probed.ok) {
      return this.human(
        'probe-failed',
        `${staged.label} failed its probe (${probed.reason}, HTTP ${probed.status}): auto never flips a key the ` +
          'provider refuses; rotate discard it (then auto starts again)',
      );
    }
    const flipped = await flip(this.ctx);
    return this.finish(flipped, what, done);
  }

  /** revoke's answer as auto's: done; waiting (the window, the provider's lag); or a person needed. */
  revoked(result: RotationResult): RotationResult {
    if (result.outcome === 'done' || result.outcome === 'planned')
      return this.finish(result, 'revoked the old key (rotation complete)');
    if (result.outcome === 'already-done') return this.finish(result, 'nothing to revoke');
    const checks = result.verifications ?? [];
    const refusal = result.refusal;
    if (refusal === 'window-not-elapsed') {
      const since = checks[0]?.liveSince ?? liveSince(this.ring) ?? nowOf(this.ctx);
      return this.waiting(
        refusal,
        `the ${formatDuration(this.windowMs)} window since the flip: auto revokes the old key after ` +
          `${iso(since + this.windowMs)} if no process uses it`,
        result,
      );
    }
    if (refusal === 'evidence-incomplete') {
      const unknown = checks.find((c) => c.provider && c.provider.keyId === undefined);
      if (unknown)
        return this.human(
          refusal,
          `${unknown.key}'s id at ${unknown.provider?.provider} is unknown, so the provider can never prove it ` +
            `unused: ${result.message}`,
        );
      // Evidence that is still missing a whole window after the gate could first have passed (the window, the
      // provider's lag, the provider's bucket that holds the flip, left out) will not come by waiting: no beacons, a
      // collector that does not cover the secret.
      const since = checks[0]?.liveSince ?? liveSince(this.ring) ?? nowOf(this.ctx);
      const { provider } = this.ctx;
      const from = provider
        ? Math.max(since, askedRange(nowOf(this.ctx), this.windowMs, provider.lagMs, since).afterFlipMs)
        : since;
      const giveUpAt = from + 2 * this.windowMs + (provider?.lagMs ?? 0);
      if (nowOf(this.ctx) >= giveUpAt)
        return this.human(
          refusal,
          `the evidence still cannot prove the old key unused a whole ${formatDuration(this.windowMs)} window ` +
            `after the gate could first have passed (${iso(giveUpAt)}); waiting will not fix it: ${result.message}`,
        );
      return this.waiting(refusal, `the evidence to cover the window: ${result.message}`, result);
    }
    if (refusal === 'not-verified' && checks.length > 0 && checks.every((c) => !c.windowElapsed))
      return this.waiting(
        refusal,
        `processes to move to the new key (within the ${formatDuration(this.windowMs)} window since the flip): ` +
          result.message,
        result,
      );
    // A whole window after the flip, a person is needed only for a key still used then: an instance holding it now,
    // or use at the provider that started a window or more after the flip. Use before that (an app that moved on
    // its next refresh, its last requests on the old key) leaves the window by itself: waiting.
    const stuck = checks.some(
      (c) =>
        (c.result.reason === 'in-use' && c.result.holding.length > 0) ||
        (c.provider?.reason === 'in-use' && c.provider.buckets.some((b) => b.endMs > c.liveSince + this.windowMs)),
    );
    if (refusal === 'not-verified' && !stuck)
      return this.waiting(
        refusal,
        `the old key's last uses to leave the window (every process moved to the new key): ${result.message}`,
        result,
      );
    const message =
      refusal === 'not-verified'
        ? `an old key is still in use a whole ${formatDuration(this.windowMs)} window after the flip: ` +
          `${result.message}; restart or fix what holds it (auto waits while it is used)`
        : result.message;
    return { ...result, command: 'auto', message };
  }

  /** The live key's age: from its creation at the provider when known, else its flip (or its version's creation). */
  async keyAge(): Promise<{ ms: number; from: string; notes: string[] }> {
    const { ctx, ring } = this;
    const live = ring.live as NonNullable<KeyRing['live']>;
    const now = nowOf(ctx);
    const notes: string[] = [];
    const { provider } = ctx;
    if (provider) {
      const identity = await identifyKey(ctx, ring, live);
      if (identity.record && identity.record.provider === provider.id) {
        const key = await provider.getKey(identity.record.keyId);
        if (key?.createdAt !== undefined)
          return {
            ms: Math.max(0, now - key.createdAt),
            from: `created at ${provider.id} ${iso(key.createdAt)}`,
            notes,
          };
        notes.push(
          key
            ? `${provider.id} does not say when ${identity.record.keyId} was created: its age is counted in ` +
                'Secret Manager'
            : `${identity.record.keyId} (${live.label}) is not known at ${provider.id} any more: its age is counted ` +
                'in Secret Manager',
        );
      } else {
        notes.push(`${identity.message}: its age is counted in Secret Manager`);
      }
    }
    const since = liveSince(ring) ?? live.createdAt;
    return { ms: Math.max(0, now - since), from: `live since ${iso(since)}`, notes };
  }
}
