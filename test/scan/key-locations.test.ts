import { describe, expect, it } from 'vitest';
import { locateProviderKeys } from '../../src/scan/index.js';
import { SAMPLES } from '../clients/samples.js';

const where = (text: string) => locateProviderKeys(text).map((k) => [k.line, k.column, k.format.id]);

describe('locateProviderKeys', () => {
  it('gives each key its 1-based line and column, in order', () => {
    const text = `${SAMPLES.groq}\nnothing\n\n  key: ${SAMPLES.openai} and ${SAMPLES.together}\nlast ${SAMPLES.gemini}`;
    expect(where(text)).toEqual([
      [1, 1, 'groq'],
      [4, 8, 'openai'],
      [4, 8 + SAMPLES.openai.length + 5, 'together'],
      [5, 6, 'gemini'],
    ]);
    expect(locateProviderKeys(text).map((k) => k.value)).toEqual([
      SAMPLES.groq,
      SAMPLES.openai,
      SAMPLES.together,
      SAMPLES.gemini,
    ]);
  });

  it('counts lines at \\n (CRLF files too), columns in UTF-16 code units', () => {
    expect(where(`a\r\nb\r\n x=${SAMPLES.groq}`)).toEqual([[3, 4, 'groq']]);
    expect(where(`é😀 ${SAMPLES.groq}`)).toEqual([[1, 5, 'groq']]);
  });

  it('finds nothing in text without a key', () => {
    expect(locateProviderKeys('')).toEqual([]);
    expect(locateProviderKeys('sk-short\nkf_0123456789ab\n')).toEqual([]);
  });
});
