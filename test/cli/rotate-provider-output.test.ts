/**
 * What `keyflip rotate` prints for the provider's part of a result (`renderRotation`): the evidence line beside the
 * beacons', the revocations at the provider, emergency's leak report, and auto's `WAITING`. Results built by hand,
 * so each shape is shown once whatever the providers answer: tokens only (Anthropic), a key kept, gaps.
 */
import { describe, expect, it } from 'vitest';
import { renderRotation } from '../../src/cli/rotate-output.js';
import type { VerifyResult } from '../../src/collector/index.js';
import type { KeyVerification, RotationResult } from '../../src/rotation/index.js';

const T0 = Date.parse('2026-12-05T06:00:00.000Z');
const HOUR = 3_600_000;

const base: RotationResult = {
  command: 'verify',
  secret: 'ANTHROPIC_API_KEY',
  layout: 'pair',
  outcome: 'failed',
  ok: false,
  message: 'not yet',
  steps: [],
  keys: [],
  next: { command: 'none', why: '' },
  notes: [],
};

const clearBeacons = {
  ok: true,
  reason: 'clear',
  message: 'no instance reported it',
  windowMs: HOUR,
  at: T0 + HOUR,
  offenders: [],
  holding: [],
  heldEarlier: [],
  missing: [],
} as unknown as VerifyResult;

function verification(provider: KeyVerification['provider']): KeyVerification {
  return {
    key: 'ANTHROPIC_API_KEY_v1@1',
    fingerprint: 'kf_0123456789ab',
    liveSince: T0 - HOUR,
    windowElapsed: true,
    result: clearBeacons,
    provider,
  };
}

describe('renderRotation, the provider part', () => {
  it('tokens-only evidence (Anthropic): the verdict names whose it is; buckets in tokens', () => {
    const text = renderRotation(
      {
        ...base,
        verifications: [
          verification({
            provider: 'anthropic',
            keyId: 'apikey_01abc',
            reason: 'in-use',
            message: '1,250 tokens in the last hour at the provider from clients that send no beacon',
            requests: undefined,
            tokens: 1250,
            startMs: T0,
            endMs: T0 + HOUR,
            coveredUntilMs: T0 + HOUR,
            buckets: [{ startMs: T0, endMs: T0 + HOUR, requests: undefined, tokens: 1250 }],
          }),
        ],
      },
      { name: 'ANTHROPIC_API_KEY' },
    );
    expect(text).toContain('verify ANTHROPIC_API_KEY_v1@1 (kf_0123456789ab) over 1h: in use (the provider)\n');
    expect(text).toContain('  beacons: unused\n');
    expect(text).toContain('  provider anthropic (apikey_01abc): in use: 1,250 tokens in the last hour');
    expect(text).toContain('    2026-12-05T06:00Z to 2026-12-05T07:00Z  1,250 tokens\n');
    expect(text).toContain('    its data is complete until 2026-12-05T07:00:00Z\n');
  });

  it('an unknown key id: cannot prove, and no "complete until" line of its own', () => {
    const text = renderRotation(
      {
        ...base,
        verifications: [
          verification({
            provider: 'openai',
            keyId: undefined,
            reason: 'cannot-prove',
            message: "its id at openai is unknown (none recorded): the provider's usage cannot be read for it",
            requests: undefined,
            tokens: 0,
            startMs: T0,
            endMs: T0 + HOUR,
            coveredUntilMs: T0,
            buckets: [],
          }),
        ],
      },
      { name: 'OPENAI_API_KEY' },
    );
    expect(text).toContain('over 1h: cannot prove (the provider)\n');
    expect(text).toContain('  provider openai (id unknown): cannot prove: its id at openai is unknown');
    expect(text).not.toContain('complete until');
  });

  it('revocations at the provider: revoked, already, kept', () => {
    const text = renderRotation(
      {
        ...base,
        command: 'revoke',
        outcome: 'done',
        ok: true,
        message: 'revoked',
        providerRevocations: [
          { key: 'K_v1@1', fingerprint: 'kf_aaaaaaaaaaaa', keyId: 'apikey_1', outcome: 'revoked', status: 'inactive' },
          { key: 'K_v1@2', fingerprint: 'kf_bbbbbbbbbbbb', keyId: 'apikey_2', outcome: 'already', status: 'archived' },
          { key: 'K_v2@1', fingerprint: 'kf_cccccccccccc', keyId: 'apikey_3', outcome: 'kept', status: 'active' },
        ],
      },
      { name: 'K' },
    );
    expect(text).toContain(
      [
        'At the provider:',
        '  K_v1@1 (kf_aaaaaaaaaaaa) apikey_1: revoked (inactive)',
        '  K_v1@2 (kf_bbbbbbbbbbbb) apikey_2: already revoked (archived)',
        '  K_v2@1 (kf_cccccccccccc) apikey_3: kept (--keep-provider-key): it still works at the provider',
      ].join('\n'),
    );
  });

  it('the leak report: per hour, the instances, what is missing', () => {
    const text = renderRotation(
      {
        ...base,
        command: 'emergency',
        outcome: 'done',
        ok: true,
        message: 'K_v2@3 is live',
        leak: {
          sinceMs: T0 - 2 * HOUR,
          untilMs: T0 + 30 * 60_000,
          keys: [
            {
              key: 'K_v2@2',
              fingerprint: 'kf_aaaaaaaaaaaa',
              keyId: 'key_abc',
              hourly: [
                { startMs: T0 - HOUR, endMs: T0, requests: 312, tokens: 9840 },
                { startMs: T0, endMs: T0 + HOUR, requests: 4, tokens: 100 },
              ],
              requests: 316,
              tokens: 9940,
              coveredUntilMs: T0 + 15 * 60_000,
              instances: ['checkout-api/prod on vm-1 pid 42'],
            },
          ],
          gaps: ['no usage source (a collector or Prometheus) was given'],
        },
      },
      { name: 'K' },
    );
    expect(text).toContain(
      [
        'Leak report, 2026-12-05T04:00:00Z to 2026-12-05T06:30:00Z:',
        '  K_v2@2 (kf_aaaaaaaaaaaa) key_abc: 316 requests, 9,940 tokens at the provider',
        '    2026-12-05T05:00Z  312 requests per hour, 9,840 tokens',
        '    2026-12-05T06:00Z  4 requests per hour, 100 tokens',
        "    the provider's data is complete until 2026-12-05T06:15:00Z: later use is not shown yet",
        '    held by 1 beaconing instance:',
        '      checkout-api/prod on vm-1 pid 42',
        '  missing: no usage source (a collector or Prometheus) was given',
      ].join('\n'),
    );
  });

  it('auto: WAITING while it waits for time to pass, OK for nothing to do', () => {
    const auto = { ...base, command: 'auto' as const, outcome: 'already-done' as const, ok: true };
    expect(renderRotation({ ...auto, message: 'waiting for the window' }, { name: 'K' })).toMatch(/^WAITING: waiting/);
    expect(renderRotation({ ...auto, message: 'nothing to do: young' }, { name: 'K' })).toMatch(/^OK: nothing to do/);
  });
});
