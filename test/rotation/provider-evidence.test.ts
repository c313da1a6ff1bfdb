/**
 * Provider evidence in `verify` and `revoke` (the provider evidence rule): the provider's per-key usage of the old
 * key's id over the window, on top of the beacons. A client that sends no beacon and still uses the old key blocks
 * the gate (`in-use`, named as such); no use while the provider's reporting lag keeps its data short of the window
 * end is `cannot-prove` (`evidence-incomplete`, exit 4), never clear; a key whose id the provider cannot tell is
 * `cannot-prove`; clear only when the beacons and the provider both are. Real pieces throughout: the Secret Manager
 * emulator, apps beaconing to a collector, the mock provider's management API (with a lag) read through
 * `openProvider`, all on the rig's manual clock.
 */
import { describe, expect, it } from 'vitest';
import { revoke, verify } from '../../src/rotation/index.js';
import { beaconless, flippedWithProvider, LAG, noAdminKey } from './provider-rig.js';
import { fp, KEYS, MINUTE, rotationRig, WINDOW } from './rig.js';

const rig = rotationRig();

describe('provider evidence in verify and revoke', () => {
  it("a beacon-less client's use blocks verify and revoke (in-use, no beacon holder), then clears", async () => {
    const w = rig.world();
    const { ctx, mock } = await flippedWithProvider(w);
    try {
      const liveSince = w.clock.now();
      await w.clock.advance(4 * MINUTE);
      expect(await beaconless(mock, KEYS.k1, 3)).toEqual([200, 200, 200]);
      // A whole window plus the lag after the flip: the beacons are clear, the provider reports the 3 requests.
      await w.clock.advance(WINDOW + LAG - 3 * MINUTE);
      const verified = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(verified).toMatchObject({ outcome: 'failed', ok: false, refusal: 'not-verified' });
      const check = verified.verifications?.[0];
      expect(check?.result).toMatchObject({ reason: 'clear', holding: [], heldEarlier: [] });
      expect(check?.provider).toMatchObject({
        provider: 'openai',
        keyId: mock.keyId(KEYS.k1),
        reason: 'in-use',
        requests: 3,
        message: '3 requests at the provider in the last 25m, from clients that send no beacon',
      });
      expect(verified.message).toContain(`(${fp(KEYS.k1)}) is still used: 3 requests at the provider in the last 25m`);
      // The old key's record says why.
      expect(verified.keys.find((k) => k.fingerprint === fp(KEYS.k1))?.records.verified).toMatchObject({
        ok: false,
        reason: 'in-use',
      });
      const refused = await w.noWrites(() => w.run(revoke(ctx, { windowMs: WINDOW })));
      expect(refused).toMatchObject({ outcome: 'refused', refusal: 'not-verified' });
      expect(refused.message).toContain('from clients that send no beacon');
      expect(mock.keys().find((k) => k.id === mock.keyId(KEYS.k1))?.status).toBe('active');

      // The straggler stopped: once its requests have left a whole window of the provider's data, it is clear.
      await w.clock.advance(WINDOW);
      const clear = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(clear).toMatchObject({ outcome: 'done', ok: true });
      expect(clear.verifications?.[0]?.provider).toMatchObject({ reason: 'clear', requests: 0, buckets: [] });
      expect(clear.verifications?.[0]?.provider?.coveredUntilMs).toBeGreaterThanOrEqual(liveSince + WINDOW);
      expect(clear.message).toMatch(/, and openai reports no use of it: revoke is allowed$/);
      noAdminKey(w, verified, refused, clear);
    } finally {
      await mock.close();
    }
  });

  it('the provider and the beacons both in use: the message names the beaconing holder and the count', async () => {
    const w = rig.world();
    const { ctx, mock, apps } = await flippedWithProvider(w);
    try {
      const afterFlip = new Date(Math.ceil(w.clock.now() / MINUTE) * MINUTE).toISOString();
      // One app never refreshed onto K2: pin it by sending requests with K1 and reporting K1 in its beacon.
      const straggler = await w.apps(1, ctx.name, 'pair', { chain: `${ctx.name}_v1`, prefix: 'pinned' });
      await w.clock.advance(MINUTE);
      expect(await beaconless(mock, KEYS.k1, 2)).toEqual([200, 200]);
      await w.clock.advance(WINDOW + LAG);
      const result = await w.run(verify(ctx, { windowMs: WINDOW + LAG }));
      expect(result).toMatchObject({ outcome: 'failed', refusal: 'not-verified' });
      const check = result.verifications?.[0];
      expect(check?.result.reason).toBe('in-use');
      // A window plus the lag reaches back before the flip: asked from the first whole minute after it. The
      // provider cannot say whose the requests are: the beaconing holder's, or a client's that sends no beacon.
      const since = `since ${afterFlip}, the first whole minute after the flip`;
      expect(check?.provider?.message).toBe(
        `2 requests at the provider ${since}; 1 beaconing instance also held the key (the requests may be its own)`,
      );
      expect(result.message).toContain(`; 2 requests at the provider ${since}; 1 beaconing instance also held`);
      expect(result.message).toMatch(/is still used: pinned-1 on /);
      expect(apps.length + straggler.length).toBe(3);
    } finally {
      await mock.close();
    }
  });

  it("the provider's lag not elapsed: cannot prove (evidence-incomplete), never clear; then clear", async () => {
    const w = rig.world();
    const { ctx, mock } = await flippedWithProvider(w);
    try {
      const liveSince = w.clock.now();
      // Before the window has elapsed: not yet (the apps held K1 3 minutes ago); the provider gives its time.
      await w.clock.advance(3 * MINUTE);
      const early = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(early).toMatchObject({ outcome: 'failed', ok: false, refusal: 'not-verified' });
      expect(early.verifications?.[0]?.provider?.reason).toBe('cannot-prove');
      expect(early.verifications?.[0]?.provider?.message).toContain(
        `verify again after ${new Date(liveSince + WINDOW + LAG).toISOString()}`,
      );

      // The window has elapsed and the beacons are clear, but the provider's data ends 15 minutes ago.
      await w.clock.advance(WINDOW);
      const result = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(result).toMatchObject({ outcome: 'failed', ok: false, refusal: 'evidence-incomplete' });
      const check = result.verifications?.[0];
      expect(check?.result.reason).toBe('clear');
      const coveredUntil = w.clock.now() - LAG;
      expect(check?.provider).toMatchObject({ reason: 'cannot-prove', coveredUntilMs: coveredUntil, requests: 0 });
      const again = new Date(liveSince + WINDOW + LAG).toISOString();
      expect(check?.provider?.message).toBe(
        `no use at the provider so far, but the provider's data is complete until ` +
          `${new Date(coveredUntil).toISOString()} (lag 15m): verify again after ${again}`,
      );
      expect(result.message).toContain(`at openai: no use at the provider so far`);
      const refused = await w.noWrites(() => w.run(revoke(ctx, { windowMs: WINDOW })));
      expect(refused).toMatchObject({ outcome: 'refused', refusal: 'evidence-incomplete' });

      // At the time it gave, the provider's data covers the window: clear, and revoke goes through.
      await w.clock.advance(liveSince + WINDOW + LAG - w.clock.now());
      const clear = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(clear).toMatchObject({ outcome: 'done', ok: true });
      expect(clear.verifications?.[0]?.provider?.reason).toBe('clear');
    } finally {
      await mock.close();
    }
  });

  it('use before the flip is not use of an old key: the range starts after the minute holding the flip', async () => {
    const w = rig.world();
    // A client that sends no beacon used K1 up to a second before the flip, while it was the live key.
    const { ctx, mock } = await flippedWithProvider(w, { usedBeforeFlip: 3, prefix: 'PF' });
    try {
      const liveSince = w.clock.now();
      const afterFlip = Math.ceil(liveSince / MINUTE) * MINUTE;
      expect(afterFlip - liveSince).toBe(39_000);
      // At the flip there is nothing to ask the provider yet: cannot prove, and the window gate says to wait.
      const early = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(early.verifications?.[0]?.provider).toMatchObject({
        keyId: mock.keyId(KEYS.k1),
        reason: 'cannot-prove',
        startMs: afterFlip,
        message:
          `nothing to ask the provider yet: its usage is read since ${new Date(afterFlip).toISOString()}, the first ` +
          'whole minute after the flip (the one holding the flip holds use from before it too): verify again after ' +
          `${new Date(liveSince + WINDOW + LAG).toISOString()}`,
      });
      // A window plus the lag after the flip: the provider's data covers the window, the requests before the flip
      // are left out (they were in the minute holding it), and the old key is clear: revoke goes through.
      await w.clock.advance(WINDOW + LAG);
      const verified = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(verified).toMatchObject({ outcome: 'done', ok: true });
      expect(verified.verifications?.[0]?.provider).toMatchObject({
        reason: 'clear',
        startMs: afterFlip,
        requests: 0,
        message:
          `the provider reports no use since ${new Date(afterFlip).toISOString()}, the first whole minute after the ` +
          `flip (its data is complete until ${new Date(liveSince + WINDOW).toISOString()})`,
      });
      // Later, the range is a window plus the lag back from now, still after the flip.
      await w.clock.advance(2 * MINUTE);
      const later = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(later.verifications?.[0]?.provider).toMatchObject({ reason: 'clear', startMs: liveSince + 2 * MINUTE });
      expect(later.verifications?.[0]?.provider?.message).toMatch(/^the provider reports no use in the last 25m /);
      const revoked = await w.run(revoke(ctx, { windowMs: WINDOW }));
      expect(revoked).toMatchObject({ outcome: 'done', ok: true });
      expect(mock.keys().find((k) => k.id === mock.keyId(KEYS.k1))).toMatchObject({ status: 'deleted', requests: 3 });
    } finally {
      await mock.close();
    }
  });

  it('an old key the provider does not know: its id is unknown, so it cannot be proved', async () => {
    const w = rig.world();
    // The provider's project knows K2 only (K1 is a key of another project, or was made elsewhere).
    const { ctx, mock } = await flippedWithProvider(w, { knows: [KEYS.k2] });
    try {
      await w.clock.advance(WINDOW + LAG + MINUTE);
      const result = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(result).toMatchObject({ outcome: 'failed', refusal: 'evidence-incomplete' });
      const check = result.verifications?.[0];
      expect(check?.result.reason).toBe('clear');
      expect(check?.provider).toMatchObject({ provider: 'openai', keyId: undefined, reason: 'cannot-prove' });
      expect(check?.provider?.message).toMatch(/^its id at openai is unknown, so its usage there cannot be read: /);
      const refused = await w.noWrites(() => w.run(revoke(ctx, { windowMs: WINDOW })));
      expect(refused).toMatchObject({ outcome: 'refused', refusal: 'evidence-incomplete' });
    } finally {
      await mock.close();
    }
  });

  it('an old key whose hint matches several keys at the provider: refused, provider-key-ambiguous', async () => {
    const w = rig.world();
    // A lookalike: the same first 8 and last 4 characters as K1 (what the provider's hint shows), another middle.
    const lookalike = `${KEYS.k1.slice(0, 8)}${'Mx0Ny1Oz2P'.repeat(3)}${KEYS.k1.slice(38)}`;
    expect(lookalike).not.toBe(KEYS.k1);
    const { ctx, mock } = await flippedWithProvider(w, { knows: [KEYS.k1, lookalike, KEYS.k2] });
    try {
      await w.clock.advance(WINDOW + LAG + MINUTE);
      const result = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(result).toMatchObject({ outcome: 'failed', ok: false, refusal: 'provider-key-ambiguous' });
      expect(result.verifications?.[0]?.provider).toMatchObject({ keyId: undefined, reason: 'cannot-prove' });
      expect(result.message).toContain('several keys at openai have a hint that matches');
      const refused = await w.noWrites(() => w.run(revoke(ctx, { windowMs: WINDOW })));
      expect(refused).toMatchObject({ outcome: 'refused', refusal: 'provider-key-ambiguous' });
      expect(JSON.stringify([result, refused])).not.toContain(lookalike);
    } finally {
      await mock.close();
    }
  });

  it('anthropic reports tokens only: a beacon-less client shows as tokens, and requests stay unknown', async () => {
    const w = rig.world();
    const { ctx, mock } = await flippedWithProvider(w, { preset: 'anthropic', prefix: 'PEA' });
    try {
      await w.clock.advance(2 * MINUTE);
      expect(await beaconless(mock, KEYS.k1, 2)).toEqual([200, 200]);
      await w.clock.advance(WINDOW + LAG);
      const result = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(result).toMatchObject({ outcome: 'failed', refusal: 'not-verified' });
      const evidence = result.verifications?.[0]?.provider;
      expect(evidence).toMatchObject({ provider: 'anthropic', reason: 'in-use', requests: undefined });
      expect(evidence?.tokens).toBeGreaterThan(0);
      expect(evidence?.message).toBe(
        `${evidence?.tokens} tokens at the provider in the last 25m, from clients that send no beacon`,
      );
    } finally {
      await mock.close();
    }
  });
});
