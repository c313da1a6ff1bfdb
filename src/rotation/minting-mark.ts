/**
 * The minting mark: set on the staging secret before keyflip mints a key at the provider, cleared by the write that
 * stores it (or at once when the mint fails). A mark left behind means a crash between the mint and the store: a key
 * exists at the provider that no secret holds. `status` says so, `discard` revokes the keys minted under the mark's
 * name (only those: see {@link mintedUnder}) and clears it, `audit` reports it and lists its key as an orphan. Names,
 * times and the provider only; never a value.
 */
import { isRecord } from '../check.js';
import type { ProviderKey } from '../providers/index.js';

/** The annotation that holds the mark (on `NAME_next`; alias layout: on `NAME`). */
export const MINTING_ANNOTATION = 'keyflip-minting';

/**
 * A mint in progress (or left behind by a crash).
 * @inline
 */
export interface MintingMark {
  /** The provider asked to mint (`openai`). */
  provider: string;
  /** The name the key gets at the provider (OpenAI: its service account's name), unique per mint. */
  name: string;
  /** When the mint started (ISO). */
  at: string;
}

/** The mark found in a secret's annotations, if any (one edited by hand into something else is ignored). */
export function readMinting(annotations: Readonly<Record<string, string>>): MintingMark | undefined {
  const text = annotations[MINTING_ANNOTATION];
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    if (!isRecord(value)) return undefined;
    const { provider, name, at } = value;
    if (typeof provider !== 'string' || typeof name !== 'string' || typeof at !== 'string') return undefined;
    return { provider, name, at };
  } catch {
    return undefined;
  }
}

/** A copy of `annotations` with the mark set (or cleared, for `undefined`). */
export function withMinting(
  annotations: Readonly<Record<string, string>>,
  mark: MintingMark | undefined,
): Record<string, string> {
  const next = { ...annotations };
  if (mark) next[MINTING_ANNOTATION] = JSON.stringify(mark);
  else delete next[MINTING_ANNOTATION];
  return next;
}

/**
 * Whether `key` is one keyflip minted under the mark's `name`: keyflip mints through a service account named after
 * the mark (OpenAI), so only a key owned by a service account of that name matches. A person's key that merely has
 * the same name never does (discard revokes what matches).
 */
export function mintedUnder(key: ProviderKey, name: string): boolean {
  return key.owner.type === 'service-account' && key.owner.name === name;
}
