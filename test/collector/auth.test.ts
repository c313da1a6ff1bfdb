/** The token check runs in constant time: crypto.timingSafeEqual on two SHA-256 digests, whatever was sent. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

vi.mock('node:crypto', async (importOriginal) => {
  const crypto = await importOriginal<typeof import('node:crypto')>();
  return { ...crypto, default: crypto, timingSafeEqual: vi.fn(crypto.timingSafeEqual) };
});

const { timingSafeEqual } = await import('node:crypto');
const { startCollectorServer } = await import('../../src/collector/index.js');

const TOKEN = 'the-collector-token';
let server: Awaited<ReturnType<typeof startCollectorServer>>;
beforeAll(async () => {
  server = await startCollectorServer({ token: TOKEN });
});
afterAll(() => server.close());

describe('the token check', () => {
  it('compares equal-length digests with timingSafeEqual: absent, short, long, wrong scheme, right', async () => {
    const spy = vi.mocked(timingSafeEqual);
    const cases: [Record<string, string>, number][] = [
      [{}, 401],
      [{ authorization: 'Bearer x' }, 401],
      [{ authorization: `Bearer ${'y'.repeat(4_000)}` }, 401],
      [{ authorization: `Bearer ${TOKEN.slice(0, -1)}` }, 401],
      [{ authorization: `Token ${TOKEN}` }, 401],
      [{ authorization: `Bearer ${TOKEN}` }, 200],
    ];
    for (const [headers, status] of cases) {
      spy.mockClear();
      const res = await fetch(`${server.url}/v1/instances`, { headers });
      expect(res.status).toBe(status);
      expect(spy).toHaveBeenCalledTimes(1);
      const [a, b] = spy.mock.calls[0] as [Buffer, Buffer];
      expect([a.length, b.length]).toEqual([32, 32]);
    }
  });

  it('/healthz never looks at the token', async () => {
    const spy = vi.mocked(timingSafeEqual);
    spy.mockClear();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect(spy).not.toHaveBeenCalled();
  });
});
