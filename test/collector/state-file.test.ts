/**
 * `openCollector`: the state file keeps the evidence across a restart (who held what, since when the collector has
 * observed), records the downtime as dropped evidence, is saved atomically (periodically and on close), and a file
 * that is not one, or is damaged, is an error naming the path — never a crash, never a silent empty start.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Collector, createCollector, openCollector } from '../../src/collector/index.js';
import { ConfigurationError, KeyflipError } from '../../src/index.js';
import { type ManualClock, manualClock } from '../../src/testing/index.js';
import { FP, report } from './reports.js';

const SEC = 1_000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;

const dirs: string[] = [];
const open: Collector[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close().catch(() => undefined)));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function statePath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keyflip-state-'));
  dirs.push(dir);
  return join(dir, 'collector.state');
}

async function start(
  path: string,
  clock: ManualClock,
  options: Partial<Parameters<typeof openCollector>[0]> = {},
): Promise<Collector> {
  const collector = await openCollector({ statePath: path, clock, ...options });
  open.push(collector);
  return collector;
}

/** The fleet of the restart tests: a legacy worker on the old key, an api that rotated, another secret. */
function feed(collector: Collector): void {
  collector.ingest(report({ id: 'worker', intervalMs: MIN }, [{ fingerprint: FP.old, version: '1', uses: 3 }]));
  collector.ingest(report({ id: 'api', intervalMs: 30 * SEC, labels: { region: 'eu' } }, [{ fingerprint: FP.old }]));
}

describe('openCollector: the evidence survives a restart', () => {
  it('keeps who held what, the coverage start, and records the downtime as collector-down', async () => {
    const path = await statePath();
    const clock = manualClock();
    const t0 = clock.now();
    const first = await start(path, clock);
    expect(first.observedSince).toBe(t0);
    feed(first);
    await clock.advance(MIN);
    first.ingest(report({ id: 'api', intervalMs: 30 * SEC, labels: { region: 'eu' } }, [{ fingerprint: FP.new }]));
    first.ingest(report({ id: 'worker', intervalMs: MIN }, [{ fingerprint: FP.old, version: '1', uses: 4 }]));
    first.ingest(report({ id: 'x', environment: 'prod' }, [{ name: 'OTHER', fingerprint: FP.other, uses: 9 }]));
    const before = first.usage('OPENAI_API_KEY', { windowMs: HOUR });
    const instancesBefore = first.instances();
    await clock.advance(10 * SEC);
    const closedAt = clock.now();
    await first.close();

    await clock.advance(5 * MIN); // down for five minutes
    const second = await start(path, clock);
    const reopenedAt = clock.now();
    expect(second.startedAt).toBe(reopenedAt);
    // Coverage is carried across the restart; the downtime is dropped evidence for every secret.
    expect(second.observedSince).toBe(t0);
    const after = second.usage('OPENAI_API_KEY', { windowMs: HOUR });
    const down = { reason: 'collector-down', from: closedAt, to: reopenedAt, count: 1 };
    expect(after.coverage).toEqual({ observedSince: t0, dropped: [down], maxIntervalMs: MIN, gaps: [] });
    expect(second.usage('OTHER', { windowMs: HOUR }).coverage?.dropped).toEqual([down]);
    // The positive evidence is all there, as it was.
    expect({ ...after, at: 0, coverage: undefined }).toEqual({ ...before, at: 0, coverage: undefined });
    expect(after.fingerprints.find((f) => f.fingerprint === FP.old)?.instances).toMatchObject([
      { id: 'worker', current: true, uses: 7, firstSeen: t0, intervalMs: MIN },
      { id: 'api', current: false, lastSeen: t0, firstSeen: t0, intervalMs: 30 * SEC },
    ]);
    expect(second.instances()).toEqual(instancesBefore.map((i) => ({ ...i, stale: true })));
    expect(second.stats).toMatchObject({
      instances: 3,
      entries: 4,
      droppedBy: { 'collector-down': 1 },
      estimatedBytes: first.stats.estimatedBytes,
    });
    // Once the downtime has left the window plus the interval, nothing dropped is in it any more.
    await clock.advance(10 * MIN);
    expect(second.usage('OPENAI_API_KEY', { windowMs: 5 * MIN }).coverage?.dropped).toEqual([]);
    expect(second.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage?.dropped).toEqual([down]);
  });

  it('keeps dropped evidence across restarts too', async () => {
    const path = await statePath();
    const clock = manualClock();
    const first = await start(path, clock, { maxInstances: 1 });
    first.ingest(report({ id: 'a' }, [{ fingerprint: FP.old }]));
    const refusedAt = clock.now();
    expect(first.ingest(report({ id: 'b' }, [{ fingerprint: FP.old }]))).toMatchObject({ accepted: false });
    first.ingest(report({ id: 'a' }, [{ name: 'X', fingerprint: FP.new }]));
    await first.close();
    const second = await start(path, clock, { maxInstances: 1 });
    expect(second.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage?.dropped).toEqual([
      { reason: 'instance-cap', from: refusedAt, to: refusedAt, count: 1 },
      { reason: 'collector-down', from: refusedAt, to: refusedAt, count: 1 },
    ]);
  });

  it('a missing file starts empty (observed from now) and is created at once, mode 0600', async () => {
    const path = await statePath();
    const clock = manualClock();
    const collector = await start(path, clock);
    expect(collector.observedSince).toBe(clock.now());
    expect(collector.usage('K', { windowMs: HOUR }).coverage?.dropped).toEqual([]);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(collector.stats.state).toEqual({ path, saves: 1, failures: 0, lastSavedAt: clock.now() });
  });

  it('saves every saveEveryMs (a timer of the injected clock): a crash loses only what came after', async () => {
    const path = await statePath();
    const clock = manualClock();
    const t0 = clock.now();
    const collector = await start(path, clock, { saveEveryMs: 10 * SEC });
    collector.ingest(report({ id: 'before' }, [{ fingerprint: FP.old }]));
    await clock.advance(10 * SEC);
    await vi.waitFor(() => expect(collector.stats.state?.saves).toBe(2));
    const savedAt = t0 + 10 * SEC;
    expect(collector.stats.state?.lastSavedAt).toBe(savedAt);
    collector.ingest(report({ id: 'after' }, [{ fingerprint: FP.new }]));
    // A crash now: no close(), the process is gone. The next start has what the last save held.
    await clock.advance(2 * SEC);
    const restarted = await start(path, clock, { saveEveryMs: 10 * SEC });
    const usage = restarted.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect(usage.fingerprints.flatMap((f) => f.instances.map((i) => i.id))).toEqual(['before']);
    expect(usage.coverage?.dropped).toEqual([
      { reason: 'collector-down', from: savedAt, to: savedAt + 2 * SEC, count: 1 },
    ]);
    expect(usage.coverage?.observedSince).toBe(t0);
  });

  it('the file holds fingerprints and metadata, never a value', async () => {
    const path = await statePath();
    const clock = manualClock();
    const collector = await start(path, clock);
    feed(collector);
    await collector.close();
    const text = await readFile(path, 'utf8');
    expect(text).toContain(FP.old);
    expect(text).not.toMatch(/sk-collector-test/);
    expect(text.split('\n')[0]).toMatch(/^\{"format":"keyflip\.collector-state","version":1,/);
  });

  it('loads within the bounds of this start: what no longer fits is shed and recorded', async () => {
    const path = await statePath();
    const clock = manualClock();
    const first = await start(path, clock);
    for (const id of ['a', 'b', 'c']) {
      first.ingest(report({ id }, [{ fingerprint: FP.old }]));
      await clock.advance(SEC);
    }
    await first.close();
    await clock.advance(SEC);
    const second = await start(path, clock, { maxInstances: 2 });
    expect(second.instances().map((i) => i.id)).toEqual(['c', 'b']);
    expect(second.usage('OPENAI_API_KEY', { windowMs: HOUR }).coverage?.dropped).toMatchObject([
      { reason: 'collector-down' },
      { reason: 'instance-cap', count: 1 },
    ]);
  });

  it('close(): a last save; idempotent; a no-op for an in-memory collector', async () => {
    const path = await statePath();
    const clock = manualClock();
    const collector = await start(path, clock);
    collector.ingest(report({ id: 'late' }, [{ fingerprint: FP.old }]));
    await Promise.all([collector.close(), collector.close()]);
    expect(collector.stats.state?.saves).toBe(2);
    expect(clock.pending).toBe(0); // the periodic timer is gone
    expect(await readFile(path, 'utf8')).toContain('"late"');
    await expect(createCollector().close()).resolves.toBeUndefined();
  });
});

describe('openCollector: atomic saves, and files it cannot use', () => {
  it('a crash mid-save leaves the old file whole: the temp file left behind is ignored and removed', async () => {
    const path = await statePath();
    const clock = manualClock();
    const first = await start(path, clock);
    feed(first);
    await first.close();
    const good = await readFile(path, 'utf8');
    // What a save killed mid-way leaves: a partial temp file next to the state file.
    const temp = `${path}.4242-0123abcd.tmp`;
    await writeFile(temp, good.slice(0, good.length / 2));
    const other = join(path, '..', 'unrelated.tmp');
    await writeFile(other, 'not ours');
    const second = await start(path, clock);
    expect(second.usage('OPENAI_API_KEY', { windowMs: HOUR }).instancesSeen).toBe(2);
    expect((await readdir(join(path, '..'))).sort()).toEqual(['collector.state', 'unrelated.tmp']);
  });

  const refusals: [string, (good: string) => string | Buffer, RegExp][] = [
    ['a file of something else', () => 'PORT=7391\nTOKEN=x\n', /is not a keyflip collector state file/],
    ['JSON of something else', () => '{"format":"other","version":1}\n', /is not a keyflip collector state file/],
    ['an empty file', () => '', /is not a keyflip collector state file/],
    ['a newer format', (g) => g.replace('"version":1', '"version":2'), /has format version 2, this keyflip reads/],
    ['a file cut short', (g) => g.slice(0, g.lastIndexOf('{"end"')), /damaged \(the file ends before its end/],
    ['a file cut mid-line', (g) => g.slice(0, g.length - 5), /damaged \(line \d+ is not JSON\)/],
    ['a bad fingerprint', (g) => g.replace(FP.old, 'sk-live-00000'), /damaged \(.*fingerprint is not a fingerprint/],
    ['a wrong count', (g) => g.replace('{"end":{"instances":2}}', '{"end":{"instances":3}}'), /does not count/],
    ['a line after the end', (g) => `${g}{"instance":{}}\n`, /damaged \(line \d+ follows the end\)/],
    [
      'invalid UTF-8',
      (g) => Buffer.concat([Buffer.from(g.slice(0, 80)), Buffer.from([0xc3, 0x28]), Buffer.from(g.slice(80))]),
      /damaged \(a line is not valid UTF-8\)/,
    ],
  ];
  for (const [what, damage, message] of refusals) {
    it(`${what}: a ConfigurationError naming the path; the file is left as it is`, async () => {
      const path = await statePath();
      const clock = manualClock();
      const first = await start(path, clock);
      feed(first);
      await first.close();
      const damaged = damage(await readFile(path, 'utf8'));
      await writeFile(path, damaged);
      const error = await openCollector({ statePath: path, clock }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toMatch(message);
      expect(await readFile(path)).toEqual(Buffer.from(damaged));
    });
  }

  it('a path it cannot write, and options that make no sense: ConfigurationError', async () => {
    const path = await statePath();
    const clock = manualClock();
    const missingDir = join(path, '..', 'no-such-dir', 'collector.state');
    await expect(openCollector({ statePath: missingDir, clock })).rejects.toThrow(
      /cannot write the state file .*no-such-dir.* \(ENOENT\)/,
    );
    await expect(openCollector({ statePath: join(path, '..'), clock })).rejects.toThrow(ConfigurationError);
    await expect(openCollector({ statePath: '', clock })).rejects.toThrow(/statePath/);
    await expect(openCollector({ statePath: path, clock, saveEveryMs: 10 })).rejects.toThrow(/saveEveryMs/);
    await expect(openCollector({ statePath: path, clock, maxBytes: 5 })).rejects.toThrow(/maxBytes/);
  });

  it('a save that fails is counted; close() rejects with STATE_FILE naming the path', async () => {
    const path = await statePath();
    const clock = manualClock();
    const collector = await start(path, clock, { saveEveryMs: 10 * SEC });
    // The state file's directory goes away: every save fails from now on.
    await rm(join(path, '..'), { recursive: true, force: true });
    await clock.advance(10 * SEC);
    await vi.waitFor(() => expect(collector.stats.state?.failures).toBe(1));
    expect(collector.stats.state?.lastError).toMatch(/^ENOENT writing .*collector\.state$/);
    // It keeps answering, and keeps trying.
    expect(collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old }]))).toEqual({ accepted: true });
    expect(clock.pending).toBe(1);
    const error = await collector.close().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyflipError);
    expect(error).toMatchObject({ code: 'STATE_FILE' });
    expect((error as Error).message).toContain(path);
  });
});
