/**
 * Made-up keys in each provider's format, built at run time (so that no file of this repository holds one
 * and `keyflip scan` of the repository stays clean). None is valid anywhere.
 */
const run = (chars: string, length: number): string => chars.repeat(Math.ceil(length / chars.length)).slice(0, length);

export const SAMPLES = {
  openai: `sk-proj-${run('Ab3Cd4Ef5Gh6', 74)}${'T3Blbk'}FJ${run('Zy9Xw8Vu7Ts6', 74)}`,
  'openai-legacy': `sk-${run('Qr5St6Uv7W', 20)}${'T3Blbk'}FJ${run('Mn1Op2Qr3S', 20)}`,
  anthropic: `sk-ant-${'api03'}-${run('Kx7_Lw8-Mv9', 93)}AA`,
  'anthropic-admin': `sk-ant-${'admin01'}-${run('Pa1-Qb2_Rc3', 93)}AA`,
  groq: `gsk_${run('Tu4Vw5Xy6Z', 52)}`,
  gemini: `AIza${run('Sy0_Bc1-De2', 35)}`,
  'gemini-auth': `AQ.Ab${run('8Fg9Hi0Jk1-', 48)}`,
  openrouter: `sk-or-v1-${run('0a1b2c3d4e5f6789', 64)}`,
  together: `tgp_v1_${run('Lm2No3_Pq4-', 43)}`,
  mistral: run('Rs5Tu6Vw7Xy8Za9', 32),
} as const;

export type SampleName = keyof typeof SAMPLES;

/** The format id each sample must be found as. */
export const SAMPLE_FORMAT: Record<SampleName, string> = {
  openai: 'openai',
  'openai-legacy': 'openai',
  anthropic: 'anthropic',
  'anthropic-admin': 'anthropic-admin',
  groq: 'groq',
  gemini: 'gemini',
  'gemini-auth': 'gemini',
  openrouter: 'openrouter',
  together: 'together',
  mistral: 'mistral',
};

/** How each sample appears in a file or a log line (Mistral keys need the word "mistral" nearby). */
export function inContext(name: SampleName): string {
  return name === 'mistral' ? `MISTRAL_API_KEY=${SAMPLES.mistral}` : `api_key = "${SAMPLES[name]}"`;
}
