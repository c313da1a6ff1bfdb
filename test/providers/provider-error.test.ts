import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isKeyflipError, KeyflipError } from '../../src/errors.js';
import { PROVIDER_ERROR_CODES, ProviderError } from '../../src/providers/index.js';

describe('ProviderError', () => {
  it('is a KeyflipError whose codes are in ERROR_CODES; only the unavailable and bad answers are worth a retry', () => {
    for (const code of PROVIDER_ERROR_CODES) {
      expect(ERROR_CODES).toContain(code);
      const error = new ProviderError(code, 'm', { provider: 'openai', status: 500, providerCode: 'server_error' });
      expect(error).toBeInstanceOf(KeyflipError);
      expect(isKeyflipError(error)).toBe(true);
      expect(error.name).toBe('ProviderError');
      expect(error.permanent).toBe(code !== 'PROVIDER_UNAVAILABLE' && code !== 'PROVIDER_BAD_RESPONSE');
    }
  });

  it('redacts a provider key that reaches its message (the last fence)', () => {
    const key = `sk-proj-${'A1b2C3d4'.repeat(3)}T3BlbkFJ${'x9Y8z7W6'.repeat(3)}`; // the real shape
    const error = new ProviderError('PROVIDER_BAD_RESPONSE', `echoed ${key}`, { provider: 'openai' });
    expect(error.message).not.toContain(key);
  });
});
