/**
 * `logEvents(resolver, logger)`: one record per event at the documented level, to a recording fake logger, to
 * a real pino writing to a captured stream, and to a real node:console Console; never a value; unsubscribing
 * stops it; an `error` event goes to the logger and nowhere else (no throw, no unhandled rejection).
 */
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  type EventLogger,
  KeyflipError,
  type LogLevel,
  logEvents,
  memorySource,
  type MemorySource,
  type Resolver,
  type Source,
  SecretRevokedError,
  SourceUnavailableError,
} from '../src/index.js';
import { manualClock } from '../src/testing/index.js';
import { leaks, trackResolvers } from './helpers.js';

const V1 = 'sk-logevents-ONE-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const V2 = 'sk-logevents-TWO-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
const PLAIN = 'correct-horse-battery-staple-logevents';
const VALUES = [V1, V2, PLAIN];

const resolverFor = trackResolvers();

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
afterEach(() => {
  expect(unhandled).toEqual([]);
});

interface Recorded {
  level: LogLevel;
  args: unknown[];
}

/** A logger that records every call, with every level. */
function recorder(): { logger: Required<EventLogger>; records: Recorded[] } {
  const records: Recorded[] = [];
  const method =
    (level: LogLevel) =>
    (...args: unknown[]): void => {
      records.push({ level, args });
    };
  return {
    logger: { debug: method('debug'), info: method('info'), warn: method('warn'), error: method('error') },
    records,
  };
}

/** Everything a logger received, as text, for the leak check. */
const asText = (records: readonly Recorded[]): string => JSON.stringify(records.map((r) => r.args));

/** A memory source under the name `mem` whose fetches can also be made to throw an error quoting a value. */
function setUp(): { memory: MemorySource; resolver: Resolver; quoteInError: (on: boolean) => void } {
  const memory = memorySource({ KEY_v1: V1, PLAIN_v1: PLAIN });
  let quote = false;
  const source: Source = {
    name: 'mem',
    fetch: (ref, ctx) => {
      // A careless source: its error message quotes the value it held (the resolver's redaction must catch it).
      if (quote) throw new Error(`backend said: ${V2} and ${PLAIN} are wrong`);
      return memory.fetch(ref, ctx);
    },
  };
  const resolver = resolverFor({ sources: [source], refreshMs: 3_600_000 });
  const quoteInError = (on: boolean): void => {
    quote = on;
  };
  return { memory, resolver, quoteInError };
}

/**
 * Walks a resolver through every event: resolve + fallback (KEY_v2 missing), rotate (KEY_v2 appears), error
 * while serving stale (an outage whose message quotes values), revoke (every candidate disabled), and an error
 * with nothing to serve (a secret that never resolves, in a family).
 */
async function everyEvent(memory: MemorySource, resolver: Resolver, quoteInError: (on: boolean) => void) {
  resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
  resolver.secret('PLAIN', 'PLAIN_v1');
  await resolver.ready();
  memory.set('KEY_v2', V2);
  await resolver.refresh('KEY');
  quoteInError(true);
  await expect(resolver.refresh('KEY')).rejects.toThrow(SourceUnavailableError);
  quoteInError(false);
  memory.disable('KEY_v2');
  memory.disable('KEY_v1');
  await expect(resolver.refresh('KEY')).rejects.toThrow(SecretRevokedError);
  const family = resolver.family('TENANT', (id) => `TENANT_${id}`);
  await expect(family.get('missing')).rejects.toThrow();
}

describe('logEvents with a recording logger (fields first: not a Console)', () => {
  it('writes one record per event at its level, fields then message, and never a value', async () => {
    const { memory, resolver, quoteInError } = setUp();
    const { logger, records } = recorder();
    logEvents(resolver, logger, { level: 'debug' });
    await everyEvent(memory, resolver, quoteInError);

    const byEvent = (event: string) =>
      records.filter((r) => (r.args[0] as { event?: string }).event === event).map((r) => r.level);
    expect(byEvent('resolve')).toEqual(['debug', 'debug', 'debug']); // KEY, PLAIN, KEY after the rotation
    expect(byEvent('fallback')).toEqual(['info']); // KEY_v2 not created yet: the steady state, not a warning
    expect(byEvent('rotate')).toEqual(['info']);
    expect(byEvent('revoke')).toEqual(['error']);
    expect(byEvent('error')).toEqual(['warn', 'error']); // serving stale, then nothing to serve
    for (const { args } of records) {
      expect(args).toHaveLength(2);
      expect(typeof args[0]).toBe('object');
      expect(args[1]).toMatch(/^keyflip: /);
    }

    const rotate = records.find((r) => (r.args[0] as { event: string }).event === 'rotate') as Recorded;
    expect(rotate.args[1]).toMatch(/^keyflip: secret KEY rotated from KEY_v1 \(mem, version 1, kf_[0-9a-f]{12}\) to /);
    expect(rotate.args[0]).toEqual({
      event: 'rotate',
      secret: 'KEY',
      candidate: 'KEY_v2',
      source: 'mem',
      version: '1',
      fingerprint: expect.stringMatching(/^kf_[0-9a-f]{12}$/),
      previousCandidate: 'KEY_v1',
      previousSource: 'mem',
      previousVersion: '1',
      previousFingerprint: expect.stringMatching(/^kf_[0-9a-f]{12}$/),
    });
    const fallback = records.find((r) => (r.args[0] as { event: string }).event === 'fallback') as Recorded;
    expect(fallback.args[0]).toMatchObject({ secret: 'KEY', skipped: [{ candidate: 'KEY_v2', reason: 'not-found' }] });
    expect(fallback.args[1]).toContain('skipped KEY_v2 (not-found); serving KEY_v1');
    const revoke = records.find((r) => (r.args[0] as { event: string }).event === 'revoke') as Recorded;
    expect(revoke.args[0]).toMatchObject({ secret: 'KEY', previousCandidate: 'KEY_v2' });
    expect(revoke.args[1]).toContain('secret KEY revoked: every candidate is absent');

    const [stale, failed] = records.filter((r) => (r.args[0] as { event: string }).event === 'error');
    expect(stale?.args[0]).toMatchObject({ secret: 'KEY', code: 'SOURCE_UNAVAILABLE', servingStale: true });
    expect(stale?.args[1]).toContain('serving its last good value');
    // The source's message quoted both values: the resolver's redaction replaced them.
    expect(stale?.args[1]).toContain('[keyflip KEY kf_');
    expect(stale?.args[1]).toContain('[keyflip PLAIN kf_');
    expect(failed?.args[0]).toMatchObject({ secret: 'TENANT[missing]', code: 'SECRET_NOT_FOUND', servingStale: false });

    expect(leaks(asText(records), VALUES)).toEqual([]);
  });

  it("logs from 'info' up by default, and 'warn' or 'error' when asked", async () => {
    const levelsAt = async (level?: LogLevel): Promise<LogLevel[]> => {
      const { memory, resolver, quoteInError } = setUp();
      const { logger, records } = recorder();
      logEvents(resolver, logger, level === undefined ? {} : { level });
      await everyEvent(memory, resolver, quoteInError);
      return records.map((r) => r.level);
    };
    expect(await levelsAt()).toEqual(['info', 'info', 'warn', 'error', 'error']);
    expect(await levelsAt('warn')).toEqual(['warn', 'error', 'error']);
    expect(await levelsAt('error')).toEqual(['error', 'error']);
  });

  it('a fallback over a disabled or denied candidate is a warning; over names not created yet, info', async () => {
    const { memory, resolver } = setUp();
    const { logger, records } = recorder();
    logEvents(resolver, logger);
    resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
    await resolver.ready();
    memory.set('KEY_v2', V2);
    await resolver.refresh('KEY');
    memory.disable('KEY_v2');
    await resolver.refresh('KEY');
    const fallbacks = records.filter((r) => (r.args[0] as { event: string }).event === 'fallback');
    expect(
      fallbacks.map((r) => [r.level, (r.args[0] as { skipped: { reason: string }[] }).skipped[0]?.reason]),
    ).toEqual([
      ['info', 'not-found'],
      ['warn', 'disabled'],
    ]);
  });

  it('the returned function unsubscribes (twice is harmless); nothing is logged without logEvents', async () => {
    const { memory, resolver } = setUp();
    const { logger, records } = recorder();
    const before = resolver.listenerCount('error');
    const stop = logEvents(resolver, logger);
    expect(resolver.listenerCount('error')).toBe(before + 1);
    resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
    await resolver.ready();
    expect(records.map((r) => r.level)).toEqual(['info']);
    stop();
    stop();
    for (const event of ['resolve', 'fallback', 'rotate', 'revoke', 'error'] as const)
      expect(resolver.listenerCount(event)).toBe(0);
    memory.set('KEY_v2', V2);
    await resolver.refresh('KEY');
    memory.outage(true);
    await expect(resolver.refresh('KEY')).rejects.toThrow(SourceUnavailableError);
    expect(records).toHaveLength(1);
  });

  it("an error event reaches the logger and nothing else: no throw, no unhandled 'error'", async () => {
    // A scheduled refresh (nobody awaits it) fails: the only place its error goes is the event.
    const clock = manualClock();
    const memory = memorySource({ KEY_v1: V1 });
    const resolver = resolverFor({ sources: [memory], clock, refreshMs: 60_000 });
    const { logger, records } = recorder();
    logEvents(resolver, logger);
    expect(resolver.listenerCount('error')).toBe(1); // logEvents is the only listener
    resolver.secret('KEY', 'KEY_v1');
    await resolver.ready();
    memory.outage(true);
    await clock.advance(90_000);
    expect(records.map((r) => [r.level, (r.args[0] as { event: string }).event])).toContainEqual(['warn', 'error']);
    expect(records.every((r) => r.level === 'warn')).toBe(true);
    // unhandled rejections and uncaught exceptions: checked after each test
  });

  it("the usage beacon's errors (no secret) are warnings naming the component", () => {
    const { resolver } = setUp();
    const { logger, records } = recorder();
    logEvents(resolver, logger);
    const error = new KeyflipError('BEACON_UNREACHABLE', 'the collector at http://127.0.0.1:9 did not answer');
    resolver.emit('error', { component: 'beacon', error, servingStale: false });
    expect(records).toEqual([
      {
        level: 'warn',
        args: [
          {
            event: 'error',
            component: 'beacon',
            code: 'BEACON_UNREACHABLE',
            error: 'the collector at http://127.0.0.1:9 did not answer',
            errorName: 'KeyflipError',
            permanent: false,
            servingStale: false,
          },
          'keyflip: usage beacon: the collector at http://127.0.0.1:9 did not answer',
        ],
      },
    ]);
  });

  it('a logger that throws is ignored: no LISTENER_FAILED event, nothing thrown', async () => {
    const { memory, resolver } = setUp();
    const errors: unknown[] = [];
    resolver.on('error', (event) => errors.push(event));
    const boom = () => {
      throw new Error('logger down');
    };
    logEvents(resolver, { info: boom, warn: boom, error: boom });
    resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
    await resolver.ready();
    memory.outage(true);
    await expect(resolver.refresh('KEY')).rejects.toThrow(SourceUnavailableError);
    expect(errors.map((e) => (e as { error: { code: string } }).error.code)).toEqual(['SOURCE_UNAVAILABLE']);
  });
});

describe('logEvents with a real pino logger', () => {
  it('pino writes JSON records with the right levels, the fields as properties, and no value', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const log = pino({ level: 'debug' }, stream);
    const { memory, resolver, quoteInError } = setUp();
    const stop = logEvents(resolver, log, { level: 'debug' });
    await everyEvent(memory, resolver, quoteInError);
    stop();

    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const PINO_LEVEL: Record<number, string> = { 20: 'debug', 30: 'info', 40: 'warn', 50: 'error' };
    // KEY and PLAIN resolve in parallel: the order of the first records varies, their set does not.
    expect(records.map((r) => `${r.event}:${PINO_LEVEL[r.level as number]}`).sort()).toEqual([
      'error:error',
      'error:warn',
      'fallback:info',
      'resolve:debug',
      'resolve:debug',
      'resolve:debug',
      'revoke:error',
      'rotate:info',
    ]);
    const rotate = records.find((r) => r.event === 'rotate');
    expect(rotate).toMatchObject({ secret: 'KEY', candidate: 'KEY_v2', previousCandidate: 'KEY_v1' });
    expect(rotate?.msg).toMatch(/^keyflip: secret KEY rotated from KEY_v1 /);
    expect(leaks(lines.join('\n'), VALUES)).toEqual([]);
  });

  it('a child logger and pino level filtering both apply', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const log = pino({ level: 'warn' }, stream).child({ service: 'api' });
    const { memory, resolver, quoteInError } = setUp();
    logEvents(resolver, log); // level 'info' here; pino's 'warn' drops the rotation and the not-found fallback
    await everyEvent(memory, resolver, quoteInError);
    const records = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((r) => r.event)).toEqual(['error', 'revoke', 'error']);
    expect(records.every((r) => r.service === 'api')).toBe(true);
  });
});

describe('logEvents with a Console (message first)', () => {
  it('a node:console Console gets one line per record: the message, then the fields on the same line', async () => {
    let out = '';
    let err = '';
    const sink = new Console({
      stdout: new Writable({
        write(chunk: Buffer, _encoding, done) {
          out += chunk.toString('utf8');
          done();
        },
      }),
      stderr: new Writable({
        write(chunk: Buffer, _encoding, done) {
          err += chunk.toString('utf8');
          done();
        },
      }),
      colorMode: false,
    });
    const { memory, resolver, quoteInError } = setUp();
    logEvents(resolver, sink);
    await everyEvent(memory, resolver, quoteInError);
    // One line per record: Cloud Run and GKE make each line a log entry of its own.
    const outLines = out.trimEnd().split('\n');
    const errLines = err.trimEnd().split('\n');
    expect(outLines).toHaveLength(2);
    expect(errLines).toHaveLength(3);
    for (const line of [...outLines, ...errLines]) expect(line).toMatch(/^keyflip: secret (KEY|TENANT)/);
    expect(outLines[0]).toMatch(
      /^keyflip: secret KEY skipped KEY_v2 \(not-found\); serving KEY_v1 .*\{ event: 'fallback', secret: 'KEY',/,
    );
    expect(outLines[1]).toMatch(/^keyflip: secret KEY rotated from KEY_v1 .* \{ event: 'rotate', secret: 'KEY',/);
    expect(err).toContain("event: 'revoke'");
    expect(leaks(out + err, VALUES)).toEqual([]);
  });

  it('the global console is detected too; style overrides the detection', async () => {
    const info = vi.spyOn(console, 'info').mockImplementation(() => undefined);
    try {
      const { resolver } = setUp();
      const stop = logEvents(resolver, console);
      resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
      await resolver.ready();
      stop();
      expect(info).toHaveBeenCalledTimes(1);
      expect(info.mock.calls[0]).toHaveLength(1);
      expect(info.mock.calls[0]?.[0]).toMatch(/^keyflip: secret KEY skipped .*\{ event: 'fallback', secret: 'KEY',/);
    } finally {
      info.mockRestore();
    }
    const { resolver } = setUp();
    const { logger, records } = recorder();
    logEvents(resolver, logger, { style: 'console' });
    resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
    await resolver.ready();
    expect(records[0]?.args[0]).toMatch(/^keyflip: secret KEY skipped/);
    expect(records[0]?.args[1]).toMatchObject({ event: 'fallback' });
  });
});

describe('logEvents refuses bad arguments with a ConfigurationError', () => {
  it.each([
    ['no resolver', () => logEvents(undefined as never, console), /needs a resolver .* not undefined/],
    [
      'a logger without warn',
      () => logEvents(resolverFor({ sources: [memorySource()] }), { info() {} } as never),
      /has no warn, error methods/,
    ],
    ['a null logger', () => logEvents(resolverFor({ sources: [memorySource()] }), null as never), /not null/],
    [
      "level 'debug' without a debug method",
      () =>
        logEvents(resolverFor({ sources: [memorySource()] }), { info() {}, warn() {}, error() {} }, { level: 'debug' }),
      /has no debug method, which level 'debug' needs/,
    ],
    [
      'an unknown level',
      () => logEvents(resolverFor({ sources: [memorySource()] }), console, { level: 'trace' as never }),
      /`level` must be one of 'debug', 'info', 'warn', 'error', not "trace"/,
    ],
    [
      'an unknown style',
      () => logEvents(resolverFor({ sources: [memorySource()] }), console, { style: 'winston' as never }),
      /`style` must be 'pino' or 'console', not "winston"/,
    ],
    [
      'options that are not an object',
      () => logEvents(resolverFor({ sources: [memorySource()] }), console, 'debug' as never),
      /`options` must be an object/,
    ],
  ])('%s', (_what, call, message) => {
    expect(call).toThrow(ConfigurationError);
    expect(call).toThrow(message);
  });
});
