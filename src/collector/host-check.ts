/**
 * The collector's defence against DNS rebinding. A web page can make a browser send requests to any address its
 * own name resolves to, 127.0.0.1 included, but the browser then sends the page's name in the Host header
 * (`attacker.example`, `127.attacker.example`). A collector that answers only Host names that are loopback
 * literals, `localhost`, or names its operator configured cannot be read or fed through such a page.
 */
import { ConfigurationError } from '../errors.js';

/** A 127.0.0.0/8 dotted quad (each part checked to be at most 255 below). */
const LOOPBACK_QUAD = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
/** A DNS name (labels of letters, digits and inner hyphens) or an IPv4 dotted quad, lowercase, 1 to 253 chars. */
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;
/** An IPv6 literal in brackets, as a Host header carries it. */
const BRACKETED_IPV6 = /^\[[0-9a-f:.]{2,45}\]$/;

/**
 * True for a loopback literal or `localhost`: a 127.0.0.0/8 dotted quad, `::1` (bare, as a bind address, or in
 * brackets, as a Host header has it) or `localhost`, in any case. Nothing else: not `127.attacker.example`, not
 * `anything.localhost` (a resolver other than a browser's may send it anywhere).
 */
export function isLoopback(host: string): boolean {
  const name = host.toLowerCase();
  if (name === 'localhost' || name === '::1' || name === '[::1]') return true;
  const quad = LOOPBACK_QUAD.exec(name);
  return quad?.slice(1).every((part) => Number(part) <= 255) === true;
}

/**
 * The name in a Host header, lowercase, without its port (`127.0.0.1:7391` → `127.0.0.1`, `[::1]:7391` →
 * `[::1]`); undefined when the header is not a name with an optional port (a bare IPv6 address, a port that is
 * not a number, an empty name).
 */
export function hostHeaderName(header: string): string | undefined {
  const text = header.toLowerCase();
  let name = text;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end === -1) return undefined;
    name = text.slice(0, end + 1);
    const rest = text.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      port = rest.slice(1);
    }
  } else {
    const colon = text.indexOf(':');
    if (colon !== -1) {
      name = text.slice(0, colon);
      port = text.slice(colon + 1);
    }
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port)) return undefined;
  return HOST_NAME.test(name) || BRACKETED_IPV6.test(name) ? name : undefined;
}

/** True when a request's Host header names loopback or one of `allowed` (lowercase names, without a port). */
export function hostAllowed(header: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (header === undefined) return false;
  const name = hostHeaderName(header);
  return name !== undefined && (isLoopback(name) || allowed.has(name));
}

/**
 * Reads `allowedHosts`: host names (`collector.internal`), IPv4 addresses or bracketed IPv6 addresses
 * (`[fd00::1]`), without a port, in any case; returns them lowercase. Throws a {@link ConfigurationError}
 * naming the entry that is not one.
 */
export function allowedHostNames(option: string, value: unknown): ReadonlySet<string> {
  if (value === undefined) return new Set();
  if (!Array.isArray(value)) throw new ConfigurationError(`\`${option}\` must be an array of host names`);
  const names = new Set<string>();
  for (const [index, entry] of value.entries()) {
    const name = typeof entry === 'string' ? entry.toLowerCase() : '';
    if (!HOST_NAME.test(name) && !BRACKETED_IPV6.test(name)) {
      throw new ConfigurationError(
        `\`${option}[${index}]\` must be a host name or an address without a port (collector.internal, 10.0.0.5, ` +
          '[fd00::1])',
      );
    }
    names.add(name);
  }
  return names;
}
