import { afterEach, describe, expect, it, vi } from 'vitest';
import { trackResolvers } from '../helpers.js';
import { envSource, fingerprint, InvalidCandidateError, memorySource } from '../../src/index.js';
import { manualClock } from '../../src/testing/index.js';
import { decode, recordEvents, sourceConformance } from './conformance.js';

sourceConformance('envSource (plain object)', () => {
  const env: Record<string, string | undefined> = {};
  return {
    source: envSource({ env }),
    seed: (name, value) => {
      env[name] = value;
    },
    remove: (name) => {
      delete env[name];
    },
    capabilities: {
      invalid: ['X@2', 'env:X@2', 'env:X@latest', 'BAD-NAME', 'env:1ABC', 'a.b', 'env:dir/X'],
    },
  };
});

const live = (): AbortSignal => new AbortController().signal;

/** Runs `fn` and returns what it threw (undefined if nothing). */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('envSource', () => {
  const resolverFor = trackResolvers();

  afterEach(async () => {
    vi.unstubAllEnvs();
  });

  describe('declaration-time rejection', () => {
    it.each(['env:OPENAI_API_KEY@2', 'env:OPENAI_API_KEY@latest', 'env:OPENAI_API_KEY@v1'])(
      'a version (%s) is rejected with InvalidCandidateError naming the text',
      (text) => {
        // Prepare: env is the last resort behind a memory source, as the design suggests
        const resolver = resolverFor({ sources: [memorySource(), envSource({ env: {} })], clock: manualClock() });
        // Act
        const error = thrownBy(() =>
          resolver.secret('OPENAI_API_KEY', `OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1 ?? ${text}`),
        );
        // Assess
        expect(error).toBeInstanceOf(InvalidCandidateError);
        expect((error as InvalidCandidateError).text).toBe(text);
        expect((error as InvalidCandidateError).message).toContain(JSON.stringify(text));
        expect((error as InvalidCandidateError).message).toMatch(/no versions/);
        expect(resolver.handles()).toHaveLength(0);
      },
    );

    it.each(['env:OPENAI-API-KEY', 'env:1KEY', 'env:my.key', 'env:path/KEY'])(
      'a name that is not an environment variable name (%s) is rejected with InvalidCandidateError naming the text',
      (text) => {
        // Prepare
        const resolver = resolverFor({ sources: [envSource({ env: {} })], clock: manualClock() });
        // Act
        const error = thrownBy(() => resolver.secret('S', [text]));
        // Assess
        expect(error).toBeInstanceOf(InvalidCandidateError);
        expect((error as InvalidCandidateError).text).toBe(text);
        expect((error as InvalidCandidateError).message).toContain(JSON.stringify(text));
      },
    );

    it('accepts ordinary names, lower case and leading underscores included', () => {
      const source = envSource({ env: {} });
      for (const name of ['OPENAI_API_KEY', 'openai_api_key', '_PRIVATE', 'K1_v2'])
        expect(source.validate?.({ name })).toBeUndefined();
    });
  });

  describe('what it reads', () => {
    it('reads the given object, not process.env', async () => {
      // Prepare
      vi.stubEnv('KF_ONLY_IN_PROCESS', 'from-process-env');
      const source = envSource({ env: { KF_ONLY_IN_OBJECT: 'from-object' } });
      // Act
      const processOnly = await source.fetch({ name: 'KF_ONLY_IN_PROCESS' }, { signal: live() });
      const objectOnly = await source.fetch({ name: 'KF_ONLY_IN_OBJECT' }, { signal: live() });
      // Assess
      expect(process.env.KF_ONLY_IN_PROCESS).toBe('from-process-env');
      expect(process.env.KF_ONLY_IN_OBJECT).toBeUndefined();
      expect(processOnly).toEqual({ status: 'absent', reason: 'not-found' });
      expect(objectOnly.status === 'found' && decode(objectOnly.value)).toBe('from-object');
    });

    it('reads process.env when no object is given, at fetch time', async () => {
      // Prepare
      const source = envSource();
      const before = await source.fetch({ name: 'KF_LATE_VAR' }, { signal: live() });
      // Act
      vi.stubEnv('KF_LATE_VAR', 'set-later');
      const after = await source.fetch({ name: 'KF_LATE_VAR' }, { signal: live() });
      // Assess
      expect(before).toEqual({ status: 'absent', reason: 'not-found' });
      expect(after.status === 'found' && decode(after.value)).toBe('set-later');
    });

    it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'])(
      'an inherited property (%s) of the object is not a variable: not-found',
      async (name) => {
        // Prepare
        const source = envSource({ env: {} });
        // Act
        const result = await source.fetch({ name }, { signal: live() });
        // Assess
        expect(result).toEqual({ status: 'absent', reason: 'not-found' });
      },
    );

    it('works with an object without a prototype', async () => {
      // Prepare
      const env = Object.create(null) as Record<string, string>;
      env.KF_BARE = 'bare-value';
      const source = envSource({ env });
      // Act
      const result = await source.fetch({ name: 'KF_BARE' }, { signal: live() });
      // Assess
      expect(result.status === 'found' && decode(result.value)).toBe('bare-value');
    });

    it('a variable set to undefined is not-found; one set to "" is found empty (then skipped as empty)', async () => {
      // Prepare
      const source = envSource({ env: { KF_UNDEFINED: undefined, KF_BLANK: '' } });
      // Act
      const undef = await source.fetch({ name: 'KF_UNDEFINED' }, { signal: live() });
      const blank = await source.fetch({ name: 'KF_BLANK' }, { signal: live() });
      // Assess
      expect(undef).toEqual({ status: 'absent', reason: 'not-found' });
      expect(blank.status === 'found' && decode(blank.value)).toBe('');
    });

    it('is case-sensitive (no Windows-style folding)', async () => {
      const source = envSource({ env: { KF_CASE: 'upper' } });
      expect(await source.fetch({ name: 'kf_case' }, { signal: live() })).toEqual({
        status: 'absent',
        reason: 'not-found',
      });
    });

    it('reports no version and has no watch', async () => {
      const source = envSource({ env: { K: 'v' } });
      const result = await source.fetch({ name: 'K' }, { signal: live() });
      expect(result).toEqual({ status: 'found', value: 'v' });
      expect(source.watch).toBeUndefined();
    });

    it('takes a name, the prefix of its candidates', async () => {
      // Prepare
      const resolver = resolverFor({
        sources: [envSource({ env: { K: 'from-a' } }), envSource({ env: { K: 'from-b' }, name: 'env-b' })],
        clock: manualClock(),
      });
      const handle = resolver.secret('S', 'env-b:K');
      // Act
      await resolver.ready();
      // Assess
      expect(handle.value).toBe('from-b');
      expect(handle.info?.source).toBe('env-b');
    });
  });

  describe('as the last resort of a chain', () => {
    it('KEY_v2 ?? KEY_v1 ?? env:KEY falls through to the environment, reporting every skip', async () => {
      // Prepare
      const resolver = resolverFor({
        sources: [memorySource(), envSource({ env: { OPENAI_API_KEY: 'sk-from-env\n' } })],
        clock: manualClock(),
        jitter: 0,
      });
      const events = recordEvents(resolver);
      const handle = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1 ?? env:OPENAI_API_KEY');
      // Act
      await resolver.ready();
      // Assess
      expect(handle.value).toBe('sk-from-env'); // trimmed by the resolver
      expect(handle.info).toMatchObject({
        source: 'env',
        candidate: 'env:OPENAI_API_KEY',
        fingerprint: fingerprint('sk-from-env'),
      });
      expect(handle.info?.version).toBeUndefined();
      expect(events.find((e) => e.event === 'fallback')?.payload).toMatchObject({
        skipped: [
          { candidate: 'OPENAI_API_KEY_v2', reason: 'not-found' },
          { candidate: 'OPENAI_API_KEY_v1', reason: 'not-found' },
        ],
      });
    });

    it('a changed variable in the given object is picked up by a refresh', async () => {
      // Prepare
      const env: Record<string, string> = { K: 'first-value' };
      const resolver = resolverFor({ sources: [envSource({ env })], clock: manualClock(), jitter: 0 });
      const handle = resolver.secret('S', 'K');
      await resolver.ready();
      // Act
      env.K = 'second-value';
      await resolver.refresh('S');
      // Assess
      expect(handle.value).toBe('second-value');
    });
  });
});
