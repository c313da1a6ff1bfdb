/**
 * Issue 12: the collector must survive any flood of valid reports. Before issue 12, ~2 300 reports of ~0.9 MiB
 * (1 000 secrets each) from fresh instance ids drove a collector to 3.7 GB and SIGABRT, which also erased all
 * its evidence. Here a real collector process at its default settings gets up to 3 000 such reports (within 30 s)
 * from two worker threads, while this test asks `/healthz` and `/v1/usage` every 250 ms and reads its VmRSS: it
 * must stay alive, keep answering both, and stay under 512 MiB; the reports it has no room for are refused (429).
 *
 * Heavy (about 2.7 GB through loopback and JSON.parse): it runs on its own, `npm run test:evidence`
 * (vitest.evidence.config.ts), not in the unit run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { Resolver } from '../../src/index.js';
import { leaks } from '../helpers.js';
import { startInProcessApp } from './support/app.js';
import { type CollectorProcess, getJson, startCollector, TOKEN } from './support/collector-process.js';
import { flood } from './support/flood.js';
import { NEEDLES, VALUES } from './support/keys.js';

const MiB = 1_048_576;
const RSS_LIMIT = 512 * MiB;

let collector: CollectorProcess | undefined;
let app: Resolver | undefined;
afterEach(async () => {
  await app?.close();
  await collector?.kill();
  if (collector) expect(leaks(collector.cli.stdout() + collector.cli.stderr(), NEEDLES)).toEqual([]);
  collector = undefined;
  app = undefined;
});

/** While `running()`: asks /healthz and /v1/usage every 250 ms (each within 10 s), and samples RSS every 100 ms. */
async function watch(target: CollectorProcess, running: () => boolean) {
  const seen = { probes: 0, failures: [] as string[], maxRss: target.rssBytes() };
  const sample = setInterval(() => {
    seen.maxRss = Math.max(seen.maxRss, target.rssBytes());
  }, 100);
  try {
    while (running()) {
      for (const path of ['/healthz', '/v1/usage?secret=OPENAI_API_KEY&window=60s']) {
        try {
          const { status } = await getJson(target.url, path, 10_000);
          if (status !== 200) seen.failures.push(`${path}: ${status}`);
        } catch (error) {
          seen.failures.push(`${path}: ${(error as Error).message}`);
        }
      }
      seen.probes++;
      await sleep(250);
    }
  } finally {
    clearInterval(sample);
  }
  seen.maxRss = Math.max(seen.maxRss, target.rssBytes());
  return seen;
}

describe('issue 12: a flood of maximum-size reports from fresh instance ids', () => {
  it('the collector stays alive, keeps answering, and its RSS stays under 512 MiB', async () => {
    collector = await startCollector(); // the default settings: the default memory budget
    app = await startInProcessApp({ url: collector.url, value: VALUES.new, id: 'app-during-flood' });
    let flooding = true;
    const watching = watch(collector, () => flooding);
    const result = await flood({
      url: collector.url,
      token: TOKEN,
      reports: 3_000,
      withinMs: 30_000,
      shape: 'max',
      threads: 2,
      concurrency: 2,
    }).finally(() => {
      flooding = false;
    });
    const seen = await watching;
    const summary =
      `${result.sent} reports of ${(result.bodyBytes / MiB).toFixed(2)} MiB: ${JSON.stringify(result.byStatus)}, ` +
      `${result.errors} unanswered; ${seen.probes} probes; max RSS ${(seen.maxRss / MiB).toFixed(0)} MiB`;
    console.info(`flood: ${summary}`);

    expect(collector.alive(), summary).toBe(true);
    expect(result.bodyBytes).toBeGreaterThan(0.85 * MiB);
    expect(result.sent, summary).toBeGreaterThan(100);
    expect(
      Object.keys(result.byStatus).every((s) => s === '204' || s === '429'),
      summary,
    ).toBe(true);
    expect(result.byStatus['429'] ?? 0, summary).toBeGreaterThan(0);
    expect(seen.probes, summary).toBeGreaterThan(0);
    expect(seen.failures, summary).toEqual([]);
    expect(seen.maxRss, summary).toBeLessThan(RSS_LIMIT);
    const health = await getJson(collector.url, '/healthz');
    expect(health.status).toBe(200);
  }, 120_000);
});
