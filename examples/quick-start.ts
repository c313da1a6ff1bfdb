// Quick start: resolve OPENAI_API_KEY as `v2 ?? v1`, keep it fresh, never print it.
// Run: npx tsx examples/quick-start.ts
import { createResolver, envSource, memorySource } from 'keyflip';

// In production the first source is your secret manager; an in-memory store stands in for it here.
const store = memorySource({ OPENAI_API_KEY_v1: 'sk-example-only-v1' });

const resolver = createResolver({
  sources: [store, envSource()], // the first source serves candidates without a `source:` prefix
  refreshMs: 60_000, // re-fetch every minute (default 5 minutes), ± 20% jitter
});

// Try v2, then v1, then the process environment as a last resort.
const openai = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1 ?? env:OPENAI_API_KEY');

// Events carry provenance and fingerprints, never values.
resolver.on('fallback', ({ secret, skipped, current }) => {
  console.log(
    `${secret}: skipped ${skipped.map((s) => `${s.candidate} (${s.reason})`).join(', ')}; using ${current.candidate}`,
  );
});
resolver.on('rotate', ({ secret, previous, current }) => {
  console.log(
    `${secret} rotated: ${previous.candidate} ${previous.fingerprint} → ${current.candidate} ${current.fingerprint}`,
  );
});
resolver.on('error', ({ secret, error, servingStale }) => {
  console.warn(`${secret}: ${error.code}${servingStale ? ' (still serving the last good value)' : ''}`);
});

await resolver.ready(); // resolves every declared secret; rejects with a ReadyError naming each one that failed

// Read `.value` where you use the key (it is synchronous and cheap), not once at start-up:
// after a rotation it returns the new key.
const headers = { authorization: `Bearer ${openai.value}` };

console.log(String(openai)); // [keyflip secret OPENAI_API_KEY kf_…]
console.log(openai.info); // { candidate: 'OPENAI_API_KEY_v1', source: 'memory', fingerprint: 'kf_…', status: 'ok', … }
console.log(resolver.redact(JSON.stringify(headers))); // {"authorization":"Bearer [keyflip OPENAI_API_KEY kf_…]"}

store.set('OPENAI_API_KEY_v2', 'sk-example-only-v2'); // provision v2: the memory store notifies, the resolver rotates
await openai.refresh(); // (or wait for the next refresh)
console.log(`now using ${openai.info?.candidate}`); // now using OPENAI_API_KEY_v2

await resolver.close(); // stops timers and watches (they never keep the process alive anyway)
