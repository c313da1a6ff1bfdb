import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { BEACON_SCHEMA, type BeaconReport, httpSink, logSink, usageBeacon } from '../../src/beacon/index.js';
import {
  ConfigurationError,
  fingerprint,
  memorySource,
  type Resolver,
  type ResolverErrorEvent,
} from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { collectUnhandledRejections, trackResolvers } from '../helpers.js';

const resolverFor = trackResolvers();

const unhandled = collectUnhandledRejections();
afterAll(() => {
  expect(unhandled).toEqual([]);
});

/** A report, told apart by `n` (its sentAt). */
function report(n: number): BeaconReport {
  return {
    schema: BEACON_SCHEMA,
    sentAt: n,
    service: 'svc',
    instance: { id: 'i-1', host: 'h', pid: 1, startedAt: 0, runtime: 'node v20', keyflip: '0.0.0' },
    secrets: [
      {
        name: 'K',
        candidate: 'K_v1',
        source: 'memory',
        fingerprint: 'kf_000000000000',
        loadedAt: 0,
        uses: n,
        status: 'ok',
      },
    ],
  };
}

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

/** A real HTTP server on 127.0.0.1, port 0, whose answer per request the test decides. */
async function server(answer: (req: Received, res: ServerResponse, index: number) => void = (_, res) => res.end('{}')) {
  const received: Received[] = [];
  const aborted: number[] = [];
  const waiters: (() => void)[] = [];
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: performance.now(),
      };
      const index = received.push(r) - 1;
      res.on('close', () => {
        if (!res.writableFinished) aborted.push(index);
      });
      for (const wake of waiters.splice(0)) wake();
      answer(r, res, index);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const handle = {
    url: `http://127.0.0.1:${port}`,
    received,
    aborted,
    /** Resolves once `n` requests have arrived. */
    async requests(n: number): Promise<void> {
      while (received.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
    },
    close(): Promise<void> {
      http.closeAllConnections();
      return new Promise((resolve) => http.close(() => resolve()));
    },
  };
  servers.push(handle);
  return handle;
}
const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The resolver's own `error` events (the beacon's), in order. */
function beaconErrors(resolver: Resolver): ResolverErrorEvent[] {
  const errors: ResolverErrorEvent[] = [];
  resolver.on('error', (event) => {
    if (event.secret === undefined) errors.push(event);
  });
  return errors;
}

const json = (res: ServerResponse, status: number, headers: Record<string, string> = {}): void => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ status }));
};

describe('logSink', () => {
  it('writes one JSON line per report that parses back to the report', async () => {
    const lines: string[] = [];
    const clock = manualClock();
    const resolver = resolverFor({
      sources: [memorySource({ K_v1: 'value-log-1' })],
      clock,
      jitter: 0,
      beacon: usageBeacon({
        service: 'log-svc',
        sink: logSink({ write: (line) => lines.push(line) }),
        intervalMs: 1_000,
      }),
    });
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    await clock.flush(); // the first resolution's report, at once
    void key.value;
    await clock.advance(2_000);
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain('\n');
      const parsed = JSON.parse(line) as BeaconReport;
      expect(parsed.schema).toBe('keyflip.beacon/v1');
      expect(parsed.service).toBe('log-svc');
      expect(parsed.secrets[0]?.fingerprint).toBe(fingerprint('value-log-1'));
    }
    expect(lines.map((line) => (JSON.parse(line) as BeaconReport).secrets[0]?.uses)).toEqual([0, 1, 0]);
  });

  it('writes to stdout by default, one line each', () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const sink = logSink();
      void sink.send(report(1));
      void sink.send(report(2));
      expect(write).toHaveBeenCalledTimes(2);
      const out = write.mock.calls.map((c) => String(c[0]));
      expect(out.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1)).toBe(true);
      expect(out.map((line) => (JSON.parse(line) as BeaconReport).sentAt)).toEqual([1, 2]);
    } finally {
      write.mockRestore();
    }
  });

  it('a write that throws is counted by the beacon, never thrown into the app', async () => {
    const clock = manualClock();
    const resolver = resolverFor({
      sources: [memorySource({ K: 'value-k' })],
      clock,
      jitter: 0,
      beacon: usageBeacon({
        service: 's',
        sink: logSink({
          write: () => {
            throw new Error('disk full');
          },
        }),
        intervalMs: 1_000,
      }),
    });
    const errors = beaconErrors(resolver);
    const key = resolver.secret('K');
    await resolver.ready();
    await clock.advance(3_000);
    expect(key.value).toBe('value-k');
    expect(resolver.beaconStats()).toMatchObject({ reports: 4, failed: 4, sent: 0 });
    // Told once, naming the sink, not quoting what it threw (attached as the cause).
    expect(errors.map((e) => [e.error.code, e.error.message])).toEqual([
      ['BEACON_SINK_FAILED', 'usage beacon: logSink: its send threw an Error; reports to this sink are not delivered'],
    ]);
    expect(errors[0]?.error.cause).toMatchObject({ message: 'disk full' });
  });

  it('checks its options', () => {
    expect(() => logSink({ write: 'stdout' as never })).toThrow(ConfigurationError);
  });
});

describe('httpSink against a real HTTP server', () => {
  it('POSTs {url}/v1/beacons with the Bearer token and the report as JSON, from a real resolver', async () => {
    const collector = await server();
    const resolver = resolverFor({
      sources: [memorySource({ K_v1: 'value-http-1' })],
      beacon: usageBeacon({
        service: 'http-svc',
        environment: 'staging',
        sink: httpSink({ url: `${collector.url}/`, token: 'tok-123' }),
      }),
    });
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    await resolver.ready();
    await collector.requests(1); // the first resolution's report, at once
    for (let i = 0; i < 5; i++) void key.value;
    await resolver.close(); // the final report, flushed by the sink's close()
    expect(collector.received).toHaveLength(2);
    expect((JSON.parse(collector.received[0]?.body ?? '') as BeaconReport).secrets[0]?.uses).toBe(0);
    const request = collector.received[1];
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe('/v1/beacons');
    expect(request?.headers.authorization).toBe('Bearer tok-123');
    expect(request?.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request?.body ?? '') as BeaconReport;
    expect(Object.keys(body).sort()).toEqual([
      'environment',
      'instance',
      'intervalMs',
      'schema',
      'secrets',
      'sentAt',
      'service',
    ]);
    expect(body.intervalMs).toBe(60_000);
    expect(body).toMatchObject({
      schema: 'keyflip.beacon/v1',
      service: 'http-svc',
      environment: 'staging',
      instance: { pid: process.pid },
    });
    expect(body.secrets).toEqual([
      expect.objectContaining({
        name: 'K',
        candidate: 'K_v1',
        source: 'memory',
        version: '1',
        fingerprint: fingerprint('value-http-1'),
        uses: 5,
        status: 'ok',
      }),
    ]);
    expect(Object.keys(body.secrets[0] as object).sort()).toEqual([
      'candidate',
      'fingerprint',
      'lastUsedAt',
      'loadedAt',
      'name',
      'source',
      'status',
      'uses',
      'version',
    ]);
  });

  it('keeps a base path and sends no Authorization without a token', async () => {
    const collector = await server();
    const sink = httpSink({ url: `${collector.url}/collector//` });
    sink.send(report(1));
    await sink.close();
    expect(collector.received[0]?.url).toBe('/collector/v1/beacons');
    expect(collector.received[0]?.headers.authorization).toBeUndefined();
    expect(sink.stats()).toEqual({ sent: 1, failed: 0, dropped: 0, retries: 0, queued: 0 });
  });

  it('retries after 500s with exponential backoff, then delivers the same body', async () => {
    const collector = await server((_, res, index) => json(res, index < 2 ? 500 : 202));
    const sink = httpSink({ url: collector.url, backoffMs: 20 });
    // The waits the sink schedules (its request budget, 5 s, aside), with the ±20 % jitter at its middle.
    const timers = vi.spyOn(globalThis, 'setTimeout');
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.5);
    let scheduled: unknown[] = [];
    try {
      await sink.send(report(7));
      await collector.requests(3);
      await sink.close();
      scheduled = timers.mock.calls.map((call) => call[1]);
    } finally {
      random.mockRestore();
      timers.mockRestore();
    }
    expect(sink.stats()).toEqual({ sent: 1, failed: 0, dropped: 0, retries: 2, queued: 0 });
    const [first, second, third] = collector.received as [Received, Received, Received];
    expect(new Set([first.body, second.body, third.body]).size).toBe(1);
    expect((JSON.parse(third.body) as BeaconReport).sentAt).toBe(7);
    // waits of 20 ms then 40 ms (each ±20 %, here at the middle), and never less in real time
    const waits = scheduled.filter((ms) => typeof ms === 'number' && ms < 1_000); // not the 5 s and 3 s budgets
    expect(waits).toEqual([20, 40]);
    expect(second.at - first.at).toBeGreaterThanOrEqual(15);
    expect(third.at - second.at).toBeGreaterThanOrEqual(31);
  });

  it('gives up after maxAttempts, and at once on a 4xx that a retry cannot fix', async () => {
    const down = await server((_, res) => json(res, 503));
    const sink = httpSink({ url: down.url, backoffMs: 2, maxAttempts: 3 });
    sink.send(report(1));
    await sink.close();
    expect(down.received).toHaveLength(3);
    expect(sink.stats()).toMatchObject({ sent: 0, failed: 1, retries: 2 });

    const unauthorized = await server((_, res) => json(res, 401));
    const rejected = httpSink({ url: unauthorized.url, token: 'wrong', backoffMs: 2 });
    rejected.send(report(1));
    rejected.send(report(2));
    await rejected.close();
    expect(unauthorized.received).toHaveLength(2);
    expect(rejected.stats()).toMatchObject({ sent: 0, failed: 2, retries: 0 });
  });

  it('retries a 429, waiting at least its Retry-After', async () => {
    const collector = await server((_, res, index) =>
      index === 0 ? json(res, 429, { 'retry-after': '0.1' }) : json(res, 200),
    );
    const sink = httpSink({ url: collector.url, backoffMs: 1 });
    sink.send(report(1));
    await collector.requests(2);
    await sink.close();
    const [first, second] = collector.received as [Received, Received];
    expect(second.at - first.at).toBeGreaterThanOrEqual(90);
    expect(sink.stats()).toMatchObject({ sent: 1, retries: 1 });
  });

  it('holds at most maxQueue reports while the collector is slow: the oldest are dropped and counted', async () => {
    let release: (() => void) | undefined;
    const collector = await server((_, res, index) => {
      if (index === 0) release = () => json(res, 200);
      else json(res, 200);
    });
    const sink = httpSink({ url: collector.url, maxQueue: 3 });
    sink.send(report(1)); // in flight, held by the server
    await collector.requests(1);
    for (let n = 2; n <= 6; n++) sink.send(report(n));
    expect(sink.stats()).toEqual({ sent: 0, failed: 0, dropped: 2, retries: 0, queued: 3 });
    release?.();
    await sink.close();
    expect(collector.received.map((r) => (JSON.parse(r.body) as BeaconReport).sentAt)).toEqual([1, 4, 5, 6]);
    expect(sink.stats()).toEqual({ sent: 4, failed: 0, dropped: 2, retries: 0, queued: 0 });
  });

  it('aborts a request that outlives timeoutMs and retries it', async () => {
    const collector = await server(() => {}); // never answers
    const sink = httpSink({ url: collector.url, timeoutMs: 40, maxAttempts: 2, backoffMs: 1 });
    const started = performance.now();
    sink.send(report(1));
    await sink.close();
    const elapsed = performance.now() - started;
    expect(collector.received).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(75);
    expect(elapsed).toBeLessThan(2_000);
    expect(sink.stats()).toMatchObject({ sent: 0, failed: 1, retries: 1 });
    await vi.waitFor(() => expect(collector.aborted).toEqual([0, 1]));
  });

  it('close() is bounded: it aborts what is in flight, drops what is queued, and later sends are dropped', async () => {
    const collector = await server(() => {}); // never answers
    const sink = httpSink({ url: collector.url, timeoutMs: 60_000, closeTimeoutMs: 50 });
    sink.send(report(1));
    sink.send(report(2));
    sink.send(report(3));
    await collector.requests(1);
    const started = performance.now();
    await sink.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(sink.stats()).toEqual({ sent: 0, failed: 1, dropped: 2, retries: 0, queued: 0 });
    sink.send(report(4));
    expect(sink.stats().dropped).toBe(3);
    await sink.close(); // twice is fine
  });

  it('a refused connection is retried, then counted; nothing rejects', async () => {
    const gone = await server();
    const url = gone.url;
    await gone.close();
    const sink = httpSink({ url, backoffMs: 1, maxAttempts: 3 });
    sink.send(report(1));
    await sink.close();
    expect(sink.stats()).toMatchObject({ sent: 0, failed: 1, retries: 2 });
  });

  it('uses an injected fetch', async () => {
    const calls: [string, RequestInit | undefined][] = [];
    const sink = httpSink({
      url: 'https://collector.example/base',
      fetch: async (input, init) => {
        calls.push([String(input), init]);
        return new Response('{}', { status: 200 });
      },
    });
    sink.send(report(1));
    await sink.close();
    expect(calls.map((c) => c[0])).toEqual(['https://collector.example/base/v1/beacons']);
    expect(calls[0]?.[1]?.method).toBe('POST');
  });

  it('checks its options without quoting the token', () => {
    expect(() => httpSink({} as never)).toThrow(/`url` is required/);
    expect(() => httpSink({ url: 'not a url' })).toThrow(/`url` is not a URL/);
    expect(() => httpSink({ url: 'ftp://x' })).toThrow(/http: or https:/);
    expect(() => httpSink({ url: 'http://user:pw@x' })).toThrow(/credentials/);
    expect(() => httpSink({ url: 'http://x', maxQueue: 0 })).toThrow(/`httpSink: maxQueue`/);
    expect(() => httpSink({ url: 'http://x', timeoutMs: -1 })).toThrow(/`httpSink: timeoutMs`/);
    let message = '';
    try {
      httpSink({ url: 'http://x', token: 'secret-token\nX-Evil: 1' });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      message = (error as Error).message;
    }
    expect(message).toMatch(/`token`/);
    expect(message).not.toContain('secret-token');
  });
});
