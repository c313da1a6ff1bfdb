/** keyflip's own client (`openProvider`, keyflip/providers) against the mock's management API, both providers. */
import { describe, expect, it } from 'vitest';
import { openProvider, ProviderError } from '../../src/providers/index.js';
import { ADMIN_ANTHROPIC, ADMIN_OPENAI, infer, startManaged, T0 } from './mock-management-helpers.js';

describe('openProvider against the mock management API', () => {
  it('openai: mint, find by value, describe, usage after the lag, revoke (deletes the service account)', async () => {
    const { mock, clock } = await startManaged('openai', { lagMs: 15 * 60_000, pageSize: 2 });
    mock.mint('someone else 1');
    mock.mint('someone else 2');
    const admin = openProvider({
      provider: 'openai',
      adminKey: ADMIN_OPENAI,
      baseUrl: mock.url,
      project: 'proj_keyflip',
      now: () => clock.ms,
      retries: 0,
    });
    const minted = await admin.mintKey({ name: 'keyflip-OPENAI_API_KEY-20261205T070000' });
    expect(minted.key.owner.type).toBe('service-account');
    expect((await admin.findKey(minted.value)).id).toBe(minted.key.id);
    clock.ms = T0 + 60_000;
    for (let i = 0; i < 3; i++) expect((await infer(mock, 'openai', minted.value)).status).toBe(200);
    expect((await admin.getKey(minted.key.id))?.lastUsedAt).toBe(T0 + 60_000);
    clock.ms = T0 + 20 * 60_000;
    const report = await admin.usage([minted.key.id], { startMs: T0, endMs: clock.ms });
    expect(report.coveredUntilMs).toBe(T0 + 5 * 60_000);
    expect(report.keys).toEqual([expect.objectContaining({ keyId: minted.key.id, used: true, requests: 3 })]);
    const revoked = await admin.revokeKey(minted.key.id);
    expect(revoked.outcome).toBe('revoked');
    expect((await infer(mock, 'openai', minted.value)).status).toBe(401);
    expect(await admin.getKey(minted.key.id)).toBeUndefined();
    expect((await admin.listKeys()).map((k) => k.name)).toEqual(['someone else 1', 'someone else 2']);
    const wrong = openProvider({ provider: 'openai', adminKey: 'sk-admin-wrong', baseUrl: mock.url, project: 'p' });
    await expect(wrong.listKeys()).rejects.toThrow(ProviderError);
  });

  it('anthropic: find by value, describe, tokens-only usage after the lag, revoke (inactive / archive)', async () => {
    const { mock, clock } = await startManaged('anthropic', { lagMs: 3_600_000, pageSize: 1 });
    const a = mock.mint({ name: 'prod', expiresAtMs: T0 + 30 * 86_400_000 });
    const b = mock.mint('other');
    const admin = openProvider({
      provider: 'anthropic',
      adminKey: ADMIN_ANTHROPIC,
      baseUrl: mock.url,
      now: () => clock.ms,
      retries: 0,
    });
    expect(admin.canMint).toBe(false);
    const found = await admin.findKey(a.value);
    expect(found).toMatchObject({ id: a.id, name: 'prod', status: 'active', expiresAt: T0 + 30 * 86_400_000 });
    clock.ms = T0 + 60_000;
    await infer(mock, 'anthropic', a.value);
    clock.ms = T0 + 2 * 3_600_000;
    const report = await admin.usage([a.id, b.id], { startMs: T0, endMs: clock.ms });
    expect(report.keys.map((k) => [k.keyId, k.used, k.tokens, k.requests])).toEqual([
      [a.id, true, 2, undefined],
      [b.id, false, 0, undefined],
    ]);
    expect((await admin.revokeKey(a.id)).status).toBe('inactive');
    expect((await infer(mock, 'anthropic', a.value)).status).toBe(401);
    expect((await admin.revokeKey(b.id, { archive: true })).status).toBe('archived');
    expect((await admin.getKey(b.id))?.status).toBe('archived');
  });
});
