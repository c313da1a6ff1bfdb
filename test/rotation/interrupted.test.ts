/**
 * Crash injection: every write of every command, in both layouts, fails once — refused by the emulator
 * (failNext: nothing written), and the write that adds the key also made with its reply lost — and then:
 * - the command throws a RotationError INTERRUPTED saying which write of how many, and what it was;
 * - the ring is never worse than before: at most one staged key, no second staged version, the live key
 *   (and the version `current` names) enabled, and a new app still resolves a key;
 * - `status` explains it (`notes`) and names the command to run again (`next`);
 * - running the same command again finishes it, with the same end state as an uninterrupted run.
 */
import { describe, expect, it } from 'vitest';
import { createCollector, type UsageSource } from '../../src/collector/index.js';
import {
  discard,
  emergency,
  flip,
  LAYOUTS,
  probe,
  provision,
  revoke,
  status,
  type RotateCommand,
  type RotationContext,
  type RotationError,
  type RotationResult,
} from '../../src/rotation/index.js';
import { fp, HOST, KEYS, MINUTE, normalized, refreshAll, rotationRig, WINDOW, type Fault, type World } from './rig.js';

const rig = rotationRig();
/** The time every command of these tests runs at (its records carry it), so two runs leave identical records. */
const T0 = Math.floor(Date.now() / 1000) * 1000 + 30 * 86_400_000;

/**
 * A collector that has observed the fleet since long before T0 and saw one instance holding `key` of `secret`
 * (and nothing else), reporting every minute, the last time at T0: the evidence proves the old keys unused.
 */
function cleanUsage(secret: string, key: string): UsageSource {
  let now = T0 - 3 * WINDOW;
  const collector = createCollector({ clock: { now: () => now } });
  const beacon = (sentAt: number) => ({
    schema: 'keyflip.beacon/v1' as const,
    sentAt,
    service: 'checkout',
    intervalMs: MINUTE,
    instance: {
      id: 'checkout-1',
      host: HOST,
      pid: 4242,
      startedAt: T0 - 3 * WINDOW,
      runtime: 'node test',
      keyflip: 'test',
    },
    secrets: [
      {
        name: secret,
        candidate: `${secret}@current`,
        source: 'gcp',
        fingerprint: fp(key),
        loadedAt: T0 - WINDOW,
        uses: 3,
        status: 'ok' as const,
      },
    ],
  });
  for (now = T0 - 2 * MINUTE; now <= T0; now += MINUTE) collector.ingest(beacon(now));
  now = T0;
  return { usage: async (s, o) => collector.usage(s, o) };
}

type Run = <T>(work: Promise<T>) => Promise<T>;

interface Scenario {
  command: RotateCommand;
  title: string;
  /** Builds the state the command runs on (uninterrupted, before T0); `run` shows each result to the witness. */
  prepare(ctx: RotationContext, probeWith: { provider: 'openai'; baseUrl: string }, run: Run): Promise<void>;
  run(ctx: RotationContext, probeWith: { provider: 'openai'; baseUrl: string }): Promise<RotationResult>;
  /** Keys an app may resolve at any point. */
  serving: readonly string[];
}

const upToFlip = async (
  ctx: RotationContext,
  probeWith: { provider: 'openai'; baseUrl: string },
  run: Run,
): Promise<void> => {
  expect((await run(provision(ctx, KEYS.k2))).outcome).toBe('done');
  expect((await run(probe(ctx, KEYS.k2, probeWith))).outcome).toBe('done');
  expect((await run(flip(ctx))).outcome).toBe('done');
};

const SCENARIOS: Scenario[] = [
  {
    command: 'provision',
    title: 'provision',
    prepare: async () => {},
    run: (ctx) => provision(ctx, KEYS.k2, { environment: 'prod' }),
    serving: [KEYS.k1, KEYS.k2],
  },
  {
    command: 'probe',
    title: 'probe',
    prepare: async (ctx, _p, run) => void expect((await run(provision(ctx, KEYS.k2))).outcome).toBe('done'),
    run: (ctx, p) => probe(ctx, KEYS.k2, p),
    serving: [KEYS.k1],
  },
  {
    command: 'flip',
    title: 'flip',
    prepare: async (ctx, p, run) => {
      expect((await run(provision(ctx, KEYS.k2))).outcome).toBe('done');
      expect((await run(probe(ctx, KEYS.k2, p))).outcome).toBe('done');
    },
    run: (ctx) => flip(ctx),
    serving: [KEYS.k1, KEYS.k2],
  },
  {
    command: 'revoke',
    title: 'revoke',
    prepare: upToFlip,
    run: (ctx) => revoke(ctx, { windowMs: WINDOW }),
    serving: [KEYS.k2],
  },
  {
    command: 'emergency',
    title: 'emergency from a quiet ring',
    prepare: async () => {},
    run: (ctx, p) => emergency(ctx, KEYS.k2, { probe: p }),
    serving: [KEYS.k1, KEYS.k2],
  },
  {
    command: 'emergency',
    title: 'emergency with two keys enabled',
    prepare: upToFlip,
    run: (ctx) => emergency(ctx, KEYS.k3),
    serving: [KEYS.k2, KEYS.k3],
  },
  {
    command: 'discard',
    title: 'discard of a staged key',
    prepare: async (ctx, _p, run) => void expect((await run(provision(ctx, KEYS.k2))).outcome).toBe('done'),
    run: (ctx) => discard(ctx),
    serving: [KEYS.k1],
  },
];

let seq = 0;

describe.each(LAYOUTS)('interrupted at every write (%s layout)', (layout) => {
  it.each(SCENARIOS.map((s) => [s.title, s] as const))('%s', async (_title, scenario) => {
    const w = rig.world();
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    const probeWith = { provider: 'openai' as const, baseUrl: mock.url };
    let time = T0 - 2 * WINDOW;
    const contextFor = (name: string, admin = w.admin): RotationContext => ({
      ...w.ctx(name, layout),
      admin,
      usage: cleanUsage(name, KEYS.k2),
      now: () => time,
    });

    /** A fresh ring in the scenario's starting state. */
    const fresh = async (tag: string): Promise<string> => {
      const name = `R${++seq}_${tag}`;
      time = T0 - 2 * WINDOW;
      w.seedLive(name, layout, KEYS.k1);
      await scenario.prepare(contextFor(name), probeWith, w.run);
      time = T0;
      return name;
    };

    // The uninterrupted run: how many writes, and the end state to reach.
    const control = await fresh('control');
    const done = await w.run(scenario.run(contextFor(control), probeWith));
    expect(done.outcome).toBe('done');
    const writes = done.steps.length;
    expect(writes).toBeGreaterThan(0);
    const endState = normalized(await w.snapshot(control), control);
    // Keys outside NAME_next (where a staged key waits, and is no key of its own once flipped).
    const outsideStaging = (keys: readonly { secretId: string }[]): number =>
      keys.filter((key) => !key.secretId.endsWith('_next')).length;
    const versions = outsideStaging((await w.ring(control, layout)).keys);

    const faults: Fault[] = [];
    for (let k = 1; k <= writes; k++) {
      faults.push({ nthWrite: k, mode: 'refused' });
      // A write made whose reply is lost: where running again could add a second key.
      if (k < writes && /^add /.test(done.steps[k - 1]?.description ?? '')) faults.push({ nthWrite: k, mode: 'lost' });
    }
    for (const fault of faults) {
      const k = 'nthWrite' in fault ? fault.nthWrite : 0;
      const what = `${scenario.title}, write ${k} of ${writes} ${fault.mode}`;
      const name = await fresh(`${k}${fault.mode === 'lost' ? 'l' : 'r'}`);
      const before = await w.snapshot(name);
      const faulty = await w.faultyAdmin(fault);
      const error = await w.rejects(scenario.run(contextFor(name, faulty), probeWith), 'INTERRUPTED');
      const step = done.steps[k - 1]?.description.replaceAll(control, name) as string;
      expect(error.message, what).toContain(`stopped at write ${k} of ${writes} (${step})`);
      expect(error.message, what).toContain(
        k === 1
          ? 'No write before it was made'
          : k === 2
            ? 'The write before it was made'
            : `The ${k - 1} writes before it were made`,
      );
      expect(error.message, what).toContain(`rotate status ${name}`);
      await faulty.close();

      // Never worse than before.
      const ring = await w.ring(name, layout);
      expect(ring.keys.filter((key) => key.role === 'staged').length, what).toBeLessThanOrEqual(1);
      expect(outsideStaging(ring.keys), what).toBeLessThanOrEqual(versions);
      if (ring.live) expect(ring.live.state, what).toBe('ENABLED');
      const current = ring.secrets.get(name)?.aliases.current;
      if (layout === 'alias' && current !== undefined)
        expect(ring.keys.find((key) => key.version === current)?.state, what).toBe('ENABLED');
      const info = await w.resolveOnce(name, layout);
      expect(scenario.serving.map(fp), what).toContain(info.fingerprint);

      // status explains it.
      const st = await w.run(status(contextFor(name)));
      if (fault.mode === 'refused' && k === 1) {
        expect(await w.snapshot(name), what).toEqual(before); // nothing at all was written, not even an etag changed
      } else {
        expect(st.next.command, `${what}: ${st.next.why}`).toBe(scenario.command);
        expect(st.notes.join(' '), what).toMatch(/stopped|part-way/);
      }

      // The same command again finishes it.
      const again = await w.run(scenario.run(contextFor(name), probeWith));
      expect(again.outcome, `${what}: ${again.message}`).toBe('done');
      expect(normalized(await w.snapshot(name), name), what).toEqual(endState);
      const after = await w.run(status(contextFor(name)));
      expect(after.notes, what).toEqual([]);
    }
  });
});

describe.each(LAYOUTS)('interrupted commands with apps running (%s layout)', (layout) => {
  async function setup(w: World) {
    const name = `APP_${++seq}`;
    w.seedLive(name, layout, KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2, KEYS.k3]);
    const apps = await w.apps(2, name, layout);
    const traffic = w.traffic(apps, mock);
    await traffic.round();
    return {
      name,
      ctx: w.ctx(name, layout),
      apps,
      traffic,
      probeWith: { provider: 'openai' as const, baseUrl: mock.url },
    };
  }

  /**
   * Stops a provision at its third write, after the key was added: alias, the disable of the new version; pair
   * and suffix (staging in NAME_next, which stays enabled), the label of NAME_v1.
   */
  async function provisionStopped(w: World, ctx: RotationContext): Promise<RotationError> {
    w.emulator.failNext(layout === 'alias' ? 'DisableSecretVersion' : 'UpdateSecret', 14);
    const error = await w.rejects(provision(ctx, KEYS.k2), 'INTERRUPTED');
    expect(error.message).toMatch(
      layout === 'alias'
        ? /stopped at write 3 of \d \(disable that version at once/
        : /stopped at write 3 of 4 \(label APP_\d+_v1 keyflip-managed=true/,
    );
    return error;
  }

  it('provision stopped after adding its key: status says so, others wait, rerun finishes; or discard', async () => {
    const w = rig.world();
    const { name, ctx, apps, traffic, probeWith } = await setup(w);
    const error = await provisionStopped(w, ctx);
    expect(error.message).toContain('UNAVAILABLE');

    const st = await w.run(status(ctx));
    expect(st.next.command).toBe('provision');
    expect(st.next.why).toContain(fp(KEYS.k2));
    const pending = st.keys.find((k) => k.role === 'pending');
    expect(pending?.state).toBe('ENABLED');
    expect(st.notes.join(' ')).toContain(`stopped after adding ${layout === 'alias' ? `${name}@2` : `${name}_next@1`}`);
    // In no layout can an app read it: NAME_next is declared by none, and no alias names the new version.
    await refreshAll(apps);
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k1), fp(KEYS.k1)]);

    // Every other command waits for it; provision with another key is refused.
    for (const [command, work] of [
      ['probe', () => probe(ctx, KEYS.k2, probeWith)],
      ['flip', () => flip(ctx)],
      ['revoke', () => revoke(ctx, { windowMs: WINDOW })],
      ['emergency', () => emergency(ctx, KEYS.k3)],
    ] as const) {
      const r = await w.noWrites(() => w.run(work()));
      expect(r, command).toMatchObject({ outcome: 'refused', refusal: 'pending' });
    }
    const other = await w.noWrites(() => w.run(provision(ctx, KEYS.k3)));
    expect(other).toMatchObject({ outcome: 'refused', refusal: 'fingerprint-mismatch' });

    const versionsBefore = w.emulator.calls('AddSecretVersion');
    const again = await w.run(provision(ctx, KEYS.k2));
    expect(again.outcome).toBe('done');
    expect(again.message).toContain('finished the provision that had stopped part-way');
    expect(w.emulator.calls('AddSecretVersion')).toBe(versionsBefore); // no second version
    const ring = await w.ring(name, layout);
    expect(ring.keys.map((k) => [k.role, k.state])).toEqual([
      ['live', 'ENABLED'],
      ['staged', layout === 'alias' ? 'DISABLED' : 'ENABLED'],
    ]);
    await refreshAll(apps);
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k1), fp(KEYS.k1)]);

    // And the staged key can be discarded: disabled stays, recorded, provision can stage another.
    const discarded = await w.run(discard(ctx));
    expect(discarded.outcome).toBe('done');
    expect(discarded.keys.find((k) => k.role === 'discarded')).toMatchObject({
      state: 'DISABLED',
      records: { discarded: {} },
    });
    expect(discarded.next.command).toBe('provision');
    expect((await w.run(provision(ctx, KEYS.k3))).outcome).toBe('done');
    await traffic.round();
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
  });

  it('discard of a provision that stopped part-way: the added key is disabled, the pending mark cleared', async () => {
    const w = rig.world();
    const { name, ctx, apps, traffic } = await setup(w);
    await provisionStopped(w, ctx);
    await refreshAll(apps); // no app can read the half-provisioned key
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k1), fp(KEYS.k1)]);
    await traffic.round();
    const discarded = await w.run(discard(ctx));
    expect(discarded.outcome).toBe('done');
    expect(discarded.steps.map((s) => s.description)).toEqual([
      expect.stringMatching(/^disable /),
      expect.stringMatching(/clear the pending mark/),
    ]);
    const ring = await w.ring(name, layout);
    expect(ring.pending).toBeUndefined();
    expect(ring.keys.map((k) => [k.role, k.state])).toEqual([
      ['live', 'ENABLED'],
      ['discarded', 'DISABLED'],
    ]);
    expect(ring.live?.version).toBe(1);
    await refreshAll(apps);
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k1), fp(KEYS.k1)]);
    await traffic.round();
    expect((await w.run(discard(ctx))).outcome).toBe('already-done');
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
  });

  it('discard of a provision that stopped before adding its key', async () => {
    const w = rig.world();
    const { name, ctx, traffic } = await setup(w);
    w.emulator.failNext('AddSecretVersion', 14);
    const error = await w.rejects(provision(ctx, KEYS.k2), 'INTERRUPTED');
    expect(error.message).toContain('add the new key');
    const st = await w.run(status(ctx));
    expect(st.notes.join(' ')).toContain('stopped before adding its key');
    const discarded = await w.run(discard(ctx));
    expect(discarded).toMatchObject({ outcome: 'done' });
    expect(discarded.steps.map((s) => s.description)).toEqual([expect.stringContaining('nothing was added')]);
    expect((await w.ring(name, layout)).pending).toBeUndefined();
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
  });

  it('revoke stopped at its second write: recorded, still enabled; status says so; revoke again finishes', async () => {
    const w = rig.world();
    const { name, ctx, apps, traffic, probeWith } = await setup(w);
    await w.clock.advance(MINUTE);
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    expect((await w.run(probe(ctx, KEYS.k2, probeWith))).outcome).toBe('done');
    expect((await w.run(flip(ctx))).outcome).toBe('done');
    await refreshAll(apps);
    await w.clock.advance(WINDOW + MINUTE);
    w.emulator.failNext('DisableSecretVersion', 14);
    const error = await w.rejects(revoke(ctx, { windowMs: WINDOW }), 'INTERRUPTED');
    expect(error.message).toMatch(/stopped at write 2 of 2 \(disable APP_\d+(_v1@1|_v1|@1) /);
    expect(error.message).toContain('The write before it was made');

    const st = await w.run(status(ctx));
    const old = st.keys.find((k) => k.version === 1 && k.secretId === (layout === 'alias' ? name : `${name}_v1`));
    expect(old).toMatchObject({ role: 'old', state: 'ENABLED', records: { revoked: { windowMs: WINDOW } } });
    expect(st.notes.join(' ')).toContain('recorded as revoked but still enabled: a revoke stopped part-way');
    expect(st.next.command).toBe('revoke');

    const again = await w.run(revoke(ctx, { windowMs: WINDOW }));
    expect(again.outcome).toBe('done');
    const ring = await w.ring(name, layout);
    expect(ring.keys.map((k) => [k.role, k.state])).toEqual([
      ['revoked', 'DISABLED'],
      ['live', 'ENABLED'],
    ]);
    expect((await w.run(status(ctx))).notes).toEqual([]);
    await traffic.round();
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
  });

  it('flip stopped at UpdateSecret, then emergency stopped at UpdateSecret: each finishes when run again', async () => {
    const w = rig.world();
    const { name, ctx, apps, traffic, probeWith } = await setup(w);
    expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
    expect((await w.run(probe(ctx, KEYS.k2, probeWith))).outcome).toBe('done');
    // alias: the write that moves `current`; pair and suffix: the disable of the NAME_next version, after the key
    // was copied (pair: to NAME_v2; suffix: to NAME_v2, a new name).
    w.emulator.failNext(layout === 'alias' ? 'UpdateSecret' : 'DisableSecretVersion', 14);
    const error = await w.rejects(flip(ctx), 'INTERRUPTED');
    expect(error.message).toMatch(
      layout === 'alias' ? /stopped at write 2 of 2/ : /stopped at write 4 of 6 \(disable /,
    );
    const st = await w.run(status(ctx));
    expect(st.next.command).toBe('flip');
    expect(st.notes.join(' ')).toMatch(/flip( of kf_\w+)? stopped part-way/);
    const blocked = await w.noWrites(() => w.run(revoke(ctx, { windowMs: WINDOW })));
    expect(blocked).toMatchObject({ outcome: 'refused', refusal: 'pending' });
    expect((await w.run(flip(ctx))).outcome).toBe('done');
    await refreshAll(apps);
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k2), fp(KEYS.k2)]);
    await traffic.round();

    // A leak: emergency to K3, stopped at an UpdateSecret after it added the key (suffix: the first, which
    // records the revoke of K1 after K1 and K2 were disabled; alias: the second, which moves `current`).
    // (pair: the second, after the new key was added to NAME_v2 and K1 and K2 were disabled.)
    let admin = w.admin;
    if (layout === 'suffix') w.emulator.failNext('UpdateSecret', 14);
    else admin = await w.faultyAdmin({ method: 'UpdateSecret', nth: 2 });
    const leaked = await w.rejects(emergency({ ...ctx, admin }, KEYS.k3, { probe: probeWith }), 'INTERRUPTED');
    expect(leaked.message, leaked.message).toMatch(
      layout === 'suffix'
        ? /stopped at write 5 of 7 \(record on APP_\d+_v1: revoked/
        : layout === 'pair'
          ? /stopped at write 5 of 6 \(record on APP_\d+_v1: revoked/
          : /stopped at write 3 of 6 \(move APP_\d+@current/,
    );
    const mid = await w.run(status(ctx));
    expect(mid.notes.join(' ')).toMatch(/emergency .*stopped/);
    expect(mid.next.command).toBe('emergency');
    expect(mid.keys.some((k) => k.role === 'live' && k.state === 'ENABLED')).toBe(true);
    const finished = await w.run(emergency(ctx, KEYS.k3, { probe: probeWith }));
    expect(finished.outcome).toBe('done');
    const ring = await w.ring(name, layout);
    expect(ring.live?.fingerprint).toBe(fp(KEYS.k3));
    expect(ring.keys.map((k) => [k.role, k.state])).toEqual([
      ['revoked', 'DISABLED'],
      ['revoked', 'DISABLED'],
      ['live', 'ENABLED'],
    ]);
    await refreshAll(apps);
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k3), fp(KEYS.k3)]);
    await traffic.round();
    await w.clock.advance(MINUTE);
    await traffic.stop();
    expect(traffic.failed).toEqual([]);
  });
});
