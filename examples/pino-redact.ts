// Redacting log lines with `resolver.redact`: every value the resolver holds or held becomes
// `[keyflip NAME kf_…]`, and any provider-format key it never held (pasted into an error, a prompt, a
// config dump) becomes `[redacted openai key]` etc.
// Run: npx tsx examples/pino-redact.ts
//
// With pino, redact whole lines at the destination, so message, error stacks and nested fields are covered:
//
//   import pino from 'pino';
//   const logger = pino({}, redactingDestination(resolver, process.stdout));
//
// (pino's own `redact` option removes fields by path; this catches a key wherever it ends up.)
import { createResolver, memorySource, type Resolver } from 'keyflip';

/** A pino destination (any object with `write(line)`) that redacts each line before writing it. */
export function redactingDestination(resolver: Resolver, out: { write(text: string): unknown }): { write(line: string): void } {
  return {
    write(line: string): void {
      out.write(resolver.redact(line));
    },
  };
}

const held = 'sk-example-only-held-v1';
const store = memorySource({ OPENAI_API_KEY: held });
const resolver = createResolver({ sources: [store] });
resolver.secret('OPENAI_API_KEY');
await resolver.ready();

// A key that the resolver never held, in a provider's format (built here so that this file holds none).
const pasted = `gsk_${'Ex4mpl3OnlyK3y'.repeat(4).slice(0, 52)}`;
const destination = redactingDestination(resolver, process.stdout);

// What pino would write: one JSON line per log call.
destination.write(`${JSON.stringify({ level: 30, msg: 'calling the API', authorization: `Bearer ${held}` })}\n`);
destination.write(`${JSON.stringify({ level: 50, msg: 'request failed', err: { message: `bad key ${pasted} in config` } })}\n`);
destination.write(`${JSON.stringify({ level: 30, msg: 'nothing secret here' })}\n`);

await resolver.close();
