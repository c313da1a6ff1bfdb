/**
 * The rotation drill, small: 4 worker processes (plus the stale one and the straggler) on the real openai SDK, the
 * Secret Manager emulator over gRPC, the collector over HTTP, the mock provider with its management API and
 * `keyflip rotate` run as processes, with short periods (refresh 1 s, beacon 1 s, window 6 s, the provider's lag
 * 2 s): three rotations in a row — normal, automated (`rotate auto` mints the key at the provider; a straggler
 * without keyflip or beacon blocks verify and revoke through the provider's evidence alone; auto then deletes the
 * old key at the provider), emergency — in the pair layout (the default), the workers declaring
 * `OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1` from start to end.
 * It asserts the properties `npm run drill` shows — never durations: every wait in the drill is bounded and
 * polls state, and the time bound of each flip is reported, not asserted (`enforceTimeBounds: false`). A change
 * in any module that breaks rotation safety (the chain rule, refresh, authFetch, the beacon, the collector, the
 * rotate commands) fails here.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { runDrill, type DrillResult } from '../../drill/drill.js';
import { collectUnhandledRejections } from '../helpers.js';

const unhandled = collectUnhandledRejections();

/** OpenAI-format keys made for this test, so the test can search every output for them. */
const key = (): string => `sk-proj-${randomBytes(30).toString('hex')}T3BlbkFJ${randomBytes(30).toString('hex')}`;

function check(result: DrillResult, id: string): { ok: boolean; detail: string } {
  const c = result.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id}`);
  return { ok: c.ok, detail: c.detail };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** How many servers this process has listening. */
function listening(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPServerWrap').length;
}

describe('the rotation drill (4 worker processes, short periods)', () => {
  it('rotates 3 times on one chain, one automated: no failed request, holders refused, healed, no leak', async () => {
    // v3 is not given: `rotate auto` mints it at the provider (the drill reads it back and searches for it).
    const keys = { v1: key(), v2: key(), v4: key() };
    const adminKey = `sk-admin-${randomBytes(30).toString('hex')}`;
    const output: string[] = [];
    const serversBefore = listening();
    const result = await runDrill({
      workers: 4,
      rate: 20,
      refreshMs: 1_000,
      beaconMs: 1_000,
      windowMs: 6_000,
      steadyMs: 500,
      enforceTimeBounds: false,
      keys,
      adminKey,
      output: (text) => output.push(text),
    });
    const ok = (id: string): void => {
      const c = check(result, id);
      expect(c.ok, `${id}: ${c.detail}`).toBe(true);
    };

    // One chain, declared once, for the three rotations: the pair layout, the default.
    expect(result.options.layout).toBe('pair');
    expect(result.chain).toBe('OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');

    ok('no-abort');
    ok('setup'); // v1 provisioned, probed and flipped by `keyflip rotate`
    ok('workers'); // 4 + 1 + the straggler: every process ran and stopped cleanly
    ok('exact-counts'); // every request reported; the provider counted exactly the attempts reported, key by key

    // The two normal rotations: not one failed request, every request counted.
    ok('normal-zero-failed');
    expect(result.totals.sent).toBeGreaterThan(0);
    expect(result.totals.sent).toBe(result.phases.reduce((n, p) => n + p.sent, 0));

    // Each flip: every worker on the new key, on its first refresh after the flip (the refresh bound itself is
    // the drill's `flip-bound` check, reported here, not asserted); nothing on the old key after its switch.
    ok('flip-first-refresh');
    expect(result.flips.map((f) => [f.from, f.to, f.toNewMs.n, f.switchedOnFirstRefresh])).toEqual([
      ['v1', 'v2', 4, 4],
      ['v2', 'v3', 4, 4],
    ]);
    // No staged key was ever read or sent before its flip (it is staged in OPENAI_API_KEY_next, which no app
    // declares): issue 3, fixed.
    ok('staged-unseen');
    for (const f of result.flips) expect(f.stagedKeyBeforeFlip).toEqual({ requests: 0, workers: 0, reads: 0 });

    // The stale worker (it read OPENAI_API_KEY from its environment at start-up) blocks verify and revoke, named.
    ok('verify-refused');
    expect(result.refusals.verify.offenders).toEqual([{ service: 'drill-legacy-app', pid: expect.any(Number) }]);
    ok('revoke-refused');
    expect(result.refusals.revoke.refusal).toBe('not-verified');

    // Once it is gone and the window has passed, the collector restarts: verify cannot prove (exit 4) until the
    // collector has observed the window again; then verify passes, revoke disables v1, and v1 carries nothing.
    ok('restart-cannot-prove');
    ok('verify-passed');
    ok('revoke-done');
    ok('no-v1-after-revoke');
    expect(result.retirements[0]?.afterRevoke).toEqual({ attempts: 0, providerRequests: 0 });

    // Rotation 2, automated, on the same chain: one `rotate auto` run mints v3 through the mock's management API
    // (in a service account of its own), stores it in Secret Manager, probes and flips it.
    ok('auto-minted');
    const auto = result.automated;
    expect(auto?.minted).toMatchObject({ exitCode: 0, atProvider: { status: 'deleted', serviceAccount: true } });
    expect(result.keys.v3).toBe(auto?.minted.fingerprint); // deleted at the end: the emergency revoked v3 there
    // The straggler (v2 read from its environment once, a request every few seconds, no beacon) blocks verify and
    // revoke through the provider's evidence alone: the beacons name no one, the provider counts its requests.
    ok('provider-blocks-verify');
    ok('provider-blocks-revoke');
    for (const c of [auto?.verify, auto?.revoke]) {
      expect(c).toMatchObject({ exitCode: 1, offenders: 0, provider: 'in-use', oldKeyState: 'ENABLED' });
      expect(c?.providerMessage).toContain('no beacon');
    }
    // Once it has stopped: auto revokes nothing until the window plus the lag has passed since its last request,
    // then disables v2 and deletes it at the provider; the straggler's requests got 401 from then on.
    ok('auto-waits');
    ok('retire-v2');
    expect(auto?.oldKeyAtProvider).toBe('deleted');
    expect(auto?.revokedEarly).toBe(false); // it asked the provider ≥ window + lag after the straggler's last request
    ok('straggler-401');
    expect(auto?.straggler.afterRevoke.sent).toBeGreaterThan(0);
    expect(auto?.straggler.afterRevoke.answered401).toBe(auto?.straggler.afterRevoke.sent);
    // The keyflip workers sent nothing on v2 after the revoke; the provider saw only the straggler's 401s.
    ok('no-v2-after-revoke');
    expect(result.retirements[1]?.afterRevoke).toEqual({ attempts: 0, providerRequests: 0 });

    // Rotation 3, the emergency under load: every worker on v4, healed on its first 401 by authFetch's one retry
    // (or by its refresh first); failures, if any, only among requests in flight at the revocation, and counted.
    ok('emergency-done');
    ok('emergency-v4');
    ok('emergency-failures');
    expect(result.emergency.workersHealedOn401 + result.emergency.workersSwitchedByRefresh).toBe(4);
    // The two races the drill found (ISSUES_FOUND in drill/issues.ts), each recognised by its signature: a
    // chain walk torn by the emergency's writes failing closed; authFetch's forced refresh answering from a
    // refresh that began before the 401.
    ok('no-fail-closed');
    ok('no-stale-join');

    // No key value (the minted one included), nor the collector token or the admin key, anywhere: the drill's own
    // check, and this test's search of every process's output and of the result, for the keys it chose.
    ok('no-leak');
    const everything = `${output.join('\n')}\n${JSON.stringify(result)}`;
    expect(everything.length).toBeGreaterThan(1_000);
    for (const value of [...Object.values(keys), adminKey]) {
      expect(everything.includes(value)).toBe(false);
      expect(everything.includes(value.slice(8, 40))).toBe(false);
      expect(everything.includes(Buffer.from(value).toString('base64').slice(0, 40))).toBe(false);
    }
    expect(everything).toContain(result.keys.v1); // fingerprints are what it shows

    // Every child process is gone; nothing rejected unhandled.
    // 6 processes (4 live workers, the stale one, the straggler); set-up 3 commands, rotation 1 at least 8,
    // rotation 2 at least 5 (auto, verify, revoke, auto waiting, auto revoking), the emergency 1.
    expect(result.pids.length).toBeGreaterThanOrEqual(6 + 17);
    expect(result.pids.filter(isRunning)).toEqual([]);
    // Every server it started is closed, the collector it restarted included (`npm run drill` hung after it
    // passed when the restarted collector was left listening).
    expect(listening()).toBe(serversBefore);
    expect(
      result.ok,
      result.checks
        .filter((c) => !c.ok && c.enforced)
        .map((c) => `${c.id}: ${c.detail}`)
        .join('; '),
    ).toBe(true);
    expect(unhandled).toEqual([]);
    // The provider reports usage per minute, as OpenAI does: the straggler's last request holds the gate until its
    // minute has left the window, half a minute on average on top of the 3-minute run on a loaded machine.
  }, 420_000);
});
