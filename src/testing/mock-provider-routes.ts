/**
 * Which endpoint of the imitated provider a request is for: the probe, a chat call (streamed or not), or the
 * OpenAI Responses API. One table per family, built from the preset's paths.
 */
import { type ProviderId, type ProviderPreset, providers } from '../clients/presets.js';
import { escapeRegExp } from '../regexp.js';

/** The providers the mock imitates: every built-in preset; a custom preset gets the OpenAI-compatible shapes. */
export type Family = ProviderId;

/** The built-in provider a preset imitates; a custom preset gets the OpenAI-compatible shapes most APIs copy. */
export function familyOf(preset: ProviderPreset): Family {
  return Object.hasOwn(providers, preset.id) ? (preset.id as Family) : 'openai';
}

/** What a request asks for. */
export interface Route {
  readonly kind: 'probe' | 'chat' | 'responses';
  /** The model (or Azure deployment) named in the path, if any. */
  readonly model?: string | undefined;
  /** Gemini `:streamGenerateContent` (the stream is chosen by the path there, by `stream: true` elsewhere). */
  readonly geminiStream?: boolean | undefined;
}

interface Entry {
  readonly method: string;
  readonly pattern: RegExp;
  readonly route: Route;
}

/** A path relative to the base, without its query, as an anchored pattern; `{model}` captures one segment. */
function pathPattern(base: string, path: string): RegExp {
  const bare = path.split('?')[0] ?? '';
  return new RegExp(`^${escapeRegExp(base + bare).replace(escapeRegExp('{model}'), '([^/]+)')}$`);
}

/**
 * The router of one mock: `(method, pathname) → Route | undefined`.
 *
 * - every family: the preset's probe and chat paths;
 * - Gemini: also `…:streamGenerateContent` (what `generateContentStream` calls, with `?alt=sse`), and each path
 *   under the stable `/v1/` as well as `/v1beta/`;
 * - OpenAI (and custom OpenAI-compatible presets whose chat path ends in `/chat/completions`): also
 *   `POST …/responses`, the Responses API (the Vercel AI SDK's `openai(model)` calls it);
 * - Azure OpenAI: the deployment path and the v1 paths `/v1/chat/completions`, `/v1/responses`, `/v1/models`,
 *   and `/responses` (https://learn.microsoft.com/en-us/azure/foundry/openai/api-version-lifecycle).
 */
export function router(
  family: Family,
  preset: ProviderPreset,
  base: string,
): (method: string | undefined, pathname: string) => Route | undefined {
  const entries: Entry[] = [
    { method: preset.probe.method, pattern: pathPattern(base, preset.probe.path), route: { kind: 'probe' } },
    { method: preset.chat.method, pattern: pathPattern(base, preset.chat.path), route: { kind: 'chat' } },
  ];
  const chatPath = preset.chat.path.split('?')[0] ?? '';
  if (family === 'gemini' && chatPath.endsWith(':generateContent')) {
    const streamPath = chatPath.replace(/:generateContent$/, ':streamGenerateContent');
    entries.push({
      method: 'POST',
      pattern: pathPattern(base, streamPath),
      route: { kind: 'chat', geminiStream: true },
    });
    // The stable version `v1` answers the same methods as `v1beta`: @google/genai 3 calls `v1` by default, 2.x
    // `v1beta` (https://ai.google.dev/gemini-api/docs/api-versions).
    const stable = (path: string): string => path.replace(/^\/v1beta\//, '/v1/');
    if (stable(chatPath) !== chatPath) {
      entries.push(
        { method: 'POST', pattern: pathPattern(base, stable(chatPath)), route: { kind: 'chat' } },
        { method: 'POST', pattern: pathPattern(base, stable(streamPath)), route: { kind: 'chat', geminiStream: true } },
        {
          method: preset.probe.method,
          pattern: pathPattern(base, stable(preset.probe.path)),
          route: { kind: 'probe' },
        },
      );
    }
  }
  if (family === 'openai' && chatPath.endsWith('/chat/completions')) {
    const responsesPath = chatPath.replace(/\/chat\/completions$/, '/responses');
    entries.push({ method: 'POST', pattern: pathPattern(base, responsesPath), route: { kind: 'responses' } });
  }
  if (family === 'azure-openai') {
    entries.push(
      { method: 'GET', pattern: pathPattern(base, '/v1/models'), route: { kind: 'probe' } },
      { method: 'POST', pattern: pathPattern(base, '/v1/chat/completions'), route: { kind: 'chat' } },
      { method: 'POST', pattern: pathPattern(base, '/v1/responses'), route: { kind: 'responses' } },
      { method: 'POST', pattern: pathPattern(base, '/responses'), route: { kind: 'responses' } },
    );
  }
  return (method, pathname) => {
    for (const entry of entries) {
      if (method !== entry.method) continue;
      const match = entry.pattern.exec(pathname);
      if (match) return match[1] === undefined ? entry.route : { ...entry.route, model: decode(match[1]) };
    }
    return undefined;
  };
}

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
