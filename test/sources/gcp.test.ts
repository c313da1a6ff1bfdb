import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  ConfigurationError,
  createResolver,
  fingerprint,
  IntegrityError,
  ReadyError,
  SecretRevokedError,
  SourceUnavailableError,
} from '../../src/index.js';
import { gcpSecretManager, type SecretManagerClientLike } from '../../src/sources/gcp.js';
import { manualClock, type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { only, record, trackResolvers } from '../helpers.js';
import { readRpcFailure } from '../testing/rpc-failure.js';
import { sourceConformance, waitForEvent } from './conformance.js';

const UNAVAILABLE = 14;

let emulator: SecretManagerEmulator;
const clients: Record<'grpc' | 'rest', SecretManagerServiceClient> = {} as never;

beforeAll(async () => {
  emulator = await startSecretManagerEmulator();
  clients.grpc = new SecretManagerServiceClient(emulator.clientOptions as never);
  clients.rest = new SecretManagerServiceClient(emulator.restClientOptions as never);
  await Promise.all([clients.grpc.initialize(), clients.rest.initialize()]);
});

afterAll(async () => {
  await Promise.all([clients.grpc?.close(), clients.rest?.close()]);
  await emulator?.close();
});

/** Removes every secret, so each test starts from an empty project. */
async function emptyProject(): Promise<void> {
  const [secrets] = await clients.grpc.listSecrets(
    { parent: `projects/${emulator.projectId}` },
    { autoPaginate: true },
  );
  for (const secret of secrets) emulator.deleteSecret(String(secret.name).split('/').pop() as string);
  emulator.resetCalls();
}

/** The newest version number of a secret, as the admin helpers count them. */
const newest = new Map<string, string>();

for (const mode of ['grpc', 'rest'] as const) {
  sourceConformance(`gcpSecretManager through the real client (${mode})`, async () => {
    await emptyProject();
    newest.clear();
    return {
      source: gcpSecretManager({ projectId: emulator.projectId, client: clients[mode] }),
      seed: (name, value) => {
        newest.set(name, emulator.addVersion(name, value));
      },
      remove: (name) => {
        newest.delete(name);
        emulator.deleteSecret(name);
      },
      capabilities: {
        versions: true,
        disable: (name) => emulator.disableVersion(name, newest.get(name) as string),
        invalid: ['gcp:has.dot', 'gcp:x@-1', 'gcp:x@1a', `gcp:${'a'.repeat(256)}`],
      },
    };
  });
}

describe('gcpSecretManager: the chain rule end to end through the real client', () => {
  const resolverFor = trackResolvers();
  const secretValues = ['sm-value-one-1111', 'sm-value-two-2222', 'sm-value-three-3333', 'sm-value-four-4444'];

  function rig(mode: 'grpc' | 'rest' = 'grpc', options: { fetchTimeoutMs?: number } = {}) {
    const clock = manualClock();
    const source = gcpSecretManager({ projectId: emulator.projectId, client: clients[mode] });
    const resolver = resolverFor({ sources: [source], clock, refreshMs: 60_000, jitter: 0, ...options });
    const events = record(resolver);
    /** One refresh period. The gRPC round trips it starts land later: wait for their effect with `eventually`. */
    const period = (): Promise<void> => clock.advance(60_000);
    return { clock, resolver, events, period };
  }

  it.each(['grpc', 'rest'] as const)(
    '(%s) add v2 → rotate; disable v2 → back to v1; destroy all → revoked, fail closed; re-enable → served',
    async (mode) => {
      await emptyProject();
      const [one, two] = secretValues as [string, string];
      emulator.addVersion('KEY_v1', one);
      const { resolver, events, period } = rig(mode);
      const key = resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
      await resolver.ready();
      expect(key.value).toBe(one);
      expect(key.info).toMatchObject({ candidate: 'KEY_v1', source: 'gcp', version: '1' });

      emulator.addVersion('KEY_v2', two);
      await period();
      await eventually(() => expect(key.value).toBe(two));
      expect(only(events, 'rotate').at(-1)?.current).toMatchObject({
        candidate: 'KEY_v2',
        fingerprint: fingerprint(two),
      });

      emulator.disableVersion('KEY_v2', '1');
      await period();
      await eventually(() => expect(key.value).toBe(one));
      expect(only(events, 'fallback').at(-1)?.skipped).toEqual([{ candidate: 'KEY_v2', reason: 'disabled' }]);

      emulator.destroyVersion('KEY_v2', '1');
      emulator.destroyVersion('KEY_v1', '1');
      await period();
      await eventually(() => expect(() => key.value).toThrow(SecretRevokedError));
      expect(only(events, 'revoke')[0]?.skipped).toEqual([
        { candidate: 'KEY_v2', reason: 'destroyed' },
        { candidate: 'KEY_v1', reason: 'destroyed' },
      ]);

      emulator.addVersion('KEY_v1', one); // a new version of v1: served again
      await period();
      await eventually(() => expect(key.value).toBe(one));
      expect(key.info?.version).toBe('2');
      const out = JSON.stringify(events);
      for (const value of secretValues) expect(out).not.toContain(value);
    },
  );

  it('UNAVAILABLE on v2 while v1 is fine: keeps serving v2, never falls back, recovers', async () => {
    await emptyProject();
    const [one, two] = secretValues as [string, string];
    emulator.addVersion('KEY_v1', one);
    emulator.addVersion('KEY_v2', two);
    const { resolver, events, period } = rig();
    const key = resolver.secret('KEY', 'KEY_v2 ?? KEY_v1');
    await resolver.ready();
    emulator.resetCalls();
    emulator.failNext('AccessSecretVersion', UNAVAILABLE, 1);
    await period();
    await eventually(() => expect(key.info?.status).toBe('stale'));
    expect(key.value).toBe(two);
    expect(emulator.calls('AccessSecretVersion')).toBe(1); // v2 only: v1 was not tried
    const [error] = only(events, 'error');
    expect(error?.error).toBeInstanceOf(SourceUnavailableError);
    expect(error?.servingStale).toBe(true);
    await period(); // the backoff retry (1 s) falls inside the next period
    await eventually(() => expect(key.info?.status).toBe('ok'));
    expect(only(events, 'fallback')).toEqual([]);
    expect(only(events, 'rotate')).toEqual([]);
  });

  it('latency beyond the budget: the call is aborted, nothing stalls, the last good value is served', async () => {
    await emptyProject();
    emulator.addVersion('KEY', secretValues[0] as string);
    const source = gcpSecretManager({ projectId: emulator.projectId, client: clients.grpc });
    const resolver = resolverFor({ sources: [source], refreshMs: 60_000, fetchTimeoutMs: 150 });
    const key = resolver.secret('KEY');
    await resolver.ready();
    // The answer would take ten minutes: a refresh that waited for it would time the test out.
    emulator.setLatency(600_000);
    try {
      const error = await key.refresh().then(
        () => 'resolved',
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(SourceUnavailableError);
      expect(key.value).toBe(secretValues[0]);
    } finally {
      emulator.setLatency(0);
    }
  });

  it('a corrupted checksum is an IntegrityError and the value is never served', async () => {
    await emptyProject();
    emulator.addVersion('KEY', secretValues[0] as string);
    const { resolver, events, period } = rig();
    const key = resolver.secret('KEY');
    await resolver.ready();
    emulator.addVersion('KEY', secretValues[1] as string);
    emulator.corruptNextChecksum(1);
    await period();
    await eventually(() => expect(only(events, 'error')).toHaveLength(1));
    expect(key.value).toBe(secretValues[0]);
    const [error] = only(events, 'error');
    expect(error?.error).toBeInstanceOf(IntegrityError);
    expect(error?.error.code).toBe('INTEGRITY');
    expect(JSON.stringify(events)).not.toContain(secretValues[1]);
  });

  it('alias layout: flipping current from 3 to 4 rotates every resolver within one refresh period', async () => {
    await emptyProject();
    for (const value of secretValues) emulator.addVersion('openai-key', value);
    emulator.setAlias('openai-key', 'current', '3');
    emulator.setAlias('openai-key', 'previous', '2');
    const clock = manualClock();
    const resolvers = Array.from({ length: 3 }, () =>
      resolverFor({
        sources: [gcpSecretManager({ projectId: emulator.projectId, client: clients.grpc })],
        clock,
        refreshMs: 60_000,
        jitter: 0.2,
      }),
    );
    const handles = resolvers.map((r) => r.secret('OPENAI', 'openai-key@current ?? openai-key@previous'));
    await Promise.all(resolvers.map((r) => r.ready()));
    expect(handles.map((h) => h.info?.version)).toEqual(['3', '3', '3']);
    const rotated = resolvers.map((r) => waitForEvent(r, 'rotate', (e) => e.current.version === '4'));
    emulator.setAlias('openai-key', 'previous', '3');
    emulator.setAlias('openai-key', 'current', '4');
    await clock.advance(60_000 * 1.2); // one period plus the most jitter can add
    await Promise.all(rotated);
    expect(handles.map((h) => h.value)).toEqual(Array(3).fill(secretValues[3]));
  });

  it('N resolvers × S secrets make exactly N × S access calls per refresh period, no get or list call', async () => {
    await emptyProject();
    const N = 4;
    const S = 5;
    for (let s = 0; s < S; s++) emulator.addVersion(`S${s}`, `sm-value-${s}-abcdef`);
    const clock = manualClock();
    const resolvers = Array.from({ length: N }, () =>
      resolverFor({
        sources: [gcpSecretManager({ projectId: emulator.projectId, client: clients.grpc })],
        clock,
        refreshMs: 60_000,
        jitter: 0,
      }),
    );
    const handles = resolvers.flatMap((r) => Array.from({ length: S }, (_, s) => r.secret(`S${s}`)));
    await Promise.all(resolvers.map((r) => r.ready()));
    expect(emulator.calls('AccessSecretVersion')).toBe(N * S);
    for (let period = 1; period <= 3; period++) {
      emulator.resetCalls();
      await clock.advance(60_000);
      // Every refresh of the period has finished (the manual clock stands still, so `refreshedAt` is now):
      // each call a refresh makes was answered, so it was counted; nothing else runs until the clock moves.
      await eventually(() => expect(handles.filter((h) => h.info?.refreshedAt !== clock.now())).toEqual([]));
      expect(emulator.calls('AccessSecretVersion')).toBe(N * S);
      expect(emulator.calls()).toBe(N * S);
    }
    for (const method of ['GetSecret', 'GetSecretVersion', 'ListSecrets', 'ListSecretVersions'])
      expect(emulator.calls(method)).toBe(0);
  });

  it('reaches the emulator through SECRET_MANAGER_EMULATOR_HOST with no client given', async () => {
    await emptyProject();
    emulator.addVersion('KEY', secretValues[0] as string);
    const source = gcpSecretManager({
      projectId: emulator.projectId,
      env: { SECRET_MANAGER_EMULATOR_HOST: emulator.host },
    });
    const resolver = resolverFor({ sources: [source] });
    const key = resolver.secret('KEY');
    await resolver.ready();
    expect(key.value).toBe(secretValues[0]);
    await resolver.close();
  });

  it('regional secrets through location', async () => {
    await emptyProject();
    emulator.addVersion('KEY', 'sm-regional-value', { location: 'europe-west1' });
    const source = gcpSecretManager({ projectId: emulator.projectId, location: 'europe-west1', client: clients.grpc });
    const resolver = resolverFor({ sources: [source] });
    const key = resolver.secret('KEY');
    await resolver.ready();
    expect(key.value).toBe('sm-regional-value');
  });
});

describe('gcpSecretManager: a client that cannot start, or is closed', () => {
  const resolverFor = trackResolvers();

  it('fails the fetch (unavailable, retried later) and leaves no floating rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      // Credentials that are not ChannelCredentials: the stub cannot be built.
      const source = gcpSecretManager({
        projectId: emulator.projectId,
        clientOptions: { ...(emulator.clientOptions as Record<string, unknown>), sslCreds: {} },
      });
      const signal = new AbortController().signal;
      await expect(source.fetch({ name: 'KEY' }, { signal })).rejects.toBeDefined();
      await expect(source.fetch({ name: 'KEY' }, { signal })).rejects.toBeDefined();
      await source.close?.();
      // Everything the failed clients started has settled: both fetches and the close were awaited. Node
      // reports a rejection nobody handled at the end of the macrotask it happened in, so the next turns of
      // the event loop (not a wait) would have seen one.
      for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('closed client, SDK 6: the bare-string rejection becomes a SourceUnavailableError naming the call', async () => {
    // SDK 6's client rejects every call with this string once closed; SDK 7 wraps it in an Error (below).
    const closed = { accessSecretVersion: () => Promise.reject('The client has already been closed.') };
    const source = gcpSecretManager({ projectId: 'p', client: closed });
    const error = await source.fetch({ name: 'KEY' }, { signal: new AbortController().signal }).catch((e) => e);
    expect(error).toBeInstanceOf(SourceUnavailableError);
    expect(error).toMatchObject({
      code: 'SOURCE_UNAVAILABLE',
      source: 'gcp',
      message: 'AccessSecretVersion projects/p/secrets/KEY/versions/latest failed: The client has already been closed.',
    });
  });

  it.each(['bare string (SDK 6)', 'real client (SDK 7)'] as const)(
    'a closed client (%s): the resolver reports the secret unavailable, with the reason',
    async (kind) => {
      let client: SecretManagerClientLike = {
        accessSecretVersion: () => Promise.reject('The client has already been closed.'),
      };
      if (kind === 'real client (SDK 7)') {
        const real = new SecretManagerServiceClient(emulator.clientOptions as never);
        await real.initialize();
        await real.close();
        client = real as unknown as SecretManagerClientLike;
      }
      const clock = manualClock();
      const resolver = resolverFor({ sources: [gcpSecretManager({ projectId: emulator.projectId, client })], clock });
      const failed = waitForEvent(resolver, 'error');
      resolver.secret('KEY');
      const ready = resolver.ready().catch((e: unknown) => e);
      const { error } = await failed;
      expect(error).toBeInstanceOf(SourceUnavailableError);
      expect(error).toMatchObject({ secret: 'KEY', candidate: 'KEY', source: 'gcp' });
      expect(error.message).toContain('The client has already been closed.');
      await clock.advance(10_000); // the start-up budget runs out
      expect(await ready).toBeInstanceOf(ReadyError);
    },
  );

  it('rejects bad options at once, with a ConfigurationError', () => {
    expect(() => gcpSecretManager({ projectId: '' })).toThrow(ConfigurationError);
    expect(() => gcpSecretManager({ projectId: '' })).toThrow(/projectId/);
    expect(() => gcpSecretManager({ projectId: 'p', location: 'Europe West' })).toThrow(ConfigurationError);
    expect(() => gcpSecretManager({ projectId: 'p', location: 'Europe West' })).toThrow(/location/);
  });
});

/**
 * Retries `assertion` until it passes: a condition that must become true once real gRPC I/O lands. Bounded:
 * fails with the assertion's own error after 5 s.
 */
async function eventually(assertion: () => void): Promise<void> {
  await vi.waitFor(assertion, { timeout: 5_000, interval: 5 });
}

describe.each(['grpc', 'rest'] as const)(
  'gcpSecretManager (%s): permanent configuration errors are thrown as such',
  (mode) => {
    const signal = new AbortController().signal;
    const INVALID_ARGUMENT = 3;
    const PERMISSION_DENIED = 7;
    const UNAUTHENTICATED = 16;
    const source = () => gcpSecretManager({ projectId: emulator.projectId, client: clients[mode] });

    it('INVALID_ARGUMENT (a project that does not exist): a ConfigurationError naming the project id', async () => {
      emulator.failNext('AccessSecretVersion', INVALID_ARGUMENT, 1);
      const error = await source()
        .fetch({ name: 'KEY' }, { signal })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(error).toMatchObject({ code: 'INVALID_OPTIONS' });
      expect((error as Error).message).toContain(`check the project id "${emulator.projectId}"`);
      expect((error as Error).message).toContain(`projects/${emulator.projectId}/secrets/KEY/versions/latest`);
      // The server's message, not the transport's wrapping (SDK 6 over REST makes the raw JSON body the message).
      expect((error as Error).message).toContain('(Injected fault: INVALID_ARGUMENT on AccessSecretVersion');
      expect((error as Error).message).not.toContain('{"error"');
    });

    it('UNAUTHENTICATED: a ConfigurationError saying how to set credentials', async () => {
      emulator.failNext('AccessSecretVersion', UNAUTHENTICATED, 1);
      const error = await source()
        .fetch({ name: 'KEY' }, { signal })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      const { message } = error as Error;
      expect(message).toContain('GOOGLE_APPLICATION_CREDENTIALS');
      expect(message).toContain('gcloud auth application-default login');
      expect(message).toContain('Workload Identity');
    });

    it('PERMISSION_DENIED stays absent (chain rule), naming the role; UNAVAILABLE stays transient', async () => {
      emulator.failNext('AccessSecretVersion', PERMISSION_DENIED, 1);
      expect(await source().fetch({ name: 'KEY' }, { signal })).toEqual({
        status: 'absent',
        reason: 'permission-denied',
        detail: expect.stringMatching(
          /^projects\/[^/]+\/secrets\/KEY\/versions\/latest: the app needs roles\/secretmanager\.secretAccessor/,
        ),
      });
      // The hint reaches the error a user sees when nothing else is found.
      emulator.failNext('AccessSecretVersion', PERMISSION_DENIED, 1);
      const resolver = createResolver({ sources: [source()], startupTimeoutMs: 5_000 });
      try {
        const failure = await resolver
          .secret('KEY', 'KEY')
          .get()
          .catch((e: unknown) => e);
        expect((failure as Error).message).toMatch(/KEY permission-denied \(.*roles\/secretmanager\.secretAccessor/);
      } finally {
        await resolver.close();
      }
      emulator.failNext('AccessSecretVersion', UNAVAILABLE, 1);
      const error = await source()
        .fetch({ name: 'KEY' }, { signal })
        .catch((e: unknown) => e);
      expect(error).not.toBeInstanceOf(ConfigurationError);
      expect(readRpcFailure(error, mode).code).toBe(UNAVAILABLE);
    });
  },
);

describe('gcpSecretManager: permanent errors without a client call', () => {
  const signal = new AbortController().signal;

  it('no credentials found (google-auth-library has no gRPC code): a ConfigurationError', async () => {
    const noCredentials = new Error(
      'Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started',
    );
    const client = { accessSecretVersion: () => Promise.reject(noCredentials) };
    const error = await gcpSecretManager({ projectId: 'p', client })
      .fetch({ name: 'KEY' }, { signal })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error).toMatchObject({ cause: noCredentials });
    expect((error as Error).message).toMatch(/GOOGLE_APPLICATION_CREDENTIALS.*gcloud auth application-default login/);
  });

  it('the SDK cannot be loaded: a DependencyError with the npm install line', async () => {
    vi.resetModules();
    vi.doMock('@google-cloud/secret-manager', () => {
      throw new Error("Cannot find module '@google-cloud/secret-manager'");
    });
    try {
      const fresh = await import('../../src/sources/gcp.js');
      const errors = await import('../../src/errors.js');
      const error = await fresh
        .gcpSecretManager({ projectId: 'p', env: {} })
        .fetch({ name: 'KEY' }, { signal })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(errors.DependencyError);
      expect(error).toMatchObject({ code: 'DEPENDENCY_MISSING', packageName: '@google-cloud/secret-manager' });
      expect((error as Error).message).toContain('npm install @google-cloud/secret-manager');
    } finally {
      vi.doUnmock('@google-cloud/secret-manager');
      vi.resetModules();
    }
  });
});

describe('gcpSecretManager: every SDK and transport error shape is classified the same', () => {
  const signal = new AbortController().signal;
  const name = 'projects/p/secrets/KEY/versions/latest';
  const fetchWith = (error: unknown) =>
    gcpSecretManager({ projectId: 'p', client: { accessSecretVersion: () => Promise.reject(error) } })
      .fetch({ name: 'KEY' }, { signal })
      .catch((e: unknown) => e);
  /** What SDK 6 over REST (google-gax 5 + gaxios 7) throws: the HTTP status as `code`, the raw body as message. */
  const gax5Rest = (http: number, status: string, message: string, details?: unknown[]): Error => {
    const body = { error: { code: http, message, status, ...(details ? { details } : {}) } };
    // Production pretty-prints its bodies.
    return Object.assign(new Error(JSON.stringify(body, null, 2)), { code: http, status: http, response: {} });
  };
  /** What SDK 7 over REST (google-gax 6) throws: a GoogleError with the gRPC code. */
  const gax6Rest = (code: number, http: number, message: string): Error =>
    Object.assign(new Error(message), { code, httpStatusCode: http });
  /** What either SDK over gRPC throws: a ServiceError, the server's text in `details`. */
  const grpc = (code: number, details: string): Error =>
    Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  const disabled = `Secret Version [${name}] is in DISABLED state.`;
  const destroyed = `Secret Version [${name}] is in DESTROYED state.`;
  const denied = `Permission 'secretmanager.versions.access' denied for resource '${name}' (or it may not exist).`;

  it.each([
    ['gRPC', grpc(5, 'Secret [projects/p/secrets/KEY] not found or has no versions.')],
    ['SDK 7 REST', gax6Rest(5, 404, 'Secret [projects/p/secrets/KEY] not found or has no versions.')],
    ['SDK 6 REST', gax5Rest(404, 'NOT_FOUND', 'Secret [projects/p/secrets/KEY] not found or has no versions.')],
    ['SDK 6 REST, a body without status (a proxy)', gax5Rest(404, '', 'Not Found')],
  ])('NOT_FOUND (%s): absent not-found', async (_, error) => {
    expect(await fetchWith(error)).toEqual({ status: 'absent', reason: 'not-found' });
  });

  it.each([
    ['gRPC', grpc(9, disabled), 'disabled'],
    ['SDK 7 REST', gax6Rest(9, 400, disabled), 'disabled'],
    ['SDK 6 REST', gax5Rest(400, 'FAILED_PRECONDITION', disabled), 'disabled'],
    ['gRPC', grpc(9, destroyed), 'destroyed'],
    ['SDK 7 REST', gax6Rest(9, 400, destroyed), 'destroyed'],
    ['SDK 6 REST', gax5Rest(400, 'FAILED_PRECONDITION', destroyed), 'destroyed'],
  ])('FAILED_PRECONDITION (%s): absent %s', async (_, error, reason) => {
    expect(await fetchWith(error)).toEqual({ status: 'absent', reason });
  });

  it.each([
    ['gRPC', grpc(7, denied)],
    ['SDK 7 REST', gax6Rest(7, 403, denied)],
    [
      'SDK 6 REST, with the ErrorInfo details production adds',
      gax5Rest(403, 'PERMISSION_DENIED', denied, [
        {
          '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
          reason: 'IAM_PERMISSION_DENIED',
          domain: 'secretmanager.googleapis.com',
          metadata: { permission: 'secretmanager.versions.access', resource: name },
        },
      ]),
    ],
  ])('PERMISSION_DENIED (%s): absent permission-denied, naming the role', async (_, error) => {
    expect(await fetchWith(error)).toMatchObject({ status: 'absent', reason: 'permission-denied' });
  });

  it.each([
    ['gRPC', grpc(3, 'Invalid resource field value in the request.')],
    ['SDK 7 REST', gax6Rest(3, 400, 'Invalid resource field value in the request.')],
    ['SDK 6 REST', gax5Rest(400, 'INVALID_ARGUMENT', 'Invalid resource field value in the request.')],
  ])('INVALID_ARGUMENT (%s): a ConfigurationError quoting the server, never the raw body', async (_, error) => {
    const thrown = await fetchWith(error);
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as Error).message).toContain('(Invalid resource field value in the request.)');
  });

  it.each([
    ['gRPC', grpc(16, 'Request had invalid authentication credentials.')],
    ['SDK 6 REST', gax5Rest(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.')],
  ])('UNAUTHENTICATED (%s): a ConfigurationError', async (_, error) => {
    expect(await fetchWith(error)).toBeInstanceOf(ConfigurationError);
  });

  it.each([
    ['SDK 6 REST, 503', gax5Rest(503, 'UNAVAILABLE', 'The service is currently unavailable.')],
    ['SDK 6 REST, 429', gax5Rest(429, 'RESOURCE_EXHAUSTED', 'Quota exceeded.')],
    ['SDK 6 REST, a reset connection', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('%s: unavailable (the client error is rethrown)', async (_, error) => {
    expect(await fetchWith(error)).toBe(error);
  });

  it('a REST body whose status names no gRPC code is read by its HTTP status (404: not-found)', async () => {
    expect(await fetchWith(gax5Rest(404, 'toString', 'Not Found'))).toEqual({ status: 'absent', reason: 'not-found' });
  });
});

describe('gcpSecretManager: a permanent error fails ready() at once', () => {
  const resolverFor = trackResolvers();

  it('INVALID_ARGUMENT: ready() rejects with the ConfigurationError, with no wait and one error event', async () => {
    const clock = manualClock();
    const source = gcpSecretManager({ projectId: emulator.projectId, client: clients.grpc });
    const resolver = resolverFor({ sources: [source], clock });
    const events = record(resolver);
    emulator.failNext('AccessSecretVersion', 3, 1);
    resolver.secret('KEY');
    const error = await resolver.ready().catch((e: unknown) => e); // the clock never moves: no startupTimeoutMs
    expect(error).toBeInstanceOf(ReadyError);
    const [failure] = (error as ReadyError).failures;
    expect(failure?.error).toBeInstanceOf(ConfigurationError);
    expect(failure?.error.message).toContain(`check the project id "${emulator.projectId}"`);
    expect(only(events, 'error')).toHaveLength(1);
  });
});
