import { findProviderKeys, type KeyFormat } from '../key-formats.js';

/** A provider-format key in a text, with where it starts. */
export interface KeyLocation {
  /** 1-based line (lines end at `\n`). */
  readonly line: number;
  /** 1-based column of the key's first character, in UTF-16 code units from the start of its line. */
  readonly column: number;
  /** The format it matched. */
  readonly format: KeyFormat;
  /** The key itself. Fingerprint it; never print it. */
  readonly value: string;
}

/** Every provider-format key in `text`, in order, with its line and column. */
export function locateProviderKeys(text: string): KeyLocation[] {
  const located: KeyLocation[] = [];
  let line = 1;
  let lineStart = 0;
  let counted = 0;
  for (const match of findProviderKeys(text)) {
    for (let nl = text.indexOf('\n', counted); nl !== -1 && nl < match.index; nl = text.indexOf('\n', nl + 1)) {
      line++;
      lineStart = nl + 1;
    }
    counted = match.index; // every line break before the key is counted
    located.push({ line, column: match.index - lineStart + 1, format: match.format, value: match.value });
  }
  return located;
}
