/**
 * The revoke gate under the evidence model (docs/evidence.md): verify and revoke proceed only on "clear". With the
 * old key out of use but the evidence short of proving it — a collector that just restarted, evidence it had to
 * drop, a window shorter than two beacon intervals, a process too new, no beacons at all — verify fails and revoke
 * refuses with `evidence-incomplete` (the CLI exits 4), writing nothing; once the evidence covers the window,
 * revoke goes through. The apps here are real resolvers on the emulator whose beacons feed a collector the test can
 * restart, on the rig's manual clock.
 */
import { describe, expect, it } from 'vitest';
import { usageBeacon } from '../../src/beacon/index.js';
import { createCollector, type Collector, type UsageSource } from '../../src/collector/index.js';
import { createResolver, memorySource, type Resolver, type Source } from '../../src/index.js';
import {
  flip,
  LAYOUTS,
  probe,
  provision,
  revoke,
  verify,
  type Layout,
  type RotationContext,
  type RotationResult,
} from '../../src/rotation/index.js';
import { gcpSecretManager } from '../../src/sources/gcp.js';
import { chainFor, fp, KEYS, MINUTE, rotationRig, WINDOW, type World } from './rig.js';

const rig = rotationRig();
let n = 0;

/** Apps whose beacons go to `fleet.collector`, which the test may replace (a restart) at any time. */
interface Fleet {
  collector: Collector;
  readonly usage: UsageSource;
  start(count: number, prefix?: string): Promise<Resolver[]>;
  /** A process that read `value` once (from its environment) and holds it whatever the ring says. */
  straggler(value: string): Promise<Resolver>;
  close(): Promise<void>;
}

function fleet(w: World, name: string, layout: Layout): Fleet {
  const resolvers: Resolver[] = [];
  const resolverFor = (id: string, source: Source): Resolver => {
    const resolver = createResolver({
      sources: [source],
      clock: w.clock,
      refreshMs: 86_400_000, // the test drives every refresh
      jitter: 0,
      beacon: usageBeacon({
        service: id,
        instanceId: `${id}-pod`,
        intervalMs: MINUTE,
        sink: {
          send: (report) => {
            f.collector.ingest(report);
          },
        },
      }),
    });
    resolvers.push(resolver);
    return resolver;
  };
  const f: Fleet = {
    collector: createCollector({ clock: w.clock }),
    usage: { usage: async (secret, options) => f.collector.usage(secret, options) },
    async start(count, prefix = 'app') {
      const started: Resolver[] = [];
      for (let i = 0; i < count; i++) {
        const gcp = gcpSecretManager({
          projectId: w.emulator.projectId,
          clientOptions: { ...w.emulator.clientOptions },
        });
        const resolver = resolverFor(`${prefix}-${resolvers.length + 1}`, gcp);
        started.push(resolver);
        resolver.secret(name, chainFor(name, layout));
      }
      await Promise.all(started.map((r) => r.ready()));
      return started;
    },
    async straggler(value) {
      const resolver = resolverFor(`straggler-${resolvers.length + 1}`, memorySource({ [name]: value }));
      resolver.secret(name, name);
      await resolver.ready();
      return resolver;
    },
    async close() {
      for (const r of resolvers) await r.close();
    },
  };
  return f;
}

/**
 * A ring `EV<n>` with K1 live, apps beaconing to a collector for a minute, then K2 staged, probed and flipped, and
 * the apps refreshed onto K2: the old key K1 is out of use from here on.
 */
async function flipped(layout: Layout, apps = 2) {
  const w = rig.world();
  const name = `EV_${++n}`;
  w.seedLive(name, layout, KEYS.k1);
  const f = fleet(w, name, layout);
  const ctx: RotationContext = { ...w.ctx(name, layout), usage: f.usage };
  const mock = await w.mock([KEYS.k1, KEYS.k2]);
  const running = await f.start(apps);
  await w.clock.advance(MINUTE);
  expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
  expect((await w.run(probe(ctx, KEYS.k2, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
  expect((await w.run(flip(ctx))).outcome).toBe('done');
  await Promise.all(running.map((r) => r.refresh()));
  return { w, name, f, ctx };
}

/** `revoke` refused with `evidence-incomplete`, no write made; the missing codes of the old key's check. */
async function incomplete(w: World, work: () => Promise<RotationResult>): Promise<string[]> {
  const result = await w.noWrites(() => w.run(work()));
  expect(result).toMatchObject({ outcome: 'refused', ok: false, refusal: 'evidence-incomplete' });
  expect(result.message).toMatch(/^revoke refused: .* \(kf_[0-9a-f]{12}\): no instance shows /);
  const check = result.verifications?.[0]?.result;
  expect(check).toMatchObject({ ok: false, reason: 'cannot-prove', offenders: [] });
  return (check?.missing ?? []).map((m) => m.code);
}

describe.each(LAYOUTS)('the revoke gate needs evidence (%s layout)', (layout) => {
  it('a collector restarted after the flip: refused until its coverage spans the window (path 1)', async () => {
    const { w, f, ctx } = await flipped(layout);
    try {
      await w.clock.advance(WINDOW + MINUTE);
      // The collector that saw the whole window proves it.
      const verified = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(verified).toMatchObject({ outcome: 'done', ok: true });
      expect(verified.verifications?.[0]?.result).toMatchObject({ reason: 'clear', missing: [] });

      // Restarted without a state file: it has heard from no one yet.
      f.collector = createCollector({ clock: w.clock });
      expect(await incomplete(w, () => revoke(ctx, { windowMs: WINDOW }))).toEqual(['no-reports', 'coverage']);
      const failed = await w.run(verify(ctx, { windowMs: WINDOW }));
      expect(failed).toMatchObject({ outcome: 'failed', ok: false, refusal: 'evidence-incomplete' });
      // The apps report again within one interval: each is seen once (not yet proven); the coverage is one minute.
      await w.clock.advance(MINUTE);
      expect(await incomplete(w, () => revoke(ctx, { windowMs: WINDOW }))).toEqual(['coverage', 'young-instance']);
      // A whole window plus one interval after the restart, it proves it: revoke disables K1.
      await w.clock.advance(WINDOW);
      const revoked = await w.run(revoke(ctx, { windowMs: WINDOW }));
      expect(revoked).toMatchObject({ outcome: 'done', ok: true });
      expect(revoked.keys.find((k) => k.fingerprint === fp(KEYS.k1))).toMatchObject({ role: 'revoked' });
    } finally {
      await f.close();
    }
  });

  it('evidence the collector dropped in the window (a flood of new instances): refused (path 2)', async () => {
    const { w, f, ctx } = await flipped(layout);
    try {
      await w.clock.advance(WINDOW + MINUTE);
      // A collector with room for the two apps only: a third process is refused, and that is recorded.
      f.collector = createCollector({ clock: w.clock, maxInstances: 2 });
      await w.clock.advance(WINDOW + MINUTE);
      const flood = await f.start(1, 'flood');
      expect(f.collector.stats).toMatchObject({ instances: 2 });
      expect(await incomplete(w, () => revoke(ctx, { windowMs: WINDOW }))).toEqual(['dropped']);
      await flood[0]?.close();
    } finally {
      await f.close();
    }
  });

  it('no beacons at all (every report rejected, or no sink): refused, no-reports (path 3)', async () => {
    const { w, f, ctx } = await flipped(layout);
    try {
      await w.clock.advance(WINDOW + MINUTE);
      const elsewhere = { ...ctx, beaconName: 'NAME_NO_PROCESS_REPORTS' };
      expect(await incomplete(w, () => revoke(elsewhere, { windowMs: WINDOW }))).toEqual(['no-reports']);
    } finally {
      await f.close();
    }
  });

  it('a window shorter than two beacon intervals: refused, window-too-short (path 4)', async () => {
    const { w, f, ctx } = await flipped(layout);
    try {
      await w.clock.advance(WINDOW + MINUTE);
      expect(await incomplete(w, () => revoke(ctx, { windowMs: MINUTE + MINUTE / 2 }))).toEqual(['window-too-short']);
      expect((await w.run(revoke(ctx, { windowMs: 2 * MINUTE }))).outcome).toBe('done');
    } finally {
      await f.close();
    }
  });

  it('a process younger than one beacon interval: refused until it has been seen for one (path 5)', async () => {
    const { w, f, ctx } = await flipped(layout);
    try {
      await w.clock.advance(WINDOW + MINUTE);
      await f.start(1, 'deploy'); // a new process, on the live key: it reports at once
      expect(await incomplete(w, () => revoke(ctx, { windowMs: WINDOW }))).toEqual(['young-instance']);
      await w.clock.advance(MINUTE);
      expect((await w.run(revoke(ctx, { windowMs: WINDOW }))).outcome).toBe('done');
    } finally {
      await f.close();
    }
  });

  it('in use wins: a process still on the old key is named (not-verified), whatever evidence is missing', async () => {
    const { w, f, ctx } = await flipped(layout);
    try {
      await w.clock.advance(WINDOW + MINUTE);
      // The collector restarted a minute ago, and a process that read K1 once still holds it.
      f.collector = createCollector({ clock: w.clock });
      await f.straggler(KEYS.k1);
      await w.clock.advance(MINUTE);
      const result = await w.noWrites(() => w.run(revoke(ctx, { windowMs: 3 * MINUTE })));
      expect(result).toMatchObject({ outcome: 'refused', refusal: 'not-verified' });
      expect(result.message).toMatch(/is still used: straggler-3 on .* \(instance straggler-3-pod\)/);
      const check = result.verifications?.[0]?.result;
      expect(check).toMatchObject({ reason: 'in-use', holding: [{ id: 'straggler-3-pod', fingerprint: fp(KEYS.k1) }] });
      expect(check?.missing.map((m) => m.code)).toContain('coverage');
    } finally {
      await f.close();
    }
  });
});
