import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { type BeaconReport, type BeaconSink, httpSink, logSink, usageBeacon } from '../../src/beacon/index.js';
import { fingerprint, memorySource } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { leaks, trackResolvers } from '../helpers.js';

const resolverFor = trackResolvers();

/** Every value the resolver is given in this test, and the encodings a careless sink might use. */
const VALUES = {
  openaiV1: 'sk-proj-LeakCheckV1aaaaaaaaaaaaT3BlbkFJbbbbbbbbbbbbbbbbbbbb',
  openaiV2: 'sk-proj-LeakCheckV2ccccccccccccT3BlbkFJdddddddddddddddddddd',
  dbJson: '{"user":"app","password":"pw-LeakCheck-0b5e9c2a"}',
  dbPassword: 'pw-LeakCheck-0b5e9c2a',
  revoked: 'tok-LeakCheck-revoked-77f1e0',
  tenant: 'sk-ant-api03-LeakCheckTenantKeyeeeeeeeeeeeeeeeeeeeeeeeeeeeee',
};

function forms(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  return [
    value,
    JSON.stringify(value).slice(1, -1),
    bytes.toString('base64'),
    bytes.toString('hex'),
    encodeURIComponent(value),
  ];
}

describe('no value in any report or sink output', () => {
  it('greps every report (object, JSON, inspect), logSink line and httpSink body for every value used', async () => {
    const bodies: string[] = [];
    const http = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push(`${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString('utf8')}`);
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

    const reports: BeaconReport[] = [];
    const lines: string[] = [];
    const keeping: BeaconSink = { send: (r) => void reports.push(r) };
    const clock = manualClock();
    const memory = memorySource({
      OPENAI_API_KEY_v1: VALUES.openaiV1,
      DB: `  ${VALUES.dbJson}\n`,
      TOKEN: VALUES.revoked,
      T_acme: VALUES.tenant,
    });
    const resolver = resolverFor({
      sources: [memory],
      clock,
      jitter: 0.2,
      beacon: usageBeacon({
        service: 'leak-check',
        environment: 'test',
        labels: { region: 'eu' },
        sink: [keeping, logSink({ write: (line) => lines.push(line) }), httpSink({ url, token: 'collector-token' })],
        intervalMs: 1_000,
      }),
    });
    const openai = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
    const db = resolver.secret('DB', 'DB', { parse: (raw) => JSON.parse(raw) as { password: string } });
    const token = resolver.secret('TOKEN');
    const tenants = resolver.family('tenant', (id) => `T_${id}`);
    await resolver.ready();
    expect(await tenants.get('acme')).toBe(VALUES.tenant);

    for (let i = 0; i < 10; i++) {
      void openai.value;
      void db.value.password;
      void token.value;
    }
    await clock.advance(3_000);
    memory.set('OPENAI_API_KEY_v2', VALUES.openaiV2); // rotate: a report at once
    await clock.flush();
    void openai.value;
    memory.delete('TOKEN'); // revoke: a report at once
    await clock.flush();
    await clock.advance(2_000);
    await resolver.close();
    await new Promise<void>((resolve) => http.close(() => resolve()));

    // The test saw every kind of report, so it greps something real.
    expect(reports.length).toBeGreaterThanOrEqual(5);
    expect(lines).toHaveLength(reports.length);
    expect(bodies).toHaveLength(reports.length);
    const fingerprints = new Set(reports.flatMap((r) => r.secrets.map((s) => s.fingerprint)));
    expect(fingerprints).toEqual(
      new Set([
        fingerprint(VALUES.openaiV1),
        fingerprint(VALUES.openaiV2),
        fingerprint(VALUES.dbJson),
        fingerprint(VALUES.revoked),
      ]),
    );
    expect(reports.some((r) => r.secrets.some((s) => s.status === 'revoked'))).toBe(true);

    const outputs = [
      ...reports.map((r) => JSON.stringify(r)),
      ...reports.map((r) => inspect(r, { depth: null, showHidden: true })),
      ...lines,
      ...bodies,
      JSON.stringify(resolver.beaconStats()),
    ];
    const everything = outputs.join('\n');
    const values = Object.values(VALUES).flatMap(forms);
    expect(leaks(everything, values)).toEqual([]);
    // The trimmed, raw and parsed forms of the JSON secret, and the tenant's key (a family member is never reported).
    expect(everything).not.toContain('LeakCheck');
    expect(everything).not.toContain('tenant');
  });
});

describe('no value and no token in any beacon error event', () => {
  it('greps every error event (serialized with cause and stack, and inspected) for each value and token', async () => {
    const TOKEN = 'tok-LeakCheck-collector-4f0c1d';
    /** A collector that refuses everything: 401 echoing the credential it got, or 400. */
    const refusing = async (status: number) => {
      const http = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: `refused ${req.headers.authorization ?? ''} for ${req.url}` }));
        });
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      return { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, http };
    };
    const unauthorized = await refusing(401);
    const rejecting = await refusing(400);
    const dead = await refusing(200);
    await new Promise<void>((resolve) => dead.http.close(() => resolve()));

    const clock = manualClock();
    const memory = memorySource({ OPENAI_API_KEY_v1: VALUES.openaiV1, TOKEN: VALUES.revoked });
    const options = { token: TOKEN, backoffMs: 1, maxAttempts: 2, closeTimeoutMs: 2_000 };
    const resolver = resolverFor({
      sources: [memory],
      clock,
      jitter: 0,
      beacon: usageBeacon({
        service: 'leak-check',
        sink: [
          httpSink({ url: `${unauthorized.url}/?token=${TOKEN}`, ...options }),
          httpSink({ url: rejecting.url, ...options }),
          httpSink({ url: dead.url, ...options }),
          logSink({
            write: () => {
              throw new Error('disk full');
            },
          }),
        ],
        intervalMs: 1_000,
      }),
    });
    const events: unknown[] = [];
    resolver.on('error', (event) => void events.push(event));
    const openai = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
    resolver.secret(`TOKEN_${'X'.repeat(300)}`, 'TOKEN'); // left out of reports: told too
    await resolver.ready();
    void openai.value;
    await clock.flush();
    await vi.waitFor(() => expect(resolver.beaconStats()?.inFlight).toBe(0), { timeout: 10_000, interval: 2 });
    await clock.advance(1_000);
    memory.set('OPENAI_API_KEY_v2', VALUES.openaiV2);
    await clock.flush();
    await resolver.close();
    await Promise.all([unauthorized, rejecting].map(({ http }) => new Promise((resolve) => http.close(resolve))));

    const codes = new Set(events.map((e) => (e as { error: { code: string } }).error.code));
    expect(codes).toEqual(
      new Set([
        'BEACON_UNAUTHORIZED',
        'BEACON_REJECTED',
        'BEACON_UNREACHABLE',
        'BEACON_SINK_FAILED',
        'BEACON_SECRET_OMITTED',
      ]),
    );
    expect(events).toHaveLength(5); // once each, although every report failed
    const serialized = events.map((event) =>
      JSON.stringify(event, (_key, v: unknown) =>
        v instanceof Error ? { ...v, name: v.name, message: v.message, stack: v.stack, cause: v.cause } : v,
      ),
    );
    const everything = [...serialized, ...events.map((e) => inspect(e, { depth: null, showHidden: true }))].join('\n');
    expect(leaks(everything, [...Object.values(VALUES).flatMap(forms), ...forms(TOKEN)])).toEqual([]);
    expect(everything).not.toContain('LeakCheck');
  });
});
