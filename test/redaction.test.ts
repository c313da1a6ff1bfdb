import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { createResolver, fingerprint, isFingerprint, memorySource, type Resolver } from '../src/index.js';
import { redactProviderKeys } from '../src/key-formats.js';
import { createRedactor, HeldValues, MIN_REDACTED_LENGTH } from '../src/redaction.js';
import { escapeRegExp } from '../src/regexp.js';
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

/** The redaction before the index: one alternation regex of every value, longest first (the reference). */
function reference(held: readonly { secret: string; value: string }[], fp: (v: string) => string) {
  const labels = new Map<string, string>();
  for (const { secret, value } of held) {
    if (value.length >= MIN_REDACTED_LENGTH && !labels.has(value))
      labels.set(value, `[keyflip ${secret} ${fp(value)}]`);
  }
  if (labels.size === 0) return (text: string) => redactProviderKeys(text);
  const keys = [...labels.keys()].sort((a, b) => b.length - a.length);
  const pattern = new RegExp(keys.map(escapeRegExp).join('|'), 'g');
  return (text: string) => redactProviderKeys(text.replace(pattern, (m) => labels.get(m) as string));
}

/** A deterministic generator of small strings over a tiny alphabet (so values overlap and share prefixes). */
function generator(seed: number) {
  let state = seed;
  const next = (n: number): number => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state % n;
  };
  const word = (min: number, max: number): string => {
    let out = '';
    const length = min + next(max - min + 1);
    for (let i = 0; i < length; i++) out += 'abAB-_'[next(6)];
    return out;
  };
  return { next, word };
}

describe('redaction index (HeldValues)', () => {
  it('replaces exactly what the alternation regex did: leftmost, longest first, whole, on random texts', () => {
    const fp = (v: string): string => `kf_${v.length}`;
    for (let seed = 1; seed <= 40; seed++) {
      const { next, word } = generator(seed);
      const held = Array.from({ length: 1 + next(30) }, (_, i) => ({
        secret: `S${i % 3}`,
        value: next(4) === 0 ? word(30, 70) : word(2, 14),
      }));
      // Longer values made of shorter ones, so containment and shared prefixes occur.
      held.push({
        secret: 'L',
        value: held
          .map((h) => h.value)
          .join('')
          .slice(0, 40),
      });
      const text = Array.from({ length: 60 }, () =>
        next(3) === 0 ? (held[next(held.length)]?.value ?? '') : word(0, 6),
      ).join(next(2) === 0 ? '' : ' ');
      expect(createRedactor(held, fp)(text)).toBe(reference(held, fp)(text));
      // More than 32 values: the hash index scans instead of one regex; the same result.
      const many = [...held, ...Array.from({ length: 40 }, (_, i) => ({ secret: 'Z', value: `zz${i}${word(2, 40)}` }))];
      expect(createRedactor(many, fp)(text)).toBe(reference(many, fp)(text));
    }
  });

  it('fingerprints only the values it replaces, when it replaces them: never all held values per change', () => {
    let fingerprints = 0;
    const index = new HeldValues((value) => {
      fingerprints++;
      return fingerprint(value);
    });
    const value = (i: number): string => `tok_${i.toString(36).padStart(6, '0')}_${'x'.repeat(i % 40)}`;
    for (let i = 0; i < 10_000; i++) index.add(`F[${i}]`, value(i));
    expect(index.size).toBe(10_000);
    expect(fingerprints).toBe(0);
    expect(index.redact(`a ${value(7)} b`)).toBe(`a [keyflip F[7] ${fingerprint(value(7))}] b`);
    expect(fingerprints).toBe(1);
    index.add('NEW', 'brand-new-value-1234');
    expect(index.redact('x brand-new-value-1234 y')).toBe(`x [keyflip NEW ${fingerprint('brand-new-value-1234')}] y`);
    expect(index.redact(`a ${value(7)} b`)).toBe(`a [keyflip F[7] ${fingerprint(value(7))}] b`);
    expect(fingerprints).toBe(2); // the label of F[7] was kept; the new value cost one fingerprint
    // createRedactor over 10 000 values fingerprints none of them until one is found.
    fingerprints = 0;
    const held = Array.from({ length: 10_000 }, (_, i) => ({ secret: 'S', value: value(i) }));
    const redact = createRedactor(held, (v) => {
      fingerprints++;
      return fingerprint(v);
    });
    expect(redact('nothing here')).toBe('nothing here');
    expect(fingerprints).toBe(0);
  });

  it('a value leaves with its last holder; the first holder still holding it labels it', () => {
    const index = new HeldValues((v) => `kf_${v}`);
    const a = { name: 'A', held: ['shared-value'] as string[], heldValues: () => a.held };
    const b = { name: 'B', held: ['shared-value', 'only-b-value'] as string[], heldValues: () => b.held };
    index.hold(a);
    index.hold(b);
    expect(index.redact('shared-value only-b-value')).toBe('[keyflip A kf_shared-value] [keyflip B kf_only-b-value]');
    index.release(a);
    expect(index.redact('shared-value')).toBe('[keyflip B kf_shared-value]');
    index.hold(a); // released for good: a late refresh adds nothing
    b.held = ['next-b-value', 'shared-value'];
    index.hold(b);
    expect(index.redact('shared-value only-b-value next-b-value')).toBe(
      '[keyflip B kf_shared-value] only-b-value [keyflip B kf_next-b-value]',
    );
    index.release(b);
    expect(index.size).toBe(0);
    expect(index.redact('shared-value')).toBe('shared-value');
  });
});

describe('resolver.redact with families', () => {
  it('redacts members current and previous values; a dropped member leaves; A → B → A keeps both', async () => {
    const memory = memorySource({ M_a: V1, M_b: V2 });
    const resolver = createResolver({ sources: [memory] });
    resolvers.push(resolver);
    resolver.secret('K', 'M_a');
    const family = resolver.family('byok', (id) => `M_${id}`);
    await resolver.ready();
    await family.get('a');
    await family.get('b');
    const line = `${V1} ${V2} ${V3}`;
    const k1 = `[keyflip K ${fingerprint(V1)}]`;
    expect(resolver.redact(line)).toBe(`${k1} [keyflip byok[b] ${fingerprint(V2)}] ${V3}`);
    family.delete('b');
    expect(resolver.redact(line)).toBe(`${k1} ${V2} ${V3}`);
    memory.set('M_a', V3);
    await resolver.refresh('K');
    memory.set('M_a', V1);
    await resolver.refresh('K');
    // K held V1, then V3, then V1 again: it holds V1 now and V3 before.
    expect(resolver.redact(line)).toBe(`${k1} ${V2} [keyflip K ${fingerprint(V3)}]`);
  });
});
