import { describe, expect, it } from 'vitest';
import { InvalidCandidateError, parseChain } from '../src/index.js';

describe('parseChain', () => {
  it('parses a string chain with sources and versions', () => {
    expect(parseChain('OPENAI_API_KEY_v2 ?? gcp:openai-key@current ?? env:OPENAI_API_KEY')).toEqual([
      { text: 'OPENAI_API_KEY_v2', source: undefined, name: 'OPENAI_API_KEY_v2', version: undefined },
      { text: 'gcp:openai-key@current', source: 'gcp', name: 'openai-key', version: 'current' },
      { text: 'env:OPENAI_API_KEY', source: 'env', name: 'OPENAI_API_KEY', version: undefined },
    ]);
  });

  it('parses an array chain and a single candidate', () => {
    expect(parseChain(['A@7', 'file:b.txt']).map((c) => [c.source, c.name, c.version])).toEqual([
      [undefined, 'A', '7'],
      ['file', 'b.txt', undefined],
    ]);
    expect(parseChain('  ONLY  ')).toHaveLength(1);
  });

  it.each([
    ['A ?? ', 'after the last "??"'],
    [' ?? A', 'before the first "??"'],
    ['A ?? ?? B', 'between two "??"'],
    ['gcp:', 'no name after "gcp:"'],
    ['x@', 'no version after "@"'],
    ['', 'empty'],
    ['A B', 'white space'],
    ['Gcp:x', 'source prefix'],
    ['a:b:c', 'more than one ":"'],
    ['x@1@2', 'version'],
    ['bad$name', 'may hold only'],
    ['@3', 'no name'],
  ])('rejects %j, naming the offending text', (chain, problem) => {
    let thrown: unknown;
    try {
      parseChain(chain);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidCandidateError);
    const error = thrown as InvalidCandidateError;
    expect(error.code).toBe('INVALID_CANDIDATE');
    expect(error.name).toBe('InvalidCandidateError');
    expect(error.message).toContain(problem);
    expect(error.message).toContain(JSON.stringify(chain.trim() === '' ? chain : error.text));
  });

  it('rejects an empty array and a "??" inside an array element', () => {
    expect(() => parseChain([])).toThrow(InvalidCandidateError);
    expect(() => parseChain(['A ?? B'])).toThrow(/one candidate/);
  });
});
