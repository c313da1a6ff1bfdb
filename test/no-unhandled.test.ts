import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, memorySource, type Source } from '../src/index.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
});

const turns = async (n: number): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('a misbehaving source never crashes the process', () => {
  it('throwing, rejecting, hanging, garbage-returning and watch-throwing sources, throwing listeners, close mid-flight: no unhandled rejection', async () => {
    const syncThrow: Source = {
      name: 'sync',
      fetch: () => {
        throw new Error('sync throw');
      },
    };
    const reject: Source = { name: 'reject', fetch: () => Promise.reject(new Error('rejected')) };
    const hang: Source = { name: 'hang', fetch: () => new Promise(() => {}) };
    const lateReject: Source = {
      name: 'late',
      fetch: () =>
        new Promise((_, rejectLater) => setTimeout(() => rejectLater(new Error('late reject after abort')), 60)),
    };
    const garbage: Source = { name: 'garbage', fetch: async () => ({ status: 'maybe' }) as never };
    const badWatch: Source = {
      name: 'badwatch',
      fetch: async () => ({ status: 'found', value: 'value-w' }),
      watch: () => {
        throw new Error('watch failed');
      },
      close: () => Promise.reject(new Error('close failed')),
    };
    const memory = memorySource({ OK: 'value-ok' });
    const resolver = createResolver({
      sources: [memory, syncThrow, reject, hang, lateReject, garbage, badWatch],
      refreshMs: 20,
      fetchTimeoutMs: 30,
      startupTimeoutMs: 200,
    });
    resolver.on('resolve', () => {
      throw new Error('listener throws');
    });
    resolver.on('error', () => {
      throw new Error('error listener throws');
    });
    for (const name of ['sync', 'reject', 'hang', 'late', 'garbage', 'badwatch']) resolver.secret(name, `${name}:X`);
    resolver.secret('OK');
    const family = resolver.family('fam', (id) => `reject:${id}`);
    void family.get('t1').catch(() => undefined);
    const ready = await resolver.ready().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(ready?.message).toMatch(/5 of 7 secrets/);
    await turns(5);
    await new Promise((r) => setTimeout(r, 150)); // let refreshes, aborts and the late rejection happen
    const pending = resolver.secret('late2', 'late:Y').get();
    await resolver.close();
    await expect(pending).rejects.toThrow(/closed/);
    await new Promise((r) => setTimeout(r, 100));
    await turns(5);
    expect(unhandled).toEqual([]);
  });
});
