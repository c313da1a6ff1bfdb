import type { SecretHandle } from '../index.js';
import { ConfigurationError } from '../errors.js';
import { inspectSymbol, redactedLabel } from '../redacted.js';
import { assertSecretHandle } from './handle-argument.js';

/**
 * A client that follows the secret: a Proxy onto the client `build(key)` made for the current value, for
 * SDKs that take the key only as a string at construction (`new Groq({ apiKey })`).
 *
 * - Built lazily, on first use, and **rebuilt once per rotation**: each use compares the secret's fingerprint
 *   with the one the client was built for; the first use after a change builds the new client, every later one
 *   reuses it. `build` is never called per request.
 * - Each property read on the proxy (`client.chat`) counts one use of the secret, as `handle.value` does.
 * - Methods run on the real client (`this` is the client, so private fields work); nested namespaces
 *   (`client.chat.completions.create`) are the real client's objects. Hold the proxy, not a nested object:
 *   `const completions = client.chat.completions` would stay on the client of the day.
 * - A client already handed out is left alone: calls in flight on it finish with the key it was built with.
 * - `JSON.stringify` and `util.inspect` of the proxy show `[keyflip client NAME kf_…]`, never the client (SDK
 *   clients hold the key as a property). No property of the proxy is enumerable, so `Object.entries`,
 *   `Object.keys`, `{ ...client }`, `Object.assign` and `for…in` see none; a property read by name
 *   (`client.baseURL`) still returns the client's.
 * - When the secret cannot be served (revoked, not resolved yet), using the proxy throws that error.
 * - A bad argument throws a `ConfigurationError` at once; a `build` that returns no object throws one on the use
 *   that called it.
 */
export function liveClient<C extends object>(secret: SecretHandle<string>, build: (key: string) => C): C {
  assertSecretHandle('liveClient', secret);
  if (typeof build !== 'function') {
    throw new ConfigurationError('liveClient: build must be a function (key) => client');
  }

  let client: C | undefined;
  let builtFor: string | undefined;
  /** Top-level methods bound to the current client, so `client.method` keeps its identity between reads. */
  let bound = new WeakMap<(...args: unknown[]) => unknown, (...args: unknown[]) => unknown>();

  const current = (): C => {
    const key = secret.value; // counts one use; throws when the secret cannot be served
    const fp = secret.info?.fingerprint;
    if (client === undefined || fp !== builtFor) {
      const next = build(key);
      if ((typeof next !== 'object' && typeof next !== 'function') || next === null) {
        throw new ConfigurationError('liveClient: build(key) must return an object');
      }
      client = next;
      builtFor = fp;
      bound = new WeakMap();
    }
    return client;
  };
  const label = (): string => redactedLabel('client', secret.name, secret.info?.fingerprint);

  // util.inspect looks through a Proxy at its target: the target carries the label, not the client.
  const shell = Object.defineProperties(
    {},
    {
      toJSON: { value: label, configurable: true },
      [inspectSymbol]: { value: label, configurable: true },
    },
  ) as C;

  return new Proxy(shell, {
    get(_target, prop) {
      if (prop === 'toJSON') return label;
      if (prop === inspectSymbol) return label;
      const target = current();
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => unknown;
      const known = bound.get(fn);
      if (known) return known;
      const method = fn.bind(target);
      bound.set(fn, method);
      return method;
    },
    set(_target, prop, value) {
      const target = current();
      return Reflect.set(target, prop, value, target);
    },
    has(_target, prop) {
      return Reflect.has(current(), prop);
    },
    deleteProperty(_target, prop) {
      return Reflect.deleteProperty(current(), prop);
    },
    ownKeys() {
      return Reflect.ownKeys(current()); // the names only: no property is enumerable (below)
    },
    getOwnPropertyDescriptor(_target, prop) {
      const descriptor = Reflect.getOwnPropertyDescriptor(current(), prop);
      // Never enumerable, so `Object.entries`, `Object.keys`, spread, `Object.assign` and `for…in` copy nothing
      // (SDK clients hold the key as a property: `apiKey`, `_options`). The proxy's own target is an empty
      // object: a property it lacks must be reported configurable.
      return descriptor === undefined ? undefined : { ...descriptor, enumerable: false, configurable: true };
    },
    defineProperty(_target, prop, descriptor) {
      return Reflect.defineProperty(current(), prop, descriptor);
    },
    getPrototypeOf() {
      return Reflect.getPrototypeOf(current());
    },
  });
}
