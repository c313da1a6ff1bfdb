/**
 * `provision --mint`: mints the new key at the provider (`ctx.provider`: OpenAI, through a project service account of
 * its own) and stages it straight into Secret Manager as `provision` does; the value is never printed, returned or
 * written anywhere else. Crash safety: before minting, a minting mark (`keyflip-minting`: provider, the key's name
 * at the provider, time) is set on the staging secret; the write that stores the key clears it. A store that fails
 * revokes the minted key at the provider and clears the marks before returning (the error or the result says so:
 * mint again); a mark left behind (a crash, or a revoke that failed too) is reported by `status` and `audit`, cleaned
 * by `discard` (which revokes the keys of the service account with that name). A `keyName` that a key or a service
 * account at the provider already has is refused (`INVALID_INPUT`) before any write.
 */
import { ConfigurationError } from '../errors.js';
import type { MintedKey, ProviderAdmin } from '../providers/index.js';
import { checkEnvironment } from './command-inputs.js';
import { iso, layoutOf, nowOf, ringOptionsOf } from './context.js';
import { discard } from './discard-staged-key.js';
import { RotationError } from './errors.js';
import { fingerprintOf } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { readRing } from './key-ring.js';
import { stagingId } from './layout.js';
import { type MintingMark, withMinting } from './minting-mark.js';
import { providerRecord } from './provider-keys.js';
import { provisionKey, type ProvisionOptions } from './provision-next-key.js';
import { ANNOTATION, article, LABEL, managedLabels } from './records.js';
import { refuse, runStep } from './rotation-step.js';
import { stagingTarget } from './stage-new-key.js';
import type { RotationContext, RotationResult } from './types.js';

/** Options of {@link provisionMinted}. */
export interface MintOptions extends ProvisionOptions {
  /**
   * The name the key gets at the provider (OpenAI: the name of the service account it is minted in): 1 to 100
   * letters, digits, `_`, `-` and `.`; unique per mint (discard and audit find a lost mint by it).
   * @default `keyflip-<NAME>-<yyyymmddThhmmss>` (UTC, now)
   */
  keyName?: string | undefined;
}

const KEY_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/** `keyflip-OPENAI_API_KEY-20261205T072335`: the default name of a minted key. */
export function mintedKeyName(name: string, nowMs: number): string {
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '');
  return `keyflip-${name}-${stamp}`;
}

/**
 * Step 1, minted: mints a new key at `ctx.provider` and stages it as {@link provision} does, with its id at the
 * provider recorded (`minted: true`). Refuses `cannot-mint` where the provider cannot mint by API (Anthropic: stage a
 * key from a file with `provision` instead), `staged-exists` when a key is staged, `pending` while a sequence or a
 * mint stopped part-way (discard it first). A dry run plans, and mints nothing.
 */
export async function provisionMinted(ctx: RotationContext, options: MintOptions = {}): Promise<RotationResult> {
  const { provider, admin, name } = ctx;
  if (!provider)
    throw new ConfigurationError(
      'provisionMinted: ctx.provider is required (openProvider from keyflip/providers, with an admin key)',
    );
  const environment = checkEnvironment(options.environment);
  const keyName = options.keyName ?? mintedKeyName(name, nowOf(ctx));
  if (typeof keyName !== 'string' || !KEY_NAME.test(keyName))
    throw new RotationError(
      'INVALID_INPUT',
      'the key name must be 1 to 100 letters, digits, "_", "-" or "." (the name it gets at the provider)',
    );
  let mark: MintingMark | undefined;
  let target = '';
  const marked = await runStep(ctx, 'provision', (ring) => ({
    gates: [
      () =>
        provider.canMint
          ? undefined
          : refuse(
              'cannot-mint',
              `${provider.id} cannot mint keys through its API: make the key in its console, then stage it with ` +
                'rotate provision (from a file or stdin); keyflip finds its id by its hint',
            ),
      () =>
        ring.minting
          ? refuse(
              'pending',
              `a key minted at ${ring.minting.mark.at} (named ${ring.minting.mark.name}) was not stored: ` +
                'rotate discard (with the provider) revokes it at the provider; then mint again',
            )
          : undefined,
      () =>
        ring.pending
          ? refuse(
              'pending',
              `${article(ring.pending.record.op)} of ${ring.pending.record.fingerprint} stopped part-way: ` +
                'finish it (run it again with the same key) or rotate discard it first',
            )
          : undefined,
      () =>
        ring.staged
          ? refuse(
              'staged-exists',
              `${ring.staged.label} (${ring.staged.fingerprint ?? 'fingerprint not recorded'}) is already staged: ` +
                'probe and flip it, or rotate discard it; provision never stages a second key',
            )
          : undefined,
      // Last: the only gate that asks the provider. A name already taken would make a lost mint's key
      // indistinguishable from that key (discard and audit find a lost mint by its name).
      async () => {
        const taken = (await provider.listKeys()).find((k) => k.name === keyName || k.owner.name === keyName);
        if (!taken) return undefined;
        const whose = taken.owner.name === keyName ? `the ${taken.owner.type} that owns ${taken.id}` : taken.id;
        throw new RotationError(
          'INVALID_INPUT',
          `the key name ${keyName} is taken at ${provider.id} (${whose}): a minted key needs a name of its own ` +
            '(discard and audit find a lost mint by it); choose another, or leave it out (keyflip-NAME-time)',
        );
      },
    ],
    plan(writes) {
      target = stagingTarget(ring, 'provision');
      const at = iso(nowOf(ctx));
      const env = environment ?? ring.environment;
      const thisMark: MintingMark = { provider: provider.id, name: keyName, at };
      mark = thisMark;
      const role = target === stagingId(name) ? { [LABEL.role]: 'staging' } : {};
      const marking = `mark ${target}: a key named ${keyName} is being minted at ${provider.id}`;
      if (!ring.secrets.has(target))
        writes.add(`create secret ${target} (keyflip labels); ${marking}`, async () => {
          await admin.createSecret(target, {
            labels: { ...managedLabels({}, ring.layout, 'minting', env), ...role },
            annotations: withMinting({ [ANNOTATION.name]: name }, thisMark),
          });
        });
      else
        writes.add(marking, async () => {
          await updateFresh(admin, target, (meta) => ({
            annotations: withMinting(meta.annotations, thisMark),
          }));
        });
      return {
        planned:
          `would mint a key named ${keyName} at ${provider.id} and stage it in ${target} ` +
          '(its value goes to Secret Manager only)',
        done: () => `marked ${target}: minting ${keyName} at ${provider.id}`,
      };
    },
  }));
  if (marked.outcome !== 'done' || !mark) {
    if (marked.outcome !== 'planned') return marked;
    return {
      ...marked,
      steps: [
        ...marked.steps,
        { description: `mint a key named ${keyName} at ${provider.id} (its value is never printed)`, done: false },
        { description: `stage it in ${target} as provision does, recording its id; clear the marks`, done: false },
      ],
    };
  }
  const markSteps = marked.steps;
  let minted: MintedKey;
  try {
    minted = await provider.mintKey({ name: keyName });
  } catch (error) {
    await clearMark(ctx, target).catch(() => undefined); // nothing was minted: a mark left would only mislead
    throw error;
  }
  const mintStep = { description: `mint a key named ${keyName} at ${provider.id}: ${minted.key.id}`, done: true };
  const identity = {
    record: (fingerprint: string, at: string) => providerRecord(minted.key, fingerprint, at, { minted: true }),
  };
  let staged: RotationResult;
  try {
    staged = await provisionKey(ctx, minted.value, { environment }, identity);
  } catch (error) {
    throw await revokeUnstored(ctx, provider, minted, target, error);
  }
  if (staged.outcome !== 'done') {
    // A gate refused between the mark and the store (another command ran meanwhile): the key is stored nowhere.
    const cleanup = await revokeUnstored(ctx, provider, minted, target, undefined);
    return {
      ...staged,
      message: `${staged.message}; ${cleanup.message}`,
      steps: [...markSteps, mintStep],
      notes: staged.notes.filter((note) => !note.includes(keyName)), // the mark is cleared now
    };
  }
  return {
    ...staged,
    message: `minted ${minted.key.id} at ${provider.id} (named ${keyName}); ${staged.message}`,
    steps: [...markSteps, mintStep, ...staged.steps],
  };
}

/** Clears the minting mark on `target` (the mint failed, or its key was revoked). */
async function clearMark(ctx: RotationContext, target: string): Promise<void> {
  await updateFresh(ctx.admin, target, (meta) => ({ annotations: withMinting(meta.annotations, undefined) }));
}

/**
 * The minted key could not be stored (`error`, or a refusal): revokes it at the provider, then clears every mark the
 * mint set — the minting mark, and the pending mark of the provision it started (the version that provision may have
 * added is disabled and recorded discarded: it holds a revoked key) — so that minting again just works. When the
 * revoke fails, the marks stay for `discard` (with the provider) to revoke it. The error returned says what happened
 * to the key; the value is in none of it.
 */
async function revokeUnstored(
  ctx: RotationContext,
  provider: ProviderAdmin,
  minted: MintedKey,
  target: string,
  error: unknown,
): Promise<RotationError> {
  // The store's own failure (not the "run it again" of an interrupted write: here running it again would not resume).
  const failed = error instanceof RotationError && error.code === 'INTERRUPTED' ? (error.cause ?? error) : error;
  const why =
    error === undefined
      ? 'the store was refused'
      : `storing it failed (${failed instanceof Error ? failed.message.replace(/\.+$/, '') : String(failed)})`;
  const code = error instanceof RotationError && error.code !== 'INTERRUPTED' ? error.code : 'BACKEND';
  const grpcCode = failed instanceof RotationError ? failed.grpcCode : undefined;
  const what = `the key minted at ${provider.id} (${minted.key.id}, named ${minted.key.owner.name ?? minted.key.name})`;
  try {
    await provider.revokeKey(minted.key.id);
  } catch (revokeError) {
    const detail = revokeError instanceof Error ? revokeError.message : String(revokeError);
    return new RotationError(
      code === 'BACKEND' ? 'INTERRUPTED' : code,
      `${why}; ${what} was not stored, and revoking it failed (${detail}): rotate discard (with the provider) ` +
        'revokes it and clears the marks the mint left; then mint again',
      { cause: error ?? revokeError, grpcCode },
    );
  }
  let left = '';
  try {
    await clearMarks(ctx, target, fingerprintOf(ctx, minted.value));
  } catch {
    left = `; clearing the marks the mint left on ${target} failed: rotate discard clears them, then mint again`;
  }
  return new RotationError(
    code,
    `${why}; ${what} was not stored: it was revoked at the provider, no working copy of it exists and nothing is ` +
      `staged${left || '; run rotate provision --mint again (provisionMinted) to mint a new key'}`,
    { cause: error, grpcCode },
  );
}

/**
 * Clears the minting mark on `target`, then discards what the provision of the minted key (`fingerprint`) left: its
 * pending mark, and the version it may have added. Only that provision's: what another command left is not touched.
 */
async function clearMarks(ctx: RotationContext, target: string, fingerprint: string): Promise<void> {
  await clearMark(ctx, target);
  const { provider: _, ...withoutProvider } = ctx; // the key is revoked already: discard needs no provider
  const ring = await readRing(ctx.admin, ctx.name, await layoutOf(ctx), ringOptionsOf(ctx));
  const ours = ring.pending
    ? ring.pending.record.op === 'provision' && ring.pending.record.fingerprint === fingerprint
    : ring.staged?.fingerprint === fingerprint;
  // Not ours: the provision stopped before its first write, or another command's state (left as it is).
  if (!ours) return;
  const discarded = await discard(withoutProvider);
  if (discarded.outcome !== 'done' && discarded.outcome !== 'already-done') throw new Error(discarded.message);
}
