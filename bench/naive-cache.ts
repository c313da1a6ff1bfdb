/**
 * The baseline of benchmark 1c: the secret cache a developer hand-rolls instead of using keyflip, written
 * as the obvious code. A `Map` of name → `{ value, fetchedAt }`, filled at start-up; every read goes
 * through `get(name)`, which checks the entry's age against a TTL with `Date.now()`. When the entry is
 * older than the TTL, `get` starts one refetch in the background and serves the value it holds meanwhile
 * (a synchronous read cannot wait for the fetch).
 *
 * In the benchmark the TTL never runs out, so what is timed is the read path every call pays: the map
 * lookup, the clock read and the comparison. Nothing here counts uses or checks the chain: that is what
 * keyflip adds on top, and the row says what that costs.
 */

const TTL_MS = 5 * 60_000;

type Fetch = (name: string) => Promise<string>;

const cache = new Map<string, { value: string; fetchedAt: number }>();
const refreshing = new Set<string>();
let fetchSecret: Fetch | undefined;

/** Loads each secret once, before the app serves anything (what `await resolver.ready()` does in keyflip). */
export async function loadSecrets(names: readonly string[], fetch: Fetch): Promise<void> {
  fetchSecret = fetch;
  await Promise.all(names.map(refresh));
}

async function refresh(name: string): Promise<void> {
  if (fetchSecret === undefined) throw new Error('loadSecrets() was not called');
  const value = await fetchSecret(name);
  cache.set(name, { value, fetchedAt: Date.now() });
}

export function get(name: string): string {
  const entry = cache.get(name);
  if (entry === undefined) throw new Error(`secret ${name} was not loaded`);
  if (Date.now() - entry.fetchedAt > TTL_MS && !refreshing.has(name)) {
    refreshing.add(name);
    refresh(name)
      .catch(() => {}) // keep serving the old value; the next read past the TTL tries again
      .finally(() => refreshing.delete(name));
  }
  return entry.value;
}
