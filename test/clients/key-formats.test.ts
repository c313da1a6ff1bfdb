import { describe, expect, it } from 'vitest';
import { createResolver, fingerprint, memorySource } from '../../src/index.js';
import { findProviderKeys, KEY_FORMATS, redactProviderKeys } from '../../src/clients/index.js';
import { inContext, SAMPLE_FORMAT, SAMPLES, type SampleName } from './samples.js';

const names = Object.keys(SAMPLES) as SampleName[];
const run = (chars: string, length: number): string => chars.repeat(Math.ceil(length / chars.length)).slice(0, length);

describe('provider key formats', () => {
  it.each(names)('%s is found, with its format, where it stands', (name) => {
    const text = `line one\n${inContext(name)} # trailing\n`;
    const found = findProviderKeys(text);
    expect(found.map((m) => [m.format.id, m.value, m.index])).toEqual([
      [SAMPLE_FORMAT[name], SAMPLES[name], text.indexOf(SAMPLES[name])],
    ]);
  });

  it.each(names)('%s is redacted to its label', (name) => {
    const label = KEY_FORMATS.find((f) => f.id === SAMPLE_FORMAT[name])?.label;
    const out = redactProviderKeys(`before ${inContext(name)} after`);
    expect(out).not.toContain(SAMPLES[name]);
    expect(out).toContain(label);
    expect(out.startsWith('before ')).toBe(true);
    expect(out.endsWith(' after')).toBe(true);
  });

  it('Azure OpenAI: the 84-character annotated key anywhere, a 32-hex legacy key only after "azure"', () => {
    const key = `${run('Qw3Er4Ty5U', 52)}JQQJ99BFAC${run('Zx6Cv7Bn', 14)}ACOG${run('Mk8L', 4)}`;
    const legacy = run('9f8e7d6c5b4a3210', 32);
    expect(key).toHaveLength(84);
    const text = `endpoint ok\nkey = ${key}\nAZURE_OPENAI_API_KEY=${legacy}\n`;
    expect(findProviderKeys(text).map((m) => [m.format.id, m.format.provider, m.value])).toEqual([
      ['azure-openai', 'azure-openai', key],
      ['azure-openai-legacy', 'azure-openai', legacy],
    ]);
    expect(redactProviderKeys(text)).toBe(
      'endpoint ok\nkey = [redacted azure openai key]\nAZURE_OPENAI_API_KEY=[redacted azure openai key]\n',
    );
    for (const alike of [
      `${run('Qw3Er4Ty5U', 52)}JQQJ99BFAC${run('Zx6Cv7Bn', 14)}AZDO${run('Mk8L', 4)}`, // an Azure DevOps token
      `${run('Qw3Er4Ty5U', 51)}JQQJ99BFAC${run('Zx6Cv7Bn', 14)}ACOG${run('Mk8L', 4)}`, // one short
      `sha ${legacy}`, // no "azure" on the line
      `azure ${run('abcdef', 32)}`, // no digit: not a key
      `azure\n${legacy}`, // the word is on another line
    ]) {
      expect(findProviderKeys(alike), alike).toEqual([]);
    }
  });

  it('leaves look-alikes alone', () => {
    const lookalikes = [
      `sk-proj-${run('Ab3Cd4', 80)}`, // no T3BlbkFJ
      `gsk_${run('Tu4Vw5', 51)}`, // one short
      `gsk_${run('Tu4Vw5', 53)}`, // one long
      `sk-or-v1-${run('0A1B2C3D', 64)}`, // upper-case hex
      `AIza${run('Sy0Bc1', 20)}`, // too short
      `tgp_v1_${run('Lm2No3', 20)}`,
      `checksum ${run('0123456789abcdef', 32)} of the mistral model`, // a hex digest near "mistral": one case only
      `token ${run('Rs5Tu6Vw7Xy8Za9', 32)}`, // a Mistral-like token, but no "mistral" on the line
      `mistral\n${run('Rs5Tu6Vw7Xy8Za9', 32)}`, // the word is on another line
      `sk-ant-api03-${run('Kx7', 60)}AA`, // too short
      'plain log line without secrets',
    ];
    for (const text of lookalikes) {
      expect(findProviderKeys(text), text).toEqual([]);
      expect(redactProviderKeys(text), text).toBe(text);
    }
  });

  it('finds several keys of several formats in one text, in order', () => {
    const text = `${inContext('groq')}\n${inContext('anthropic')}, ${SAMPLES.openrouter}; ${SAMPLES.gemini}`;
    expect(findProviderKeys(text).map((m) => m.format.id)).toEqual(['groq', 'anthropic', 'openrouter', 'gemini']);
    const out = redactProviderKeys(text);
    for (const name of ['groq', 'anthropic', 'openrouter', 'gemini'] as const) expect(out).not.toContain(SAMPLES[name]);
  });

  it('returns non-strings and empty text unchanged', () => {
    expect(redactProviderKeys('')).toBe('');
    expect(redactProviderKeys(undefined as unknown as string)).toBe(undefined);
    expect(findProviderKeys(42 as unknown as string)).toEqual([]);
  });
});

describe('resolver.redact with provider formats', () => {
  it('replaces held values with [keyflip NAME kf_…] first, then other keys with [redacted … key]', async () => {
    const held = SAMPLES.openai;
    const memory = memorySource({ OPENAI_API_KEY: held });
    const resolver = createResolver({ sources: [memory] });
    try {
      resolver.secret('OPENAI_API_KEY');
      await resolver.ready();
      const line = `calling with ${held}; a teammate pasted ${SAMPLES.groq} and ${SAMPLES['openai-legacy']}`;
      const out = resolver.redact(line);
      expect(out).toBe(
        `calling with [keyflip OPENAI_API_KEY ${fingerprint(held)}]; ` +
          'a teammate pasted [redacted groq key] and [redacted openai key]',
      );
      expect(resolver.redact('nothing here')).toBe('nothing here');
    } finally {
      await resolver.close();
    }
  });

  it('works with no secret held at all', async () => {
    const resolver = createResolver({ sources: [memorySource()] });
    try {
      expect(resolver.redact(`key=${SAMPLES.together}`)).toBe('key=[redacted together key]');
    } finally {
      await resolver.close();
    }
  });
});
