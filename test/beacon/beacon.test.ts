import { hostname } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  fingerprint,
  memorySource,
  type ResolverErrorEvent,
  type ResolverOptions,
  type SecretChange,
  type UsageReporter,
  type UsageReporterHost,
} from '../../src/index.js';
import {
  BEACON_SCHEMA,
  BeaconDeliveryError,
  type BeaconOptions,
  type BeaconReport,
  type BeaconSink,
  usageBeacon,
} from '../../src/beacon/index.js';
import { CLOSE_TIMEOUT_MS, MAX_IN_FLIGHT_PER_SINK, SEND_TIMEOUT_MS } from '../../src/beacon/beacon.js';
import { manualClock } from '../../src/testing/index.js';
import { collectUnhandledRejections, trackResolvers } from '../helpers.js';

const resolverFor = trackResolvers();

const unhandled = collectUnhandledRejections();

/** A sink that keeps every report it is given. */
function keep(): BeaconSink & { reports: BeaconReport[] } {
  const reports: BeaconReport[] = [];
  return {
    reports,
    send(report) {
      reports.push(report);
    },
  };
}

/**
 * A resolver on a manual clock with a memory source holding A_v1 and B, secrets A (`A_v2 ?? A_v1`) and B
 * declared and resolved, and a beacon every second (no jitter unless given) into a keeping sink. The report
 * sent at once when they resolved is taken out of the keeping sink: `first` (undefined with other sinks). `errors`
 * records the resolver's own `error` events (the beacon's).
 */
async function rig(beacon: Partial<BeaconOptions> = {}, options: Partial<ResolverOptions> = {}) {
  const clock = manualClock();
  const start = clock.now();
  const memory = memorySource({ A_v1: 'value-a-one', B: 'value-b-one' });
  const sink = keep();
  const resolver = resolverFor({
    sources: [memory],
    clock,
    jitter: 0,
    refreshMs: 3_600_000,
    beacon: usageBeacon({ service: 'checkout-api', sink, intervalMs: 1_000, ...beacon }),
    ...options,
  });
  /** The resolver's own `error` events (the beacon's), in order. */
  const errors: ResolverErrorEvent[] = [];
  resolver.on('error', (event) => {
    if (event.secret === undefined) errors.push(event);
  });
  const a = resolver.secret('A', 'A_v2 ?? A_v1');
  const b = resolver.secret('B');
  await resolver.ready();
  await clock.flush(); // the report of the first resolution, sent at once
  const [first, ...more] = sink.reports.splice(0);
  expect(more).toEqual([]);
  return { clock, start, memory, sink, resolver, a, b, first, errors };
}

const entry = (report: BeaconReport | undefined, name: string) => report?.secrets.find((s) => s.name === name);

describe('beacon: schedule', () => {
  it('reports as soon as the declared secrets resolve, then every intervalMs, on the resolver clock', async () => {
    const { clock, start, sink, first } = await rig();
    expect(first?.sentAt).toBe(start); // not one interval later: a new process is visible at once
    expect(first?.secrets.map((s) => s.name)).toEqual(['A', 'B']);
    await clock.advance(999);
    expect(sink.reports).toHaveLength(0);
    await clock.advance(1);
    expect(sink.reports).toHaveLength(1);
    await clock.advance(4_000);
    expect(sink.reports.map((r) => r.sentAt - start)).toEqual([1_000, 2_000, 3_000, 4_000, 5_000]);
  });

  it('scales each period by the resolver jitter, within [1 - j, 1 + j]', async () => {
    const { clock, sink } = await rig({}, { jitter: 0.2 });
    await clock.advance(30_000);
    const times = sink.reports.map((r) => r.sentAt);
    const gaps = times.slice(1).map((t, i) => t - (times[i] as number));
    expect(gaps.length).toBeGreaterThanOrEqual(23); // 30 s / 1.2 s = 25 reports at least
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(800);
      expect(gap).toBeLessThanOrEqual(1_200);
    }
    expect(new Set(gaps).size).toBeGreaterThan(1); // jittered, not fixed
  });

  it('reaches both ends of the jitter range', async () => {
    const random = vi.spyOn(Math, 'random');
    try {
      random.mockReturnValue(0);
      const low = await rig({}, { jitter: 0.2 });
      await low.clock.advance(799);
      expect(low.sink.reports).toHaveLength(0);
      await low.clock.advance(1);
      expect(low.sink.reports).toHaveLength(1);
      random.mockReturnValue(0.999_999);
      const high = await rig({}, { jitter: 0.2 });
      await high.clock.advance(1_199);
      expect(high.sink.reports).toHaveLength(0);
      await high.clock.advance(1);
      expect(high.sink.reports).toHaveLength(1);
    } finally {
      random.mockRestore();
    }
  });

  it('defaults to one report a minute, and says so in every report', async () => {
    const clock = manualClock();
    const sink = keep();
    const resolver = resolverFor({
      sources: [memorySource({ K: 'value-k-1' })],
      clock,
      jitter: 0,
      beacon: usageBeacon({ service: 's', sink }),
    });
    resolver.secret('K');
    await resolver.ready();
    await clock.flush();
    expect(sink.reports).toHaveLength(1); // the first resolution's
    await clock.advance(59_999);
    expect(sink.reports).toHaveLength(1);
    await clock.advance(1);
    expect(sink.reports).toHaveLength(2);
    expect(sink.reports.map((r) => r.intervalMs)).toEqual([60_000, 60_000]);
  });

  it('the first report waits for the first resolution, however long it takes, not for the period', async () => {
    const clock = manualClock();
    const start = clock.now();
    const sink = keep();
    const memory = memorySource({ LATE: 'value-late-1', LATER: 'value-later-1' });
    const resolver = resolverFor({
      sources: [memory],
      clock,
      jitter: 0,
      beacon: usageBeacon({ service: 's', sink, intervalMs: 10_000 }),
    });
    await clock.advance(3_000);
    expect(sink.reports).toEqual([]); // nothing resolved yet: nothing to show
    resolver.secret('LATE');
    await resolver.ready();
    await clock.flush();
    expect(sink.reports.map((r) => [r.sentAt - start, r.secrets.map((s) => s.name)])).toEqual([[3_000, ['LATE']]]);
    await clock.advance(2_000);
    resolver.secret('LATER'); // declared later: its first resolution is reported at once too
    await resolver.ready();
    await clock.flush();
    expect(sink.reports.map((r) => [r.sentAt - start, r.secrets.map((s) => s.name)])).toEqual([
      [3_000, ['LATE']],
      [5_000, ['LATE', 'LATER']],
    ]);
    await resolver.refresh(); // a refresh that changes nothing is not news
    await clock.flush();
    expect(sink.reports).toHaveLength(2);
    await clock.advance(5_000); // the period runs from the resolver's creation, as before
    expect(sink.reports.map((r) => r.sentAt - start)).toEqual([3_000, 5_000, 10_000]);
    expect(sink.reports.every((r) => r.intervalMs === 10_000)).toBe(true);
  });

  it('reports at once after a rotate, coalescing changes of one tick, without waiting for the period', async () => {
    const { clock, start, memory, sink } = await rig();
    memory.set('A_v2', 'value-a-two');
    memory.set('B', 'value-b-two'); // two rotations in the same tick: one report
    await clock.flush();
    expect(sink.reports).toHaveLength(1);
    const report = sink.reports[0];
    expect(report?.sentAt).toBe(start); // the clock did not move
    expect(entry(report, 'A')).toMatchObject({
      candidate: 'A_v2',
      fingerprint: fingerprint('value-a-two'),
      status: 'ok',
    });
    expect(entry(report, 'B')).toMatchObject({ candidate: 'B', version: '2', fingerprint: fingerprint('value-b-two') });
    await clock.advance(1_000); // the period goes on as before
    expect(sink.reports).toHaveLength(2);
  });

  it('reports at once after a revoke, with status revoked', async () => {
    const { clock, memory, sink, a } = await rig();
    memory.delete('A_v1');
    await clock.flush();
    expect(sink.reports).toHaveLength(1);
    expect(entry(sink.reports[0], 'A')).toMatchObject({ status: 'revoked', fingerprint: fingerprint('value-a-one') });
    expect(() => a.value).toThrow(/revoked/);
  });

  it('a rotate of a family member sends nothing, and members are never listed', async () => {
    const { clock, memory, sink, resolver } = await rig();
    memory.set('T_alice', 'value-tenant-alice');
    const family = resolver.family('tenant', (id) => `T_${id}`);
    expect(await family.get('alice')).toBe('value-tenant-alice');
    memory.set('T_alice', 'value-tenant-alice-2');
    await clock.flush();
    expect(await family.refresh('alice')).toBeUndefined();
    await clock.flush();
    expect(sink.reports).toHaveLength(0);
    await clock.advance(1_000);
    expect(sink.reports).toHaveLength(1);
    expect(sink.reports[0]?.secrets.map((s) => s.name)).toEqual(['A', 'B']);
  });

  it('close() sends a final report with the uses counted so far, waits for the sinks; nothing follows', async () => {
    const { clock, start, sink, resolver, a } = await rig();
    let closed = false;
    sink.close = async () => {
      await new Promise((r) => setImmediate(r));
      closed = true;
    };
    await clock.advance(500);
    for (let i = 0; i < 3; i++) void a.value;
    await resolver.close();
    expect(closed).toBe(true);
    expect(sink.reports).toHaveLength(1);
    expect(sink.reports[0]?.sentAt).toBe(start + 500);
    expect(entry(sink.reports[0], 'A')?.uses).toBe(3);
    await clock.advance(10_000);
    expect(sink.reports).toHaveLength(1);
    await resolver.close(); // twice is fine, and sends nothing more
    expect(sink.reports).toHaveLength(1);
    expect(clock.pending).toBe(0); // no timer left behind
  });

  it('leaves no timer when no beacon is configured, and beaconStats() is undefined', async () => {
    const clock = manualClock();
    const resolver = resolverFor({ sources: [memorySource({ K: 'v-k' })], clock, jitter: 0 });
    expect(clock.pending).toBe(0);
    expect(resolver.beaconStats()).toBeUndefined();
    const withBeacon = resolverFor({
      sources: [memorySource({ K: 'v-k' })],
      clock,
      jitter: 0,
      beacon: usageBeacon({ service: 's', sink: keep() }),
    });
    expect(clock.pending).toBe(1);
    expect(withBeacon.beaconStats()).toEqual({ reports: 0, sent: 0, failed: 0, dropped: 0, inFlight: 0 });
  });
});

describe('beacon: contents', () => {
  it('lists every resolved declared secret with its provenance, and the fields of the schema only', async () => {
    const { clock, start, sink, resolver } = await rig({ environment: 'prod', labels: { region: 'eu-west1' } });
    resolver.secret('MISSING', 'NOPE_v2 ?? NOPE_v1'); // never resolved: not listed
    await clock.advance(1_000);
    const report = sink.reports[0] as BeaconReport;
    expect(Object.keys(report).sort()).toEqual([
      'environment',
      'instance',
      'intervalMs',
      'labels',
      'schema',
      'secrets',
      'sentAt',
      'service',
    ]);
    expect(report).toMatchObject({
      schema: BEACON_SCHEMA,
      sentAt: start + 1_000,
      service: 'checkout-api',
      environment: 'prod',
      labels: { region: 'eu-west1' },
      intervalMs: 1_000,
    });
    expect(report.secrets).toEqual([
      {
        name: 'A',
        candidate: 'A_v1',
        source: 'memory',
        version: '1',
        fingerprint: fingerprint('value-a-one'),
        loadedAt: start,
        uses: 0,
        status: 'ok',
      },
      {
        name: 'B',
        candidate: 'B',
        source: 'memory',
        version: '1',
        fingerprint: fingerprint('value-b-one'),
        loadedAt: start,
        uses: 0,
        status: 'ok',
      },
    ]);
    expect(BEACON_SCHEMA).toBe('keyflip.beacon/v1');
  });

  it('omits environment and labels when not given', async () => {
    const { clock, sink } = await rig();
    await clock.advance(1_000);
    expect(Object.keys(sink.reports[0] as object).sort()).toEqual([
      'instance',
      'intervalMs',
      'schema',
      'secrets',
      'sentAt',
      'service',
    ]);
  });

  it('counts N reads of value (and get()) as N uses in the next report, then 0; lastUsedAt is kept', async () => {
    const { clock, start, sink, a, b } = await rig();
    for (let i = 0; i < 41; i++) void a.value;
    await a.get();
    void b.value;
    await clock.advance(1_000);
    expect(entry(sink.reports[0], 'A')).toMatchObject({ uses: 42, lastUsedAt: start + 1_000 });
    expect(entry(sink.reports[0], 'B')).toMatchObject({ uses: 1, lastUsedAt: start + 1_000 });
    void b.value;
    await clock.advance(1_000);
    expect(entry(sink.reports[1], 'A')).toMatchObject({ uses: 0, lastUsedAt: start + 1_000 });
    expect(entry(sink.reports[1], 'B')).toMatchObject({ uses: 1, lastUsedAt: start + 2_000 });
    await clock.advance(1_000);
    expect(entry(sink.reports[2], 'A')).toMatchObject({ uses: 0, lastUsedAt: start + 1_000 });
    expect(entry(sink.reports[2], 'B')).toMatchObject({ uses: 0, lastUsedAt: start + 2_000 });
  });

  it('a secret never read has no lastUsedAt; a rotation starts lastUsedAt afresh for the new fingerprint', async () => {
    const { clock, memory, sink, a } = await rig();
    void a.value;
    await clock.advance(1_000);
    expect(entry(sink.reports[0], 'B')).not.toHaveProperty('lastUsedAt');
    expect(entry(sink.reports[0], 'A')?.lastUsedAt).toBeDefined();
    memory.set('A_v2', 'value-a-two');
    await clock.flush();
    expect(entry(sink.reports[1], 'A')).toMatchObject({ fingerprint: fingerprint('value-a-two'), uses: 0 });
    expect(entry(sink.reports[1], 'A')).not.toHaveProperty('lastUsedAt');
  });

  it('every sink gets the same frozen report', async () => {
    const one = keep();
    const two = keep();
    const { clock } = await rig({ sink: [one, two] });
    await clock.advance(1_000);
    expect(one.reports[0]).toBe(two.reports[0]);
    expect(Object.isFrozen(one.reports[0])).toBe(true);
    expect(Object.isFrozen(one.reports[0]?.secrets)).toBe(true);
    expect(Object.isFrozen(one.reports[0]?.secrets[0])).toBe(true);
    expect(Object.isFrozen(one.reports[0]?.instance)).toBe(true);
  });

  it('says who sent it: host, pid, startedAt, runtime, keyflip version, a random id stable per resolver', async () => {
    const { clock, start, sink, memory } = await rig();
    await clock.advance(3_000);
    memory.set('A_v2', 'value-a-two');
    await clock.flush();
    const ids = new Set(sink.reports.map((r) => r.instance.id));
    expect(ids.size).toBe(1);
    const instance = sink.reports[0]?.instance;
    expect(instance?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(instance).toEqual({
      id: instance?.id,
      host: hostname(),
      pid: process.pid,
      startedAt: start,
      runtime: `node ${process.version}`,
      keyflip: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    const other = await rig();
    await other.clock.advance(1_000);
    expect(other.sink.reports[0]?.instance.id).not.toBe(instance?.id); // another resolver, another instance
    const named = await rig({ instanceId: 'checkout-7d9f-abc' });
    await named.clock.advance(1_000);
    expect(named.sink.reports[0]?.instance.id).toBe('checkout-7d9f-abc');
  });
});

describe('beacon: a sink never affects the app', () => {
  it('throwing, rejecting, hung sinks: values served, other sinks get every report, failures counted', async () => {
    const good = keep();
    const calls = { throwing: 0, rejecting: 0, hanging: 0 };
    const throwing: BeaconSink = {
      send() {
        calls.throwing++;
        throw new Error('sink exploded');
      },
    };
    const rejecting: BeaconSink = {
      name: 'rejecting-sink',
      send() {
        calls.rejecting++;
        return Promise.reject(new Error('sink rejected'));
      },
      close: () => Promise.reject(new Error('close rejected')),
    };
    const hanging: BeaconSink = {
      send() {
        calls.hanging++;
        return new Promise<void>(() => {});
      },
      close: () => new Promise<void>(() => {}),
    };
    const { clock, resolver, a, memory, errors } = await rig({ sink: [throwing, rejecting, hanging, good] });
    // The report of the first resolution went out at once; then six periods.
    for (let round = 0; round < 6; round++) {
      expect(a.value).toBe('value-a-one');
      await clock.advance(1_000);
    }
    expect(good.reports).toHaveLength(7);
    expect(calls).toEqual({ throwing: 7, rejecting: 7, hanging: MAX_IN_FLIGHT_PER_SINK });
    expect(resolver.beaconStats()).toEqual({
      reports: 7,
      sent: 7,
      failed: 14,
      dropped: 7 - MAX_IN_FLIGHT_PER_SINK,
      inFlight: MAX_IN_FLIGHT_PER_SINK,
    });
    // Told once per failing sink, not once per report; named by place or by name; nothing quoted.
    expect(errors.map((e) => [e.error.code, (e.error as BeaconDeliveryError).sink, e.component])).toEqual([
      ['BEACON_SINK_FAILED', 'sink[0]', 'beacon'],
      ['BEACON_SINK_FAILED', 'rejecting-sink', 'beacon'],
    ]);
    expect(errors[0]?.error.message).toBe(
      'usage beacon: sink[0]: its send threw an Error; reports to this sink are not delivered',
    );
    expect(errors[1]?.error.message).toMatch(/^usage beacon: rejecting-sink: its send rejected an Error;/);
    expect(errors.map((e) => e.error.message).join('\n')).not.toMatch(/exploded|sink rejected/);
    expect(errors.every((e) => e.secret === undefined && e.servingStale === false)).toBe(true);

    // The app keeps working: a rotation is served and reported.
    memory.set('A_v2', 'value-a-two');
    await clock.flush();
    expect(a.value).toBe('value-a-two');
    expect(good.reports).toHaveLength(8);
    expect(entry(good.reports[7], 'A')).toMatchObject({ fingerprint: fingerprint('value-a-two'), uses: 0 });

    // close() is bounded although one sink never settles nor closes.
    let closed = false;
    const closing = resolver.close().then(() => {
      closed = true;
    });
    await clock.advance(CLOSE_TIMEOUT_MS - 1);
    expect(closed).toBe(false);
    await clock.advance(1);
    await closing;
    expect(closed).toBe(true);
    expect(good.reports).toHaveLength(9); // the final one
    const stats = resolver.beaconStats();
    expect(stats?.reports).toBe(9);
    expect(stats?.failed).toBe(9 + 9 + 1); // throwing, rejecting, and the rejecting sink's close()
    expect(stats?.dropped).toBe(5); // the hanging sink's 5th to 9th reports
    expect(stats?.sent).toBe(9); // the good sink's
    expect(errors).toHaveLength(2); // still once per sink
    expect(unhandled).toEqual([]);
  });

  it('a send that never settles counts as failed after 30 s and frees its place; at most 4 are in flight', async () => {
    const settle: (() => void)[] = [];
    let calls = 0;
    const slow: BeaconSink = {
      send() {
        calls++;
        return new Promise<void>((resolve) => settle.push(resolve));
      },
    };
    const { clock, resolver, errors } = await rig({ sink: slow, intervalMs: 5_000 });
    // The first resolution's report at 0 s, then reports at 5, 10, 15 s: all in flight
    await clock.advance(15_000);
    expect(resolver.beaconStats()).toEqual({ reports: 4, sent: 0, failed: 0, dropped: 0, inFlight: 4 });
    await clock.advance(10_000); // 20 and 25 s: no place, dropped
    expect(resolver.beaconStats()).toEqual({ reports: 6, sent: 0, failed: 0, dropped: 2, inFlight: 4 });
    expect(calls).toBe(4);
    expect(errors).toEqual([]); // slow is not failing
    await clock.advance(5_000); // 30 s: the send of 0 s times out, which frees a place for this one
    expect(resolver.beaconStats()).toEqual({ reports: 7, sent: 0, failed: 1, dropped: 2, inFlight: 4 });
    expect(calls).toBe(5);
    expect(errors.map((e) => e.error.message)).toEqual([
      'usage beacon: sink[0]: a send did not settle within 30000 ms; reports to this sink are not delivered',
    ]);
    for (const resolve of settle) resolve(); // a late settlement of the timed-out send is not counted again
    await clock.flush();
    expect(resolver.beaconStats()).toEqual({ reports: 7, sent: 4, failed: 1, dropped: 2, inFlight: 0 });
    expect(SEND_TIMEOUT_MS).toBe(30_000);
    expect(errors).toHaveLength(1); // recovering is not an error
    const closing = resolver.close(); // its final send never settles either: close() is bounded
    await clock.advance(CLOSE_TIMEOUT_MS);
    await closing;
  });

  it('a slow sink that resolves later counts as sent, and close() waits for it', async () => {
    let done = 0;
    const slow: BeaconSink = {
      send: () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            done++;
            resolve();
          }, 5),
        ),
    };
    const { clock, resolver } = await rig({ sink: slow });
    await clock.advance(1_000);
    await resolver.close();
    expect(done).toBe(3); // the first resolution's, the period's, the final one
    expect(resolver.beaconStats()).toMatchObject({ reports: 3, sent: 3, failed: 0, inFlight: 0 });
  });

  it('a sink returning a thenable whose then throws, or a getter that throws: counted, never thrown', async () => {
    const badThen: BeaconSink = {
      send: () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a broken thenable is what this test hands the beacon
          then() {
            throw new Error('then throws');
          },
        }) as unknown as Promise<void>,
    };
    const badGetter: BeaconSink = {
      send: () =>
        ({
          // biome-ignore lint/suspicious/noThenProperty: a thenable whose `then` getter throws, on purpose
          get then(): never {
            throw new Error('getter throws');
          },
        }) as unknown as Promise<void>,
    };
    const { clock, resolver, a, errors } = await rig({ sink: [badThen, badGetter] });
    await clock.advance(1_000);
    expect(a.value).toBe('value-a-one');
    expect(resolver.beaconStats()).toMatchObject({ reports: 2, sent: 0, failed: 4, inFlight: 0 });
    // The getter throws at once; the thenable's rejection comes a tick later.
    expect(errors.map((e) => e.error.message)).toEqual([
      'usage beacon: sink[1]: its send threw an Error; reports to this sink are not delivered',
      'usage beacon: sink[0]: its send rejected an Error; reports to this sink are not delivered',
    ]);
    expect(unhandled).toEqual([]);
  });

  it('a sink that rejects with a BEACON_* KeyflipError is told with its code; a drop is no failure', async () => {
    let mode: 'refused' | 'dropped' | 'ok' = 'refused';
    const sink: BeaconSink = {
      name: 'queue-sink',
      async send() {
        if (mode === 'ok') return;
        throw new BeaconDeliveryError(
          'BEACON_REFUSED',
          mode === 'refused' ? 'queue-sink: the far end is full' : 'queue-sink: dropped',
          { sink: 'queue-sink', outcome: mode === 'dropped' ? 'dropped' : 'failed' },
        );
      },
    };
    const { clock, resolver, errors } = await rig({ sink });
    await clock.advance(2_000);
    expect(errors.map((e) => [e.error.code, e.error.message])).toEqual([
      ['BEACON_REFUSED', 'queue-sink: the far end is full'],
    ]);
    mode = 'dropped';
    await clock.advance(2_000);
    mode = 'ok';
    await clock.advance(1_000);
    expect(resolver.beaconStats()).toMatchObject({ reports: 6, sent: 1, failed: 3, dropped: 2 });
    mode = 'refused';
    await clock.advance(1_000);
    expect(errors.map((e) => e.error.code)).toEqual(['BEACON_REFUSED', 'BEACON_REFUSED']); // failing again: told
  });
});

describe('beacon: options are checked', () => {
  const sink = keep();
  const cases: [string, unknown, RegExp][] = [
    ['not an object', 'yes', /usageBeacon\(options\): `beacon` options must be an object/],
    ['no service', { sink }, /`beacon\.service` is required/],
    ['empty service', { sink, service: '  ' }, /`beacon\.service` is required.*not " {2}"/],
    ['no sink', { service: 's' }, /`beacon\.sink` is required/],
    ['empty sink list', { service: 's', sink: [] }, /`beacon\.sink` is required/],
    ['sink without send', { service: 's', sink: { write() {} } }, /`beacon\.sink` has no `send\(report\)` method/],
    ['bad sink in a list', { service: 's', sink: [sink, {}] }, /`beacon\.sink\[1\]` has no `send\(report\)` method/],
    ['null sink in a list', { service: 's', sink: [null] }, /`beacon\.sink\[0\]` must be a sink object/],
    [
      'close not a function',
      { service: 's', sink: { send() {}, close: 1 } },
      /`beacon\.sink`\.close must be a function/,
    ],
    [
      'zero interval',
      { service: 's', sink, intervalMs: 0 },
      /^usageBeacon: intervalMs is 0; the collector accepts 1000 to 86400000 ms \(BEACON_LIMITS\.intervalMs\)$/,
    ],
    ['negative interval', { service: 's', sink, intervalMs: -5 }, /usageBeacon: intervalMs is -5;/],
    [
      'NaN interval',
      { service: 's', sink, intervalMs: Number.NaN },
      /`beacon\.intervalMs` must be a whole number of milliseconds from 1000 to 86400000, not NaN/,
    ],
    [
      'infinite interval',
      { service: 's', sink, intervalMs: Number.POSITIVE_INFINITY },
      /`beacon\.intervalMs`.*not Infinity/,
    ],
    ['fractional interval', { service: 's', sink, intervalMs: 1_500.5 }, /`beacon\.intervalMs`.*not 1500\.5/],
    ['string interval', { service: 's', sink, intervalMs: '60s' }, /`beacon\.intervalMs`.*not "60s"/],
    ['sink name not a string', { service: 's', sink: { send() {}, name: 3 } }, /`beacon\.sink`\.name must be a string/],
    ['empty instanceId', { service: 's', sink, instanceId: '' }, /`beacon\.instanceId`/],
    ['labels not strings', { service: 's', sink, labels: { region: 3 } }, /`beacon\.labels\.region` must be a string/],
    ['environment not a string', { service: 's', sink, environment: 7 }, /`beacon\.environment`/],
  ];
  for (const [what, beacon, message] of cases) {
    it(`${what}: ConfigurationError, and no timer started`, () => {
      const clock = manualClock();
      const withBeacon = () =>
        resolverFor({ sources: [memorySource()], clock, beacon: usageBeacon(beacon as BeaconOptions) });
      expect(withBeacon).toThrow(ConfigurationError);
      expect(withBeacon).toThrow(message);
      expect(clock.pending).toBe(0);
    });
  }

  it('a plain options object (the shape `beacon` took before usageBeacon) is refused with how to migrate', () => {
    const clock = manualClock();
    const old = { service: 's', sink: keep() } as unknown as UsageReporter;
    const create = () => resolverFor({ sources: [memorySource()], clock, beacon: old });
    expect(create).toThrow(ConfigurationError);
    expect(create).toThrow(
      '`beacon` takes a usage reporter, not an options object: wrap the same options in usageBeacon() (exported by ' +
        "'keyflip/beacon'), `beacon: usageBeacon({ service, sink, … })` instead of `beacon: { service, sink, … }`",
    );
    expect(() => resolverFor({ sources: [memorySource()], clock, beacon: 7 as never })).toThrow(
      /`beacon` must be a usage reporter: `beacon: usageBeacon\(\{ service, sink \}\)` from 'keyflip\/beacon'/,
    );
    expect(clock.pending).toBe(0);
  });
});

describe('beacon: the usage reporter interface', () => {
  it('a reporter sees declared secrets (provenance and uses, no values), their changes, and close', async () => {
    const clock = manualClock();
    const memory = memorySource({ A_v1: 'value-a-one' });
    const seen: { host?: UsageReporterHost; changes: SecretChange[]; closed: number } = { changes: [], closed: 0 };
    const stats = { reports: 1, sent: 2, failed: 3, dropped: 4, inFlight: 5 };
    const reporter: UsageReporter = {
      attach(host) {
        seen.host = host;
        return {
          changed: (change) => void seen.changes.push(change),
          stats: () => stats,
          close: async () => void seen.closed++,
        };
      },
    };
    const resolver = resolverFor({ sources: [memory], clock, jitter: 0.3, beacon: reporter });
    const a = resolver.secret('A', 'A_v2 ?? A_v1');
    resolver.family('byok', (id) => id);
    await resolver.ready();
    void a.value;
    void a.value;
    const host = seen.host as UsageReporterHost;
    expect(host.clock).toBe(clock);
    expect(host.jitter).toBe(0.3);
    const [usage, ...more] = [...host.secrets()];
    expect(more).toEqual([]);
    expect(usage?.info).toEqual(a.info);
    expect(usage?.takeUses()).toBe(2);
    expect(usage?.takeUses()).toBe(0);
    expect(Object.keys(usage ?? {}).sort()).toEqual(['info', 'takeUses']);
    memory.set('A_v2', 'value-a-two');
    await clock.flush();
    memory.disable('A_v2');
    memory.disable('A_v1');
    await clock.flush();
    expect(seen.changes).toEqual([
      { secret: 'A', kind: 'load' }, // its first resolution, once
      { secret: 'A', kind: 'rotate' },
      { secret: 'A', kind: 'revoke' },
    ]);
    expect(resolver.beaconStats()).toBe(stats);
    await resolver.close();
    expect(seen.closed).toBe(1);
  });

  it('a reporter whose changed() throws does not affect the app', async () => {
    const memory = memorySource({ A_v1: 'value-a-one' });
    const reporter: UsageReporter = {
      attach: () => ({
        changed() {
          throw new Error('reporter bug');
        },
        stats: () => ({ reports: 0, sent: 0, failed: 0, dropped: 0, inFlight: 0 }),
        close: async () => undefined,
      }),
    };
    const clock = manualClock();
    const resolver = resolverFor({ sources: [memory], clock, beacon: reporter });
    const a = resolver.secret('A', 'A_v2 ?? A_v1');
    await resolver.ready();
    const rotated = new Promise((resolve) => a.once('rotate', resolve));
    memory.set('A_v2', 'value-a-two');
    await rotated;
    expect(a.value).toBe('value-a-two');
  });
});
