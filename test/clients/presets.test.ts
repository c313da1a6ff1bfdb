import { describe, expect, it } from 'vitest';
import { KEY_FORMATS, providers, type ProviderId } from '../../src/clients/index.js';
import { isHeaderValueSafe, joinUrl, resolvePreset } from '../../src/clients/presets.js';

const ids = Object.keys(providers) as ProviderId[];

describe('provider presets', () => {
  it('cover eight providers, each with an https base URL, a lower-case header, a GET probe, a chat path', () => {
    expect(ids.sort()).toEqual([
      'anthropic',
      'azure-openai',
      'gemini',
      'groq',
      'mistral',
      'openai',
      'openrouter',
      'together',
    ]);
    for (const id of ids) {
      const p = providers[id];
      expect(p.id).toBe(id);
      // Azure's is a placeholder resource name (users pass their own).
      expect(p.baseUrl.replace('YOUR-RESOURCE', 'x')).toMatch(/^https:\/\/[a-z.]+(\/[a-z0-9/]+)?$/);
      expect(p.header).toBe(p.header.toLowerCase());
      expect(p.probe.method).toBe('GET');
      expect(p.chat.method).toBe('POST');
      for (const format of p.keyFormats)
        expect(KEY_FORMATS.some((f) => f.id === format && f.provider === id)).toBe(true);
      expect(Object.isFrozen(p) && Object.isFrozen(p.deadKey) && Object.isFrozen(p.probe)).toBe(true);
    }
  });

  it('say how a dead key looks: 401 (Gemini: 400 API_KEY_INVALID, 401, 403); OpenRouter 402 is not', () => {
    const dead = Object.fromEntries(
      ids.map((id) => [
        id,
        providers[id].deadKey.map((r) => (r.bodyIncludes ? `${r.status}:${r.bodyIncludes}` : String(r.status))),
      ]),
    );
    expect(dead).toEqual({
      openai: ['401'],
      anthropic: ['401'],
      groq: ['401'],
      gemini: ['400:API_KEY_INVALID', '401', '403'],
      mistral: ['401'],
      openrouter: ['401'],
      together: ['401'],
      'azure-openai': ['401'],
    });
  });

  it('headers and probes from the research notes', () => {
    const shape = Object.fromEntries(
      ids.map((id) => [
        id,
        [
          providers[id].header,
          providers[id].scheme ?? '-',
          joinUrl(providers[id].baseUrl, providers[id].probe.path),
        ].join(' '),
      ]),
    );
    expect(shape).toEqual({
      openai: 'authorization Bearer https://api.openai.com/v1/models',
      anthropic: 'x-api-key - https://api.anthropic.com/v1/models',
      groq: 'authorization Bearer https://api.groq.com/openai/v1/models',
      gemini: 'x-goog-api-key - https://generativelanguage.googleapis.com/v1beta/models?pageSize=1',
      mistral: 'authorization Bearer https://api.mistral.ai/v1/models',
      openrouter: 'authorization Bearer https://openrouter.ai/api/v1/key',
      together: 'authorization Bearer https://api.together.ai/v1/whoami',
      'azure-openai': 'api-key - https://YOUR-RESOURCE.openai.azure.com/openai/models?api-version=2024-10-21',
    });
    expect(providers.anthropic.alternates).toEqual([{ header: 'authorization', scheme: 'Bearer' }]);
    expect(providers.anthropic.probe.headers).toEqual({ 'anthropic-version': '2023-06-01' });
  });

  it('Azure OpenAI probes its v1 base (…/v1) without a dated api-version; no other preset differs', () => {
    expect(ids.filter((id) => providers[id].probe.v1Path !== undefined)).toEqual(['azure-openai']);
    expect(providers['azure-openai'].probe.v1Path).toBe('/models');
  });

  it('isHeaderValueSafe: what fetch accepts in a header value (tab and Latin-1 yes; controls, > U+00FF no)', () => {
    for (const ok of ['sk-abc', 'a\tb', 'caf\u00e9', 'a b', '\u00ff']) expect(isHeaderValueSafe(ok), ok).toBe(true);
    for (const bad of ['a\nb', 'a\rb', 'a\0b', 'a\u0001b', 'a\u007fb', '\u20ac', '\u2028', '\u{1f600}'])
      expect(isHeaderValueSafe(bad), JSON.stringify(bad)).toBe(false);
  });

  it('resolvePreset takes an id or a preset, and names the known ids for an unknown one', () => {
    expect(resolvePreset('groq')).toBe(providers.groq);
    expect(resolvePreset(providers.gemini)).toBe(providers.gemini);
    expect(() => resolvePreset('nope' as ProviderId)).toThrow(/known: openai, anthropic/);
    expect(joinUrl('http://h/v1/', 'models')).toBe('http://h/v1/models');
    // a base URL's query stays at the end; the path's own parameters come first and win
    expect(joinUrl('http://h/v1?api-version=preview', '/models')).toBe('http://h/v1/models?api-version=preview');
    expect(joinUrl('http://h/o?api-version=x&y=1', '/models?api-version=2024-10-21')).toBe(
      'http://h/o/models?api-version=2024-10-21&y=1',
    );
  });
});
