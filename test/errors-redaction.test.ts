import { describe, expect, it } from 'vitest';
import { InvalidCandidateError, SecretNotFoundError, SecretRevokedError } from '../src/errors.js';
import { leaks } from './helpers.js';

/** Shaped like real keys (made up): a key pasted where a secret name or a candidate goes. */
const OPENAI = `sk-proj-${'A1b2C3d4E5f6G7h8'.repeat(2)}T3BlbkFJ${'x9Y8w7V6u5T4s3R2'.repeat(2)}`;
const OPENROUTER = `sk-or-v1-${'0123456789abcdef'.repeat(4)}`;
const KEYS = [OPENAI, OPENROUTER];

describe('core error messages never quote a string that looks like a key', () => {
  it('SecretNotFoundError: the secret name and the candidates', () => {
    const error = new SecretNotFoundError(OPENAI, [{ candidate: OPENROUTER, reason: 'not-found' }]);
    expect(leaks(error.message, KEYS)).toEqual([]);
    expect(error.message).toBe('secret [redacted openai key] was not found: [redacted openrouter key] not-found');
  });

  it('SecretRevokedError: the secret name and the candidates', () => {
    const error = new SecretRevokedError(OPENAI, [{ candidate: OPENAI, reason: 'disabled' }]);
    expect(leaks(error.message, KEYS)).toEqual([]);
    expect(error.message).toContain('secret [redacted openai key] was revoked');
  });

  it('InvalidCandidateError: the offending text', () => {
    const error = new InvalidCandidateError(`env:${OPENROUTER}`, 'unknown source');
    expect(leaks(error.message, KEYS)).toEqual([]);
    expect(error.message).toBe('invalid candidate "env:[redacted openrouter key]": unknown source');
  });

  it('names that are not keys are quoted as before', () => {
    expect(new SecretNotFoundError('OPENAI_KEY', [{ candidate: 'OPENAI_KEY_v2', reason: 'not-found' }]).message).toBe(
      'secret OPENAI_KEY was not found: OPENAI_KEY_v2 not-found',
    );
  });
});
