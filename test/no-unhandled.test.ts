import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createResolver, memorySource, type Source } from '../src/index.js';
import { manualClock } from '../src/testing/index.js';

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

/**
 * A source whose fetches settle only when the test says so: `rejectAll()` rejects every fetch still pending,
 * long after the resolver's budget aborted it (a late rejection nobody listens to any more).
 */
function lateSource(name: string): Source & { pending: number; rejectAll(): void } {
  const rejections: ((error: Error) => void)[] = [];
  return {
    name,
    get pending() {
      return rejections.length;
    },
    fetch: () => new Promise<never>((_, reject) => void rejections.push(reject)),
    rejectAll() {
      for (const reject of rejections.splice(0)) reject(new Error('late reject after abort'));
    },
  };
}

describe('a misbehaving source never crashes the process', () => {
  it('misbehaving sources, throwing listeners, close mid-flight: no unhandled rejection', async () => {
    const syncThrow: Source = {
      name: 'sync',
      fetch: () => {
        throw new Error('sync throw');
      },
    };
    const reject: Source = { name: 'reject', fetch: () => Promise.reject(new Error('rejected')) };
    const hang: Source = { name: 'hang', fetch: () => new Promise(() => {}) };
    const lateReject = lateSource('late');
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
    const clock = manualClock();
    const resolver = createResolver({
      sources: [memory, syncThrow, reject, hang, lateReject, garbage, badWatch],
      refreshMs: 20,
      fetchTimeoutMs: 30,
      startupTimeoutMs: 200,
      clock,
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
    const ready = resolver.ready().then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    await clock.advance(200); // retries with backoff, fetch budgets that abort, then startupTimeoutMs
    expect((await ready)?.message).toMatch(/5 of 7 secrets/);
    // Let refreshes and aborts happen, then the late rejections of the fetches the budget aborted.
    await clock.advance(150);
    expect(lateReject.pending).toBeGreaterThan(1);
    lateReject.rejectAll();
    await turns(5);
    const pending = resolver.secret('late2', 'late:Y').get();
    expect(lateReject.pending).toBe(1);
    await resolver.close();
    await expect(pending).rejects.toThrow(/closed/);
    lateReject.rejectAll(); // the fetch close() aborted rejects late too
    await turns(5);
    expect(unhandled).toEqual([]);
  });
});
