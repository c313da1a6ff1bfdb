// Redacting logs with `resolver.redact` behind pino: every value the resolver holds or held becomes
// `[keyflip NAME kf_…]`, and any provider-format key it never held (pasted into an error, a prompt, a
// config dump) becomes `[redacted openai key]` etc.
// Run: npx tsx examples/pino-redact.ts
//
// The redaction sits at pino's destination, on whole lines, so the message, error stacks and nested
// fields are all covered. (pino's own `redact` option removes fields by path; this catches a key
// wherever it ends up.)
import { pino } from 'pino';
import { createResolver, memorySource, type Resolver } from 'keyflip';

/** A pino destination (any object with `write(line)`) that redacts each line before writing it. */
export function redactingDestination(
  resolver: Resolver,
  out: { write(text: string): unknown },
): { write(line: string): void } {
  return {
    write(line: string): void {
      out.write(resolver.redact(line));
    },
  };
}

const held = 'sk-example-only-held-v1';
const store = memorySource({ OPENAI_API_KEY: held });
const resolver = createResolver({ sources: [store] });
const openai = resolver.secret('OPENAI_API_KEY');
await resolver.ready();

// `base: null` and no timestamp keep the lines short and stable for this example.
const logger = pino({ base: null, timestamp: false }, redactingDestination(resolver, process.stdout));

// A key that the resolver never held, in a provider's format (built here so that this file holds none).
const pasted = `gsk_${'Ex4mpl3OnlyK3y'.repeat(4).slice(0, 52)}`;

logger.info({ authorization: `Bearer ${openai.value}` }, 'calling the API');
logger.error({ err: { message: `bad key ${pasted} in config` } }, 'request failed');
logger.info('nothing secret here');

await resolver.close();
