/**
 * Server-sent events for the mock provider: writing a stream, and the chat streams of each family, in the shapes
 * the providers document and their SDKs parse.
 */
import type { ServerResponse } from 'node:http';
import type { Family } from './mock-provider-routes.js';

/** One server-sent event: `event: NAME` (when named) and `data: …`. */
export interface SseEvent {
  readonly event?: string | undefined;
  readonly data: string;
}

/**
 * Writes a whole event stream (`text/event-stream`) and ends the response. Gemini separates events with
 * `\r\n\r\n`; the others with `\n\n`.
 */
export function sendSse(
  res: ServerResponse,
  headers: Record<string, string>,
  events: readonly SseEvent[],
  crlf = false,
): void {
  const end = crlf ? '\r\n' : '\n';
  res.writeHead(200, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  for (const e of events) res.write(`${e.event ? `event: ${e.event}${end}` : ''}data: ${e.data}${end}${end}`);
  res.end();
}

const json = (value: unknown): SseEvent => ({ data: JSON.stringify(value) });
const named = (event: string, value: unknown): SseEvent => ({ event, data: JSON.stringify(value) });

/** The text every mock answer carries (a stream sends it in two pieces: `o`, `k`). */
export const MOCK_TEXT = 'ok';
/** {@link MOCK_TEXT} in the pieces a stream sends it in. */
export const PIECES: readonly string[] = ['o', 'k'];

/** What a streaming chat request asked for (the parsed body). */
export interface StreamRequest {
  /** `stream_options.include_usage` (OpenAI-compatible). */
  readonly includeUsage: boolean;
}

/** The options of a request body that change a stream. */
export function streamRequest(body: unknown): StreamRequest {
  const options = (body as { stream_options?: { include_usage?: unknown } } | undefined)?.stream_options;
  return { includeUsage: options?.include_usage === true };
}

/**
 * The chat stream of a family (not Gemini: see {@link geminiStream}).
 *
 * - OpenAI-compatible: `data: {chat.completion.chunk}` … `data: [DONE]`; with `stream_options.include_usage`, "an
 *   additional chunk will be streamed before the `data: [DONE]` message … the `choices` field will always be an empty
 *   array. All other chunks will also include a `usage` field, but with a null value" (OpenAI's OpenAPI spec,
 *   `ChatCompletionStreamOptions`, as published in
 *   https://rubydoc.info/github/openai/openai-ruby/OpenAI/Models/Chat/ChatCompletionStreamOptions). Azure first
 *   sends a chunk with `choices: []` and `prompt_filter_results`. Mistral puts `usage` in its last chunk whatever
 *   the request says (`CompletionChunk.usage`, @mistralai/mistralai esm/models/components/completionchunk.js).
 * - Anthropic: `message_start`, `content_block_start`, `ping`, `content_block_delta` (×2), `content_block_stop`,
 *   `message_delta`, `message_stop`, each as `event: NAME` + `data: {type: NAME, …}`
 *   (https://docs.anthropic.com/en/docs/build-with-claude/streaming; the event set as listed in
 *   https://hexdocs.pm/anthropic_gleam/anthropic/streaming.html).
 *
 * All of these are read back by the real SDKs in test/testing/mock-provider-stream.test.ts.
 */
export function chatStream(family: Family, id: string, model: string, request: StreamRequest): SseEvent[] {
  if (family === 'anthropic') return anthropicStream(id, model);
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
  const withUsage = request.includeUsage && family !== 'mistral';
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}): SseEvent =>
    json({
      id: `chatcmpl-${id}`,
      object: 'chat.completion.chunk',
      created,
      model,
      system_fingerprint: 'fp_mock',
      choices,
      ...(withUsage ? { usage: null } : {}),
      ...extra,
    });
  const choice = (delta: Record<string, unknown>, finish: string | null): unknown => ({
    index: 0,
    delta,
    logprobs: null,
    finish_reason: finish,
  });
  const events: SseEvent[] = [];
  if (family === 'azure-openai')
    events.push(
      json({
        id: '',
        object: '',
        created: 0,
        model: '',
        choices: [],
        prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }],
      }),
    );
  events.push(chunk([choice({ role: 'assistant', content: '' }, null)]));
  for (const piece of PIECES) events.push(chunk([choice({ content: piece }, null)]));
  events.push(chunk([choice({}, 'stop')], family === 'mistral' ? { usage } : {}));
  if (withUsage) events.push(chunk([], { usage }));
  events.push({ data: '[DONE]' });
  return events;
}

function anthropicStream(id: string, model: string): SseEvent[] {
  return [
    named('message_start', {
      type: 'message_start',
      message: {
        id: `msg_${id}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: 1, output_tokens: 1 },
      },
    }),
    named('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
    named('ping', { type: 'ping' }),
    ...PIECES.map((text) =>
      named('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
    ),
    named('content_block_stop', { type: 'content_block_stop', index: 0 }),
    named('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 1 },
    }),
    named('message_stop', { type: 'message_stop' }),
  ];
}

/**
 * Gemini's `:streamGenerateContent` chunks: each a whole `GenerateContentResponse` holding part of the text; the
 * last has `finishReason` and `usageMetadata` (https://ai.google.dev/api: streamGenerateContent "uses Server-Sent
 * Events"). With `?alt=sse` they go as `data:` events, `\r\n\r\n` apart (@google/genai splits on `\n\n`, `\r\r` or
 * `\r\n\r\n`: dist/node/index.mjs:14011); without it, as one JSON array (as users report:
 * https://discuss.google.dev/t/streamgeneratecontent-method-of-gemini-rest-apis-giving-multiple-json-objects/146282).
 */
export function geminiChunks(model: string): unknown[] {
  return PIECES.map((text, i) => {
    const last = i === PIECES.length - 1;
    return {
      candidates: [
        { content: { parts: [{ text }], role: 'model' }, index: 0, ...(last ? { finishReason: 'STOP' } : {}) },
      ],
      usageMetadata: last
        ? { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 }
        : { promptTokenCount: 1, totalTokenCount: 1 },
      modelVersion: model,
      responseId: `gemini-mock-${model}`,
    };
  });
}

/** Gemini's chunks as server-sent events. */
export function geminiStream(model: string): SseEvent[] {
  return geminiChunks(model).map(json);
}
