import { afterEach, describe, expect, it } from 'vitest';
import {
  collectorUsageSource,
  createCollector,
  startCollectorServer,
  UsageSourceError,
  verifyRetired,
  type CollectorServer,
  type SecretUsage,
} from '../../src/collector/index.js';
import { ConfigurationError, KeyflipError } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { FP, report } from './reports.js';

const HOUR = 3_600_000;

describe('verifyRetired', () => {
  it('ok only when the secret was reported within the window and the retired fingerprint was not', async () => {
    const clock = manualClock();
    const collector = createCollector({ clock });
    const verify = (retired: string, windowMs = HOUR) =>
      verifyRetired({ source: collector, secret: 'OPENAI_API_KEY', retired, windowMs });

    // No beacons: not ok.
    expect(await verify(FP.old)).toMatchObject({ ok: false, reason: 'no-beacons', instancesSeen: 0, offenders: [] });
    expect((await verify(FP.old)).message).toBe(
      'no instance reported OPENAI_API_KEY in the window (the last 1h): no beacons is not proof of zero traffic',
    );

    collector.ingest(
      report({ id: 'a', service: 'api', host: 'web-1', pid: 7 }, [{ fingerprint: FP.old, version: '1', uses: 3 }]),
    );
    collector.ingest(report({ id: 'b' }, [{ fingerprint: FP.new, version: '2', uses: 5 }]));
    const inUse = await verify(FP.old);
    expect(inUse).toMatchObject({
      ok: false,
      reason: 'in-use',
      matchedBy: 'fingerprint',
      instancesSeen: 2,
      offenders: [
        {
          id: 'a',
          service: 'api',
          host: 'web-1',
          pid: 7,
          uses: 3,
          fingerprint: FP.old,
          version: '1',
          lastSeen: clock.now(),
        },
      ],
    });
    expect(inUse.message).toBe(`1 instance reported OPENAI_API_KEY ${FP.old} in the last 1h`);

    // a moves to the new key; an hour and a bit later the old one is out of the window.
    await clock.advance(10 * 60_000);
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new, version: '2', uses: 1 }]));
    expect((await verify(FP.old)).reason).toBe('in-use');
    await clock.advance(HOUR - 10 * 60_000 + 1);
    collector.ingest(report({ id: 'b' }, [{ fingerprint: FP.new, version: '2' }]));
    const clear = await verify(FP.old);
    expect(clear).toMatchObject({ ok: true, reason: 'clear', instancesSeen: 2, offenders: [] });
    expect(clear.inUse).toEqual([{ fingerprint: FP.new, version: '2', instances: 2, uses: 1 }]);
    expect(clear.message).toBe(
      `no instance reported OPENAI_API_KEY ${FP.old} in the last 1h (2 instances reported the secret)`,
    );
    // A window reaching back further still sees it.
    expect((await verify(FP.old, 2 * HOUR)).reason).toBe('in-use');
  });

  it('a held fingerprint counts even with 0 uses', async () => {
    const collector = createCollector();
    collector.ingest(report({ id: 'idle' }, [{ fingerprint: FP.old, uses: 0 }]));
    collector.ingest(report({ id: 'busy' }, [{ fingerprint: FP.new, uses: 100 }]));
    const result = await verifyRetired({
      source: collector,
      secret: 'OPENAI_API_KEY',
      retired: FP.old,
      windowMs: HOUR,
    });
    expect(result).toMatchObject({ ok: false, reason: 'in-use', offenders: [{ id: 'idle', uses: 0 }] });
  });

  it('by version: matches the reported version; a key without a version makes it unknown, not ok', async () => {
    const collector = createCollector();
    collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.new, version: '2' }]));
    const byVersion = (retired: string) =>
      verifyRetired({ source: collector, secret: 'OPENAI_API_KEY', retired, windowMs: HOUR });
    expect(await byVersion('1')).toMatchObject({ ok: true, reason: 'clear', matchedBy: 'version' });
    expect(await byVersion('2')).toMatchObject({ ok: false, reason: 'in-use', offenders: [{ id: 'a', version: '2' }] });
    collector.ingest(report({ id: 'env-fallback' }, [{ fingerprint: FP.other }])); // e.g. env:OPENAI_API_KEY
    const unknown = await byVersion('1');
    expect(unknown).toMatchObject({
      ok: false,
      reason: 'version-unknown',
      offenders: [{ id: 'env-fallback', fingerprint: FP.other }],
    });
    expect(unknown.message).toMatch(/without a version .*verify by fingerprint/);
    // A definite match wins over unknown ones.
    expect((await byVersion('2')).reason).toBe('in-use');
  });

  it('refuses arguments that make no sense, never quoting them', async () => {
    const source = createCollector();
    await expect(verifyRetired({ source, secret: 'K', retired: 'kf_nothex', windowMs: HOUR })).rejects.toThrow(
      /starts with kf_ but is not a fingerprint/,
    );
    await expect(verifyRetired({ source, secret: 'K', retired: '', windowMs: HOUR })).rejects.toThrow(/retired/);
    await expect(verifyRetired({ source, secret: 'K', retired: FP.old, windowMs: 0 })).rejects.toThrow(/windowMs/);
    await expect(verifyRetired({ source, secret: '', retired: FP.old, windowMs: HOUR })).rejects.toThrow(/secret/);
    await expect(verifyRetired({ source, secret: 'K', retired: '', windowMs: HOUR })).rejects.toThrow(
      ConfigurationError,
    );
  });

  it('works with any UsageSource (async)', async () => {
    const answer: SecretUsage = {
      secret: 'K',
      windowMs: HOUR,
      at: 5,
      instancesSeen: 1,
      fingerprints: [
        {
          fingerprint: FP.new,
          instances: [{ id: 'x', service: 's', host: 'h', pid: 1, lastSeen: 4, uses: 0 }],
          uses: 0,
          lastSeen: 4,
        },
      ],
    };
    const result = await verifyRetired({
      source: { usage: async () => answer },
      secret: 'K',
      retired: FP.old,
      windowMs: HOUR,
    });
    expect(result).toMatchObject({ ok: true, at: 5 });
  });
});

describe('collectorUsageSource', () => {
  let server: CollectorServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("asks GET /v1/usage with the token; the answer is the collector's", async () => {
    server = await startCollectorServer({ token: 'tok' });
    server.collector.ingest(report({ id: 'a' }, [{ fingerprint: FP.old, uses: 2 }]));
    const source = collectorUsageSource({ url: `${server.url}/`, token: 'tok' });
    const usage = await source.usage('OPENAI_API_KEY', { windowMs: HOUR });
    const local = server.collector.usage('OPENAI_API_KEY', { windowMs: HOUR });
    expect({ ...usage, at: 0 }).toEqual({ ...local, at: 0 });
    expect(usage).toMatchObject({
      secret: 'OPENAI_API_KEY',
      windowMs: HOUR,
      instancesSeen: 1,
      fingerprints: [{ fingerprint: FP.old, uses: 2 }],
    });
  });

  it("says why it cannot answer: 401, another status with the collector's error, unreachable, bad answer", async () => {
    server = await startCollectorServer({ token: 'tok', collector: createCollector({ retentionMs: HOUR }) });
    const url = server.url;
    const code = async (p: Promise<unknown>): Promise<[string, string]> => {
      try {
        await p;
      } catch (error) {
        expect(error).toBeInstanceOf(UsageSourceError);
        expect(error).toBeInstanceOf(KeyflipError);
        return [(error as UsageSourceError).code, (error as Error).message];
      }
      throw new Error('answered');
    };
    expect(await code(collectorUsageSource({ url }).usage('K', { windowMs: HOUR }))).toEqual([
      'UNAUTHORIZED',
      `the collector at ${url} refused the request (401): set KEYFLIP_COLLECTOR_TOKEN to its token`,
    ]);
    const [status, message] = await code(
      collectorUsageSource({ url, token: 'tok' }).usage('K', { windowMs: 2 * HOUR }),
    );
    expect(status).toBe('HTTP_STATUS');
    expect(message).toMatch(/answered 400: window: longer than the collector's retention/);
    await server.close();
    expect((await code(collectorUsageSource({ url, token: 'tok' }).usage('K', { windowMs: HOUR })))[0]).toBe(
      'UNREACHABLE',
    );
    const fake = (body: string, status = 200) =>
      collectorUsageSource({ url, fetch: async () => new Response(body, { status }) });
    expect(await code(fake('<html>').usage('K', { windowMs: HOUR }))).toEqual([
      'BAD_RESPONSE',
      `the collector at ${url} gave an answer that is not a usage report (not JSON)`,
    ]);
    expect((await code(fake('{"secret":"K"}').usage('K', { windowMs: HOUR })))[1]).toMatch(
      /windowMs, at or instancesSeen is not a number/,
    );
    expect(await code(fake('oops', 502).usage('K', { windowMs: HOUR }))).toEqual([
      'HTTP_STATUS',
      `the collector at ${url} answered 502`,
    ]);
    const slow = collectorUsageSource({
      url,
      timeoutMs: 50,
      fetch: (_input, init) =>
        new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal?.reason))),
    });
    expect(await code(slow.usage('K', { windowMs: HOUR }))).toEqual([
      'UNREACHABLE',
      `the collector at ${url} is unreachable (no answer within 50 ms)`,
    ]);
  });

  it('refuses a URL it cannot use', () => {
    expect(() => collectorUsageSource({ url: 'not a url' })).toThrow(/not a valid URL/);
    expect(() => collectorUsageSource({ url: 'ftp://x' })).toThrow(/http/);
    expect(() => collectorUsageSource({ url: 'http://user:pass@x' })).toThrow(/credentials/);
    expect(() => collectorUsageSource({ url: 'ftp://x' })).toThrow(ConfigurationError);
    expect(() => collectorUsageSource({ url: 'http://x', timeoutMs: 0 })).toThrow(/timeoutMs/);
  });
});
