/**
 * The shapes of LLM provider API keys, as secret scanners (gitleaks, TruffleHog, GitHub secret scanning)
 * recognise them. Used by `resolver.redact()` (through redaction.ts; so this module stays a table of regular
 * expressions and imports nothing: the core entry must stay light) and by `keyflip scan`.
 */

/** One provider key format. */
export interface KeyFormat {
  /**
   * A stable id: `openai`, `anthropic`, `anthropic-admin`, `groq`, `gemini`, `mistral`, `openrouter`, `together`,
   * `azure-openai`, `azure-openai-legacy`.
   */
  readonly id: string;
  /** The provider preset the key is for (`anthropic` for both Anthropic formats). */
  readonly provider: string;
  /** What `redactProviderKeys` writes instead of the key: `[redacted openai key]`. */
  readonly label: string;
  /** The shape, in words. */
  readonly description: string;
  /** The pattern (global). The whole match is the key. */
  readonly pattern: RegExp;
  /** A cheap test that must pass before `pattern` is run (a prefix search); false means no key of this format. */
  readonly mayContain: (text: string) => boolean;
}

const has =
  (needle: string) =>
  (text: string): boolean =>
    text.includes(needle);

/**
 * The names an Azure key is given, as a regular expression (case-insensitive): `api-key`, `apikey`, `api_key`,
 * `Ocp-Apim-Subscription-Key`, `subscription_key`, `AZURE_OPENAI_API_KEY`, `azure_openai_key`, `cognitive_key`,
 * `key1`/`key2` (as `az cognitiveservices account keys list` prints them).
 */
const KEY_NAME = '(?:(?:api|subscription|openai|azure|cognitive(?:[-_ ]?services?)?)[-_ ]?key|(?<![A-Za-z0-9])key[12])';
/** A quote around a name or a value. */
const QUOTE = '["\'`]';

/** Key characters of the base64url-ish formats, as a negative look-ahead: the key ends here. */
const END = '(?![A-Za-z0-9_-])';

/**
 * Every format keyflip recognises. Mistral keys have no prefix (32 letters and digits), so they are only
 * recognised after the word "mistral" on the same line, within 40 characters (as TruffleHog does), and must
 * mix upper case, lower case and digits (which leaves out hex digests).
 */
export const KEY_FORMATS: readonly KeyFormat[] = Object.freeze([
  {
    id: 'anthropic',
    provider: 'anthropic',
    label: '[redacted anthropic key]',
    description: 'sk-ant-api03- + 93 characters + AA',
    pattern: new RegExp(`\\bsk-ant-api03-[A-Za-z0-9_-]{93}AA${END}`, 'g'),
    mayContain: has('sk-ant-'),
  },
  {
    id: 'anthropic-admin',
    provider: 'anthropic',
    label: '[redacted anthropic admin key]',
    description: 'sk-ant-admin01- + 93 characters + AA',
    pattern: new RegExp(`\\bsk-ant-admin01-[A-Za-z0-9_-]{93}AA${END}`, 'g'),
    mayContain: has('sk-ant-'),
  },
  {
    id: 'openrouter',
    provider: 'openrouter',
    label: '[redacted openrouter key]',
    description: 'sk-or-v1- + 64 hex digits',
    pattern: new RegExp(`\\bsk-or-v1-[0-9a-f]{64}${END}`, 'g'),
    mayContain: has('sk-or-'),
  },
  {
    id: 'openai',
    provider: 'openai',
    label: '[redacted openai key]',
    description: 'sk-proj-, sk-svcacct-, sk-admin- or legacy sk-, with T3BlbkFJ inside',
    pattern: new RegExp(
      '\\bsk-(?:(?:proj|svcacct|admin|service)-[A-Za-z0-9_-]{16,200}|[A-Za-z0-9]{16,64})' +
        `T3BlbkFJ[A-Za-z0-9_-]{16,200}${END}`,
      'g',
    ),
    mayContain: has('T3BlbkFJ'),
  },
  {
    id: 'groq',
    provider: 'groq',
    label: '[redacted groq key]',
    description: 'gsk_ + 52 letters and digits',
    pattern: new RegExp(`\\bgsk_[A-Za-z0-9]{52}${END}`, 'g'),
    mayContain: has('gsk_'),
  },
  {
    id: 'gemini',
    provider: 'gemini',
    label: '[redacted gemini key]',
    description: 'AIza + 35 characters (standard Google API key), or an AQ. auth key',
    pattern: new RegExp(`\\b(?:AIza[A-Za-z0-9_-]{35}|AQ\\.[A-Za-z0-9_-]{30,200})${END}`, 'g'),
    mayContain: (text) => text.includes('AIza') || text.includes('AQ.'),
  },
  {
    id: 'together',
    provider: 'together',
    label: '[redacted together key]',
    description: 'tgp_v1_ + 43 characters',
    pattern: new RegExp(`\\btgp_v1_[A-Za-z0-9_-]{43}${END}`, 'g'),
    mayContain: has('tgp_v1_'),
  },
  {
    id: 'mistral',
    provider: 'mistral',
    label: '[redacted mistral key]',
    description: '32 letters and digits (mixed case) after the word "mistral" on the same line',
    // The token first (cheap), then the look-behind for the keyword, evaluated only on a 32-char token.
    pattern: new RegExp(
      '(?<![A-Za-z0-9])(?=[a-z0-9]*[A-Z])(?=[A-Z0-9]*[a-z])(?=[A-Za-z]*[0-9])[A-Za-z0-9]{32}(?![A-Za-z0-9])' +
        '(?<=[Mm][Ii][Ss][Tt][Rr][Aa][Ll][^\\r\\n]{0,40}[A-Za-z0-9]{32})',
      'g',
    ),
    mayContain: (text) => MISTRAL_WORD.test(text),
  },
  {
    // Azure AI services keys issued since 2024 are Microsoft "common annotated security keys" (CASK): 84 characters,
    // the signature JQQJ9 + 9, D or H at offset 52, and optionally 2 more characters + `==` (88). The pattern is
    // microsoft/security-utilities' SEC101/200 (CommonAnnotatedSecurityKey): `[base62]{52}JQQJ9(?:9|D|H)[base62]
    // [A-L][base62]{16}[A-Za-z][base62]{7}(?:[base62]{2}==)?`, narrowed to the Cognitive Services provider
    // signature ACOG at offset 76 (the keys of Azure OpenAI / AI services resources), so that other Azure CASK
    // keys (Azure DevOps: AZDO, Event Grid: AZEG…) are not called Azure OpenAI keys.
    id: 'azure-openai',
    provider: 'azure-openai',
    label: '[redacted azure openai key]',
    description: '52 letters and digits + JQQJ9 + 9, D or H + 18 + ACOG + 4 (84 characters), optionally + 2 + ==',
    pattern: new RegExp(
      '(?<![A-Za-z0-9])[A-Za-z0-9]{52}JQQJ9[9DH][A-Za-z0-9][A-L][A-Za-z0-9]{16}ACOG[A-Za-z0-9]{4}' +
        '(?:[A-Za-z0-9]{2}==)?(?![A-Za-z0-9=])',
      'g',
    ),
    mayContain: has('JQQJ9'),
  },
  {
    // Older Azure OpenAI / Cognitive Services keys: 32 hex digits (Microsoft Purview's "Azure Cognitive Service
    // key": a hex-encoded 128-bit key, recognised only with a credential name around it, e.g. `apikey= <hex>`).
    // Too common a shape alone (Key Vault secret versions, request ids, trace ids, md5s, compact GUIDs): only
    // right after a key-ish name (`api-key`, `Ocp-Apim-Subscription-Key`, `subscription_key`, `apiKey`,
    // `AZURE_OPENAI_API_KEY`, `AZURE_OPENAI_KEY`, `key1`…) and `:`, `=` or `=>` (or `', '` between quotes), with
    // at most one quote and 3 spaces either side, on one line; with at least one letter and one digit (placeholders
    // left out).
    id: 'azure-openai-legacy',
    provider: 'azure-openai',
    label: '[redacted azure openai key]',
    description: '32 hex digits right after a key name and `:` or `=` (`api-key: <hex>`, `AZURE_OPENAI_API_KEY=<hex>`)',
    // The token first (cheap), then the look-behind for the key name, evaluated only on a 32-hex token.
    pattern: new RegExp(
      '(?<![A-Za-z0-9])(?=[a-f]*[0-9])(?=[0-9]*[a-f])[0-9a-f]{32}(?![A-Za-z0-9])' +
        `(?<=${KEY_NAME}(?:${QUOTE}?[ \\t]{0,3}[:=]{1,2}>?|${QUOTE}[ \\t]{0,3},)[ \\t]{0,3}${QUOTE}?[0-9a-f]{32})`,
      'gi',
    ),
    mayContain: (text) => KEY_WORD.test(text),
  },
] satisfies KeyFormat[]);

const MISTRAL_WORD = /mistral/i;
const KEY_WORD = /key/i;

/** One provider-format key found in a text. */
export interface KeyMatch {
  /** The format it matched. */
  readonly format: KeyFormat;
  /** Offset of its first character in the text. */
  readonly index: number;
  /** The key itself. Fingerprint it; never print it. */
  readonly value: string;
}

/** Every provider-format key in `text`, in order of appearance (overlaps resolved to the earlier, longer match). */
export function findProviderKeys(text: string): KeyMatch[] {
  if (typeof text !== 'string' || text.length === 0) return [];
  const found: KeyMatch[] = [];
  for (const format of KEY_FORMATS) {
    if (!format.mayContain(text)) continue;
    for (const match of text.matchAll(format.pattern)) found.push({ format, index: match.index, value: match[0] });
  }
  if (found.length < 2) return found;
  found.sort((a, b) => a.index - b.index || b.value.length - a.value.length);
  const kept: KeyMatch[] = [];
  let end = -1;
  for (const match of found) {
    if (match.index < end) continue;
    kept.push(match);
    end = match.index + match.value.length;
  }
  return kept;
}

/**
 * Returns `text` with every provider-format key replaced by its label (`[redacted openai key]`). Text without
 * any key comes back as is (the same string), after one substring search per format.
 */
export function redactProviderKeys(text: string): string {
  if (typeof text !== 'string') return text;
  let out = text;
  for (const format of KEY_FORMATS) {
    if (format.mayContain(out)) out = out.replace(format.pattern, format.label);
  }
  return out;
}
