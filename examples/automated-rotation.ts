// Automated key rotation, end to end: `auto` from keyflip/rotation, run every 15 minutes as a scheduler would, mints
// a new OpenAI key, probes it, flips the app onto it, waits until nothing uses the old key, then revokes the old key
// in Secret Manager and at OpenAI — while the app keeps serving.
// Run: npx tsx examples/automated-rotation.ts — offline, in seconds: Secret Manager is the embedded emulator, OpenAI
// (its API and its admin API) a mock on 127.0.0.1, and one manual clock, shared by the app, the collector, the mock
// and the commands, makes 90 days pass at once. Nothing prints a key: keys show as fingerprints (kf_…) and ids.
import assert from 'node:assert/strict';
import { createResolver } from 'keyflip';
import { usageBeacon } from 'keyflip/beacon';
import { authFetch, providers } from 'keyflip/clients';
import { createCollector } from 'keyflip/collector';
import { gcpSecretManager } from 'keyflip/gcp';
import { openProvider } from 'keyflip/providers';
import { auto, openSecretAdmin, type AutoOptions, type RotationContext } from 'keyflip/rotation';
import { manualClock, startMockProvider, startSecretManagerEmulator } from 'keyflip/testing';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** The key someone made in the OpenAI console, and the admin key keyflip manages keys with. Both fake. */
const CONSOLE_KEY = 'sk-example-only-console-key';
const ADMIN_KEY = 'sk-admin-example-only-automation';

// ── the world: a clock, Secret Manager, OpenAI ─────────────────────────────────────────────────────────────────
const clock = manualClock(Date.UTC(2026, 0, 1)); // time moves only when the example says so
const at = (): string => new Date(clock.now()).toISOString().slice(0, 16).replace('T', ' ');
const emulator = await startSecretManagerEmulator({ projectId: 'example-project' });
// OpenAI's usage report lags 15 minutes behind the requests: the mock serves it with that lag.
const openai = await startMockProvider({
  preset: 'openai',
  keys: [CONSOLE_KEY], // created at OpenAI now: auto reads a key's age from there
  management: { adminKeys: [ADMIN_KEY], project: 'proj_example', lagMs: 15 * MINUTE, now: clock.now },
});
emulator.addVersion('OPENAI_API_KEY_v1', CONSOLE_KEY); // the pair layout: apps read `_v2 ?? _v1` for good
await clock.advance(90 * DAY - 35 * MINUTE); // almost 90 days later (nothing runs yet: instant)

// ── the app: a resolver on Secret Manager with a usage beacon, calling OpenAI through authFetch ─────────────────
// The beacon reports which key the process holds; the collector answers "who used the old key in the window?".
const collector = createCollector({ clock }); // in process here; `keyflip collector` (HTTP) in production
const resolver = createResolver({
  sources: [gcpSecretManager({ projectId: emulator.projectId, clientOptions: emulator.clientOptions })],
  clock,
  refreshMs: 5 * MINUTE, // the default: a running process picks up a flip within 5 minutes
  beacon: usageBeacon({
    service: 'chat-app',
    intervalMs: MINUTE,
    sink: { send: (report) => void collector.ingest(report) }, // `httpSink({ url, token })` in production
  }),
});
const apiKey = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
await resolver.ready();
const callOpenAI = authFetch(apiKey, providers.openai); // sends whichever key the resolver holds now
const served = { ok: 0, failed: 0 };
/** `minutes` of the app's life: one chat request a minute. */
async function appRuns(minutes: number): Promise<void> {
  for (let i = 0; i < minutes; i++) {
    const res = await callOpenAI(`${openai.url}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
    });
    await res.text();
    served[res.ok ? 'ok' : 'failed']++;
    await clock.advance(MINUTE);
  }
}

// ── the operator's side: what `keyflip rotate auto OPENAI_API_KEY --provider openai …` runs ───────────────────
const ctx: RotationContext = {
  admin: await openSecretAdmin({ projectId: emulator.projectId, clientOptions: emulator.clientOptions }),
  name: 'OPENAI_API_KEY',
  // The beacons' evidence (`collectorUsageSource({ url, token })` for a collector served over HTTP).
  usage: { usage: async (secret, options) => collector.usage(secret, options) },
  // OpenAI's admin API: mints keys (a service account each), reports each key's usage, revokes keys.
  provider: openProvider({
    provider: 'openai',
    adminKey: ADMIN_KEY, // in production: `await readAdminKey({ env: process.env })` (KEYFLIP_PROVIDER_ADMIN_KEY)
    project: 'proj_example',
    baseUrl: openai.url, // default: https://api.openai.com/v1
    now: clock.now, // its lagMs defaults to OpenAI's: 15 minutes
  }),
  now: clock.now,
};
const policy: AutoOptions = {
  maxAgeMs: 90 * DAY, // rotate a key older than 90 days
  windowMs: 30 * MINUTE, // revoke an old key once nothing used it for 30 minutes (by the beacons and OpenAI)
  probe: { provider: 'openai', baseUrl: openai.url }, // the new key must work before any process can see it
};
const oldKeyId = openai.keyId(CONSOLE_KEY);

// ── the scheduler: `auto` every 15 minutes (cron, a CI schedule); the app keeps serving in between ──────────────
await appRuns(15);
for (let run = 1; run <= 12; run++) {
  // Each run reads the ring from Secret Manager and advances it by at most one step. `ok` is false only when a
  // person must act (the CLI exits 1); "waiting for …" is ok: the next run looks again.
  const result = await auto(ctx, policy);
  console.log(`${at()}  auto: ${result.ok ? '' : `needs a person (${result.refusal}): `}${result.message}`);
  const live = result.keys.find((key) => key.role === 'live');
  if (result.probe?.ok && live?.provider?.minted)
    console.log(
      `    (minted ${live.provider.keyId} at openai, probed: ${result.probe.reason} (HTTP ${result.probe.status}), ` +
        `flipped: ${live.label} holds it)`,
    );
  if (result.providerRevocations?.length) break; // the old key is revoked: this rotation is complete
  await appRuns(15);
}

// ── the outcome: the old key is dead at OpenAI, and the app never noticed ──────────────────────────────────────
const oldKey = openai.keys().find((key) => key.id === oldKeyId);
console.log(`the console key at OpenAI (${oldKeyId}): ${oldKey?.status}; the app holds ${apiKey.info?.fingerprint}`);
const straggler = await fetch(`${openai.url}/chat/completions`, {
  method: 'POST',
  headers: { authorization: `Bearer ${CONSOLE_KEY}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'ping' }] }),
});
await straggler.text();
console.log(`a request with the old key gets HTTP ${straggler.status}`);
await appRuns(2);
console.log(`the app's requests: ${served.ok} served, ${served.failed} failed`);
assert.equal(oldKey?.status, 'deleted');
assert.equal(straggler.status, 401);
assert.equal(served.failed, 0);

await resolver.close();
await ctx.admin.close();
await openai.close();
await emulator.close();
