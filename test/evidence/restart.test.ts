/**
 * Issue 12, false clear 1: a collector restart. The collector is a real process (`keyflip collector`), killed
 * with SIGKILL and started again on the same port; a legacy worker (its own process) holds the retired key and
 * beacons every second, a live app holds the new key. Between the restart and the legacy worker's next report,
 * `keyflip verify` (a real CLI process) must not say "clear": without a state file the collector has not observed
 * the window (cannot prove, exit 4); with `--state` it still knows who held the old key (in use, exit 1).
 *
 * Before issue 12 the collector kept everything in memory only: after the restart it had heard the live app and
 * not the legacy worker, so verify found "instances reported the secret, none the retired key" and exited 0.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/index.js';
import { leaks } from '../helpers.js';
import { type App, startApp, startInProcessApp } from './support/app.js';
import { type CollectorProcess, instanceIds, restartCollector, startCollector } from './support/collector-process.js';
import { FP, NEEDLES, VALUES } from './support/keys.js';
import { until } from './support/poll.js';
import { missingCodes, offenderIds, said, type VerifyRun, verify } from './support/verify.js';

const SECRET = 'OPENAI_API_KEY';
/** Twice the apps' 1 s interval and more: long enough to prove, once the collector has observed it whole. */
const WINDOW = '10s';

let collectors: CollectorProcess[] = [];
let apps: App[] = [];
let resolvers: Resolver[] = [];
let dir: string | undefined;
afterEach(async () => {
  await Promise.all([...apps.map((a) => a.stop()), ...resolvers.map((r) => r.close())]);
  await Promise.all(collectors.map((c) => c.kill()));
  const outputs = [...collectors.map((c) => c.cli.stdout() + c.cli.stderr()), ...apps.map((a) => a.output())];
  expect(leaks(outputs.join('\n'), NEEDLES)).toEqual([]);
  collectors = [];
  apps = [];
  resolvers = [];
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

/** A collector, the legacy worker (old key) and the live app (new key), both heard by the collector. */
async function fleet(state?: string): Promise<{ collector: CollectorProcess; legacy: App }> {
  const collector = await startCollector(state === undefined ? {} : { state, args: ['--save-every', '1s'] });
  collectors.push(collector);
  const legacy = await startApp({ url: collector.url, value: VALUES.old, id: 'legacy-worker-1' });
  apps.push(legacy);
  resolvers.push(await startInProcessApp({ url: collector.url, value: VALUES.new, id: 'live-app-1' }));
  await until('both apps reported', async () => {
    const ids = await instanceIds(collector.url);
    return ids.includes('legacy-worker-1') && ids.includes('live-app-1') ? true : undefined;
  });
  return { collector, legacy };
}

/** Verify until it answers `code`; every answer before it must be `allowed`. */
async function verifyUntil(url: string, retired: string, window: string, code: number, allowed: number[]) {
  const answers: VerifyRun[] = [];
  const last = await until(
    `verify to answer ${code}`,
    async () => {
      const run = await verify(url, SECRET, retired, window);
      answers.push(run);
      expect(leaks(run.stdout + run.stderr, NEEDLES)).toEqual([]);
      expect([...allowed, code], said(run)).toContain(run.code);
      return run.code === code ? run : undefined;
    },
    { timeoutMs: 30_000, everyMs: 200 },
  );
  return { last, answers };
}

describe('issue 12 (1): verify across a collector restart', () => {
  it('without a state file: cannot prove (4) until the legacy worker reports, then in use (1); never 0', async () => {
    const { collector, legacy } = await fleet();
    const before = await verify(collector.url, SECRET, FP.old, WINDOW);
    expect(before.code, said(before)).toBe(1);

    legacy.pause(); // between two of its beacons: it cannot report to the new process until resumed
    await collector.kill();
    const restarted = await restartCollector(collector);
    collectors.push(restarted);
    // The live app reports to the new process: the collector has "instances that reported the secret".
    await until('the live app reported to the restarted collector', async () =>
      (await instanceIds(restarted.url)).includes('live-app-1') ? true : undefined,
    );

    const blind = await verify(restarted.url, SECRET, FP.old, WINDOW);
    expect(blind.code, said(blind)).toBe(4);
    expect(blind.json?.reason).toBe('cannot-prove');
    expect(blind.json?.ok).toBe(false);
    expect(missingCodes(blind)).toContain('coverage');

    legacy.resume();
    const { last } = await verifyUntil(restarted.url, FP.old, WINDOW, 1, [4]);
    expect(last.json?.reason).toBe('in-use');
    expect(offenderIds(last)).toEqual(['legacy-worker-1']);
  }, 60_000);

  it('with --state: SIGKILL, restart: in use (1) at once; the time down is missing evidence (4)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'keyflip-evidence-'));
    const state = join(dir, 'collector-state.json');
    const { collector, legacy } = await fleet(state);
    // A save after both apps reported (every 1 s here): what SIGKILL leaves behind.
    const heard = Date.now();
    await until('a save of the state after both apps reported', () => {
      try {
        return statSync(state).mtimeMs > heard + 100 ? true : undefined;
      } catch {
        return undefined;
      }
    });

    legacy.pause();
    await collector.kill();
    const restarted = await restartCollector(collector);
    collectors.push(restarted);

    // The legacy worker cannot have reported to this process: what names it comes from the state file.
    const held = await verify(restarted.url, SECRET, FP.old, WINDOW);
    expect(held.code, said(held)).toBe(1);
    expect(offenderIds(held)).toEqual(['legacy-worker-1']);

    // A key no one held: the time the collector was down is evidence it did not see (cannot prove) until that
    // time leaves the window; then the collector proves it again (clear), from the live app's reports.
    const { last, answers } = await verifyUntil(restarted.url, FP.never, '2s', 0, [4]);
    const first = answers[0] as VerifyRun;
    expect(first.code, said(first)).toBe(4);
    expect(
      missingCodes(first).some((c) => c === 'dropped' || c === 'coverage'),
      said(first),
    ).toBe(true);
    expect(last.json?.reason).toBe('clear');
    legacy.resume();
  }, 60_000);
});
