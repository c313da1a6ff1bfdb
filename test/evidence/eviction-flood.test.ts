/**
 * Issue 12, false clear 2: an eviction flood. Anyone with the beacon token can send valid reports from fresh
 * instance ids. The collector (a real process, capped at 500 instances) must refuse the new instances it has no
 * room for (429 with a body that says why), record that it dropped evidence, and keep the offender: `keyflip
 * verify` answers "in use" (exit 1, naming it), and for a key no one holds "cannot prove" (exit 4: evidence was
 * dropped in the window) — never "clear".
 *
 * Before issue 12 the collector evicted the instance that had gone longest without a report to make room: the
 * offender, paused between two beacons, was evicted by the flood, and verify saw 500 instances on the new key and
 * none on the retired one — exit 0.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { leaks } from '../helpers.js';
import { type App, startApp } from './support/app.js';
import { type CollectorProcess, instanceIds, startCollector, TOKEN } from './support/collector-process.js';
import { flood } from './support/flood.js';
import { FP, NEEDLES, VALUES } from './support/keys.js';
import { until } from './support/poll.js';
import { missingCodes, offenderIds, said, verify } from './support/verify.js';

const SECRET = 'OPENAI_API_KEY';
const CAP = 500;
const FLOOD = 2_000;

let collector: CollectorProcess | undefined;
let offender: App | undefined;
afterEach(async () => {
  await offender?.stop();
  await collector?.kill();
  const outputs = `${collector?.cli.stdout()}${collector?.cli.stderr()}${offender?.output()}`;
  expect(leaks(outputs, NEEDLES)).toEqual([]);
  collector = undefined;
  offender = undefined;
});

describe('issue 12 (2): a flood of fresh instance ids', () => {
  it('refuses new instances beyond the cap (429), keeps the offender: in use (1), never clear', async () => {
    collector = await startCollector({ maxInstances: CAP });
    const { url } = collector;
    offender = await startApp({ url, value: VALUES.old, id: 'offender-1' });
    await until('the offender reported', async () =>
      (await instanceIds(url)).includes('offender-1') ? true : undefined,
    );
    offender.pause(); // between two beacons: a collector that evicts it will not hear from it again

    // Small valid reports of the same secret on the new key, from 2 000 fresh instance ids, at most 20 s.
    const result = await flood({
      url,
      token: TOKEN,
      reports: FLOOD,
      withinMs: 20_000,
      shape: 'small',
      fingerprint: FP.new,
    });
    expect(result.sent).toBe(FLOOD);
    expect(result.errors).toBe(0);
    const accepted = result.byStatus['204'] ?? 0;
    const refused = result.byStatus['429'] ?? 0;
    expect(accepted + refused, JSON.stringify(result.byStatus)).toBe(FLOOD);
    expect(accepted).toBeLessThanOrEqual(CAP - 1); // the offender holds one of the places
    expect(refused).toBeGreaterThanOrEqual(FLOOD - CAP + 1);
    // The refusal says why, and when to come back.
    expect(result.refusal?.retryAfter).toMatch(/^\d+$/);
    const body = JSON.parse(result.refusal?.body ?? '{}') as { error?: string };
    expect(body.error).toMatch(/instance/i);

    expect(collector.alive()).toBe(true);
    expect(await instanceIds(url)).toContain('offender-1');

    const inUse = await verify(url, SECRET, FP.old, '30s');
    expect(inUse.code, said(inUse)).toBe(1);
    expect(inUse.json?.reason).toBe('in-use');
    expect(offenderIds(inUse)).toEqual(['offender-1']);

    // A key no one held: the refused reports are evidence the collector did not see.
    const dropped = await verify(url, SECRET, FP.never, '10s');
    expect(dropped.code, said(dropped)).toBe(4);
    expect(missingCodes(dropped)).toContain('dropped');
    for (const run of [inUse, dropped]) expect(leaks(run.stdout + run.stderr, NEEDLES)).toEqual([]);
  }, 60_000);
});
