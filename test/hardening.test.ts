import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createResolver,
  DependencyError,
  InvalidCandidateError,
  KeyflipError,
  MAX_TIMER_MS,
  memorySource,
  parseChain,
  ReadyError,
  SourceUnavailableError,
} from '../src/index.js';
import type { Source, SourceResult } from '../src/types.js';
import { collectUnhandledRejections, found, only, scriptedRig, trackResolvers } from './helpers.js';

const setup = scriptedRig();
const resolverFor = trackResolvers();
const unhandled = collectUnhandledRejections();

/** What `promise` settled to, or 'pending' when it has not settled within `ms` of real time. */
async function within<T>(promise: Promise<T>, ms = 1_000): Promise<{ ok: T } | { error: unknown } | 'pending'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const pending = new Promise<'pending'>((resolve) => {
    timer = setTimeout(() => resolve('pending'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (ok) => ({ ok }),
        (error: unknown) => ({ error }),
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const throwing = (): never => {
  throw new Error('decryption failed');
};

const throwingProxy = (): object => new Proxy({}, { get: (_t, key) => (key === 'then' ? undefined : throwing()) });
const hostileResults: [string, () => unknown][] = [
  [
    'a value getter that throws',
    () => ({
      status: 'found',
      get value() {
        return throwing();
      },
    }),
  ],
  [
    'a status getter that throws',
    () => ({
      get status() {
        return throwing();
      },
      value: 'x',
    }),
  ],
  [
    'a reason getter that throws',
    () => ({
      status: 'absent',
      get reason() {
        return throwing();
      },
    }),
  ],
  [
    'a version getter that throws',
    () => ({
      status: 'found',
      value: 'x',
      get version() {
        return throwing();
      },
    }),
  ],
  ['a number', () => 42],
  ['null', () => null],
  ['a string', () => 'found'],
  ['a Proxy that throws on every read', throwingProxy],
  ['a found result whose value is a Proxy that throws', () => ({ status: 'found', value: throwingProxy() })],
];

describe('a source result the resolver cannot read', () => {
  afterEach(() => {
    expect(unhandled.splice(0)).toEqual([]);
  });

  it.each(hostileResults)('%s is unavailable for that fetch, and the secret recovers', async (_, make) => {
    const { src, resolver, events } = setup();
    src.answer('K', () => Promise.resolve(make() as SourceResult));
    const key = resolver.secret('K');
    const refreshed = await within(key.refresh());
    expect(refreshed).toMatchObject({ error: expect.any(SourceUnavailableError) });
    expect(only(events, 'error').length).toBeGreaterThan(0);
    expect(JSON.stringify(only(events, 'error').map((e) => e.error.message))).not.toContain('decryption failed');
    src.answer('K', found('healthy-value'));
    expect(await within(resolver.ready())).toEqual({ ok: undefined });
    expect(key.value).toBe('healthy-value');
  });

  it('a value getter is read once: the value served is the one checked', async () => {
    const { src, resolver } = setup();
    let reads = 0;
    src.answer('K', () =>
      Promise.resolve({
        status: 'found',
        get value() {
          reads++;
          return reads === 1 ? 'first-read' : '';
        },
      } as SourceResult),
    );
    const key = resolver.secret('K');
    await resolver.ready();
    expect(key.value).toBe('first-read');
    expect(reads).toBe(1);
  });
});

describe('a source that rejects with something the resolver cannot read', () => {
  const hostile = () => new Proxy({}, { get: throwing, getPrototypeOf: throwing, has: throwing, ownKeys: throwing });
  it.each([
    ['a rejection with a Proxy that throws on every trap', () => Promise.reject(hostile())],
    [
      'an absent result whose reason is a Proxy that throws on every trap',
      () => Promise.resolve({ status: 'absent', reason: hostile() }),
    ],
  ])('%s is unavailable, and the secret recovers', async (_, answer) => {
    const { src, resolver } = setup();
    src.answer('K', answer as () => Promise<SourceResult>);
    const key = resolver.secret('K');
    expect(await within(key.refresh())).toMatchObject({ error: expect.any(SourceUnavailableError) });
    src.answer('K', found('healthy-value'));
    expect(await within(resolver.ready())).toEqual({ ok: undefined });
    expect(key.value).toBe('healthy-value');
    expect(unhandled.splice(0)).toEqual([]);
  });
});

describe('an absent reason outside ABSENT_REASONS', () => {
  it.each(['timeout', 'NOT-FOUND', ''])(
    '%j is unavailable: no fallback, an error event names the contract',
    async (reason) => {
      const { src, resolver, events } = setup();
      src.answer('K_v2', { status: 'absent', reason } as unknown as SourceResult);
      src.answer('K_v1', found('old-value'));
      const key = resolver.secret('K', 'K_v2 ?? K_v1');
      expect(await within(key.refresh())).toMatchObject({ error: expect.any(SourceUnavailableError) });
      expect(src.count('K_v1')).toBe(0);
      expect(() => key.value).toThrow();
      const errors = only(events, 'error');
      expect(errors.length).toBeGreaterThan(0);
      const error = errors[0]?.error;
      expect(error).toBeInstanceOf(SourceUnavailableError);
      expect(error?.message).toMatch(/source s .*contract/);
      expect(error?.message).toContain('K_v2');
    },
  );
});

describe('permanent failures', () => {
  it('`permanent` is true for ConfigurationError, DependencyError and errors made permanent; false otherwise', () => {
    expect(new ConfigurationError('x').permanent).toBe(true);
    expect(new DependencyError('pkg', 'x').permanent).toBe(true);
    expect(new KeyflipError('SOURCE_UNAVAILABLE', 'x').permanent).toBe(false);
    expect(new SourceUnavailableError('x').permanent).toBe(false);
    expect(new KeyflipError('SOURCE_UNAVAILABLE', 'x', { permanent: true }).permanent).toBe(true);
  });

  class NoProjectError extends KeyflipError {
    override get permanent(): boolean {
      return true;
    }
  }

  it.each([
    ['ConfigurationError', () => new ConfigurationError('project p does not exist; check the project id')],
    ['DependencyError', () => new DependencyError('@google-cloud/secret-manager', 'npm install it')],
    ['a KeyflipError whose permanent getter is true', () => new NoProjectError('BACKEND', 'no such project')],
  ] as const)('%s: ready() fails at once with it, one error event, no backoff retries', async (_, make) => {
    const { src, resolver, events, clock } = setup({ refreshMs: 60_000, startupTimeoutMs: 10_000 });
    const failure = make();
    src.answer('K', () => Promise.reject(failure));
    const key = resolver.secret('K');
    const ready = await within(resolver.ready());
    expect(ready).toMatchObject({ error: expect.any(ReadyError) });
    const readyError = (ready as { error: ReadyError }).error;
    expect(readyError.failures).toHaveLength(1);
    expect(readyError.failures[0]?.error).toBe(failure);
    expect(await within(key.get())).toEqual({ error: failure });
    expect(only(events, 'error').map((e) => e.error)).toEqual([failure]);
    const fetches = src.count('K');
    await clock.advance(50_000); // the backoff would have retried at 1, 2, 4, 8, 16 and 32 s
    expect(src.count('K')).toBe(fetches);
    await clock.advance(20_000); // the refresh period: tried again, in case the operator fixed it
    expect(src.count('K')).toBe(fetches + 1);
    expect(only(events, 'error')).toHaveLength(1);
    src.answer('K', found('fixed'));
    await key.refresh();
    expect(key.value).toBe('fixed');
  });

  it('a family member failing permanently rejects at once with that error', async () => {
    const { src, resolver } = setup();
    const failure = new ConfigurationError('no credentials');
    src.answer('T_a', () => Promise.reject(failure));
    const family = resolver.family('T', (id) => `T_${id}`);
    expect(await within(family.get('a'))).toEqual({ error: failure });
  });
});

describe('durations', () => {
  const options = ['refreshMs', 'fetchTimeoutMs', 'startupTimeoutMs'] as const;

  it.each(options)('%s over 2^31-1 ms is refused, naming the option and the limit', (option) => {
    expect(MAX_TIMER_MS).toBe(2_147_483_647);
    const make = () => createResolver({ sources: [memorySource()], [option]: MAX_TIMER_MS + 1 });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(new RegExp(`${option}.*2147483647`));
  });

  it('maxStaleMs is checked on read, not by a timer: it works at any size up to 10 years', () => {
    expect(() => resolverFor({ sources: [memorySource()], maxStaleMs: 30 * 86_400_000 })).not.toThrow();
    const make = () => createResolver({ sources: [memorySource()], maxStaleMs: 11 * 365 * 86_400_000 });
    expect(make).toThrow(ConfigurationError);
    expect(make).toThrow(/maxStaleMs.*10 years/);
  });

  it('Infinity is accepted for maxStaleMs only', () => {
    expect(() => resolverFor({ sources: [memorySource()], maxStaleMs: Number.POSITIVE_INFINITY })).not.toThrow();
    expect(() => createResolver({ sources: [memorySource()], refreshMs: Number.POSITIVE_INFINITY })).toThrow(
      ConfigurationError,
    );
  });

  it('a family ttlMs and a secret refreshMs over the limit are refused', () => {
    const resolver = resolverFor({ sources: [memorySource()] });
    expect(() => resolver.family('F', (id) => id, { ttlMs: 30 * 86_400_000 })).toThrow(/ttlMs.*2147483647/);
    expect(() => resolver.secret('K', 'K', { refreshMs: 2 ** 31 })).toThrow(/refreshMs.*2147483647/);
  });

  it('the longest durations with the widest jitter never make a TimeoutOverflowWarning', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    const random = vi.spyOn(Math, 'random').mockReturnValue(0.999);
    try {
      const resolver = resolverFor({
        sources: [memorySource({ K: 'value-k', F_a: 'value-a' })],
        refreshMs: MAX_TIMER_MS,
        jitter: 1,
        fetchTimeoutMs: MAX_TIMER_MS,
        startupTimeoutMs: MAX_TIMER_MS,
      });
      const key = resolver.secret('K', 'K', { refreshMs: MAX_TIMER_MS });
      await resolver.ready();
      await key.refresh();
      await resolver.family('F', (id) => `F_${id}`, { ttlMs: MAX_TIMER_MS }).get('a');
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      random.mockRestore();
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
  });
});

describe('awaiting keeps the process alive', () => {
  const index = fileURLToPath(new URL('../src/index.ts', import.meta.url));
  // A source that never settles and holds no handle: without keyflip's ref'd timer, Node would exit mid-await.
  const run = (body: string) =>
    spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { createResolver } from ${JSON.stringify(index)};
         const hang = { name: 'hang', fetch: () => new Promise(() => {}) };
         const resolver = createResolver({ sources: [hang], startupTimeoutMs: 300, fetchTimeoutMs: 200 });
         try { ${body}; console.log('settled'); } catch (error) { console.log('rejected', error.code); }
         await resolver.close();`,
      ],
      { encoding: 'utf8', timeout: 20_000, cwd: fileURLToPath(new URL('..', import.meta.url)) },
    );

  it.each([
    ['ready()', "resolver.secret('K'); await resolver.ready()"],
    ['handle.get()', "await resolver.secret('K').get()"],
    ['handle.refresh()', "await resolver.secret('K').refresh()"],
    ['family.get()', "await resolver.family('F', (id) => id).get('a')"],
  ])('%s against a source that hangs', (_, body) => {
    const child = run(body);
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toMatch(/^rejected (READY_FAILED|SOURCE_UNAVAILABLE)$/);
    expect(child.status).toBe(0);
  });
});

describe('parseChain with odd input', () => {
  const throwingToString = { toString: throwing };
  it.each([
    ['Object.create(null)', Object.create(null)],
    ['an object whose toString throws', throwingToString],
    ['an array holding Object.create(null)', [Object.create(null)]],
    ['an array holding an element whose toString throws', ['A', throwingToString]],
    ['a symbol', Symbol('chain')],
    ['an array holding a symbol', [Symbol('candidate')]],
    ['a Proxy array that throws', new Proxy(['A'], { get: throwing })],
    ['undefined', undefined],
    ['a number', 42],
  ])('%s → InvalidCandidateError', (_, chain) => {
    expect(() => parseChain(chain as string)).toThrow(InvalidCandidateError);
  });

  it.each(['A || B', 'A||B', 'A | B', 'A|B'])('%j gets a hint to use ??', (chain) => {
    expect(() => parseChain(chain)).toThrow(/use "\?\?"/);
    expect(() => parseChain([chain])).toThrow(/use "\?\?"/);
  });
});

describe('a source that never settles', () => {
  it('a timed-out fetch is released: the resolver keeps no reference to it', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const signals: WeakRef<AbortSignal>[] = [];
    const hang: Source = {
      name: 'hang',
      fetch: (_ref, ctx) => {
        signals.push(new WeakRef(ctx.signal));
        return new Promise(() => {});
      },
    };
    const resolver = resolverFor({ sources: [hang], fetchTimeoutMs: 5, startupTimeoutMs: 1_000 });
    const key = resolver.secret('K');
    for (let i = 0; i < 20; i++) await key.refresh().catch(() => undefined);
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    expect(signals.length).toBeGreaterThanOrEqual(20);
    // Every abandoned fetch is collectable (the garbage collector may keep the very last one a little longer).
    expect(signals.filter((s) => s.deref() !== undefined).length).toBeLessThanOrEqual(1);
  });
});
