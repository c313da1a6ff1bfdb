/**
 * A provider's hint of a key (`sk-abc...def`, `sk-ant-api03-R2D...igAA`, `sk-…XYZ`, `sk-****abcd`): a prefix and a
 * suffix of the key around a gap written as `...`, `…` or a run of `*`.
 */

/** The two ends a hint shows of its key. */
export interface HintEnds {
  /** The start of the key the hint shows (non-empty). */
  readonly prefix: string;
  /** The end of the key the hint shows (non-empty). */
  readonly suffix: string;
}

const GAP = /^(.+?)(?:\.{3,}|…+|\*+)(.+)$/su;
const HAS_GAP = /\.{3}|…|\*/u;

/** The ends of a hint; `undefined` when it shows no gap or an end is empty (such a hint matches nothing). */
export function parseHint(hint: string): HintEnds | undefined {
  if (typeof hint !== 'string') return undefined;
  const match = GAP.exec(hint);
  if (!match?.[1] || !match[2]) return undefined;
  // One gap only: an end that holds another gap (`***`, `a...b...c`) shows nothing certain.
  if (HAS_GAP.test(match[1]) || HAS_GAP.test(match[2])) return undefined;
  return { prefix: match[1], suffix: match[2] };
}

/** True when `value` starts with the hint's prefix and ends with its suffix (with room for both). */
export function matchesHint(value: string, hint: string | undefined): boolean {
  if (typeof value !== 'string' || hint === undefined) return false;
  const ends = parseHint(hint);
  if (!ends) return false;
  return (
    value.length >= ends.prefix.length + ends.suffix.length &&
    value.startsWith(ends.prefix) &&
    value.endsWith(ends.suffix)
  );
}
