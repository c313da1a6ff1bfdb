/**
 * No process may be invisible: a collector that refuses or cannot take the reports of a resolver makes the
 * resolver emit one `error` event (a `BEACON_*` code) per change of state, never one per report, and
 * `beaconStats()` agrees with the sink's own counts. Real HTTP servers on 127.0.0.1, a manual clock for the
 * beacon's schedule; every wait is for a condition, never a sleep.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import {
  BEACON_SCHEMA,
  BeaconDeliveryError,
  type BeaconReport,
  type HttpSinkOptions,
  httpSink,
  usageBeacon,
} from '../../src/beacon/index.js';
import { ERROR_CODES, isKeyflipError, memorySource, type Resolver, type ResolverErrorEvent } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { collectUnhandledRejections, leaks, trackResolvers } from '../helpers.js';

const resolverFor = trackResolvers();
const unhandled = collectUnhandledRejections();
afterAll(() => {
  expect(unhandled).toEqual([]);
});

const TOKEN = 'tok-Delivery-7f3a9c-not-for-events';
const VALUE = 'sk-proj-DeliveryValue1aaaaaaaaaaT3BlbkFJbbbbbbbbbbbbbbbbbbb';

/** What the test collector answers: a status (with an `error` body for 4xx), or a refused connection. */
type Answer = number;

/** A collector stand-in on 127.0.0.1 whose answer the test switches; it counts what it received. */
async function collector(initial: Answer) {
  let answer = initial;
  const received: { authorization: string | undefined; body: string }[] = [];
  const http = createServer((req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ authorization: req.headers.authorization, body: Buffer.concat(chunks).toString('utf8') });
      const body =
        answer === 401
          ? // A careless collector that echoes the credential: the sink must mask it before quoting.
            { error: `unauthorized: ${req.headers.authorization ?? 'no token'} is not accepted` }
          : answer === 400
            ? { error: 'labels["region"]: expected at most 256 characters, got 306' }
            : { status: answer };
      res.writeHead(answer, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const handle = {
    url,
    received,
    answer(next: Answer) {
      answer = next;
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

/** A URL nothing listens on (a port that was just freed). */
async function deadUrl(): Promise<string> {
  const gone = await collector(200);
  await gone.close();
  servers.splice(servers.indexOf(gone), 1);
  return gone.url;
}

/** JSON of anything, errors included (name, message, stack, cause, own fields), so nothing hides from a search. */
function serialize(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v instanceof Error ? { ...v, name: v.name, message: v.message, stack: v.stack, cause: v.cause } : v,
  );
}

/** Waits (for a condition, not a time) until every send of the resolver's beacon has settled. */
async function settled(resolver: Resolver): Promise<void> {
  await vi.waitFor(() => expect(resolver.beaconStats()?.inFlight).toBe(0), { timeout: 10_000, interval: 2 });
}

/**
 * A resolver on a manual clock holding one secret, beaconing every second through an httpSink to `url` (with
 * the token, quick retries). Resolves once the report of the first resolution has been delivered or given up.
 */
async function app(url: string, sinkOptions: Partial<HttpSinkOptions> = {}) {
  const clock = manualClock();
  const sink = httpSink({ url, token: TOKEN, backoffMs: 1, maxAttempts: 2, closeTimeoutMs: 2_000, ...sinkOptions });
  const resolver = resolverFor({
    sources: [memorySource({ K_v1: VALUE })],
    clock,
    jitter: 0,
    beacon: usageBeacon({ service: 'delivery-svc', sink, intervalMs: 1_000 }),
  });
  const errors: ResolverErrorEvent[] = [];
  resolver.on('error', (event) => {
    if (event.secret === undefined) errors.push(event);
  });
  const key = resolver.secret('K', 'K_v2 ?? K_v1');
  await resolver.ready();
  await clock.flush(); // the first resolution's report is sent at once…
  await settled(resolver); // …and delivered or given up
  return {
    clock,
    sink,
    resolver,
    key,
    errors,
    /** Runs `n` periods, each report settled before the next. */
    async periods(n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        await clock.advance(1_000);
        await settled(resolver);
      }
    },
    /** The beacon's counts and the sink's agree (`sent`, `failed`, `dropped`). */
    agree(): void {
      const beacon = resolver.beaconStats();
      const own = sink.stats();
      expect({ sent: beacon?.sent, failed: beacon?.failed, dropped: beacon?.dropped }).toEqual({
        sent: own.sent,
        failed: own.failed,
        dropped: own.dropped,
      });
    },
  };
}

/** A report for the sink alone. */
function report(n: number): BeaconReport {
  return {
    schema: BEACON_SCHEMA,
    sentAt: n,
    service: 'svc',
    instance: { id: 'i-1', host: 'h', pid: 1, startedAt: 0, runtime: 'node v20', keyflip: '0.0.0' },
    intervalMs: 1_000,
    secrets: [],
  };
}

describe('httpSink: send() is the delivery', () => {
  it('resolves when the collector accepted the report, and rejects with a BEACON_* code when it gave up', async () => {
    const ok = await collector(202);
    const sink = httpSink({ url: ok.url, token: TOKEN });
    await expect(sink.send(report(1))).resolves.toBeUndefined();

    const cases: [number, string, RegExp][] = [
      [401, 'BEACON_UNAUTHORIZED', /answered 401: unauthorized: Bearer \[token\] is not accepted: the token is wrong/],
      [403, 'BEACON_UNAUTHORIZED', /answered 403/],
      [400, 'BEACON_REJECTED', /refused a report with 400: labels\["region"\]: expected at most 256 characters/],
      [413, 'BEACON_REJECTED', /refused a report with 413/],
      [429, 'BEACON_REFUSED', /answered 429 after 2 attempts: it refuses new instances for now/],
      [503, 'BEACON_UNREACHABLE', /answered 503 after 2 attempts$/],
    ];
    for (const [status, code, message] of cases) {
      const server = await collector(status);
      const failing = httpSink({
        url: `${server.url}/?tenant=query-credential`,
        token: TOKEN,
        backoffMs: 1,
        maxAttempts: 2,
      });
      const error = await failing.send(report(1)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, `${status}`).toBeInstanceOf(BeaconDeliveryError);
      const e = error as BeaconDeliveryError;
      expect([e.code, e.status, e.sink, e.url, e.outcome]).toEqual([
        code,
        status,
        'httpSink',
        `${server.url}/v1/beacons`, // without the query: it may hold a credential
        'failed',
      ]);
      expect(e.message).toMatch(message);
      expect(e.message).toContain(`the collector at ${server.url}/v1/beacons`);
      expect(leaks(serialize(e), [TOKEN, 'query-credential'])).toEqual([]);
      expect(failing.stats()).toMatchObject({ sent: 0, failed: 1 });
    }
  });

  it('rejects with BEACON_UNREACHABLE naming the system error when nothing listens', async () => {
    const sink = httpSink({ url: await deadUrl(), backoffMs: 1, maxAttempts: 3 });
    const error = (await sink.send(report(1)).catch((e: unknown) => e)) as BeaconDeliveryError;
    expect(error.code).toBe('BEACON_UNREACHABLE');
    expect(error.message).toMatch(/could not be reached after 3 attempts: ECONNREFUSED$/);
    expect(error.status).toBeUndefined();
  });

  it('a report dropped unsent rejects with outcome dropped; an ignored send never rejects unhandled', async () => {
    let release: (() => void) | undefined;
    const held = createServer((_req, res) => {
      if (release === undefined)
        release = () => res.end('{}'); // the first request waits for the test
      else res.end('{}');
    });
    await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
    servers.push({
      close: () => {
        held.closeAllConnections();
        return new Promise((resolve) => held.close(() => resolve()));
      },
    });
    const url = `http://127.0.0.1:${(held.address() as AddressInfo).port}`;
    const sink = httpSink({ url, maxQueue: 1 });
    const first = sink.send(report(1)); // in flight, held
    await vi.waitFor(() => expect(release).toBeDefined(), { interval: 2 });
    const second = sink.send(report(2)); // queued
    void sink.send(report(3)); // queued: the second is dropped; this one is ignored by the caller
    const dropped = (await second.catch((e: unknown) => e)) as BeaconDeliveryError;
    expect([dropped.outcome, dropped.message]).toEqual([
      'dropped',
      `httpSink: a report to ${url}/v1/beacons was dropped unsent: the queue was full (maxQueue 1) while the ` +
        'collector was slow',
    ]);
    release?.();
    await first;
    await sink.close();
    expect(sink.stats()).toEqual({ sent: 2, failed: 0, dropped: 1, retries: 0, queued: 0 });
  });
});

describe('beacon: a failing collector is told once per change of state, never per report', () => {
  const kinds: [string, () => Promise<string>, string, number][] = [
    ['401 wrong token', async () => (await collector(401)).url, 'BEACON_UNAUTHORIZED', 1],
    ['400 rejected', async () => (await collector(400)).url, 'BEACON_REJECTED', 1],
    ['429 refused', async () => (await collector(429)).url, 'BEACON_REFUSED', 2],
    ['503 failing', async () => (await collector(503)).url, 'BEACON_UNREACHABLE', 2],
    ['unreachable', deadUrl, 'BEACON_UNREACHABLE', 2],
  ];
  for (const [what, start, code, attemptsPerReport] of kinds) {
    it(`${what}: one ${code} event for many reports; beaconStats() agrees with the sink`, async () => {
      const url = await start();
      const { resolver, sink, errors, periods, agree } = await app(url);
      expect(errors.map((e) => e.error.code)).toEqual([code]); // the very first report: at once
      await periods(4);
      expect(errors.map((e) => e.error.code)).toEqual([code]); // four more failures: counted, not told
      expect(resolver.beaconStats()).toMatchObject({ reports: 5, sent: 0, failed: 5, inFlight: 0 });
      agree();
      expect(sink.stats().retries).toBe(5 * (attemptsPerReport - 1));
      const [event] = errors;
      expect(event).toMatchObject({ component: 'beacon', servingStale: false });
      expect(event?.secret).toBeUndefined();
      expect(isKeyflipError(event?.error)).toBe(true);
      expect(ERROR_CODES).toContain(event?.error.code);
      expect(event?.error.message).toContain(`${url}/v1/beacons`);
      expect(event?.error).toMatchObject({ sink: 'httpSink' });
      expect(leaks(serialize(errors), [TOKEN, VALUE])).toEqual([]);
      await resolver.close(); // the final report fails too: still no new event
      expect(errors).toHaveLength(1);
      expect(resolver.beaconStats()).toMatchObject({ reports: 6, sent: 0, failed: 6, inFlight: 0 });
      agree();
    });
  }

  it('a collector answering 400 (or 401) to every report: failed equals the deliveries tried, sent 0', async () => {
    for (const status of [400, 401]) {
      const server = await collector(status);
      const { resolver, sink, periods, agree } = await app(server.url);
      await periods(3);
      await resolver.close();
      const stats = resolver.beaconStats();
      expect(stats?.sent).toBe(0);
      expect(stats?.failed).toBe(server.received.length); // one attempt each: a 4xx is not retried
      expect(stats?.failed).toBe(stats?.reports);
      expect(server.received).toHaveLength(5); // the first resolution's, three periods, the final one
      expect(sink.stats()).toMatchObject({ sent: 0, failed: 5, dropped: 0 });
      agree();
      expect(server.received.every((r) => r.authorization === `Bearer ${TOKEN}`)).toBe(true);
    }
  });

  it('failing → another failure → recovered → failing again: one event per change, none on recovery', async () => {
    const server = await collector(401);
    const { resolver, errors, periods, agree, key } = await app(server.url);
    await periods(2);
    expect(errors.map((e) => e.error.code)).toEqual(['BEACON_UNAUTHORIZED']);
    server.answer(400); // another failure: news
    await periods(3);
    expect(errors.map((e) => e.error.code)).toEqual(['BEACON_UNAUTHORIZED', 'BEACON_REJECTED']);
    server.answer(202); // recovered: delivered, and not an error
    await periods(3);
    expect(errors).toHaveLength(2);
    expect(resolver.beaconStats()).toMatchObject({ reports: 9, sent: 3, failed: 6 });
    server.answer(401); // failing again after a recovery: news again
    await periods(2);
    expect(errors.map((e) => e.error.code)).toEqual(['BEACON_UNAUTHORIZED', 'BEACON_REJECTED', 'BEACON_UNAUTHORIZED']);
    expect(resolver.beaconStats()).toMatchObject({ reports: 11, sent: 3, failed: 8, dropped: 0 });
    agree();
    expect(key.value).toBe(VALUE); // the app never noticed
    expect(leaks(serialize(errors), [TOKEN, VALUE])).toEqual([]);
  });

  it("the event quotes the collector's reason with the token masked, and names the URL without its query", async () => {
    const server = await collector(401);
    const { errors } = await app(`${server.url}/?key=query-credential`);
    const [event] = errors;
    expect(event?.error.message).toBe(
      `httpSink: the collector at ${server.url}/v1/beacons answered 401: unauthorized: Bearer [token] is not ` +
        "accepted: the token is wrong or missing (httpSink `token`, the collector's KEYFLIP_COLLECTOR_TOKEN); no " +
        'report is delivered',
    );
    expect(server.received[0]?.authorization).toBe(`Bearer ${TOKEN}`); // the collector did get it…
    expect(leaks(serialize(errors), [TOKEN, VALUE, 'query-credential'])).toEqual([]); // …the app's events do not
  });

  it('a throwing error listener does not break the beacon', async () => {
    const server = await collector(400);
    const clock = manualClock();
    const sink = httpSink({ url: server.url, backoffMs: 1 });
    const resolver = resolverFor({
      sources: [memorySource({ K: VALUE })],
      clock,
      jitter: 0,
      beacon: usageBeacon({ service: 's', sink, intervalMs: 1_000 }),
    });
    let heard = 0;
    resolver.on('error', () => {
      heard++;
      throw new Error('listener bug');
    });
    resolver.secret('K');
    await resolver.ready();
    await clock.flush();
    await settled(resolver);
    await clock.advance(1_000);
    await settled(resolver);
    expect(heard).toBe(1);
    expect(resolver.beaconStats()).toMatchObject({ reports: 2, failed: 2 });
    await resolver.close();
    expect(resolver.beaconStats()).toMatchObject({ reports: 3, failed: 3 });
  });
});
