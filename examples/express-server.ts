// examples/server.ts on Express 5: the key in Secret Manager, ready() before listen, a health check, close().
// Run: npx tsx examples/express-server.ts (against `npx keyflip emulator`, as examples/server.ts says).
import type { AddressInfo } from 'node:net';
import express, { type ErrorRequestHandler } from 'express';
import OpenAI from 'openai';
import { createResolver } from 'keyflip';
import { authFetch, providers } from 'keyflip/clients';
import { gcpSecretManager } from 'keyflip/gcp';

const resolver = createResolver({
  sources: [gcpSecretManager({ projectId: process.env.GOOGLE_CLOUD_PROJECT ?? 'keyflip-test' })],
  refreshMs: Number(process.env.REFRESH_MS ?? 60_000),
});
const openaiKey = resolver.secret('OPENAI_API_KEY', 'OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1');
const openai = new OpenAI({ apiKey: 'set-by-keyflip', fetch: authFetch(openaiKey, providers.openai) });

const app = express();
app.get('/healthz', (_req, res) => {
  const secrets = resolver.snapshot(); // provenance and fingerprints, never values
  const ok = secrets.every((s) => s.status !== 'revoked'); // `stale` still serves the last good key
  res.status(ok ? 200 : 503).json({ ok, secrets });
});
app.post('/ask', async (_req, res) => {
  const messages = [{ role: 'user' as const, content: 'Say hello.' }];
  const reply = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages });
  res.type('text').send(reply.choices[0]?.message.content ?? '');
});
// Express 5 sends a rejected handler here; answer with a redacted message (the default handler logs it as is).
const onError: ErrorRequestHandler = (error, _req, res, _next) => {
  res
    .status(502)
    .type('text')
    .send(resolver.redact(String(error)));
};
app.use(onError);

await resolver.ready();
const server = app.listen(Number(process.env.PORT ?? 8080), (error) => {
  if (error) throw error;
  console.log(`listening on http://localhost:${(server.address() as AddressInfo).port}`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.close(() => void resolver.close()));
}
