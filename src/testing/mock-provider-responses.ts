/**
 * The OpenAI Responses API (`POST {base}/responses`) as the mock answers it: a whole `response` object, or with
 * `stream: true` the documented event sequence `response.created` … `response.completed` (named events, each with
 * a `sequence_number`; no `[DONE]`): response.created, response.in_progress, response.output_item.added,
 * response.content_part.added, response.output_text.delta…, response.output_text.done, response.content_part.done,
 * response.output_item.done, response.completed
 * (https://developers.openai.com/api/docs/guides/streaming-responses?api-mode=responses). Fields checked against
 * what `openai` (`responses.stream`) and `@ai-sdk/openai` (`openaiResponsesChunkSchema`,
 * node_modules/@ai-sdk/openai/dist/index.mjs:4995-5090, and `openaiResponsesResponseSchema`, :5537) parse.
 */
import { MOCK_TEXT, PIECES, type SseEvent } from './mock-provider-sse.js';

function messageItem(id: string, status: 'in_progress' | 'completed'): Record<string, unknown> {
  return {
    id: `msg_${id}`,
    type: 'message',
    status,
    role: 'assistant',
    content: status === 'completed' ? [outputText(MOCK_TEXT)] : [],
  };
}

function outputText(text: string): Record<string, unknown> {
  return { type: 'output_text', text, annotations: [], logprobs: [] };
}

/** The `response` object: `in_progress` with no output (stream start) or `completed` with the answer. */
export function responseObject(
  id: string,
  model: string,
  createdAt: number,
  status: 'in_progress' | 'completed',
): Record<string, unknown> {
  const done = status === 'completed';
  return {
    id: `resp_${id}`,
    object: 'response',
    created_at: createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model,
    output: done ? [messageItem(id, 'completed')] : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: 'default',
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage: done
      ? {
          input_tokens: 1,
          input_tokens_details: { cached_tokens: 0 },
          output_tokens: 1,
          output_tokens_details: { reasoning_tokens: 0 },
          total_tokens: 2,
        }
      : null,
    user: null,
    metadata: {},
  };
}

/** The streamed events of one answer, in the documented order. */
export function responseEvents(id: string, model: string, createdAt: number): SseEvent[] {
  let sequence = 0;
  const events: SseEvent[] = [];
  const emit = (type: string, fields: Record<string, unknown>): void => {
    events.push({ event: type, data: JSON.stringify({ type, sequence_number: sequence++, ...fields }) });
  };
  const itemId = `msg_${id}`;
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  emit('response.created', { response: responseObject(id, model, createdAt, 'in_progress') });
  emit('response.in_progress', { response: responseObject(id, model, createdAt, 'in_progress') });
  emit('response.output_item.added', { output_index: 0, item: messageItem(id, 'in_progress') });
  emit('response.content_part.added', { ...at, part: outputText('') });
  for (const delta of PIECES) emit('response.output_text.delta', { ...at, delta, logprobs: [] });
  emit('response.output_text.done', { ...at, text: MOCK_TEXT, logprobs: [] });
  emit('response.content_part.done', { ...at, part: outputText(MOCK_TEXT) });
  emit('response.output_item.done', { output_index: 0, item: messageItem(id, 'completed') });
  emit('response.completed', { response: responseObject(id, model, createdAt, 'completed') });
  return events;
}
