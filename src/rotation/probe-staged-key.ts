import { probeKey, type ProviderId, type ProviderPreset } from '../clients/index.js';
import { resolvePreset } from '../clients/index.js';
import { checkValue } from './command-inputs.js';
import { iso, nowOf } from './context.js';
import { RotationError } from './errors.js';
import { fingerprintOf } from './fingerprints.js';
import { updateFresh } from './fresh-update.js';
import { inStaging } from './key-ring.js';
import { LABEL, withRecord } from './records.js';
import { noStoppedSequence, refuse, runStep } from './rotation-step.js';
import type { RotationContext, RotationResult } from './types.js';

/** Options of {@link probe} (and of `emergency`'s probe): how to ask the provider whether a key works. */
export interface ProbeStagedOptions {
  /** The provider that issued the key: a preset's id (`openai`, `anthropic`, …) or a preset. */
  provider: ProviderPreset | ProviderId;
  /** Where the provider's API is (a proxy, a mock provider). @default the preset's */
  baseUrl?: string | undefined;
  /** The fetch the probe request goes through. @default globalThis.fetch */
  fetch?: typeof fetch | undefined;
  /** The deadline of the probe request, in milliseconds. @default 10_000 */
  timeoutMs?: number | undefined;
}

/** Asks the provider whether `value` works (its cheapest authenticated request); the answer names the provider. */
export async function probeWithProvider(
  value: string,
  options: ProbeStagedOptions,
): Promise<NonNullable<RotationResult['probe']>> {
  const preset = resolvePreset(options.provider);
  const answer = await probeKey(preset, value, {
    baseUrl: options.baseUrl,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
  });
  return { ...answer, provider: preset.id };
}

/**
 * Step 1½: asks the provider whether the staged key works (`probeKey`: its cheapest authenticated
 * request), before any process can see it, and records the answer; `flip` refuses without an alive one.
 *
 * The key is given again (stdin), in every layout alike: in the alias layout the staged version is disabled
 * (Secret Manager serves a disabled version to no one, keyflip included), and in the pair and suffix layouts
 * probing the key the operator holds needs no read of `NAME_next`. It must be the staged key: its fingerprint is
 * checked against the one recorded at provision.
 *
 * Without a value (`undefined`: a key keyflip minted, which no one holds), the staged key is read from `NAME_next`
 * where it waits enabled (pair and suffix layouts); in the alias layout it is disabled and must be given.
 */
export async function probe(
  ctx: RotationContext,
  rawValue: string | undefined,
  options: ProbeStagedOptions,
): Promise<RotationResult> {
  let value = rawValue === undefined ? undefined : checkValue(rawValue);
  const provider = resolvePreset(options.provider).id;
  const { admin, name } = ctx;
  let fp = value === undefined ? undefined : fingerprintOf(ctx, value);
  return runStep(ctx, 'probe', (ring) => {
    const { staged } = ring;
    return {
      gates: [
        noStoppedSequence(ring),
        () =>
          staged ? undefined : refuse('nothing-staged', `${name} has no staged key to probe: provision one first`),
        async () => {
          if (value !== undefined || !staged) return undefined;
          if (!inStaging(ring, staged) || staged.state !== 'ENABLED')
            throw new RotationError(
              'INVALID_INPUT',
              `${staged.label} is ${staged.state === 'ENABLED' ? 'not in a staging secret' : 'disabled'}: ` +
                'keyflip cannot read it; give the staged key (stdin or --value-file)',
            );
          value = await admin.access(staged.secretId, staged.version);
          fp = fingerprintOf(ctx, value);
          return undefined;
        },
        () =>
          staged && staged.fingerprint !== fp
            ? refuse(
                'fingerprint-mismatch',
                `the key given is ${fp}, the staged key ${staged.label} is ` +
                  `${staged.fingerprint ?? '(no fingerprint recorded)'}: give the staged key`,
              )
            : undefined,
      ],
      async plan(writes) {
        const key = staged as NonNullable<typeof staged>; // the gates let no ring without one through
        const answer = await probeWithProvider(value as string, options); // given, or read by a gate
        const at = iso(nowOf(ctx));
        writes.add(
          `record on ${key.secretId}: probed ${key.label} with ${provider}: ${answer.reason} (HTTP ${answer.status})`,
          async () => {
            await updateFresh(admin, key.secretId, (meta) => ({
              labels: { ...meta.labels, [LABEL.step]: 'probed' },
              annotations: withRecord(meta.annotations, key.version, 'probed', {
                at,
                provider,
                ok: answer.ok,
                reason: answer.reason,
                status: answer.status,
              }),
            }));
          },
        );
        const verdict = answer.ok
          ? `${provider} accepts ${key.label} (${fp}): ${answer.reason}`
          : `${provider} does not accept ${key.label} (${fp}): ${answer.reason} ` +
            `(HTTP ${answer.status}${answer.detail ? `, ${answer.detail}` : ''}); flip refuses it`;
        return {
          planned: `${verdict} (dry run: not recorded)`,
          done: () => verdict,
          failed: !answer.ok,
          extra: { probe: answer },
        };
      },
    };
  });
}
