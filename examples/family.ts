// Families: "bring your own key" — one key per tenant, resolved lazily and held in a bounded LRU.
// Run: npx tsx examples/family.ts
import { createResolver, isKeyflipError, memorySource } from 'keyflip';

// Where your app stores the keys its users gave it (a secret manager, one secret per tenant).
const store = memorySource({
  'tenant-acme-openai': 'sk-acme-example-only',
  'tenant-globex-openai': 'sk-globex-example-only',
});
const resolver = createResolver({ sources: [store] });

// A tenant id ends up inside a candidate name: accept only ids you issued, so that no id can name
// another candidate (`x??env:OPENAI_API_KEY`) or another source (`env:…`).
const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

const userKeys = resolver.family('OPENAI_USER_KEY', (tenant) => `tenant-${tenant}-openai`, {
  max: 5_000, // hold at most 5 000 tenants' keys; the least recently used is dropped
  ttlMs: 60_000, // after a minute, answer with the held key and re-fetch it in the background
});

// Family members report through the resolver's events, named `OPENAI_USER_KEY[tenant]`.
resolver.on('resolve', ({ secret, info }) => console.log(`loaded ${secret}: ${info.fingerprint}`));
resolver.on('revoke', ({ secret }) => console.log(`${secret}: the tenant removed its key`));

async function keyFor(tenant: string): Promise<string | undefined> {
  if (!TENANT_ID.test(tenant)) throw new Error('not a tenant id');
  try {
    return await userKeys.get(tenant); // first call fetches; later calls answer from memory
  } catch (error) {
    // SecretNotFoundError: this tenant never gave a key. SecretRevokedError: it removed it.
    if (isKeyflipError(error) && (error.code === 'SECRET_NOT_FOUND' || error.code === 'SECRET_REVOKED'))
      return undefined;
    throw error; // SourceUnavailableError: the store is down and nothing was held
  }
}

for (const tenant of ['acme', 'globex', 'acme', 'initech']) {
  const key = await keyFor(tenant);
  // Use the key for this tenant's request; never log it.
  console.log(`${tenant}: ${key === undefined ? 'no key on file: ask the user for one' : 'has a key'}`);
}
console.log(`${userKeys.size} tenants held`); // 3: initech is held too, as "not found", until ttlMs passes

// A tenant adds its key: a miss is remembered for ttlMs, so refresh that tenant at once.
store.set('tenant-initech-openai', 'sk-initech-example-only');
await userKeys.refresh('initech');
console.log(`initech: ${(await keyFor('initech')) === undefined ? 'still no key' : 'has a key'}`);

// The tenant deletes its key: remove it from the store and forget the held copy at once (otherwise it is
// served until the first get after ttlMs, which answers with it once more while it re-fetches).
store.delete('tenant-globex-openai');
userKeys.delete('globex');
console.log(`globex: ${(await keyFor('globex')) === undefined ? 'no key on file' : 'still has a key'}`);

await resolver.close();
