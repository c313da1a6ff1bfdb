import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { authFetch, type CustomAuth, type ProviderPreset, providers } from '../../src/clients/index.js';
import { clientRig, KEYS } from './rig.js';

const { rig } = clientRig();

interface Hit {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface Origin {
  url: string;
  hits: Hit[];
  server: Server;
}

let servers: Server[] = [];
afterEach(async () => {
  const all = servers;
  servers = [];
  await Promise.all(all.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A server on 127.0.0.1 (its own port, so its own origin) that records every request and answers `route`. */
async function origin(route: (hit: Hit) => { status: number; location?: string }): Promise<Origin> {
  const hits: Hit[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const hit = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: '' };
      hit.body = Buffer.concat(chunks).toString('utf8');
      hits.push(hit);
      const { status, location } = route(hit);
      res.writeHead(status, location === undefined ? {} : { location });
      res.end(status < 300 ? '{"ok":true}' : '');
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits, server };
}

/** Every header value of a hit, joined: what a leak check looks in. */
const everything = (hit: Hit): string => JSON.stringify(hit.headers) + hit.body;

const cases: [string, ProviderPreset | CustomAuth, string][] = [
  ...Object.entries(providers).map(([id, p]): [string, ProviderPreset, string] => [id, p, p.header]),
  ['anthropic (its alternate, Authorization)', providers.anthropic, 'authorization'],
  ['custom api-key (Azure)', { header: 'api-key' }, 'api-key'],
];

describe('authFetch never sends the key to another origin on a redirect', () => {
  it.each(cases)(
    '%s: a 307 to another origin is returned unfollowed; the other origin never sees the key',
    async (_, provider, header) => {
      const { key } = await rig();
      const other = await origin(() => ({ status: 200 }));
      const own = await origin(() => ({ status: 307, location: `${other.url}/steal` }));
      const fetch = authFetch(key, provider);
      const response = await fetch(`${own.url}/v1/messages`, {
        method: 'POST',
        body: '{}',
        headers: { [header]: 'placeholder' },
      });
      expect(response.status).toBe(307);
      expect(response.headers.get('location')).toBe(`${other.url}/steal`);
      expect(own.hits).toHaveLength(1);
      expect(everything(own.hits[0] as Hit)).toContain(KEYS.v1);
      expect(other.hits.every((hit) => !everything(hit).includes(KEYS.v1))).toBe(true);
      expect(other.hits).toHaveLength(0);
    },
  );

  it.each([301, 302, 303, 307, 308])('a %d to another origin, GET: not followed, no key there', async (status) => {
    const { key } = await rig();
    const other = await origin(() => ({ status: 200 }));
    const own = await origin(() => ({ status, location: `${other.url}/x` }));
    const response = await authFetch(key, providers.gemini)(`${own.url}/v1/models`);
    expect(response.status).toBe(status);
    expect(other.hits).toHaveLength(0);
  });

  it('same-origin hops then a cross-origin one: followed while same-origin, header set on each hop', async () => {
    const { key } = await rig();
    const other = await origin(() => ({ status: 200 }));
    const own = await origin((hit) =>
      hit.path === '/a'
        ? { status: 307, location: '/b' }
        : hit.path === '/b'
          ? { status: 308, location: `${other.url}/c` }
          : { status: 404 },
    );
    const response = await authFetch(key, 'anthropic')(`${own.url}/a`, { method: 'POST', body: '{"q":1}' });
    expect(response.status).toBe(308);
    expect(own.hits.map((h) => [h.path, h.method, h.body, h.headers['x-api-key']])).toEqual([
      ['/a', 'POST', '{"q":1}', KEYS.v1],
      ['/b', 'POST', '{"q":1}', KEYS.v1],
    ]);
    expect(other.hits).toHaveLength(0);
  });

  it('same-origin redirects are followed with the key (303 turns a POST into a GET without its body)', async () => {
    const { key } = await rig();
    const own = await origin((hit) => (hit.path === '/start' ? { status: 303, location: '/done' } : { status: 200 }));
    const response = await authFetch(key, providers.openai)(`${own.url}/start`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(response.status).toBe(200);
    expect(own.hits.map((h) => [h.path, h.method, h.headers.authorization])).toEqual([
      ['/start', 'POST', `Bearer ${KEYS.v1}`],
      ['/done', 'GET', `Bearer ${KEYS.v1}`],
    ]);
    expect(own.hits[1]?.headers['content-type']).toBeUndefined();
  });

  it('a Request input redirected to another origin is returned, no key sent there', async () => {
    const { key } = await rig();
    const other = await origin(() => ({ status: 200 }));
    const own = await origin(() => ({ status: 302, location: `${other.url}/x` }));
    const response = await authFetch(key, providers.mistral)(new Request(`${own.url}/v1/models`));
    expect(response.status).toBe(302);
    expect(other.hits).toHaveLength(0);
  });

  it("a caller's own redirect: 'manual' is passed through", async () => {
    const { key } = await rig();
    const own = await origin((hit) => (hit.path === '/a' ? { status: 307, location: '/b' } : { status: 200 }));
    const response = await authFetch(key, providers.openai)(`${own.url}/a`, { redirect: 'manual' });
    expect(response.status).toBe(307);
    expect(own.hits).toHaveLength(1);
  });
});
