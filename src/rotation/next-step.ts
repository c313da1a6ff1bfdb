/** The step of the playbook that may run next on a ring, and why: what `status` and every result end with. */
import { inStaging, type KeyRing } from './key-ring.js';
import { article } from './records.js';
import type { NextStep } from './types.js';

/** The step of the playbook that may run next on `ring`, and why (what `status` and every result end with). */
export function nextStep(ring: KeyRing): NextStep {
  const { name, pending, staged, live, old } = ring;
  if (pending) {
    const { op } = pending.record;
    return {
      command: op,
      why:
        `${article(op)} of ${pending.record.fingerprint} stopped part-way: ` +
        (op === 'provision' || op === 'emergency'
          ? 'run it again with the same key to finish it, or discard it'
          : `run ${op} again to finish it`),
    };
  }
  if (staged) {
    if (staged.state === 'ENABLED' && !inStaging(ring, staged))
      return { command: 'flip', why: `${staged.label} was being flipped: run flip again to finish` };
    if (staged.state !== 'ENABLED' && inStaging(ring, staged))
      return { command: 'discard', why: `${staged.label} is disabled: a discard stopped part-way; run it again` };
    const probed = staged.records.probed;
    if (!probed)
      return {
        command: 'probe',
        why: `${staged.label} is staged: probe it with the provider before any process can see it`,
      };
    if (!probed.ok)
      return {
        command: 'discard',
        why: `${staged.label} failed its probe (${probed.reason}): discard it and provision another key`,
      };
    return { command: 'flip', why: `${staged.label} is staged and probed ${probed.reason}: flip makes it live` };
  }
  if (live?.records.staged && !live.records.flipped)
    return { command: 'flip', why: `${live.label} is live but its flip was not recorded: run flip again to record it` };
  if (old.length > 0) {
    const labels = old.map((k) => k.label).join(', ');
    const them = old.length === 1 ? 'it' : 'them';
    const recorded = old.filter((k) => k.records.revoked).map((k) => k.label);
    if (recorded.length > 0)
      return {
        command: 'revoke',
        why:
          `${recorded.join(', ')} recorded as revoked but still enabled: a revoke stopped part-way; ` +
          'run revoke again to finish it',
      };
    const verified = old.every((k) => k.records.verified?.ok);
    return verified
      ? { command: 'revoke', why: `${labels} verified unused: revoke disables ${them} (after checking again)` }
      : {
          command: 'verify',
          why: `${labels} still enabled: verify that no process used ${them} for the whole window, then revoke`,
        };
  }
  if (!live)
    return {
      command: 'provision',
      why:
        ring.keys.length === 0
          ? `${name} has no key yet: provision the first one`
          : `${name} has no live key: provision one`,
    };
  return {
    command: 'provision',
    why: `nothing in flight: ${live.label} is live and no old key is enabled; the next rotation starts with provision`,
  };
}
