/** Shared set-up of the mock management tests: a mock with a manual `now`, and plain-fetch calls. */
import { afterEach } from 'vitest';
import { providers } from '../../src/clients/index.js';
import { type MockManagementOptions, type MockProvider, startMockProvider } from '../../src/testing/index.js';

export const ADMIN_OPENAI = 'sk-admin-mocktest-0123456789abcdefghijklmnopqrstuv';
export const ADMIN_ANTHROPIC = 'sk-ant-admin01-mocktest-0123456789abcdefghijklmnopqrstuv-AA';
/** 2026-12-05T07:00:00Z */
export const T0 = Date.UTC(2026, 11, 5, 7, 0, 0);

let open: MockProvider[] = [];
afterEach(async () => {
  const closing = open;
  open = [];
  await Promise.all(closing.map((m) => m.close()));
});

/** A running mock with a clock the test moves (`clock.ms`). */
export interface Started {
  mock: MockProvider;
  clock: { ms: number };
}

export async function startManaged(
  family: 'openai' | 'anthropic',
  management: Partial<MockManagementOptions> = {},
  keys?: string[],
): Promise<Started> {
  const clock = { ms: T0 };
  const mock = await startMockProvider({
    preset: providers[family],
    ...(keys ? { keys } : {}),
    management: {
      adminKeys: [family === 'openai' ? ADMIN_OPENAI : ADMIN_ANTHROPIC],
      now: () => clock.ms,
      ...management,
    },
  });
  open.push(mock);
  return { mock, clock };
}

export interface Reply {
  status: number;
  json: Record<string, unknown>;
  text: string;
}

async function reply(response: Response): Promise<Reply> {
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) as Record<string, unknown>, text };
}

/** A call to OpenAI's Administration API (`path` below `/v1`). */
export async function openaiAdmin(
  mock: MockProvider,
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown } = {},
): Promise<Reply> {
  const key = options.key === undefined ? ADMIN_OPENAI : options.key;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  return reply(await fetch(`${mock.url}${path}`, init));
}

/** A call to Anthropic's Admin API (`path` from `/v1/organizations/…`). */
export async function anthropicAdmin(
  mock: MockProvider,
  method: string,
  path: string,
  options: { key?: string | null; body?: unknown; version?: boolean } = {},
): Promise<Reply> {
  const key = options.key === undefined ? ADMIN_ANTHROPIC : options.key;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.version !== false) headers['anthropic-version'] = '2023-06-01';
  if (key !== null) headers['x-api-key'] = key;
  const init: RequestInit = { method, headers };
  if (options.body !== undefined) init.body = JSON.stringify(options.body);
  return reply(await fetch(`${mock.url}${path}`, init));
}

/** One chat (OpenAI) or messages (Anthropic) request with `key`, as an SDK sends it. */
export async function infer(mock: MockProvider, family: 'openai' | 'anthropic', key: string): Promise<Reply> {
  const openai = family === 'openai';
  const response = await fetch(`${mock.url}${openai ? '/chat/completions' : '/v1/messages'}`, {
    method: 'POST',
    headers: openai
      ? { 'content-type': 'application/json', authorization: `Bearer ${key}` }
      : { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: openai ? 'gpt-mock' : 'claude-mock', messages: [], max_tokens: 1 }),
  });
  return reply(response);
}
