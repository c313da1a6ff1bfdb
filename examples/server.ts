// An HTTP server whose OpenAI key lives in Google Cloud Secret Manager and rotates without a restart.
// Locally: `npx keyflip emulator --seed secrets.json`, export what it prints, `npx tsx examples/server.ts`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { createResolver, logEvents } from 'keyflip';
import { authFetch, providers } from 'keyflip/clients';
import { gcpSecretManager } from 'keyflip/gcp';

const resolver = createResolver({
  // Application Default Credentials; with SECRET_MANAGER_EMULATOR_HOST set, the emulator instead.
  sources: [gcpSecretManager({ projectId: process.env.GOOGLE_CLOUD_PROJECT ?? 'keyflip-test' })],
  refreshMs: Number(process.env.REFRESH_MS ?? 60_000), // look for a new version every minute (default 5)
});
logEvents(resolver, console); // rotations, fallbacks and errors, with fingerprints (never values)
// The newest key that exists and is enabled: v2 once it is provisioned, v1 until then.
const openaiKey = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
// authFetch sets the current key on every request (the SDK's apiKey is a placeholder) and heals a 401.
const openai = new OpenAI({ apiKey: 'set-by-keyflip', fetch: authFetch(openaiKey, providers.openai) });

const server = createServer(async (req, res) => {
  if (req.url === '/healthz') {
    // Candidate, version, fingerprint and status of each secret. `stale` (Secret Manager unreachable, the
    // last good key served) is still healthy: a restart would not help.
    const secrets = resolver.snapshot();
    const ok = secrets.every((s) => s.status !== 'revoked');
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ok, secrets }));
  } else if (req.url === '/ask' && req.method === 'POST') {
    try {
      const messages = [{ role: 'user' as const, content: 'Say hello.' }];
      const reply = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(reply.choices[0]?.message.content ?? '');
    } catch (error) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(resolver.redact(String(error)));
    }
  } else res.writeHead(404).end();
});

await resolver.ready(); // every secret resolved (else it throws, naming each failure): only then take traffic
server.listen(Number(process.env.PORT ?? 8080), () => {
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
// On SIGTERM: stop taking requests, let those in flight finish, then stop the resolver's timers and client.
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => server.close(() => void resolver.close()));
