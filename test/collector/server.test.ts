import { request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCollector, startCollectorServer, type CollectorServer } from '../../src/collector/index.js';
import { ConfigurationError } from '../../src/index.js';
import { FP, report } from './reports.js';

const TOKEN = 'collector-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const json = { 'content-type': 'application/json' };

let servers: CollectorServer[] = [];
let printed: string[] = [];
beforeEach(() => {
  printed = [];
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream);
    vi.spyOn(stream, 'write').mockImplementation((chunk: unknown, ...rest: unknown[]) => {
      printed.push(String(chunk));
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    });
  }
  vi.spyOn(console, 'log');
  vi.spyOn(console, 'error');
  vi.spyOn(console, 'warn');
});
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  // The server never prints, whatever it was sent.
  expect(console.log).not.toHaveBeenCalled();
  expect(console.error).not.toHaveBeenCalled();
  expect(console.warn).not.toHaveBeenCalled();
  expect(printed.filter((p) => !p.includes('vitest') && p.trim() !== '')).toEqual([]);
  vi.restoreAllMocks();
});

async function start(options: Parameters<typeof startCollectorServer>[0] = {}): Promise<CollectorServer> {
  const server = await startCollectorServer(options);
  servers.push(server);
  return server;
}

/** A raw HTTP request (node:http), for what fetch will not send: a wrong Host, a body that never ends. */
function raw(
  url: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('startCollectorServer', () => {
  it('listens on 127.0.0.1 by default; POST /v1/beacons → 204, then /v1/usage and /v1/instances show it', async () => {
    const server = await start();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const post = await fetch(`${server.url}/v1/beacons`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify(report({ id: 'a', host: 'web-1' }, [{ fingerprint: FP.old, uses: 9, version: '1' }])),
    });
    expect(post.status).toBe(204);
    const usage = (await (await fetch(`${server.url}/v1/usage?secret=OPENAI_API_KEY&window=60m`)).json()) as {
      instancesSeen: number;
      windowMs: number;
      fingerprints: { fingerprint: string; uses: number }[];
    };
    expect(usage).toMatchObject({
      instancesSeen: 1,
      windowMs: 3_600_000,
      fingerprints: [{ fingerprint: FP.old, uses: 9, version: '1' }],
    });
    const instances = await fetch(`${server.url}/v1/instances`);
    expect(instances.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(instances.headers.get('cache-control')).toBe('no-store');
    const body = (await instances.json()) as {
      retentionMs: number;
      instances: { id: string; host: string; stale: boolean }[];
    };
    expect(body.retentionMs).toBe(86_400_000);
    expect(body.instances).toMatchObject([{ id: 'a', host: 'web-1', stale: false }]);
    // The window defaults to 60m, and any duration spelling works.
    expect(
      ((await (await fetch(`${server.url}/v1/usage?secret=OPENAI_API_KEY`)).json()) as { windowMs: number }).windowMs,
    ).toBe(3_600_000);
    expect(
      (
        (await (await fetch(`${server.url}/v1/usage?secret=OPENAI_API_KEY&window=90000ms`)).json()) as {
          windowMs: number;
        }
      ).windowMs,
    ).toBe(90_000);
  });

  it('GET /v1/instances?limit=N: stale ones first, then the most recent; total, stale, the secret names', async () => {
    let now = 1_800_000_000_000;
    const collector = createCollector({ clock: { now: () => now } });
    const server = await start({ collector });
    collector.ingest(report({ id: 'old' }, [{ fingerprint: FP.old }]));
    now += 10 * 60_000; // 'old' is now stale (one report: 60 s assumed interval)
    for (const id of ['a', 'b', 'c'])
      collector.ingest(report({ id }, [{ name: id === 'c' ? 'OTHER' : 'OPENAI_API_KEY', fingerprint: FP.new }]));
    const all = (await (await fetch(`${server.url}/v1/instances`)).json()) as {
      at: number;
      total: number;
      stale: number;
      secrets: string[];
      instances: { id: string }[];
    };
    expect(all).toMatchObject({ at: now, total: 4, stale: 1, secrets: ['OPENAI_API_KEY', 'OTHER'] });
    expect(all.instances.map((i) => i.id)).toEqual(['c', 'b', 'a', 'old']);
    const two = (await (await fetch(`${server.url}/v1/instances?limit=2`)).json()) as typeof all;
    expect(two).toMatchObject({ total: 4, stale: 1 });
    expect(two.instances.map((i) => i.id)).toEqual(['old', 'c']);
    expect((await fetch(`${server.url}/v1/instances?limit=-1`)).status).toBe(400);
  });

  it('serves the collector it is given', async () => {
    const collector = createCollector();
    const server = await start({ collector });
    expect(server.collector).toBe(collector);
    collector.ingest(report({ id: 'in-process' }, [{ fingerprint: FP.new }]));
    const usage = (await (await fetch(`${server.url}/v1/usage?secret=OPENAI_API_KEY&window=1h`)).json()) as {
      instancesSeen: number;
    };
    expect(usage.instancesSeen).toBe(1);
  });

  describe('with a token', () => {
    it('every route but /healthz and the page needs it: 401 with WWW-Authenticate, nothing ingested', async () => {
      const server = await start({ token: TOKEN });
      const body = JSON.stringify(report({ id: 'a' }, [{ fingerprint: FP.old }]));
      for (const headers of [
        {},
        { authorization: 'Bearer wrong' },
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: `Bearer ${TOKEN.slice(0, -1)}` },
        { authorization: `Basic ${TOKEN}` },
        { authorization: TOKEN },
        { authorization: 'Bearer' },
      ]) {
        const res = await fetch(`${server.url}/v1/beacons`, { method: 'POST', headers: { ...json, ...headers }, body });
        expect(res.status).toBe(401);
        expect(res.headers.get('www-authenticate')).toBe('Bearer realm="keyflip-collector"');
        expect(((await res.json()) as { error: string }).error).toMatch(/^unauthorized/);
      }
      for (const path of ['/v1/usage?secret=OPENAI_API_KEY', '/v1/instances', '/nope']) {
        expect((await fetch(`${server.url}${path}`)).status, path).toBe(401);
      }
      expect(server.collector.stats.reports).toBe(0);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/`)).status).toBe(200);
      // With it: accepted (the scheme is case-insensitive).
      expect(
        (
          await fetch(`${server.url}/v1/beacons`, {
            method: 'POST',
            headers: { ...json, authorization: `bearer ${TOKEN}` },
            body,
          })
        ).status,
      ).toBe(204);
      expect((await fetch(`${server.url}/v1/usage?secret=OPENAI_API_KEY`, { headers: auth })).status).toBe(200);
      expect((await fetch(`${server.url}/v1/instances`, { headers: auth })).status).toBe(200);
    });

    it('a 401 does not read the body: a request that would never end is answered', async () => {
      const server = await start({ token: TOKEN });
      const status = await new Promise<number>((resolve, reject) => {
        const target = new URL(server.url);
        const req = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: 'POST',
            path: '/v1/beacons',
            headers: json,
            agent: false,
          },
          (res) => {
            resolve(res.statusCode ?? 0);
            res.resume();
            req.destroy();
          },
        );
        req.on('error', () => undefined);
        const chunk = Buffer.alloc(16_384, 0x20);
        const pump = (): void => {
          if (req.destroyed) return;
          if (req.write(chunk)) setImmediate(pump);
          else req.once('drain', pump);
        };
        pump();
        setTimeout(() => reject(new Error('no answer')), 5_000).unref();
      });
      expect(status).toBe(401);
    });
  });

  describe('bodies', () => {
    it('413 on a declared Content-Length over the limit, without reading it', async () => {
      const server = await start({ maxBodyBytes: 1_000 });
      const res = await raw(server.url, {
        method: 'POST',
        path: '/v1/beacons',
        headers: { ...json, 'content-length': '1000000' },
      });
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body)).toEqual({ error: 'the body is larger than 1000 bytes' });
      expect(res.headers.connection).toBe('close');
    });

    it('413 on a chunked body once it passes the limit, while the client is still sending', async () => {
      const server = await start({ maxBodyBytes: 64 * 1024 });
      let sent = 0;
      const status = await new Promise<number>((resolve, reject) => {
        const target = new URL(server.url);
        const req = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: 'POST',
            path: '/v1/beacons',
            headers: json,
            agent: false,
          },
          (res) => {
            resolve(res.statusCode ?? 0);
            res.resume();
            req.destroy();
          },
        );
        req.on('error', () => undefined);
        const chunk = Buffer.alloc(8_192, 0x20);
        const pump = (): void => {
          if (req.destroyed) return;
          sent += chunk.length;
          if (req.write(chunk)) setImmediate(pump);
          else req.once('drain', pump);
        };
        pump();
        setTimeout(() => reject(new Error('no answer')), 5_000).unref();
      });
      expect(status).toBe(413);
      expect(sent).toBeLessThan(16 * 1024 * 1024);
      // The server is fine afterwards.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    });

    it('400 says what is wrong: not UTF-8, not JSON, not a report (which field), never quoting the body', async () => {
      const server = await start();
      const post = async (
        body: string | Uint8Array,
      ): Promise<{ status: number; body: { error: string; issues?: unknown } }> => {
        const res = await fetch(`${server.url}/v1/beacons`, { method: 'POST', headers: json, body });
        return { status: res.status, body: (await res.json()) as { error: string } };
      };
      expect(await post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toEqual({
        status: 400,
        body: { error: 'the body is not valid UTF-8' },
      });
      expect(await post('{"schema": "keyflip.beacon/v1", SECRET-LOOKING-TEXT')).toEqual({
        status: 400,
        body: { error: 'the body is not valid JSON (at character 32)' },
      });
      expect(await post('')).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^the body is not valid JSON/) },
      });
      const bad = JSON.parse(JSON.stringify(report({ id: 'a' }, [{ fingerprint: FP.old }]))) as {
        secrets: Record<string, unknown>[];
      };
      (bad.secrets[0] as Record<string, unknown>).fingerprint = 'sk-proj-this-is-a-value-not-a-fingerprint';
      (bad.secrets[0] as Record<string, unknown>).uses = 'many';
      const res = await post(JSON.stringify(bad));
      expect(res).toEqual({
        status: 400,
        body: {
          error:
            'secrets[0].fingerprint: expected kf_ + 12 lowercase hex digits, got a string of 41 characters; ' +
            'secrets[0].uses: expected an integer from 0 to 9007199254740991, got a string of 4 characters',
          code: 'INVALID_REPORT',
          issues: [
            {
              path: 'secrets[0].fingerprint',
              problem: 'expected kf_ + 12 lowercase hex digits, got a string of 41 characters',
            },
            {
              path: 'secrets[0].uses',
              problem: 'expected an integer from 0 to 9007199254740991, got a string of 4 characters',
            },
          ],
        },
      });
      expect(JSON.stringify(res)).not.toContain('sk-proj');
      expect(server.collector.stats).toMatchObject({ reports: 0, rejected: 1 });
    });

    it('415 without a JSON content type (no cross-origin post without preflight) or a compressed body', async () => {
      const server = await start();
      const body = JSON.stringify(report({ id: 'a' }, [{ fingerprint: FP.old }]));
      expect(
        (await fetch(`${server.url}/v1/beacons`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body }))
          .status,
      ).toBe(415);
      expect((await raw(server.url, { method: 'POST', path: '/v1/beacons', body })).status).toBe(415);
      expect(
        (
          await fetch(`${server.url}/v1/beacons`, {
            method: 'POST',
            headers: { ...json, 'content-encoding': 'gzip' },
            body,
          })
        ).status,
      ).toBe(415);
      expect(
        (
          await fetch(`${server.url}/v1/beacons`, {
            method: 'POST',
            headers: { 'content-type': 'application/json; charset=utf-8' },
            body,
          })
        ).status,
      ).toBe(204);
    });
  });

  describe('routes', () => {
    it('/healthz, 404 and 405 (with Allow), usage query errors as 400', async () => {
      const server = await start({ collector: createCollector({ retentionMs: 3_600_000 }) });
      const get = async (
        path: string,
        init?: RequestInit,
      ): Promise<{ status: number; allow: string | null; body: unknown }> => {
        const res = await fetch(`${server.url}${path}`, init);
        return { status: res.status, allow: res.headers.get('allow'), body: await res.json() };
      };
      expect(await get('/healthz')).toEqual({ status: 200, allow: null, body: { ok: true } });
      expect((await get('/v2/nothing')).status).toBe(404);
      expect(await get('/v1/beacons')).toMatchObject({ status: 405, allow: 'POST' });
      expect(await get('/v1/usage', { method: 'POST', headers: json, body: '{}' })).toMatchObject({
        status: 405,
        allow: 'GET, HEAD',
      });
      expect(await get('/v1/usage')).toEqual({
        status: 400,
        allow: null,
        body: { error: 'secret: the query needs ?secret=NAME' },
      });
      expect(await get('/v1/usage?secret=K&window=60')).toMatchObject({
        status: 400,
        body: { error: expect.stringMatching(/^window: invalid duration "60": write a number and a unit/) },
      });
      expect(await get('/v1/usage?secret=K&window=2h')).toMatchObject({
        status: 400,
        body: { code: 'INVALID_QUERY', error: expect.stringMatching(/longer than the collector's retention/) },
      });
      expect(await get(`/v1/usage?secret=${'S'.repeat(300)}`)).toMatchObject({
        status: 400,
        body: { code: 'INVALID_QUERY' },
      });
    });

    it('refuses a Host header that does not name loopback (DNS rebinding)', async () => {
      const server = await start();
      const port = new URL(server.url).port;
      expect(
        (await raw(server.url, { path: '/v1/instances', headers: { host: `attacker.example:${port}` } })).status,
      ).toBe(403);
      expect((await raw(server.url, { path: '/', headers: { host: `attacker.example:${port}` } })).status).toBe(403);
      expect((await raw(server.url, { path: '/v1/instances', headers: { host: `localhost:${port}` } })).status).toBe(
        200,
      );
      expect((await raw(server.url, { path: '/v1/instances', headers: { host: `[::1]:${port}` } })).status).toBe(200);
    });

    it('GET / is the page: self-contained, with a CSP that allows nothing external', async () => {
      const server = await start({ token: TOKEN });
      const res = await fetch(`${server.url}/`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
      expect(csp).toMatch(/connect-src 'self'/);
      const html = await res.text();
      expect(html).toMatch(/^<!doctype html>/);
      expect(html).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
      expect(html).not.toMatch(/console\./);
      expect(html).not.toMatch(/innerHTML/);
      expect(html).toContain('#token=');
      // The inline script is valid JavaScript (the Chromium test runs it; this catches a broken build sooner).
      const script = /<script>([\s\S]*)<\/script>/.exec(html)?.[1] ?? '';
      expect(script.length).toBeGreaterThan(1_000);
      expect(() => new Function(script)).not.toThrow();
    });
  });

  it('close() frees the port even with a keep-alive connection open, and is idempotent', async () => {
    const server = await startCollectorServer();
    const port = server.port;
    const agentRes = await raw(server.url, { path: '/healthz', headers: { connection: 'keep-alive' } });
    expect(agentRes.status).toBe(200);
    // An idle keep-alive connection held by fetch's pool:
    await (await fetch(`${server.url}/healthz`, { headers: { connection: 'keep-alive' } })).text();
    await Promise.all([server.close(), server.close()]);
    await new Promise<void>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
    });
  });

  it('refuses options that make no sense, with a ConfigurationError', async () => {
    await expect(startCollectorServer({ maxBodyBytes: 0 })).rejects.toThrow(ConfigurationError);
    await expect(startCollectorServer({ maxBodyBytes: 1.5 })).rejects.toThrow(/maxBodyBytes/);
    await expect(startCollectorServer({ token: '' })).rejects.toThrow(ConfigurationError);
  });

  it('start fails cleanly when the port is taken', async () => {
    const first = await start();
    await expect(startCollectorServer({ port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
