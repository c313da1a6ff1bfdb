/**
 * The rig of the rotation tests: a Secret Manager emulator (real gRPC), the rotation admin over it, a mock
 * provider, an in-process collector, a manual clock shared by the apps, the collector and the commands, and
 * "apps" (real resolvers on the emulator with a beacon feeding the collector) that send requests to the mock
 * provider through authFetch. It also checks, after every test, that no key value appeared in any result,
 * error message, resolver event or beacon, and that no rejection went unhandled.
 */
import { hostname } from 'node:os';
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { usageBeacon } from '../../src/beacon/index.js';
import { authFetch, providers } from '../../src/clients/index.js';
import { createCollector, type Collector, type UsageSource } from '../../src/collector/index.js';
import { createResolver, fingerprint, type Resolver, type SecretHandle, type SecretInfo } from '../../src/index.js';
import {
  openSecretAdmin,
  readRing,
  RotationError,
  type KeyRing,
  type Layout,
  type RotationContext,
  type SecretAdmin,
  type SecretManagerAdminClientLike,
} from '../../src/rotation/index.js';
import { gcpSecretManager } from '../../src/sources/gcp.js';
import {
  manualClock,
  startMockProvider,
  startSecretManagerEmulator,
  type ManualClock,
  type MockProvider,
  type SecretManagerEmulator,
} from '../../src/testing/index.js';
import { collectUnhandledRejections, leaks, record, type Recorded } from '../helpers.js';

/** Keys with the shape of real OpenAI keys, made up for these tests (valid nowhere). */
export const KEYS = {
  k1: `sk-proj-${'Qa1Wb2Ec3R'.repeat(3)}T3BlbkFJ${'zZ1yY2xX3w'.repeat(3)}`,
  k2: `sk-proj-${'Td4Yf5Ug6I'.repeat(3)}T3BlbkFJ${'vV4uU5tT6s'.repeat(3)}`,
  k3: `sk-proj-${'Oh7Pj8Ak9S'.repeat(3)}T3BlbkFJ${'rR7qQ8pP9o'.repeat(3)}`,
  k4: `sk-proj-${'Dl0Fm1Gn2H'.repeat(3)}T3BlbkFJ${'nN0mM1lL2k'.repeat(3)}`,
  k5: `sk-proj-${'Bq2Wr3Et4Y'.repeat(3)}T3BlbkFJ${'hH6gG7fF8e'.repeat(3)}`,
  k6: `sk-proj-${'Nu5Mi6Ko7L'.repeat(3)}T3BlbkFJ${'dD9cC0bB1a'.repeat(3)}`,
  /** A key no provider accepts. */
  dead: `sk-proj-${'Jx3Kc4Lv5Z'.repeat(3)}T3BlbkFJ${'jJ3iI4hH5g'.repeat(3)}`,
} as const;
export const ALL_KEYS: readonly string[] = Object.values(KEYS);
export const fp = (value: string): string => fingerprint(value);

export const MINUTE = 60_000;
export const WINDOW = 10 * MINUTE;
/** Status codes for failNext. */
export const UNAVAILABLE = 14;

export const WRITE_METHODS = [
  'CreateSecret',
  'UpdateSecret',
  'DeleteSecret',
  'AddSecretVersion',
  'EnableSecretVersion',
  'DisableSecretVersion',
  'DestroySecretVersion',
] as const;
export const HOST = hostname();

/** Collects everything a test printed or returned, to check that no key value is in any of it. */
export class Witness {
  private readonly texts: string[] = [];
  private readonly sources: (() => unknown)[] = [];

  /** Remembers `thing` as JSON (results, statuses, snapshots). */
  see<T>(thing: T): T {
    this.texts.push(JSON.stringify(thing));
    return thing;
  }

  /** Re-read at the end of the test (event lists that grow, a collector). */
  watch(read: () => unknown): void {
    this.sources.push(read);
  }

  /** An error's every printable form, its causes included. */
  seeError(error: unknown): void {
    let e: unknown = error;
    for (let depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
      if (e instanceof Error) {
        this.texts.push(e.message, String(e), e.stack ?? '', JSON.stringify(e));
        e = e.cause;
      } else {
        this.texts.push(String(e));
        e = undefined;
      }
    }
  }

  /** Runs a command, remembering its result, or its error (rethrown). */
  async run<T>(work: Promise<T>): Promise<T> {
    try {
      return this.see(await work);
    } catch (error) {
      this.seeError(error);
      throw error;
    }
  }

  /** Runs a command that must throw a RotationError with `code`; returns it. */
  async rejects(work: Promise<unknown>, code: RotationError['code']): Promise<RotationError> {
    let caught: unknown;
    try {
      this.see(await work);
    } catch (error) {
      caught = error;
      this.seeError(error);
    }
    expect(caught, 'the command should have thrown').toBeInstanceOf(RotationError);
    const error = caught as RotationError;
    expect(error.code).toBe(code);
    return error;
  }

  /** Every text seen that holds a key value (there must be none). */
  leaks(): string[] {
    const all = [...this.texts, ...this.sources.map((read) => JSON.stringify(read()))];
    return all.flatMap((text) =>
      leaks(text, ALL_KEYS).map((value) => `${value.slice(0, 12)}… in ${text.slice(0, 200)}`),
    );
  }

  get count(): number {
    return this.texts.length + this.sources.length;
  }
}

/** A secret and its versions as the emulator holds them (etags included, so any write changes it). */
export interface SecretSnapshot {
  id: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  aliases: Record<string, number>;
  etag: string;
  versions: { version: number; state: string; etag: string }[];
}

/** An app: one resolver (its own gRPC client) with a beacon into the collector, and its handle. */
export interface App {
  readonly service: string;
  readonly instanceId: string;
  readonly resolver: Resolver;
  readonly handle: SecretHandle<string>;
  readonly events: Recorded[];
}

/** Requests each app sends to the mock provider, one after another, until stopped. */
export interface Traffic {
  readonly ok: number;
  readonly failed: readonly string[];
  /** Resolves once every app has completed a request started after this call. */
  round(): Promise<void>;
  stop(): Promise<void>;
}

/** One test's world. */
export interface World {
  readonly emulator: SecretManagerEmulator;
  readonly admin: SecretAdmin;
  readonly clock: ManualClock;
  readonly collector: Collector;
  readonly usage: UsageSource;
  readonly witness: Witness;
  /** `witness.run`: runs a command and remembers its result or error. */
  run<T>(work: Promise<T>): Promise<T>;
  /** `witness.rejects`. */
  rejects(work: Promise<unknown>, code: RotationError['code']): Promise<RotationError>;
  /** A context for `name` in `layout`, its `now` on the shared clock. */
  ctx(name: string, layout: Layout, extra?: Partial<RotationContext>): RotationContext;
  /** A mock OpenAI that accepts `keys`. */
  mock(keys: readonly string[]): Promise<MockProvider>;
  /** Starts `n` apps declaring `resolver.secret(name, chainFor(name, layout))` (or `options.chain`). */
  apps(n: number, name: string, layout: Layout, options?: { chain?: string; prefix?: string }): Promise<App[]>;
  /** Starts sending requests from each app to `mock`. */
  traffic(apps: readonly App[], mock: MockProvider): Traffic;
  /** Every secret of the project (or of the ring `name`), sorted, with its versions. */
  snapshot(name?: string): Promise<SecretSnapshot[]>;
  /** How many calls of each write method the emulator received. */
  writes(): Record<string, number>;
  /** Runs `work` and asserts that it made no write: no write call, and every secret and version as before. */
  noWrites<T>(work: () => Promise<T>): Promise<T>;
  ring(name: string, layout: Layout): Promise<KeyRing>;
  /** Seeds a key made before keyflip: `NAME_v1` (pair, suffix), or version 1 of `NAME` named by `current` (alias). */
  seedLive(name: string, layout: Layout, value: string): void;
  /**
   * An admin whose client makes one call fail: the `nth` (1-based) call of `method`, or the `nthWrite` write
   * call of any write method. `refused` (default): the emulator fails it (failNext: nothing is written);
   * `lost`: the write is made and its reply is lost (the client throws).
   */
  faultyAdmin(fault: Fault): Promise<SecretAdmin>;
  /** Resolves `chainFor(name, layout)` once with a fresh resolver, as a new app would. */
  resolveOnce(name: string, layout: Layout): Promise<SecretInfo>;
}

export type Fault = ({ method: string; nth: number } | { nthWrite: number }) & {
  mode?: 'refused' | 'lost';
  code?: number;
};

/** The chain the apps declare: pair `NAME_v2 ?? NAME_v1` (for good); suffix three names ahead; alias. */
export const chainFor = (name: string, layout: Layout): string =>
  layout === 'pair'
    ? `${name}_v2 ?? ${name}_v1`
    : layout === 'suffix'
      ? `${name}_v3 ?? ${name}_v2 ?? ${name}_v1`
      : `${name}@current ?? ${name}@previous`;

/**
 * Call at the top of a test file: starts the emulator (beforeAll), and gives each test a fresh clock,
 * collector and witness; after each test closes its apps and mocks, empties the project and checks the
 * witness; after all, closes the emulator and checks for unhandled rejections.
 */
export function rotationRig(): { world(): World } {
  const unhandled = collectUnhandledRejections();
  let emulator: SecretManagerEmulator;
  let admin: SecretAdmin;
  let closers: (() => Promise<unknown>)[] = [];
  let current: World | undefined;
  let shared: SecretManagerServiceClient;

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    shared = new SecretManagerServiceClient({ ...emulator.clientOptions });
    admin = await openSecretAdmin({ projectId: emulator.projectId, clientOptions: { ...emulator.clientOptions } });
  });
  afterAll(async () => {
    await admin?.close();
    await shared?.close();
    await emulator?.close();
    expect(unhandled).toEqual([]);
  });
  afterEach(async () => {
    const closing = closers;
    closers = [];
    for (const close of closing.reverse()) await close();
    // An empty project for the next test (so whole-project snapshots stay small).
    for (const s of await admin.listSecrets()) emulator.deleteSecret(s.id);
    const world = current;
    current = undefined;
    if (world) {
      expect(world.witness.count).toBeGreaterThan(0);
      expect(world.witness.leaks()).toEqual([]);
    }
    expect(unhandled).toEqual([]);
  });

  const snapshot = async (name?: string): Promise<SecretSnapshot[]> => {
    const listed = await admin.listSecrets(name === undefined ? undefined : `name:${name}`);
    const secrets =
      name === undefined
        ? listed
        : listed.filter((s) => s.id === name || new RegExp(`^${name}_(v\\d+|next)$`).test(s.id));
    const out: SecretSnapshot[] = [];
    for (const s of secrets.sort((a, b) => (a.id < b.id ? -1 : 1))) {
      const versions = (await admin.listVersions(s.id)).map((v) => ({
        version: v.version,
        state: v.state,
        etag: v.etag,
      }));
      out.push({
        id: s.id,
        labels: { ...s.labels },
        annotations: { ...s.annotations },
        aliases: { ...s.aliases },
        etag: s.etag,
        versions,
      });
    }
    return out;
  };
  const writes = (): Record<string, number> => Object.fromEntries(WRITE_METHODS.map((m) => [m, emulator.calls(m)]));

  return {
    world(): World {
      const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
      const collector = createCollector({ clock });
      const usage: UsageSource = { usage: async (secret, options) => collector.usage(secret, options) };
      const witness = new Witness();
      witness.watch(() => collector.instances());
      const world: World = {
        emulator,
        admin,
        clock,
        collector,
        usage,
        witness,
        run: (work) => witness.run(work),
        rejects: (work, code) => witness.rejects(work, code),
        ctx: (name, layout, extra = {}) => ({ admin, name, layout, usage, now: () => clock.now(), ...extra }),
        async mock(keys) {
          const mock = await startMockProvider({ preset: 'openai', keys });
          closers.push(() => mock.close());
          return mock;
        },
        async apps(n, name, layout, options = {}) {
          const out: App[] = [];
          const chain = options.chain ?? chainFor(name, layout);
          for (let i = 0; i < n; i++) {
            const service = `${options.prefix ?? 'app'}-${i + 1}`;
            const instanceId = `${service}-pod`;
            const resolver = createResolver({
              sources: [
                gcpSecretManager({ projectId: emulator.projectId, clientOptions: { ...emulator.clientOptions } }),
              ],
              clock,
              refreshMs: 86_400_000, // the tests drive every refresh
              jitter: 0,
              beacon: usageBeacon({
                service,
                instanceId,
                intervalMs: MINUTE,
                sink: {
                  send: (report) => {
                    collector.ingest(report);
                  },
                },
              }),
            });
            closers.push(() => resolver.close());
            const events = record(resolver);
            witness.watch(() => events);
            const handle = resolver.secret(name, chain);
            out.push({ service, instanceId, resolver, handle, events });
          }
          await Promise.all(out.map((a) => a.resolver.ready()));
          return out;
        },
        traffic(apps, mock) {
          let stopped = false;
          let ok = 0;
          const failed: string[] = [];
          const started = apps.map(() => 0);
          const finished = apps.map(() => 0);
          // Rounds waiting for every app to finish a request numbered at least its target: signalled by the loops.
          let rounds: { targets: readonly number[]; reached: () => void; stopped: (error: Error) => void }[] = [];
          const signal = (): void => {
            rounds = rounds.filter((round) => {
              const reached = round.targets.every((target, i) => (finished[i] ?? 0) >= target);
              if (reached) round.reached();
              return !reached;
            });
          };
          const loops = apps.map(async (app, i) => {
            const send = authFetch(app.handle, providers.openai);
            while (!stopped) {
              const n = (started[i] ?? 0) + 1;
              started[i] = n;
              try {
                const res = await send(`${mock.url}/chat/completions`, {
                  method: 'POST',
                  headers: { 'content-type': 'application/json' },
                  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
                });
                const body = await res.text();
                if (res.ok) ok++;
                else failed.push(`${app.service}: HTTP ${res.status} ${body.slice(0, 200)}`);
              } catch (error) {
                failed.push(`${app.service}: ${error instanceof Error ? error.message : String(error)}`);
              }
              finished[i] = n;
              signal();
              // A trickle, not a flood (one request per app per 10 ms at most): the commands run between requests.
              // Nothing is asserted from its pace; `round()` waits for the requests themselves.
              await new Promise((r) => setTimeout(r, 10));
            }
          });
          const all = Promise.all(loops);
          const halt = async (): Promise<void> => {
            stopped = true;
            await all;
            for (const round of rounds) round.stopped(new Error('the traffic stopped before the round completed'));
            rounds = [];
          };
          closers.push(halt);
          return {
            get ok() {
              return ok;
            },
            get failed() {
              return failed;
            },
            round() {
              if (stopped) return Promise.reject(new Error('the traffic has stopped'));
              const targets = started.map((s) => s + 1);
              return new Promise<void>((reached, rejected) => {
                rounds.push({ targets, reached, stopped: rejected });
              });
            },
            async stop() {
              await halt();
              witness.see(failed);
            },
          };
        },
        snapshot,
        writes,
        async noWrites(work) {
          const before = await snapshot();
          const calls = writes();
          const out = await work();
          expect(writes()).toEqual(calls);
          expect(await snapshot()).toEqual(before);
          return out;
        },
        // Read as the commands read it: every enabled key fingerprinted (the pair layout tells copies from old keys).
        ring: (name, layout) => readRing(admin, name, layout, { fingerprint: (value) => fingerprint(value) }),
        seedLive(name, layout, value) {
          if (layout !== 'alias') emulator.addVersion(`${name}_v1`, value);
          else emulator.setAlias(name, 'current', emulator.addVersion(name, value));
        },
        async faultyAdmin(fault) {
          const client = new SecretManagerServiceClient({
            ...emulator.clientOptions,
          }) as unknown as SecretManagerAdminClientLike & Record<string, unknown>;
          await client.initialize?.();
          closers.push(() => client.close?.() ?? Promise.resolve());
          const counts = new Map<string, number>();
          const faulty = new Proxy(client, {
            get(target, prop, receiver) {
              const value = Reflect.get(target, prop, receiver) as unknown;
              if (typeof value !== 'function') return value;
              const fn = value as (...a: unknown[]) => Promise<unknown>;
              const method = typeof prop === 'string' ? `${prop.charAt(0).toUpperCase()}${prop.slice(1)}` : '';
              const isWrite = (WRITE_METHODS as readonly string[]).includes(method);
              return async (...args: unknown[]) => {
                const key =
                  'nthWrite' in fault ? (isWrite ? '*' : undefined) : method === fault.method ? method : undefined;
                const n = key === undefined ? 0 : (counts.get(key) ?? 0) + 1;
                if (key !== undefined) counts.set(key, n);
                const hit = n === ('nthWrite' in fault ? fault.nthWrite : fault.nth);
                if (hit && (fault.mode ?? 'refused') === 'refused')
                  emulator.failNext(method, fault.code ?? UNAVAILABLE);
                const out = await fn.apply(target, args);
                if (hit && fault.mode === 'lost')
                  throw Object.assign(new Error(`${method}: the reply was lost (injected; the write was made)`), {
                    code: 4,
                  });
                return out;
              };
            },
          });
          return openSecretAdmin({ projectId: emulator.projectId, client: faulty });
        },
        async resolveOnce(name, layout) {
          const resolver = createResolver({
            sources: [gcpSecretManager({ projectId: emulator.projectId, client: shared })],
            refreshMs: 86_400_000,
          });
          try {
            const events = record(resolver);
            const handle = resolver.secret(name, chainFor(name, layout));
            await handle.get();
            witness.see(events);
            const info = handle.info;
            expect(info, `${name} resolved`).toBeDefined();
            return info as SecretInfo;
          } finally {
            await resolver.close();
          }
        },
      };
      current = world;
      return world;
    },
  };
}

/** Refreshes every app now and waits for it. */
export async function refreshAll(apps: readonly App[]): Promise<void> {
  await Promise.all(apps.map((a) => a.resolver.refresh()));
}

/** The ring of `name` with `NAME` in place of the name, for comparing two rings made with the same keys and times. */
export function normalized(snapshot: readonly SecretSnapshot[], name: string): unknown[] {
  const swap = (s: string): string => s.split(name).join('NAME');
  return snapshot
    .filter((s) => s.id === name || s.id.startsWith(`${name}_v`) || s.id === `${name}_next`)
    .map((s) => ({
      id: swap(s.id),
      labels: s.labels,
      annotations: Object.fromEntries(Object.entries(s.annotations).map(([k, v]) => [k, swap(v)])),
      aliases: s.aliases,
      versions: s.versions.map((v) => ({ version: v.version, state: v.state })),
    }));
}
