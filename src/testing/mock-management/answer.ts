/** What a mock route answers: a status, a JSON body and extra headers. */
export interface MockAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** The two providers whose management API the mock serves. */
export type ManagementFamily = 'openai' | 'anthropic';

/** OpenAI's error body: `{ error: { message, type, param, code } }`. */
export function openaiError(
  status: number,
  message: string,
  type = 'invalid_request_error',
  param: string | null = null,
  code: string | null = null,
): MockAnswer {
  return { status, body: { error: { message, type, param, code } } };
}

/** Anthropic's error body: `{ type: 'error', error: { type, message }, request_id }`. */
export function anthropicError(status: number, type: string, message: string, requestId: string): MockAnswer {
  return {
    status,
    headers: { 'request-id': requestId },
    body: { type: 'error', error: { type, message }, request_id: requestId },
  };
}

/** A 400 for a bad request parameter, in the family's shape. */
export function badRequest(family: ManagementFamily, message: string, param: string, requestId: string): MockAnswer {
  return family === 'openai'
    ? openaiError(400, message, 'invalid_request_error', param)
    : anthropicError(400, 'invalid_request_error', message, requestId);
}

/** A 404 for an unknown id, in the family's shape. */
export function notFoundError(family: ManagementFamily, message: string, requestId: string): MockAnswer {
  return family === 'openai'
    ? openaiError(404, message, 'invalid_request_error')
    : anthropicError(404, 'not_found_error', message, requestId);
}
