import { InvalidCandidateError, type SkippedCandidate } from './errors.js';
import type { SourceResult } from './types.js';

/** One concrete place to look, parsed from `[source:]name[@version]`. */
export interface Candidate {
  /** The candidate exactly as written (trimmed). */
  readonly text: string;
  /** The source prefix, or `undefined` for the resolver's default source. */
  readonly source: string | undefined;
  /** The name in the source. */
  readonly name: string;
  /** The version or alias after `@`, if any. */
  readonly version: string | undefined;
}

const SOURCE_RE = /^[a-z][a-z0-9-]*$/;
const NAME_RE = /^[A-Za-z0-9_.\-/]+$/;
const VERSION_RE = /^[A-Za-z0-9_.-]+$/;

/**
 * Parses a chain: `"A ?? B ?? C"` or `['A', 'B', 'C']`, each candidate `[source:]name[@version]`.
 * Throws `InvalidCandidateError` naming the offending text.
 *
 * @example parseChain('OPENAI_API_KEY_v2 ?? OPENAI_API_KEY_v1 ?? env:OPENAI_API_KEY')
 */
export function parseChain(chain: string | readonly string[]): Candidate[] {
  try {
    return parseChainUnchecked(chain);
  } catch (error) {
    if (error instanceof InvalidCandidateError) throw error;
    // A Proxy or an element whose reads throw: still the one error a bad chain gets, with the cause attached.
    throw new InvalidCandidateError(describeChain(chain), 'the chain could not be read', { cause: error });
  }
}

/** `|` is never part of a candidate: a chain joined with `||` or `|` (an "or" elsewhere) gets this hint. */
const OR_HINT = 'candidates are joined with "??", not "||" or "|": write A ?? B, use "??"';

/** What a chain that is not a string is, for a message; never throws. */
function describeChain(chain: unknown): string {
  if (typeof chain === 'string') return chain;
  if (Array.isArray(chain)) return '(an array)';
  return chain === null ? '(null)' : `(a ${typeof chain})`;
}

function parseChainUnchecked(chain: string | readonly string[]): Candidate[] {
  if (typeof chain === 'string') {
    const parts = chain.split('??');
    if (chain.trim() === '') throw new InvalidCandidateError(chain, 'the chain is empty');
    if (chain.includes('|')) throw new InvalidCandidateError(chain, OR_HINT);
    return parts.map((part, i) => {
      if (part.trim() === '') {
        const where =
          i === 0
            ? 'before the first "??"'
            : i === parts.length - 1
              ? 'after the last "??"'
              : `between two "??" (position ${i + 1})`;
        throw new InvalidCandidateError(chain, `empty candidate ${where}`);
      }
      return parseCandidate(part);
    });
  }
  if (!Array.isArray(chain)) {
    throw new InvalidCandidateError(describeChain(chain), 'a chain is a string "A ?? B" or an array of candidates');
  }
  if (chain.length === 0) throw new InvalidCandidateError('[]', 'the chain is empty');
  return chain.map((part: unknown) => {
    if (typeof part !== 'string') throw new InvalidCandidateError(describeChain(part), 'a candidate must be a string');
    if (part.includes('|')) throw new InvalidCandidateError(part, OR_HINT);
    if (part.includes('??'))
      throw new InvalidCandidateError(
        part,
        'an array element holds one candidate; "??" joins candidates only in a string chain',
      );
    return parseCandidate(part);
  });
}

/** Parses one candidate `[source:]name[@version]`. */
export function parseCandidate(raw: string): Candidate {
  const text = raw.trim();
  if (text === '') throw new InvalidCandidateError(raw, 'the candidate is empty');
  if (/\s/.test(text)) throw new InvalidCandidateError(text, 'a candidate cannot contain white space');
  let rest = text;
  let source: string | undefined;
  const colon = rest.indexOf(':');
  if (colon !== -1) {
    source = rest.slice(0, colon);
    rest = rest.slice(colon + 1);
    if (!SOURCE_RE.test(source)) {
      throw new InvalidCandidateError(
        text,
        `source prefix ${JSON.stringify(source)} must be lowercase letters, digits and "-", starting with a letter`,
      );
    }
    if (rest === '') throw new InvalidCandidateError(text, `no name after "${source}:"`);
    if (rest.includes(':')) throw new InvalidCandidateError(text, 'more than one ":"');
  }
  let version: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    version = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (version === '') throw new InvalidCandidateError(text, 'no version after "@"');
    if (!VERSION_RE.test(version)) {
      throw new InvalidCandidateError(
        text,
        `version ${JSON.stringify(version)} may hold only letters, digits, "_", "." and "-"`,
      );
    }
  }
  if (rest === '') throw new InvalidCandidateError(text, 'no name');
  if (!NAME_RE.test(rest)) {
    throw new InvalidCandidateError(
      text,
      `name ${JSON.stringify(rest)} may hold only letters, digits, "_", ".", "-" and "/"`,
    );
  }
  return { text, source, name: rest, version };
}

/** The outcome of one walk down a chain. */
export type WalkOutcome<C extends Candidate = Candidate> =
  | {
      readonly kind: 'found';
      readonly candidate: C;
      readonly raw: string;
      readonly version: string | undefined;
      readonly skipped: SkippedCandidate[];
    }
  | { readonly kind: 'absent'; readonly skipped: SkippedCandidate[] }
  | {
      readonly kind: 'unavailable';
      readonly candidate: C;
      readonly error: unknown;
      readonly skipped: SkippedCandidate[];
    };

const decoder = new TextDecoder();

/**
 * The chain rule. For each candidate in order: found stops the walk; absent (including a value that is
 * empty or only white space) is recorded and the walk goes on; unavailable (the fetch throws) stops the
 * walk, unless `fallbackOnUnavailable`, where it is recorded and the walk goes on — and then, if nothing
 * lower is found, the outcome is still unavailable, never absent.
 */
export async function walkChain<C extends Candidate>(
  candidates: readonly C[],
  fetchCandidate: (candidate: C) => Promise<SourceResult>,
  options: { fallbackOnUnavailable: boolean },
): Promise<WalkOutcome<C>> {
  const skipped: SkippedCandidate[] = [];
  let firstUnavailable: { candidate: C; error: unknown } | undefined;
  for (const candidate of candidates) {
    let result: SourceResult;
    try {
      result = await fetchCandidate(candidate);
    } catch (error) {
      if (!options.fallbackOnUnavailable) return { kind: 'unavailable', candidate, error, skipped };
      firstUnavailable ??= { candidate, error };
      skipped.push({ candidate: candidate.text, reason: 'unavailable' });
      continue;
    }
    if (result.status === 'found') {
      const raw = typeof result.value === 'string' ? result.value : decoder.decode(result.value);
      if (raw.trim() === '') {
        skipped.push({ candidate: candidate.text, reason: 'empty' });
        continue;
      }
      return { kind: 'found', candidate, raw, version: result.version, skipped };
    }
    skipped.push(
      result.detail === undefined
        ? { candidate: candidate.text, reason: result.reason }
        : { candidate: candidate.text, reason: result.reason, detail: result.detail },
    );
  }
  if (firstUnavailable) return { kind: 'unavailable', ...firstUnavailable, skipped };
  return { kind: 'absent', skipped };
}
