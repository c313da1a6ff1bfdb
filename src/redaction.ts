/**
 * What `resolver.redact(text)` does: every value a resolver holds or held before becomes
 * `[keyflip NAME kf_…]`, then anything in a provider's key format (key-formats.ts) becomes
 * `[redacted openai key]` and the like.
 *
 * The held values are indexed by a hash of their first characters (a window of 4, 12 or 32 characters,
 * by the value's length, so that keys sharing a prefix such as `sk-proj-` spread out), found in the text
 * by a rolling hash of each window checked against a bit-count filter: one pass over the text whatever the
 * number of values, and adding or dropping a value costs O(its length), never a rebuild.
 */
import { redactProviderKeys } from './key-formats.js';
import { escapeRegExp } from './regexp.js';

/** Values shorter than this are not redacted: they would match ordinary text. */
export const MIN_REDACTED_LENGTH = 4;

/** A value held (now or before) by the secret named `secret`. */
export interface HeldValue {
  readonly secret: string;
  readonly value: string;
}

/** What holds values: a slot (its name labels them, `heldValues()` are its current and previous raw values). */
export interface ValueHolder {
  readonly name: string;
  heldValues(): readonly string[];
}

/** The hash windows, longest first; a value goes in the longest window it fills. */
const WINDOWS = [32, 12, MIN_REDACTED_LENGTH] as const;
/** Multiplier of the rolling hash (odd, so every power is invertible mod 2³²). */
const BASE = 0x01000193;
/** Spreads a hash over the filter's buckets. */
const MIX = 0x9e3779b1;
/** The filter starts with 2^this buckets and doubles while it holds more than one value per 8 buckets. */
const INITIAL_BITS = 10;
const MAX_BITS = 22;
/**
 * Up to this many values, one alternation regex (longest first) finds them: the regex engine's native scan beats
 * the hash scan for a few values, and rebuilding it after a change costs a bounded O(this many values).
 */
const SMALL = 32;

interface Entry {
  readonly value: string;
  /** The secrets holding it, in the order they took it (a secret may appear twice); the first labels it. */
  readonly holders: string[];
  /** `[keyflip NAME kf_…]`, made on the first match (fingerprints cost an HMAC each). */
  label: string | undefined;
}

/** The values whose length fills one hash window. */
class Tier {
  readonly window: number;
  /** BASE^(window − 1) mod 2³², to drop the leaving character from the rolling hash. */
  readonly power: number;
  /** Hash of the first `window` characters → the values starting so, longest first. */
  readonly byHash = new Map<number, Entry[]>();
  size = 0;
  bits = INITIAL_BITS;
  /** How many indexed hashes fall in each bucket; 0 = no value can start here. */
  filter = new Uint32Array(1 << INITIAL_BITS);

  constructor(window: number) {
    this.window = window;
    let power = 1;
    for (let i = 1; i < window; i++) power = Math.imul(power, BASE);
    this.power = power;
  }

  bucket(hash: number): number {
    return Math.imul(hash, MIX) >>> (32 - this.bits);
  }

  add(entry: Entry): void {
    const hash = hashAt(entry.value, 0, this.window);
    const list = this.byHash.get(hash);
    if (list === undefined) {
      this.byHash.set(hash, [entry]);
      this.size++;
      if (this.size * 8 > this.filter.length && this.bits < MAX_BITS) this.#grow();
      else (this.filter[this.bucket(hash)] as number)++;
      return;
    }
    let at = 0;
    while (at < list.length && (list[at] as Entry).value.length >= entry.value.length) at++;
    list.splice(at, 0, entry);
  }

  delete(entry: Entry): void {
    const hash = hashAt(entry.value, 0, this.window);
    const list = this.byHash.get(hash);
    if (list === undefined) return;
    const at = list.indexOf(entry);
    if (at === -1) return;
    list.splice(at, 1);
    if (list.length > 0) return;
    this.byHash.delete(hash);
    this.size--;
    (this.filter[this.bucket(hash)] as number)--;
  }

  /** Doubles the filter (amortised O(1) per value added). */
  #grow(): void {
    this.bits++;
    this.filter = new Uint32Array(1 << this.bits);
    for (const hash of this.byHash.keys()) (this.filter[this.bucket(hash)] as number)++;
  }
}

/** The rolling hash of `text[from, from + length)`. */
function hashAt(text: string, from: number, length: number): number {
  let hash = 0;
  for (let i = from; i < from + length; i++) hash = (Math.imul(hash, BASE) + text.charCodeAt(i)) | 0;
  return hash;
}

/**
 * The values a resolver holds, by holder, indexed for {@link HeldValues.redact}. A value held by several
 * secrets is labelled by the first that still holds it. Values shorter than {@link MIN_REDACTED_LENGTH} are
 * left. Holding, replacing or releasing a holder's values costs O(their length).
 */
export class HeldValues {
  readonly #fingerprint: (value: string) => string;
  readonly #entries = new Map<string, Entry>();
  readonly #tiers: readonly Tier[] = WINDOWS.map((window) => new Tier(window));
  /** What each holder held at its last {@link hold}. */
  readonly #byHolder = new WeakMap<object, { secret: string; values: readonly string[] }>();
  /** Holders released for good: a late `hold` (a refresh that ended after) adds nothing. */
  readonly #released = new WeakSet<object>();
  /** The regex of every value while there are at most {@link SMALL}; made on the next `redact` after a change. */
  #small: RegExp | undefined;

  constructor(fingerprint: (value: string) => string) {
    this.#fingerprint = fingerprint;
  }

  /** How many distinct values are indexed. */
  get size(): number {
    return this.#entries.size;
  }

  /** `holder` (labelled `holder.name`) now holds `holder.heldValues()`, replacing what it held before. */
  hold(holder: ValueHolder): void {
    if (this.#released.has(holder)) return;
    const before = this.#byHolder.get(holder);
    const values = [...holder.heldValues()];
    for (const value of values) this.add(holder.name, value);
    if (before !== undefined) for (const value of before.values) this.delete(before.secret, value);
    this.#byHolder.set(holder, { secret: holder.name, values });
  }

  /** `holder` holds nothing any more, and never will (a family member dropped). */
  release(holder: ValueHolder): void {
    this.#released.add(holder);
    const before = this.#byHolder.get(holder);
    if (before === undefined) return;
    this.#byHolder.delete(holder);
    for (const value of before.values) this.delete(before.secret, value);
  }

  /** One more holding of `value` by `secret`. */
  add(secret: string, value: string): void {
    if (typeof value !== 'string' || value.length < MIN_REDACTED_LENGTH) return;
    const known = this.#entries.get(value);
    if (known !== undefined) {
      known.holders.push(secret);
      return;
    }
    const entry: Entry = { value, holders: [secret], label: undefined };
    this.#entries.set(value, entry);
    this.#small = undefined;
    this.#tierOf(value).add(entry);
  }

  /** One holding of `value` by `secret` less; the value leaves the index with its last holder. */
  delete(secret: string, value: string): void {
    const entry = this.#entries.get(value);
    if (entry === undefined) return;
    const at = entry.holders.lastIndexOf(secret); // its latest holding: an older one keeps its place
    if (at === -1) return;
    entry.holders.splice(at, 1);
    if (at === 0) entry.label = undefined;
    if (entry.holders.length > 0) return;
    this.#entries.delete(value);
    this.#small = undefined;
    this.#tierOf(value).delete(entry);
  }

  /**
   * `text` with every held value replaced by `[keyflip NAME kf_…]` (at each place, the longest value that
   * starts there, so a value that contains another is replaced whole), then every provider-format key by its
   * label. Anything but a string is returned as is.
   */
  redact(text: string): string {
    if (typeof text !== 'string') return text;
    const size = this.#entries.size;
    if (size === 0) return redactProviderKeys(text);
    if (size > SMALL) return redactProviderKeys(this.#replaceHeld(text));
    this.#small ??= new RegExp(
      [...this.#entries.keys()]
        .sort((a, b) => b.length - a.length)
        .map(escapeRegExp)
        .join('|'),
      'g',
    );
    return redactProviderKeys(
      text.replace(this.#small, (match) => {
        const entry = this.#entries.get(match);
        return entry === undefined ? '[keyflip redacted]' : this.#label(entry);
      }),
    );
  }

  #tierOf(value: string): Tier {
    const tiers = this.#tiers;
    for (const tier of tiers) if (value.length >= tier.window) return tier;
    return tiers[tiers.length - 1] as Tier;
  }

  #label(entry: Entry): string {
    entry.label ??= `[keyflip ${entry.holders[0] ?? 'redacted'} ${this.#fingerprint(entry.value)}]`;
    return entry.label;
  }

  #replaceHeld(text: string): string {
    // Each tier's candidates (the longest value matching at each place), then leftmost-longest without overlap.
    let found: Match[] | undefined;
    for (const tier of this.#tiers) if (tier.size > 0) found = scan(tier, text, found);
    if (found === undefined) return text;
    found.sort((a, b) => a.at - b.at || b.entry.value.length - a.entry.value.length);
    let out = '';
    let copied = 0;
    for (const { at, entry } of found) {
      if (at < copied) continue; // inside a value already replaced
      out += text.slice(copied, at) + this.#label(entry);
      copied = at + entry.value.length;
    }
    return out + text.slice(copied);
  }
}

interface Match {
  readonly at: number;
  readonly entry: Entry;
}

/** Adds to `found` the longest value of `tier` starting at each place of `text` (one pass, rolling hash). */
function scan(tier: Tier, text: string, found: Match[] | undefined): Match[] | undefined {
  const window = tier.window;
  const last = text.length - window;
  if (last < 0) return found;
  const { filter, power, byHash } = tier;
  const shift = 32 - tier.bits;
  let hash = hashAt(text, 0, window);
  for (let i = 0; ; i++) {
    if (filter[Math.imul(hash, MIX) >>> shift] !== 0) {
      const list = byHash.get(hash);
      if (list !== undefined) {
        for (const entry of list) {
          if (text.startsWith(entry.value, i)) {
            found ??= [];
            found.push({ at: i, entry });
            break;
          }
        }
      }
    }
    if (i === last) return found;
    // Roll: drop the character leaving the window, add the one entering it.
    hash = (Math.imul(hash - Math.imul(text.charCodeAt(i), power), BASE) + text.charCodeAt(i + window)) | 0;
  }
}

/**
 * A redactor for the values in `held` (the first secret to name a value labels it; values shorter than
 * {@link MIN_REDACTED_LENGTH} are left) and every provider-format key. Longer values are replaced first, so
 * a value that contains another is replaced whole. Anything but a string is returned as is.
 */
export function createRedactor(
  held: Iterable<HeldValue>,
  fingerprint: (value: string) => string,
): (text: string) => string {
  const index = new HeldValues(fingerprint);
  for (const { secret, value } of held) index.add(secret, value);
  return (text) => index.redact(text);
}
