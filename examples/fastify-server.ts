// examples/server.ts on Fastify 5: the key in Secret Manager, ready() before listen, a health check, close().
// Run: npx tsx examples/fastify-server.ts (against `npx keyflip emulator`, as examples/server.ts says).
import Fastify from 'fastify';
import OpenAI from 'openai';
import { createResolver, logEvents } from 'keyflip';
import { authFetch, providers } from 'keyflip/clients';
import { gcpSecretManager } from 'keyflip/gcp';

const app = Fastify({ logger: true });
const resolver = createResolver({
  sources: [gcpSecretManager({ projectId: process.env.GOOGLE_CLOUD_PROJECT ?? 'keyflip-test' })],
  refreshMs: Number(process.env.REFRESH_MS ?? 60_000),
});
logEvents(resolver, app.log); // the resolver's events as JSON lines of Fastify's pino logger
const openaiKey = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
const openai = new OpenAI({ apiKey: 'set-by-keyflip', fetch: authFetch(openaiKey, providers.openai) });

app.get('/healthz', async (_req, reply) => {
  const secrets = resolver.snapshot(); // provenance and fingerprints, never values
  const ok = secrets.every((s) => s.status !== 'revoked'); // `stale` still serves the last good key
  return reply.code(ok ? 200 : 503).send({ ok, secrets });
});
app.post('/ask', async () => {
  const messages = [{ role: 'user' as const, content: 'Say hello.' }];
  const reply = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
  return reply.choices[0]?.message.content ?? '';
});
app.setErrorHandler(async (error, _req, reply) => reply.code(502).send(resolver.redact(String(error))));
app.addHook('onClose', () => resolver.close()); // app.close(): requests in flight end, then the resolver

await resolver.ready();
// All interfaces: Fastify's default, localhost, cannot be reached from outside a container.
await app.listen({ port: Number(process.env.PORT ?? 8080), host: '0.0.0.0' }); // logs "Server listening at …"
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void app.close());
