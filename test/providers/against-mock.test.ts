/**
 * The providers' clients against the mock's management API (`startMockProvider({ management })`): the two speak
 * the same documented protocol (query forms, pagination, usage, revoke, mint), end to end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { providers } from '../../src/clients/presets.js';
import { openProvider } from '../../src/providers/index.js';
import { type MockProvider, startMockProvider } from '../../src/testing/index.js';

const ADMIN = 'sk-admin-AGAINSTMOCKADMINKEY0123456789';
const ANTHROPIC_ADMIN = 'sk-ant-admin01-AGAINSTMOCKADMINKEY0123456789';
let mock: MockProvider | undefined;
afterEach(async () => {
  await mock?.close();
  mock = undefined;
});

describe('against the mock management API', () => {
  it('openai: mint, find by hint, usage, revoke', async () => {
    let now = Date.parse('2026-12-05T12:00:00Z');
    mock = await startMockProvider({
      preset: providers.openai,
      keys: [],
      management: { adminKeys: [ADMIN], pageSize: 2, now: () => now },
    });
    const admin = openProvider({
      provider: 'openai',
      adminKey: ADMIN,
      baseUrl: mock.url,
      project: 'proj_keyflip',
      lagMs: 0,
      now: () => now,
    });
    for (let i = 0; i < 3; i++) mock.mint(`console-${i}`);
    const minted = await admin.mintKey({ name: 'keyflip-OPENAI_API_KEY-20261205T120000' });
    expect((await admin.listKeys()).map((k) => k.id)).toContain(minted.key.id);
    expect((await admin.findKey(minted.value)).id).toBe(minted.key.id);
    const chat = await fetch(`${mock.url}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${minted.value}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(chat.status).toBe(200);
    now += 120_000;
    const usage = await admin.usage([minted.key.id], { startMs: now - 3_600_000, endMs: now });
    expect(usage.keys[0]?.requests).toBe(1);
    expect(usage.keys[0]?.used).toBe(true);
    const revoked = await admin.revokeKey(minted.key.id);
    expect(revoked).toMatchObject({ outcome: 'revoked', status: 'deleted' });
    expect(revoked.serviceAccountDeleted).toBeDefined();
    expect(await admin.revokeKey(minted.key.id)).toMatchObject({ outcome: 'already' });
  });

  it('anthropic: list, find by hint, usage (tokens), inactive', async () => {
    let now = Date.parse('2026-12-05T12:00:00Z');
    mock = await startMockProvider({
      preset: providers.anthropic,
      keys: [],
      management: { adminKeys: [ANTHROPIC_ADMIN], pageSize: 2, now: () => now },
    });
    const admin = openProvider({
      provider: 'anthropic',
      adminKey: ANTHROPIC_ADMIN,
      baseUrl: mock.url,
      lagMs: 0,
      now: () => now,
    });
    const keys = [mock.mint('a'), mock.mint('b'), mock.mint('c')];
    const target = keys[1];
    if (!target) throw new Error('no key');
    expect((await admin.listKeys()).length).toBe(3);
    expect((await admin.findKey(target.value)).id).toBe(target.id);
    const msg = await fetch(`${mock.url}/v1/messages`, {
      method: 'POST',
      headers: { 'x-api-key': target.value, 'anthropic-version': '2023-06-01', 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(msg.status).toBe(200);
    now += 120_000;
    const usage = await admin.usage([target.id], { startMs: now - 3_600_000, endMs: now });
    expect(usage.keys[0]?.requests).toBeUndefined();
    expect(usage.keys[0]?.used).toBe(true);
    expect(await admin.revokeKey(target.id)).toMatchObject({ outcome: 'revoked', status: 'inactive' });
    expect(await admin.revokeKey(target.id, { archive: true })).toMatchObject({
      outcome: 'revoked',
      status: 'archived',
    });
  });
});
