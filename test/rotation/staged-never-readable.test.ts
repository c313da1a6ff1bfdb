/**
 * No staged key is ever readable by an app, in any layout, not even for a moment between two writes. Readers
 * read, through the real client, exactly the names the apps declare (pair `NAME_v2 ?? NAME_v1`, suffix
 * `NAME_v3 ?? NAME_v2 ?? NAME_v1`, alias `NAME@current ?? NAME@previous`), every one of them, in a tight loop and
 * once more after every single write the commands make, while the new key is provisioned (once stopped
 * part-way, then finished) and probed: not one read returns the staged key. After the flip, every app (a
 * resolver on the emulator) resolves it on its next refresh.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { describe, expect, it } from 'vitest';
import { flip, LAYOUTS, type Layout, probe, provision, type SecretAdmin } from '../../src/rotation/index.js';
import { fp, KEYS, refreshAll, rotationRig, type World } from './rig.js';

const rig = rotationRig();

/** The secret versions an app declaring the layout's chain reads: every candidate, in chain order. */
function declared(name: string, layout: Layout): { secret: string; version: string }[] {
  if (layout === 'alias')
    return [
      { secret: name, version: 'current' },
      { secret: name, version: 'previous' },
    ];
  const top = layout === 'pair' ? 2 : 3;
  return Array.from({ length: top }, (_, i) => ({ secret: `${name}_v${top - i}`, version: 'latest' }));
}

/** Readers of the declared names: the fingerprint of every value read, counted. Never a value. */
function readers(w: World, name: string, layout: Layout) {
  const client = new SecretManagerServiceClient({ ...w.emulator.clientOptions });
  const seen = new Map<string, number>();
  let reads = 0;
  let stopped = false;
  const round = async (): Promise<void> => {
    for (const c of declared(name, layout)) {
      const version = `projects/${w.emulator.projectId}/secrets/${c.secret}/versions/${c.version}`;
      try {
        const [answer] = await client.accessSecretVersion({ name: version });
        const data = answer.payload?.data;
        if (data === undefined || data === null) continue;
        const f = fp(Buffer.from(data as Uint8Array).toString('utf8'));
        seen.set(f, (seen.get(f) ?? 0) + 1);
      } catch {
        // absent (not found, disabled): an app skips it
      }
      reads++;
    }
  };
  const loop = (async () => {
    while (!stopped) await round();
  })();
  return {
    seen,
    round,
    get reads() {
      return reads;
    },
    async stop(): Promise<void> {
      stopped = true;
      await loop;
      await client.close();
    },
  };
}

/** `admin`, reading every declared name once more after each of its writes (before the command's next one). */
function watched(admin: SecretAdmin, after: () => Promise<void>): SecretAdmin {
  const then =
    <A extends unknown[], R>(write: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const out = await write(...args);
      await after();
      return out;
    };
  return {
    ...admin,
    createSecret: then(admin.createSecret.bind(admin)),
    updateSecret: then(admin.updateSecret.bind(admin)),
    addVersion: then(admin.addVersion.bind(admin)),
    setState: then(admin.setState.bind(admin)),
  };
}

describe.each(LAYOUTS)('the staged key is never readable (%s layout)', (layout) => {
  it('continuous reads of the declared names during provision (stopped, finished) and probe never see it', async () => {
    const w = rig.world();
    const name = `UNSEEN_${layout.toUpperCase()}`;
    w.seedLive(name, layout, KEYS.k1);
    const mock = await w.mock([KEYS.k1, KEYS.k2]);
    const apps = await w.apps(2, name, layout);
    const read = readers(w, name, layout);
    let afterWrites = 0;
    const after = async (): Promise<void> => {
      afterWrites++;
      await read.round();
    };
    try {
      const ctx = { ...w.ctx(name, layout), admin: watched(w.admin, after) };
      // A provision stopped after it added the key (its third write fails), then run again to finish it.
      const faulty = watched(await w.faultyAdmin({ nthWrite: 3 }), after);
      await w.rejects(provision({ ...ctx, admin: faulty }, KEYS.k2), 'INTERRUPTED');
      await refreshAll(apps);
      expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k1), fp(KEYS.k1)]);
      expect((await w.run(provision(ctx, KEYS.k2))).outcome).toBe('done');
      expect((await w.run(probe(ctx, KEYS.k2, { provider: 'openai', baseUrl: mock.url }))).outcome).toBe('done');
      await refreshAll(apps);
      expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k1), fp(KEYS.k1)]);
    } finally {
      await read.stop();
    }
    expect(afterWrites).toBeGreaterThanOrEqual(4); // a read after every write of both provisions and the probe
    expect(read.reads).toBeGreaterThan(afterWrites);
    expect(read.seen.get(fp(KEYS.k1))).toBeGreaterThan(0);
    expect([...read.seen.keys()]).toEqual([fp(KEYS.k1)]); // the staged key: not once

    const flipped = await w.run(flip(w.ctx(name, layout)));
    expect(flipped.outcome).toBe('done');
    await refreshAll(apps); // one refresh: every app on the new key
    expect(apps.map((a) => a.handle.info?.fingerprint)).toEqual([fp(KEYS.k2), fp(KEYS.k2)]);
    expect((await w.resolveOnce(name, layout)).fingerprint).toBe(fp(KEYS.k2));
    for (const app of apps) expect(app.events.filter((e) => e.event === 'error' || e.event === 'revoke')).toEqual([]);
  });
});
