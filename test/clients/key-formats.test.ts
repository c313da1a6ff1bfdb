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

  it('Azure OpenAI: the 84-character annotated key anywhere, a 32-hex legacy key only after a key name', () => {
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
      `sha ${legacy}`, // no key name before it
      `azure ${legacy}`, // the word "azure" is not a key name
      `api-key: ${run('abcdef', 32)}`, // no digit: a placeholder, not a key
      `api-key: ${run('0123', 32)}`, // no letter
      `api-key:\n${legacy}`, // the name is on another line
      `api-key: x ${legacy}`, // something else in between
    ]) {
      expect(findProviderKeys(alike), alike).toEqual([]);
    }
  });

  it('Azure OpenAI: the annotated key as SEC101/200 defines it (JQQJ9 + 9/D/H, [A-L], optional 2 chars + ==)', () => {
    const head = run('Qw3Er4Ty5U', 52);
    const tail = `${run('Zx6Cv7Bn', 14)}ACOG${run('Mk8L', 4)}`;
    for (const sig of ['JQQJ99', 'JQQJ9D', 'JQQJ9H']) {
      const key = `${head}${sig}BFAC${tail}`;
      expect(
        findProviderKeys(`k=${key};`).map((m) => [m.format.id, m.value]),
        sig,
      ).toEqual([['azure-openai', key]]);
      expect(redactProviderKeys(`"${key}"`)).toBe('"[redacted azure openai key]"');
    }
    const long = `${head}JQQJ9DBFAC${tail}Xy==`;
    expect(long).toHaveLength(88);
    expect(findProviderKeys(`key: ${long}\n`).map((m) => m.value)).toEqual([long]);
    expect(redactProviderKeys(`key: ${long}\n`)).toBe('key: [redacted azure openai key]\n');
    for (const alike of [
      `${head}JQQJ9ABFAC${tail}`, // JQQJ9 + A: not a CASK key
      `${head}JQQJ99BZAC${tail}`, // offset 59 must be A-L
      `${head}JQQJ99BFAC${tail}Xy=`, // a longer run that is not the long form
    ]) {
      expect(findProviderKeys(alike), alike).toEqual([]);
    }
  });

  it('Azure OpenAI legacy key: found after the key names Azure keys go by, in env files, headers and JSON', () => {
    const hex = '7f3a9c2e1b4d5f60718293a4b5c6d7e8';
    const label = '[redacted azure openai key]';
    for (const [before, after] of [
      ['AZURE_OPENAI_API_KEY=', ''],
      ['export AZURE_OPENAI_KEY="', '"'],
      ["headers: { 'api-key': '", "' }"], // a header dump, no "azure" anywhere
      ["Headers { 'api-key' => '", "' }"], // a Map-style dump
      ['curl -H "api-key: ', '" https://x.openai.azure.com/openai/v1/models'],
      ['Ocp-Apim-Subscription-Key: ', ''],
      ['subscription_key = "', '"'],
      ['cognitiveservices.azure.com...apikey= ', ';'], // Purview's credential example
      ['{"endpoint":"https://my-resource-name-for-prod.openai.azure.com/","apiKey":"', '"}'],
      ['{ "key1": "', '", "key2": null }'], // az cognitiveservices account keys list
      ["request.headers.set('api-key', '", "')"],
      ['https://x.cognitiveservices.azure.com/vision?subscription-key=', '&a=1'],
    ] as const) {
      const text = `${before}${hex}${after}`;
      expect(
        findProviderKeys(text).map((m) => [m.format.id, m.value, m.index]),
        text,
      ).toEqual([['azure-openai-legacy', hex, before.length]]);
      expect(redactProviderKeys(text)).toBe(`${before}${label}${after}`);
      expect(redactProviderKeys(text.toUpperCase())).not.toContain(hex.toUpperCase());
    }
  });

  it('Azure OpenAI legacy key: never a Key Vault secret version, request id, trace id, md5 or tenant id', () => {
    for (const line of [
      'AZURE_KEYVAULT_SECRET_ID=https://myvault.vault.azure.net/secrets/openai/4387e9f3d6e14c459867679a90fd0f79',
      'rotated to https://myvault.vault.azure.net/secrets/openai-key/4387e9f3d6e14c459867679a90fd0f79',
      'azure-openai call failed: x-request-id req_7f3a9c2e1b4d5f60718293a4b5c6d7e8',
      'azure-openai call failed: x-request-id: 7f3a9c2e1b4d5f60718293a4b5c6d7e8',
      'azure monitor traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'Uploaded to Azure Blob, md5=9e107d9d372bb6826bd81d3542a419d6',
      'azure tenant 72f988bf86f141af91ab2d7cd011db47',
      'azure-openai deployment gpt-4o, operation-id 0c5e5b2e7f1a4b9d8e3c2a1b0f9e8d7c',
      `azure ${'a'.repeat(32)} ${'1'.repeat(32)}`,
      'azure-pipelines commit 3f2a9c1b4d5e6f708192a3b4c5d6e7f8091a2b3c',
      `azure image sha256:${'7f3a9c2e1b4d5f60718293a4b5c6d7e8'.repeat(2)}`,
    ]) {
      // findProviderKeys is what `keyflip scan` reports (src/scan/key-locations.ts): nothing here is a key.
      expect(findProviderKeys(line), line).toEqual([]);
      expect(redactProviderKeys(line)).toBe(line);
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
