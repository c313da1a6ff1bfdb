/**
 * Emulator fidelity (issue 17, the store's part): nested update-mask paths, rotation rules, input-only `tags`,
 * delayed destruction — through the REAL `SecretManagerServiceClient`, over gRPC and over REST (`fallback: true`).
 *
 * References (docs corpus):
 * - Secret (REST): https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets — `topics`
 *   "A list of up to 10 Pub/Sub topics"; `tags` "Input only. Immutable."; `versionDestroyTtl` a Duration
 *   (JSON `"86400s"`).
 * - Rotation: https://docs.cloud.google.com/php/docs/reference/cloud-secret-manager/latest/V1.Rotation —
 *   next_rotation_time "Cannot be set to less than 300s (5 min) in the future", "MUST be set if rotation_period is
 *   set"; rotation_period "Must be in seconds and at least 3600s (1h)"; "Secret.topics must be set to configure
 *   rotation". The service's wording of the second rule: "Next rotation time must be set while the rotation
 *   period is set." (an Error 400 quoted in kyma-project/test-infra#13626).
 * - Delayed destruction: https://cloud.google.com/secret-manager/docs/delay-destruction-of-secret-versions — the
 *   destroyed version "is disabled" and scheduled "for permanent destruction at the end of the delay period".
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { SecretStore } from '../../src/testing/emulator/store.js';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { failure } from './rpc-failure.js';

const P = 'keyflip-test';
const o = { retry: null, timeout: 5_000 } as const;
const INVALID_ARGUMENT = 3;
const automatic = { replication: { automatic: {} } };
const topics = [{ name: `projects/${P}/topics/rotations` }];
const inSeconds = (s: number) => ({ seconds: Math.floor(Date.now() / 1000) + s });

describe.each([['grpc'], ['rest']] as const)('emulator fidelity over %s, through the real client', (mode) => {
  let emulator: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  let n = 0;
  const fresh = (): string => `fidelity-${mode}-${++n}`;
  const secretPath = (id: string): string => `projects/${P}/secrets/${id}`;
  const versionPath = (id: string, v: string): string => `${secretPath(id)}/versions/${v}`;

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator();
    client = new SecretManagerServiceClient(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions);
    await client.initialize();
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  const create = async (id: string, secret: object) =>
    (await client.createSecret({ parent: `projects/${P}`, secretId: id, secret: { ...automatic, ...secret } }, o))[0];
  const update = async (secret: object, paths: string[]) =>
    (await client.updateSecret({ secret, updateMask: { paths } }, o))[0];
  const refused = async (call: Promise<unknown>) => {
    const f = await failure(call, mode);
    expect(f.code).toBe(INVALID_ARGUMENT);
    return f.text;
  };

  it('update masks: rotation.rotation_period and rotation.next_rotation_time are applied field by field', async () => {
    const id = fresh();
    const first = inSeconds(3_600);
    await create(id, { topics, rotation: { nextRotationTime: first, rotationPeriod: { seconds: 3_600 } } });

    const a = await update({ name: secretPath(id), rotation: { rotationPeriod: { seconds: 7_200 } } }, [
      'rotation.rotation_period',
    ]);
    expect(Number(a.rotation?.rotationPeriod?.seconds)).toBe(7_200);
    expect(Number(a.rotation?.nextRotationTime?.seconds)).toBe(first.seconds); // untouched

    const later = inSeconds(86_400);
    const b = await update({ name: secretPath(id), rotation: { nextRotationTime: later } }, [
      'rotation.next_rotation_time',
    ]);
    expect(Number(b.rotation?.nextRotationTime?.seconds)).toBe(later.seconds);
    expect(Number(b.rotation?.rotationPeriod?.seconds)).toBe(7_200); // untouched

    const [got] = await client.getSecret({ name: secretPath(id) }, o);
    expect(Number(got.rotation?.nextRotationTime?.seconds)).toBe(later.seconds);
    expect(Number(got.rotation?.rotationPeriod?.seconds)).toBe(7_200);

    // A sub-field the message does not have, and sub-paths of a field that is no message, stay refused.
    await refused(update({ name: secretPath(id) }, ['rotation.period']));
    await refused(update({ name: secretPath(id) }, ['topics.name']));
  });

  it('rotation: the documented rules, INVALID_ARGUMENT otherwise', async () => {
    const good = { nextRotationTime: inSeconds(3_600), rotationPeriod: { seconds: 3_600 } };
    // next_rotation_time less than 300 s ahead
    expect(await refused(create(fresh(), { topics, rotation: { nextRotationTime: inSeconds(60) } }))).toContain(
      '5 minutes',
    );
    // rotation_period without next_rotation_time: the service's own words
    expect(await refused(create(fresh(), { topics, rotation: { rotationPeriod: { seconds: 3_600 } } }))).toContain(
      'Next rotation time must be set while the rotation period is set.',
    );
    // rotation_period under an hour, or not in whole seconds
    await refused(create(fresh(), { topics, rotation: { ...good, rotationPeriod: { seconds: 3_599 } } }));
    await refused(create(fresh(), { topics, rotation: { ...good, rotationPeriod: { seconds: 3_600, nanos: 5 } } }));
    // topics are required to configure rotation; at most 10 of them
    await refused(create(fresh(), { rotation: good }));
    const eleven = Array.from({ length: 11 }, (_, i) => ({ name: `projects/${P}/topics/t${i}` }));
    await refused(create(fresh(), { topics: eleven }));
    const ten = await create(fresh(), { topics: eleven.slice(0, 10) });
    expect(ten.topics).toHaveLength(10);

    // Exactly at the limits it is accepted (300 s: a little more, so that the call's own latency does not count).
    const id = fresh();
    const ok = await create(id, {
      topics,
      rotation: { nextRotationTime: inSeconds(330), rotationPeriod: { seconds: 3_600 } },
    });
    expect(Number(ok.rotation?.rotationPeriod?.seconds)).toBe(3_600);
    // An update may not leave rotation configured without topics, nor set a period without a time.
    await refused(update({ name: secretPath(id), topics: [] }, ['topics']));
    await refused(update({ name: secretPath(id), rotation: { rotationPeriod: { seconds: 3_600 } } }, ['rotation']));
    await refused(update({ name: secretPath(id), rotation: { nextRotationTime: inSeconds(10) } }, ['rotation']));
    // Clearing the rotation, then the topics, is fine.
    const cleared = await update({ name: secretPath(id), topics: [] }, ['rotation', 'topics']);
    expect(cleared.rotation ?? null).toBeNull();
  });

  it('tags: accepted on CreateSecret, never returned, refused in an update mask', async () => {
    const id = fresh();
    const tags = { 'tagKeys/281478': 'tagValues/281479' };
    const created = await create(id, { tags, labels: { team: 'core' } });
    expect(Object.keys(created.tags ?? {})).toEqual([]);
    const [got] = await client.getSecret({ name: secretPath(id) }, o);
    expect(Object.keys(got.tags ?? {})).toEqual([]);
    expect(got.labels).toEqual({ team: 'core' });
    const [listed] = await client.listSecrets({ parent: `projects/${P}` }, { ...o, autoPaginate: false });
    const mine = listed.find((s) => String(s.name).endsWith(`/secrets/${id}`));
    expect(mine).toBeTruthy();
    expect(Object.keys(mine?.tags ?? {})).toEqual([]);
    await refused(update({ name: secretPath(id), tags }, ['tags']));
  });

  it('version_destroy_ttl: the client sends a camelCase Duration; DestroySecretVersion schedules', async () => {
    // The probe: the Node client sends `versionDestroyTtl` on both transports (gRPC: the message; REST: proto3
    // JSON "86400s", which the REST surface decodes to the same message). The store sees camelCase, a Duration
    // object with int64 seconds as a decimal string.
    const spy = vi.spyOn(SecretStore.prototype, 'handle');
    const id = fresh();
    try {
      await create(id, { versionDestroyTtl: { seconds: 86_400 } });
      const request = spy.mock.calls.find(([method]) => method === 'CreateSecret')?.[1] as {
        secret: Record<string, unknown>;
      };
      expect(request.secret.versionDestroyTtl).toEqual({ seconds: '86400' });
      expect(request.secret.version_destroy_ttl).toBeUndefined();
    } finally {
      spy.mockRestore();
    }
    await client.addSecretVersion({ parent: secretPath(id), payload: { data: Buffer.from('one') } }, o);
    const [pending] = await client.destroySecretVersion({ name: versionPath(id, '1') }, o);
    expect(pending.state).toBe('DISABLED');
    expect(Math.abs(Number(pending.scheduledDestroyTime?.seconds) - (Date.now() / 1000 + 86_400))).toBeLessThan(60);

    // Set later through UpdateSecret (mask in snake_case, as the reference writes it), with nanos.
    const id2 = fresh();
    await create(id2, {});
    const updated = await update({ name: secretPath(id2), versionDestroyTtl: { seconds: 3_600, nanos: 500_000_000 } }, [
      'version_destroy_ttl',
    ]);
    expect(Number(updated.versionDestroyTtl?.seconds)).toBe(3_600);
    await client.addSecretVersion({ parent: secretPath(id2), payload: { data: Buffer.from('two') } }, o);
    const [scheduled] = await client.destroySecretVersion({ name: versionPath(id2, '1') }, o);
    expect(scheduled.state).toBe('DISABLED');
    expect(Math.abs(Number(scheduled.scheduledDestroyTime?.seconds) - (Date.now() / 1000 + 3_600))).toBeLessThan(60);
  });

  // Proto3 JSON: "Parsers accept both the lowerCamelCase name (or the one specified by the json_name option) and
  // the original proto field name" (https://protobuf.dev/programming-guides/json/), so a hand-written body may say
  // `versionDestroyTtl` or `version_destroy_ttl`, the Duration as "86400s".
  const restBodies = [
    ['camelCase', { versionDestroyTtl: '86400s' }],
    ['snake_case', { version_destroy_ttl: '86400s' }],
  ] as const;
  it.each(restBodies)('version_destroy_ttl in a hand-written REST body (%s, "86400s")', async (_form, ttl) => {
    if (mode !== 'rest') return; // the wire form only exists over REST
    const id = fresh();
    const res = await fetch(`${emulator.restUrl}/v1/projects/${P}/secrets?secretId=${id}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ replication: { automatic: {} }, ...ttl }),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { versionDestroyTtl?: string };
    expect(body.versionDestroyTtl).toBe('86400s');
    await client.addSecretVersion({ parent: secretPath(id), payload: { data: Buffer.from('x') } }, o);
    const [pending] = await client.destroySecretVersion({ name: versionPath(id, '1') }, o);
    expect(pending.state).toBe('DISABLED');
    expect(Math.abs(Number(pending.scheduledDestroyTime?.seconds) - (Date.now() / 1000 + 86_400))).toBeLessThan(60);
  });
});
