/**
 * Throws a few thousand random and hostile bodies (and some malformed HTTP) at the collector's server,
 * from a seeded generator so a failure can be replayed, then checks that it still answers: /healthz, a
 * valid report ingested and visible in /v1/usage, Object.prototype untouched, no 500, nothing echoed.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import { FP, report } from './reports.js';

const SEED = Number(process.env.KEYFLIP_FUZZ_SEED ?? 0x6b6579);
const CASES = 3_000;
const TOKEN = 'fuzz-token';
const MAX_BODY = 256 * 1024;

/** mulberry32: a small seeded PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = prng(SEED);
const int = (n: number): number => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

const HOSTILE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  '__defineGetter__',
  'then',
];
const FIELDS = ['schema', 'sentAt', 'service', 'environment', 'labels', 'instance', 'secrets'];
const INSTANCE_FIELDS = ['id', 'host', 'pid', 'startedAt', 'runtime', 'keyflip'];
const SECRET_FIELDS = [
  'name',
  'candidate',
  'source',
  'version',
  'fingerprint',
  'loadedAt',
  'lastUsedAt',
  'uses',
  'status',
];

/** A value of a random, often wrong, type. */
function junk(depth = 0): unknown {
  switch (int(depth > 3 ? 12 : 16)) {
    case 0:
      return null;
    case 1:
      return pick([true, false]);
    case 2:
      return pick([0, -1, -0, 1.5, 2 ** 53, -(2 ** 53) - 2, 1e308, Number.MAX_VALUE, 4294967296]);
    case 3:
      return pick(['NaN', 'Infinity', '-Infinity', '1e309', '12', '0x10', '', ' ', 'null', 'undefined']);
    case 4:
      return 'Z'.repeat(int(5) === 0 ? 200_000 : int(600));
    case 5:
      return pick([
        'ok',
        'stale',
        'revoked',
        'keyflip.beacon/v1',
        'kf_0123456789ab',
        'kf_XYZ',
        '\u0000\u001b[2J',
        '\ud800',
        '<script>alert(1)</script>',
      ]);
    case 6:
      return pick(HOSTILE_KEYS);
    case 7:
      return String.fromCharCode(...Array.from({ length: int(40) }, () => int(0x10000)));
    case 8:
      return [];
    case 9:
      return {};
    case 10:
      return int(1_000_000);
    case 11:
      return random() * 1e15;
    case 12:
      return Array.from({ length: int(6) }, () => junk(depth + 1));
    case 13:
      return Object.fromEntries(
        Array.from({ length: int(5) }, () => [pick([...HOSTILE_KEYS, ...FIELDS, 'x']), junk(depth + 1)]),
      );
    case 14:
      return { __proto__: junk(depth + 1) } as unknown;
    default:
      return Array.from({ length: int(3) }, () => junk(depth + 1));
  }
}

// biome-ignore lint/suspicious/noExplicitAny: the fuzz writes values of any type into any field, on purpose
type Loose = Record<string, any>;

function validReport(): Loose {
  return JSON.parse(
    JSON.stringify(report({ id: `fuzz-${int(50)}` }, [{ fingerprint: pick([FP.old, FP.new]), uses: int(10) }])),
  ) as Loose;
}

/** A body as bytes, from one of several families. */
function body(): Buffer {
  const family = int(14);
  switch (family) {
    case 0: // random bytes, mostly invalid UTF-8
      return Buffer.from(Array.from({ length: int(300) }, () => int(256)));
    case 1: {
      // a valid report with one field replaced
      const r = validReport();
      r[pick(FIELDS)] = junk();
      return Buffer.from(JSON.stringify(r));
    }
    case 2: {
      // an instance field replaced
      const r = validReport();
      r.instance[pick(INSTANCE_FIELDS)] = junk();
      return Buffer.from(JSON.stringify(r));
    }
    case 3: {
      // a secret field replaced, or more secrets of junk
      const r = validReport();
      if (int(2) === 0) r.secrets[0][pick(SECRET_FIELDS)] = junk();
      else r.secrets.push(...Array.from({ length: int(5) }, () => junk()));
      return Buffer.from(JSON.stringify(r));
    }
    case 4: {
      // prototype-pollution keys at every level, written as raw JSON (JSON.stringify would drop __proto__)
      const key = pick(HOSTILE_KEYS);
      const payload = `{"${key}":{"polluted":"yes","prototype":{"polluted":"yes"}}}`;
      const r = JSON.stringify(validReport());
      const spots = [
        (s: string) => s.replace('{', `{"${key}":${payload},`),
        (s: string) => s.replace('"instance":{', `"instance":{"${key}":${payload},`),
        (s: string) => s.replace('"secrets":[{', `"secrets":[{"${key}":${payload},`),
        (s: string) => s.replace('{', `{"labels":{"${key}":"x","constructor":"y"},`),
        () => `{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}}`,
        (s: string) => s.replace('"secrets":[', `"secrets":[{"__proto__":{"uses":1},"constructor":{"name":"x"}},`),
      ];
      return Buffer.from(pick(spots)(r));
    }
    case 5: {
      // deep nesting
      const depth = 1_000 + int(60_000);
      const open = pick(['[', '{"a":']);
      const close = open === '[' ? ']' : '}';
      return Buffer.from(`${open.repeat(depth)}1${close.repeat(int(2) === 0 ? depth : int(depth))}`);
    }
    case 6: {
      // a huge array (within or over the limit)
      const n = pick([10_000, 100_000, 200_000]);
      return Buffer.from(`{"schema":"keyflip.beacon/v1","secrets":[${'0,'.repeat(n)}0]}`);
    }
    case 7: {
      // truncated JSON
      const text = JSON.stringify(validReport());
      return Buffer.from(text.slice(0, int(text.length)));
    }
    case 8: {
      // numbers as strings, NaN-ish literals that are not JSON
      const text = JSON.stringify(validReport());
      return Buffer.from(
        pick([
          text.replace(/"uses":\d+/, '"uses":"7"'),
          text.replace(/"uses":\d+/, '"uses":NaN'),
          text.replace(/"uses":\d+/, '"uses":Infinity'),
          text.replace(/"pid":\d+/, '"pid":1e999'),
          text.replace(/"sentAt":\d+/, '"sentAt":-1e-999'),
          text.replace(/"uses":\d+/, '"uses":0x1F'),
          text.replace(/"uses":\d+/, '"uses":1_000'),
        ]),
      );
    }
    case 9: // enormous strings
      return Buffer.from(JSON.stringify({ ...validReport(), service: 'S'.repeat(int(2) === 0 ? 100_000 : 300_000) }));
    case 10: {
      // invalid UTF-8 inside a valid-looking report, lone surrogates as escapes
      const text = JSON.stringify(validReport());
      const at = text.indexOf('checkout-api');
      return int(2) === 0
        ? Buffer.concat([
            Buffer.from(text.slice(0, at)),
            Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xf0, 0x28, 0x8c, 0xbc]),
            Buffer.from(text.slice(at)),
          ])
        : Buffer.from(text.replace('checkout-api', '\\ud800\\udfff\\udc00'));
    }
    case 11: // junk top-level values
      return Buffer.from(JSON.stringify(junk()) ?? 'undefined');
    case 12: // duplicate keys, the later a wrong type
      return Buffer.from(JSON.stringify(validReport()).replace('{', '{"secrets":[],"instance":1,'));
    default: // a valid report: must be accepted among the junk
      return Buffer.from(JSON.stringify(validReport()));
  }
}

/** Malformed HTTP straight on a socket. */
const RAW_REQUESTS = [
  'GARBAGE\r\n\r\n',
  'POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n{"a"',
  'POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n',
  'POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n',
  'POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  `GET /${'a'.repeat(100_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`,
  `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX: ${'b'.repeat(70_000)}\r\n\r\n`,
  'GET /v1/usage?secret=%E0%A4%A&window=%00 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fuzz-token\r\n\r\n',
  'GET http://[::1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
  'GET //// HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fuzz-token\r\n\r\n',
  'POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer fuzz-token\r\n' +
    'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
  '\u0000\u0001\u0002\r\n\r\n',
];

function rawSend(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1').split('\r\n')[0] ?? ''));
    socket.setTimeout(2_000, () => socket.destroy());
    socket.end(text);
  });
}

let server: CollectorServer;
const prototypeBefore = Object.getOwnPropertyNames(Object.prototype).sort();
beforeAll(async () => {
  server = await startCollectorServer({ token: TOKEN, maxBodyBytes: MAX_BODY });
});
afterAll(() => server.close());

describe(`fuzz: ${CASES} random and hostile bodies (seed ${SEED}; KEYFLIP_FUZZ_SEED replays another)`, () => {
  it('never crashes, never answers 500, never echoes a body; then still works', { timeout: 120_000 }, async () => {
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const bodies = Array.from({ length: CASES }, () => body());
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < bodies.length; i = next++) {
        const payload = bodies[i] as Buffer;
        const contentType =
          int(20) === 0
            ? pick(['text/plain', 'application/json; charset=latin1', 'APPLICATION/JSON', ''])
            : 'application/json';
        let status: number;
        let text: string;
        try {
          const res = await fetch(`${server.url}/v1/beacons`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${TOKEN}`,
              ...(contentType === '' ? {} : { 'content-type': contentType }),
            },
            body: payload,
          });
          status = res.status;
          text = await res.text();
        } catch (error) {
          // A 413 may close the socket while the body is still being sent: that is the point of not reading it.
          if (payload.length > MAX_BODY) {
            statuses.set(413, (statuses.get(413) ?? 0) + 1);
            continue;
          }
          failures.push(`#${i}: ${(error as Error).message}`);
          continue;
        }
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (![204, 400, 413, 415].includes(status)) failures.push(`#${i}: status ${status}`);
        if (status !== 204) {
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            failures.push(`#${i}: not JSON: ${text.slice(0, 80)}`);
            continue;
          }
          if (typeof (parsed as { error?: unknown }).error !== 'string') failures.push(`#${i}: no error message`);
          if (text.length > 4_000) failures.push(`#${i}: an answer of ${text.length} characters`);
          if (/ZZZZZZZZ|SSSSSSSS|script>|polluted/.test(text)) failures.push(`#${i}: the answer echoes the body`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    for (const text of RAW_REQUESTS) {
      const line = await rawSend(server.url, text);
      if (line !== '' && !/^HTTP\/1\.1 (400|401|404|413|414|431)/.test(line))
        failures.push(`raw: ${JSON.stringify(text.slice(0, 40))} → ${line}`);
    }

    expect(failures).toEqual([]);
    console.info(`fuzz statuses: ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`);
    // Every family was exercised.
    expect(statuses.get(204)).toBeGreaterThan(50);
    expect(statuses.get(400)).toBeGreaterThan(1_000);
    expect(statuses.get(413)).toBeGreaterThan(10);
    expect(statuses.get(415)).toBeGreaterThan(10);

    // Nothing leaked into Object.prototype.
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).uses).toBeUndefined();

    // Still answering, and still correct.
    expect(await (await fetch(`${server.url}/healthz`)).json()).toEqual({ ok: true });
    const res = await fetch(`${server.url}/v1/beacons`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(
        report({ id: 'after-the-storm', host: 'calm-1', service: 'survivor' }, [
          { name: 'AFTER_FUZZ', fingerprint: FP.other, uses: 42, version: '9' },
        ]),
      ),
    });
    expect(res.status).toBe(204);
    const usage = (await (
      await fetch(`${server.url}/v1/usage?secret=AFTER_FUZZ&window=5m`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as unknown;
    expect(usage).toMatchObject({
      secret: 'AFTER_FUZZ',
      instancesSeen: 1,
      fingerprints: [
        {
          fingerprint: FP.other,
          version: '9',
          uses: 42,
          instances: [{ id: 'after-the-storm', host: 'calm-1', service: 'survivor', uses: 42 }],
        },
      ],
    });
    const instances = (await (
      await fetch(`${server.url}/v1/instances`, { headers: { authorization: `Bearer ${TOKEN}` } })
    ).json()) as { instances: { id: string }[] };
    expect(instances.instances.some((i) => i.id === 'after-the-storm')).toBe(true);
    expect(instances.instances.length).toBeLessThanOrEqual((statuses.get(204) ?? 0) + 1);
  });
});
