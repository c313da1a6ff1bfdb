import { probeKey } from '../clients/probe.js';
import { resolvePreset, type ProviderId, type ProviderPreset } from '../clients/presets.js';
import { Plan } from './plan.js';
import { checkValue, fingerprintOf, iso, layoutOf, nowOf, updateFresh } from './common.js';
import { LABEL, withRecord } from './records.js';
import { readRing } from './ring.js';
import { refused, refusePending, result } from './state.js';
import type { RotationContext, RotationResult } from './types.js';

export interface ProbeStagedOptions {
  provider: ProviderPreset | ProviderId;
  /** Where the provider's API is (a proxy, a mock provider). @default the preset's */
  baseUrl?: string | undefined;
  fetch?: typeof fetch | undefined;
  /** @default 10_000 */
  timeoutMs?: number | undefined;
}

/**
 * Step 1½: asks the provider whether the staged key works (`probeKey`: its cheapest authenticated
 * request), before any process can see it, and records the answer; `flip` refuses without an alive one.
 *
 * The key is given again (stdin): a staged version is disabled, and Secret Manager serves a disabled
 * version to no one, keyflip included. It must be the staged key: its fingerprint is checked against
 * the one recorded at provision.
 */
export async function probe(
  ctx: RotationContext,
  rawValue: string,
  options: ProbeStagedOptions,
): Promise<RotationResult> {
  const layout = layoutOf(ctx);
  const value = checkValue(rawValue);
  const preset = resolvePreset(options.provider);
  const { admin, name } = ctx;
  const ring = await readRing(admin, name, layout);
  if (ring.pending) return refusePending(ring, 'probe', ring.pending);
  const staged = ring.staged;
  if (!staged)
    return refused(ring, 'probe', 'nothing-staged', `${name} has no staged key to probe: provision one first`);
  const fp = fingerprintOf(ctx, value);
  if (staged.fingerprint !== fp) {
    return refused(
      ring,
      'probe',
      'fingerprint-mismatch',
      `the key given is ${fp}, the staged key ${staged.label} is ${staged.fingerprint ?? '(no fingerprint recorded)'}: give the staged key`,
    );
  }
  const answer = await probeKey(preset, value, {
    baseUrl: options.baseUrl,
    fetch: options.fetch,
    timeoutMs: options.timeoutMs,
  });
  const probeResult = { ...answer, provider: preset.id };
  const at = iso(nowOf(ctx));
  const plan = new Plan().add(
    `record on ${staged.secretId}: probed ${staged.label} with ${preset.id}: ${answer.reason} (HTTP ${answer.status})`,
    async () => {
      await updateFresh(admin, staged.secretId, (meta) => ({
        labels: { ...meta.labels, [LABEL.step]: 'probed' },
        annotations: withRecord(meta.annotations, staged.version, 'probed', {
          at,
          provider: preset.id,
          ok: answer.ok,
          reason: answer.reason,
          status: answer.status,
        }),
      }));
    },
  );
  const verdict = answer.ok
    ? `${preset.id} accepts ${staged.label} (${fp}): ${answer.reason}`
    : `${preset.id} does not accept ${staged.label} (${fp}): ${answer.reason} (HTTP ${answer.status}${answer.detail ? `, ${answer.detail}` : ''}); flip refuses it`;
  if (ctx.dryRun)
    return result(ring, 'probe', answer.ok ? 'planned' : 'failed', `${verdict} (dry run: not recorded)`, {
      steps: plan.steps(),
      probe: probeResult,
    });
  await plan.execute('probe', name);
  return result(await readRing(admin, name, layout), 'probe', answer.ok ? 'done' : 'failed', verdict, {
    steps: plan.steps(),
    probe: probeResult,
  });
}
