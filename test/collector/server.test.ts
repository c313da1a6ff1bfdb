import { request as httpRequest } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type Collector,
  createCollector,
  startCollectorServer,
  type CollectorServer,
} from '../../src/collector/index.js';
import { hostHeaderName, isLoopback } from '../../src/collector/host-check.js';
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

/**
 * A raw TCP connection to the server, once connected. With `allowHalfOpen` it keeps sending after the server
 * closed its side, as a client still uploading a body does (and then sees a reset if the server stopped reading).
 */
function socketTo(server: CollectorServer, allowHalfOpen = false): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen }, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything a raw socket receives until the server closes it; `error` is the socket's error, if any. */
function received(socket: Socket): Promise<{ text: string; error: Error | undefined }> {
  return new Promise((resolve) => {
    let text = '';
    let error: Error | undefined;
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    socket.on('error', (e) => (error = e));
    socket.on('close', () => resolve({ text, error }));
  });
}

/** Resolves once `socket` has received `pattern`. */
function receivedSoFar(socket: Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const on = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      if (pattern.test(text)) {
        socket.off('data', on);
        resolve(text);
      }
    };
    socket.on('data', on);
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

    it('only loopback literals and localhost pass, with or without the port: not 127.attacker.example', async () => {
      const server = await start();
      const status = async (host: string): Promise<number> =>
        (await raw(server.url, { path: '/healthz', headers: { host } })).status;
      const port = server.port;
      for (const host of [
        `127.attacker.example:${port}`,
        '127.attacker.example',
        `127.0.0.1.attacker.example:${port}`,
        `localhost.attacker.example:${port}`,
        `evil.localhost:${port}`,
        `127.0.0.256:${port}`,
        `[::ffff:127.0.0.1]:${port}`,
        `localhost:${port}x`,
        'localhost:',
        `0.0.0.0:${port}`,
      ]) {
        expect(await status(host), host).toBe(403);
      }
      for (const host of [
        `127.0.0.1:${port}`,
        '127.0.0.1',
        `127.255.0.7:${port}`,
        'localhost',
        `LOCALHOST:${port}`,
        `[::1]:${port}`,
        '[::1]',
      ]) {
        expect(await status(host), host).toBe(200);
      }
      // An HTTP/1.0 request may leave Host out: refused too, with the reason.
      const socket = await socketTo(server);
      const answer = received(socket);
      socket.write('GET /healthz HTTP/1.0\r\n\r\n');
      const { text } = await answer;
      expect(text).toMatch(/^HTTP\/1\.1 403 /);
      expect(text).toContain('the Host header must name this collector');
    });

    it('names the operator allows (allowedHosts) pass too, in any case, with or without the port', async () => {
      const server = await start({ allowedHosts: ['Collector.Internal', '[fd00::1]', '10.0.0.5'] });
      const status = async (host: string): Promise<number> =>
        (await raw(server.url, { path: '/healthz', headers: { host } })).status;
      for (const host of ['collector.internal', 'COLLECTOR.internal:7391', '[fd00::1]:80', '10.0.0.5', '127.0.0.1'])
        expect(await status(host), host).toBe(200);
      for (const host of ['other.internal', 'collector.internal.attacker.example', '[fd00::2]', '10.0.0.6'])
        expect(await status(host), host).toBe(403);
      // Bound to another address, Host is checked only when allowedHosts is given.
      const open = await start({ host: '0.0.0.0', token: TOKEN });
      expect(
        (await raw(open.url.replace('0.0.0.0', '127.0.0.1'), { path: '/healthz', headers: { host: 'a.b' } })).status,
      ).toBe(200);
      const checked = await start({ host: '0.0.0.0', token: TOKEN, allowedHosts: ['collector.internal'] });
      const checkedUrl = checked.url.replace('0.0.0.0', '127.0.0.1');
      expect((await raw(checkedUrl, { path: '/healthz', headers: { host: 'a.b' } })).status).toBe(403);
      expect((await raw(checkedUrl, { path: '/healthz', headers: { host: 'collector.internal' } })).status).toBe(200);
    });

    it('isLoopback and hostHeaderName: what counts as loopback, and how a Host header is read', () => {
      for (const host of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '[::1]', 'localhost', 'LocalHost'])
        expect(isLoopback(host), host).toBe(true);
      for (const host of [
        '127.attacker.example',
        '127.0.0.256',
        '127.0.0',
        'foo.localhost',
        '0.0.0.0',
        '::',
        '128.0.0.1',
      ])
        expect(isLoopback(host), host).toBe(false);
      expect(hostHeaderName('127.0.0.1:7391')).toBe('127.0.0.1');
      expect(hostHeaderName('[::1]:7391')).toBe('[::1]');
      expect(hostHeaderName('Example.COM')).toBe('example.com');
      for (const header of ['', ':80', '::1', '[::1', '[::1]x', 'a:b', 'a:123456', 'a b', 'a_b.example'])
        expect(hostHeaderName(header), header).toBeUndefined();
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
    await expect(startCollectorServer({ maxConnections: 0 })).rejects.toThrow(/maxConnections/);
    for (const allowedHosts of [['collector.internal:80'], [''], ['a b'], ['*.example'], [7]]) {
      await expect(
        startCollectorServer({ allowedHosts: allowedHosts as string[] }),
        JSON.stringify(allowedHosts),
      ).rejects.toThrow(/allowedHosts\[0\]/);
    }
    await expect(startCollectorServer({ allowedHosts: 'a' as unknown as string[] })).rejects.toThrow(
      ConfigurationError,
    );
  });

  describe('idle and slow connections', () => {
    const CAP = 64;
    let idle: Socket[] = [];
    afterEach(() => {
      for (const socket of idle) socket.destroy();
      idle = [];
    });

    /** Opens `count` connections that send nothing, or only part of their headers. */
    async function flood(server: CollectorServer, count: number): Promise<void> {
      for (let i = 0; i < count; i++) {
        const socket = await socketTo(server);
        socket.on('error', () => undefined);
        if (i % 2 === 1) socket.write(`POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n`);
        idle.push(socket);
      }
    }

    const post = (server: CollectorServer, id: string): Promise<Response> =>
      fetch(`${server.url}/v1/beacons`, {
        method: 'POST',
        headers: { ...json, ...auth },
        body: JSON.stringify(report({ id }, [{ fingerprint: FP.new }])),
      });

    it('the cap + 50 idle or header-less connections: a beacon and /healthz are still answered', async () => {
      const server = await start({ token: TOKEN, maxConnections: CAP });
      await flood(server, CAP + 50);
      expect((await post(server, 'after-the-flood')).status).toBe(204);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.url}/v1/usage?secret=OPENAI_API_KEY`, { headers: auth })).status).toBe(200);
      expect(server.collector.stats.reports).toBe(1);
      // The oldest idle ones were closed to make room: never more than the cap open at once.
      const closed = idle.filter((socket) => socket.destroyed || socket.readableEnded).length;
      expect(closed).toBeGreaterThanOrEqual(50);
    }, 60_000);

    it('a request being served is not closed to make room: its body still arrives after a flood', async () => {
      const server = await start({ token: TOKEN, maxConnections: CAP });
      const body = Buffer.from(JSON.stringify(report({ id: 'slow-sender' }, [{ fingerprint: FP.old }])));
      const socket = await socketTo(server);
      const answer = received(socket);
      socket.write(
        `POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\n` +
          `Authorization: Bearer ${TOKEN}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
      );
      socket.write(body.subarray(0, 10));
      // The server has read those headers (and marked the request as served) once a later request is answered.
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await flood(server, CAP + 50);
      socket.end(body.subarray(10));
      const { text, error } = await answer;
      expect(error).toBeUndefined();
      expect(text).toMatch(/^HTTP\/1\.1 204 /);
      expect(server.collector.stats.reports).toBe(1);
    }, 60_000);
  });

  describe('refused while the body is still arriving', () => {
    it('a POST without a valid token gets its 401 at once; a small body sent later is drained, no reset', async () => {
      const server = await start({ token: TOKEN });
      const body = JSON.stringify(report({ id: 'no-token' }, [{ fingerprint: FP.old }]));
      for (const authorization of ['', `Authorization: Bearer wrong\r\n`]) {
        const socket = await socketTo(server, true);
        const all = received(socket);
        socket.write(
          `POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\n` +
            `${authorization}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
        );
        // The answer comes before any of the body was sent.
        const early = await receivedSoFar(socket, /\r\n\r\n\{[^}]*\}/);
        expect(early).toMatch(/^HTTP\/1\.1 401 /);
        expect(early.toLowerCase()).toContain('www-authenticate: bearer realm="keyflip-collector"');
        expect(early).toMatch(/"error":"unauthorized: /);
        // Then the body, in two parts: read and discarded, and the connection closes cleanly (no reset).
        socket.write(body.slice(0, 20));
        await new Promise((resolve) => setTimeout(resolve, 100));
        socket.end(body.slice(20));
        const { text, error } = await all;
        expect(error).toBeUndefined();
        expect(text).toBe(early);
      }
      expect(server.collector.stats.reports).toBe(0);
    });

    it('a body larger than the limit behind a 401 is not read: the connection is closed', async () => {
      const server = await start({ token: TOKEN, maxBodyBytes: 1_000 });
      const socket = await socketTo(server);
      const all = received(socket);
      socket.on('error', () => undefined);
      socket.write(
        `POST /v1/beacons HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\n` +
          'Transfer-Encoding: chunked\r\n\r\n',
      );
      expect(await receivedSoFar(socket, /\r\n\r\n\{[^}]*\}/)).toMatch(/^HTTP\/1\.1 401 /);
      // 4 KiB in chunks: past the limit, the server closes the connection without waiting for the end.
      for (let i = 0; i < 4 && !socket.destroyed; i++) socket.write(`400\r\n${'x'.repeat(1_024)}\r\n`);
      const { text } = await all;
      expect(text).toMatch(/^HTTP\/1\.1 401 /);
      expect(server.collector.stats.reports).toBe(0);
    });
  });

  describe('refused reports (429)', () => {
    it('a new instance beyond maxInstances: 429, reason and Retry-After; /healthz and /v1/usage answer', async () => {
      const server = await start({ token: TOKEN, collector: createCollector({ maxInstances: 1 }) });
      const post = (id: string): Promise<Response> =>
        fetch(`${server.url}/v1/beacons`, {
          method: 'POST',
          headers: { ...json, ...auth },
          body: JSON.stringify(report({ id }, [{ fingerprint: FP.old }])),
        });
      expect((await post('first')).status).toBe(204);
      for (const id of ['second', 'third']) {
        const refused = await post(id);
        expect(refused.status).toBe(429);
        expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
        expect(refused.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(await refused.json()).toEqual({
          error: 'report refused for now (instance-cap)',
          reason: 'instance-cap',
          message: expect.stringContaining('maxInstances'),
        });
      }
      expect((await post('first')).status).toBe(204); // an instance it tracks is still heard
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      const usage = await fetch(`${server.url}/v1/usage?secret=OPENAI_API_KEY&window=1h`, { headers: auth });
      expect(usage.status).toBe(200);
      // The answer is collector.usage()'s, coverage included: the refusals are dropped evidence.
      expect(await usage.json()).toMatchObject({
        instancesSeen: 1,
        coverage: {
          observedSince: expect.any(Number),
          dropped: [expect.objectContaining({ reason: 'instance-cap', count: 2 })],
          gaps: [],
        },
      });
    });

    it('Retry-After is the retryAfterMs of the refusal in whole seconds, rounded up (at least 1)', async () => {
      const real = createCollector();
      for (const [retryAfterMs, header] of [
        [1_500, '2'],
        [0, '1'],
        [60_000, '60'],
        [Number.NaN, '60'],
      ] as const) {
        const collector: Collector = {
          ...real,
          ingest: () => ({ accepted: false, reason: 'memory-budget', retryAfterMs, message: 'over the budget' }),
        };
        const server = await start({ collector });
        const res = await fetch(`${server.url}/v1/beacons`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify(report({ id: 'x' }, [{ fingerprint: FP.old }])),
        });
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after'), String(retryAfterMs)).toBe(header);
        expect(await res.json()).toEqual({
          error: 'report refused for now (memory-budget)',
          reason: 'memory-budget',
          message: 'over the budget',
        });
      }
    });
  });

  it('start fails cleanly when the port is taken', async () => {
    const first = await start();
    await expect(startCollectorServer({ port: first.port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });
});
