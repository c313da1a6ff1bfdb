/**
 * Issue 12, false clears 4 and 5: a window shorter than two beacon intervals, and a process younger than one
 * interval. One collector process for the file (each test uses its own secret); apps in this process with the real
 * beacon and `httpSink`; `keyflip verify` as a real CLI process.
 *
 * Before issue 12 neither rule existed: verify said "clear" as soon as some instance reported the secret in the
 * window without the retired key — an app reporting every 8 s was simply outside a 2 s window, and a process
 * started a moment ago was clear before it had said anything about the key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/index.js';
import { leaks } from '../helpers.js';
import { startInProcessApp } from './support/app.js';
import { type CollectorProcess, getJson, startCollector } from './support/collector-process.js';
import { FP, NEEDLES, VALUES } from './support/keys.js';
import { until } from './support/poll.js';
import { missingCodes, offenderIds, said, type VerifyRun, verify as verifyCli } from './support/verify.js';

let collector: CollectorProcess;
/** When the collector process listened: its coverage starts at the latest then. */
let upAt: number;
const resolvers: Resolver[] = [];
beforeAll(async () => {
  collector = await startCollector();
  upAt = Date.now();
});
afterAll(async () => {
  await Promise.all(resolvers.map((r) => r.close()));
  await collector.kill();
  expect(leaks(collector.cli.stdout() + collector.cli.stderr(), NEEDLES)).toEqual([]);
});

const app = async (secret: string, value: string, id: string, intervalMs: number): Promise<void> => {
  resolvers.push(await startInProcessApp({ url: collector.url, secret, value, id, intervalMs }));
};

async function verify(secret: string, retired: string, window: string): Promise<VerifyRun> {
  const run = await verifyCli(collector.url, secret, retired, window);
  expect(leaks(run.stdout + run.stderr, NEEDLES)).toEqual([]);
  return run;
}

/** The instance ids holding `fp` of `secret` in the last `window`, by the collector's usage answer. */
async function holders(secret: string, fp: string, window: string): Promise<string[]> {
  const { body } = await getJson(collector.url, `/v1/usage?secret=${secret}&window=${window}`);
  const usage = body as { fingerprints: { fingerprint: string; instances: { id: string }[] }[] };
  return usage.fingerprints.filter((f) => f.fingerprint === fp).flatMap((f) => f.instances.map((i) => i.id));
}

describe('issue 12 (4): a window shorter than two beacon intervals', () => {
  it('cannot prove (4) with a 3 s window over an app beaconing every 2 s; 4 s proves it (0)', async () => {
    await app('WINDOW_KEY', VALUES.new, 'window-app', 2_000);
    // Once the collector has observed 4 s + one interval, the 4 s window (2 × 2 s) proves the key unused.
    await until('the collector to cover 4 s + 2 s', () => (Date.now() > upAt + 6_200 ? true : undefined));
    const proved = await until(
      'verify --window 4s to prove',
      async () => {
        const run = await verify('WINDOW_KEY', FP.old, '4s');
        expect([0, 4], said(run)).toContain(run.code);
        return run.code === 0 ? run : undefined;
      },
      { timeoutMs: 30_000, everyMs: 200 },
    );
    expect(proved.json?.reason).toBe('clear');
    const short = await verify('WINDOW_KEY', FP.old, '3s');
    expect(short.code, said(short)).toBe(4);
    expect(missingCodes(short)).toEqual(['window-too-short']);
  }, 60_000);

  it('cannot prove (4) with a 2 s window: an app on the old key beacons every 8 s, a fast one on the new', async () => {
    await app('SLOW_KEY', VALUES.new, 'fast-app', 1_000);
    await app('SLOW_KEY', VALUES.old, 'slow-legacy-app', 8_000); // reports at once, then every 8 s
    await until('the slow app reported', async () =>
      (await holders('SLOW_KEY', FP.old, '2s')).length > 0 ? true : undefined,
    );
    // Between two of its reports: outside the 2 s window, while the fast app reports in it every second.
    await until('the slow app out of the 2 s window', async () =>
      Date.now() > upAt + 3_500 && (await holders('SLOW_KEY', FP.old, '2s')).length === 0 ? true : undefined,
    );
    const run = await verify('SLOW_KEY', FP.old, '2s');
    expect(run.code, said(run)).toBe(4);
    expect(missingCodes(run)).toContain('window-too-short');
  }, 60_000);
});

describe('issue 12 (5): a process younger than one beacon interval', () => {
  it('a new process on the new key is not yet proven (4); a new one on the retired key is in use (1)', async () => {
    await app('YOUNG_KEY', VALUES.new, 'settled-app', 1_000);
    // The collector must have observed 8 s + the young apps' 4 s interval, so that only their youth is missing.
    await until('the collector to cover 8 s + 4 s', () => (Date.now() > upAt + 12_500 ? true : undefined), {
      timeoutMs: 20_000,
    });
    const settled = await until('the settled app to be proven', async () => {
      const run = await verify('YOUNG_KEY', FP.old, '8s');
      return run.code === 0 ? run : undefined;
    });
    expect(settled.json?.reason).toBe('clear');

    await app('YOUNG_KEY', VALUES.new, 'young-app', 4_000); // its first report goes at once
    await until('the young app reported', async () =>
      (await holders('YOUNG_KEY', FP.new, '8s')).includes('young-app') ? true : undefined,
    );
    const young = await verify('YOUNG_KEY', FP.old, '8s');
    expect(young.code, said(young)).toBe(4);
    expect(missingCodes(young)).toEqual(['young-instance']);

    await app('YOUNG_KEY', VALUES.old, 'young-legacy-app', 4_000);
    await until('the young legacy app reported', async () =>
      (await holders('YOUNG_KEY', FP.old, '8s')).includes('young-legacy-app') ? true : undefined,
    );
    const inUse = await verify('YOUNG_KEY', FP.old, '8s');
    expect(inUse.code, said(inUse)).toBe(1);
    expect(offenderIds(inUse)).toEqual(['young-legacy-app']);
  }, 60_000);
});
