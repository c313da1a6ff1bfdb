import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createResolver, fingerprint, isFingerprint, memorySource, type Resolver } from '../src/index.js';
import { manualClock } from '../src/testing/index.js';
import { record } from './helpers.js';

const V1 = 'sk-live-AAAA1111aaaa';
const V2 = 'sk-live-BBBB2222bbbb';
const V3 = 'sk-live-CCCC3333cccc';

let resolvers: Resolver[] = [];
afterEach(async () => {
  await Promise.all(resolvers.map((r) => r.close()));
  resolvers = [];
});

describe('redaction', () => {
  it('no value in events, errors, toString, JSON.stringify or util.inspect over a whole lifecycle', async () => {
    const memory = memorySource({ K_v1: V1 });
    const clock = manualClock();
    const resolver = createResolver({ sources: [memory], clock, refreshMs: 1_000, jitter: 0, maxStaleMs: 5_000 });
    resolvers.push(resolver);
    const events = record(resolver);
    const key = resolver.secret('K', 'K_v2 ?? K_v1');
    const cfg = resolver.secret('CFG', 'K_v1', {
      parse: (raw) => {
        if (raw === V2) throw new Error(`cannot parse ${raw}`);
        return { raw };
      },
    });
    const family = resolver.family('byok', (id) => id);
    await resolver.ready();
    memory.set('K_v2', V2); // rotate (watch)
    memory.set('K_v1', V2); // parse failure for CFG
    await clock.flush();
    memory.outage(true); // stale, then expired
    await clock.advance(10_000);
    memory.outage(false);
    await clock.flush();
    memory.disable('K_v2');
    memory.disable('K_v1'); // revoke
    await clock.flush();
    const thrown: unknown[] = [];
    for (const read of [() => key.value, () => cfg.value]) {
      try {
        read();
      } catch (error) {
        thrown.push(error);
      }
    }
    thrown.push(await family.get('K_v2').catch((e: unknown) => e));
    thrown.push(await resolver.ready().catch((e: unknown) => e));
    memory.set('K_v1', V3);
    await clock.flush();
    expect(key.value).toBe(V3);

    const kinds = new Set(events.map((e) => e.event));
    expect([...kinds].sort()).toEqual(['error', 'fallback', 'resolve', 'revoke', 'rotate']);
    expect(thrown.length).toBeGreaterThanOrEqual(3);
    const outputs = [
      JSON.stringify(events),
      inspect(events, { depth: 20, showHidden: true }),
      ...thrown.map((e) => inspect(e, { depth: 20, showHidden: true })),
      ...thrown.map((e) => JSON.stringify(e)),
      String(key),
      JSON.stringify({ key, cfg, family, resolver }),
      inspect({ key, cfg, family, resolver }, { depth: 20, showHidden: true }),
      `${key}${cfg}${resolver}${family}`,
      JSON.stringify(resolver.snapshot()),
    ].join('\n');
    for (const value of [V1, V2, V3, 'AAAA1111', 'BBBB2222', 'CCCC3333']) expect(outputs).not.toContain(value);
    expect(String(key)).toBe(`[keyflip secret K ${fingerprint(V3)}]`);
    expect(JSON.stringify({ key })).toBe(`{"key":"[keyflip secret K ${fingerprint(V3)}]"}`);
    expect(inspect(key)).toBe(`[keyflip secret K ${fingerprint(V3)}]`);
  });

  it('fingerprints are kf_ + 12 hex chars of a keyed HMAC, stable, and differ by key', () => {
    const fp = fingerprint(V1);
    expect(isFingerprint(fp)).toBe(true);
    expect(fp).toBe(fingerprint(V1));
    expect(fp).toBe(fingerprint(new TextEncoder().encode(V1)));
    expect(fingerprint(V1, 'other-key')).not.toBe(fp);
    expect(fingerprint(V2)).not.toBe(fp);
  });

  it('the resolver fingerprints with its fingerprintKey', async () => {
    const resolver = createResolver({ sources: [memorySource({ K: V1 })], fingerprintKey: 'org-key' });
    resolvers.push(resolver);
    const key = resolver.secret('K');
    await resolver.ready();
    expect(key.info?.fingerprint).toBe(fingerprint(V1, 'org-key'));
  });

  it('redact() replaces every value held now or before with its name and fingerprint', async () => {
    const memory = memorySource({ K: V1, SHORT: 'abc' });
    const resolver = createResolver({ sources: [memory] });
    resolvers.push(resolver);
    resolver.secret('K');
    resolver.secret('SHORT');
    await resolver.ready();
    memory.set('K', V2);
    await resolver.refresh('K');
    const line = `old=${V1} new=${V2} again=${V2} short=abc`;
    expect(resolver.redact(line)).toBe(
      `old=[keyflip K ${fingerprint(V1)}] new=[keyflip K ${fingerprint(V2)}] ` +
        `again=[keyflip K ${fingerprint(V2)}] short=abc`,
    );
    expect(resolver.redact('nothing to hide')).toBe('nothing to hide');
  });
});
