/**
 * 'keyflip/clients': LLM clients that follow the rotation. Imports no SDK: you pass your own client.
 * @module keyflip/clients
 */
export { authFetch, type AuthFetchOptions, type CustomAuth } from './auth-fetch.js';
export { liveClient } from './live-client.js';
export { probeKey, type ProbeOptions, type ProbeReason, type ProbeResult } from './probe.js';
export {
  anthropic,
  azureOpenai,
  gemini,
  groq,
  mistral,
  openai,
  openrouter,
  providers,
  resolvePreset,
  together,
  type AuthHeader,
  type DeadKeyRule,
  type ProviderId,
  type ProviderPreset,
} from './presets.js';
export { findProviderKeys, KEY_FORMATS, redactProviderKeys, type KeyFormat, type KeyMatch } from '../key-formats.js';
