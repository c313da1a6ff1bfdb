/**
 * Optional IAM enforcement (`startSecretManagerEmulator({ iam: { enforce: true, caller } })`) on
 * AccessSecretVersion, through the REAL `SecretManagerServiceClient`, over gRPC and over REST (`fallback: true`).
 *
 * References:
 * - Roles: https://cloud.google.com/iam/docs/roles-permissions/secretmanager — roles/secretmanager.secretAccessor
 *   "Allows accessing the payload of secrets" (secretmanager.versions.access); roles/secretmanager.admin "Full
 *   access to administer Secret Manager resources" (secretmanager.*); roles/secretmanager.viewer has no
 *   secretmanager.versions.access.
 * - The denial, as the service words it: "Permission 'secretmanager.versions.access' denied for resource
 *   'projects/…/secrets/…/versions/1' (or it may not exist)." — PERMISSION_DENIED over gRPC
 *   (GoogleCloudPlatform/java-docs-samples#6571), HTTP 403 over REST
 *   (GoogleCloudPlatform/terraform-gcp-datadog-integration#2); "(or it may not exist)": a caller without access
 *   is not told whether the secret exists.
 * - Policy members (https://cloud.google.com/iam/docs/reference/rest/v1/Policy): `user:`, `serviceAccount:`,
 *   `group:`, `domain:`, `allAuthenticatedUsers`, `allUsers`.
 */
import { SecretManagerServiceClient } from '@google-cloud/secret-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { type SecretManagerEmulator, startSecretManagerEmulator } from '../../src/testing/index.js';
import { failure, type Mode } from './rpc-failure.js';

const P = 'keyflip-test';
const o = { retry: null, timeout: 5_000 } as const;
const S = { NOT_FOUND: 5, PERMISSION_DENIED: 7, FAILED_PRECONDITION: 9 };
const CALLER = `serviceAccount:app@${P}.iam.gserviceaccount.com`;
const GROUP = 'group:ops@example.com';
const ACCESSOR = 'roles/secretmanager.secretAccessor';
const denied = (name: string): string =>
  `Permission 'secretmanager.versions.access' denied for resource '${name}' (or it may not exist).`;

describe.each([['grpc'], ['rest']] as const)('IAM enforcement over %s, through the real client', (mode: Mode) => {
  let enforced: SecretManagerEmulator;
  let open: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  let openClient: SecretManagerServiceClient;
  let n = 0;
  const fresh = (): string => `${mode}-iam-${++n}`;
  const secretPath = (id: string): string => `projects/${P}/secrets/${id}`;
  const latest = (id: string): string => `${secretPath(id)}/versions/latest`;
  const clientFor = (emulator: SecretManagerEmulator) =>
    new SecretManagerServiceClient(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions);

  beforeAll(async () => {
    enforced = await startSecretManagerEmulator({ iam: { enforce: true, caller: CALLER, groups: [GROUP] } });
    open = await startSecretManagerEmulator();
    client = clientFor(enforced);
    openClient = clientFor(open);
    await Promise.all([client.initialize(), openClient.initialize()]);
  });
  afterAll(async () => {
    await client?.close();
    await openClient?.close();
    await enforced?.close();
    await open?.close();
  });

  const access = async (name: string) => {
    const [res] = await client.accessSecretVersion({ name }, o);
    return Buffer.from(res.payload?.data as Uint8Array).toString();
  };
  const grant = (id: string, bindings: object[], resource = secretPath(id)) =>
    client.setIamPolicy({ resource, policy: { version: 3, bindings } }, o);
  /** The call is refused with the service's PERMISSION_DENIED, naming the resource as asked, no secret value. */
  const expectDenied = async (name: string) => {
    const f = await failure(access(name), mode);
    expect(f.code).toBe(S.PERMISSION_DENIED);
    expect(f.text).toBe(denied(name));
    if (f.httpStatusCode !== undefined) expect(f.httpStatusCode).toBe(403);
  };

  it('off by default: a policy that names someone else does not stop access', async () => {
    const id = fresh();
    open.addVersion(id, 'open-value');
    await openClient.setIamPolicy(
      { resource: secretPath(id), policy: { bindings: [{ role: ACCESSOR, members: ['user:other@example.com'] }] } },
      o,
    );
    const [res] = await openClient.accessSecretVersion({ name: latest(id) }, o);
    expect(Buffer.from(res.payload?.data as Uint8Array).toString()).toBe('open-value');
    const permissions = ['secretmanager.versions.access', 'secretmanager.secrets.get'];
    const [held] = await openClient.testIamPermissions({ resource: secretPath(id), permissions }, o);
    expect(held.permissions).toEqual(permissions);
  });

  it('no policy, or a missing secret: PERMISSION_DENIED in the service’s words (not NOT_FOUND)', async () => {
    const id = fresh();
    enforced.addVersion(id, 'first-value');
    await expectDenied(latest(id));
    await expectDenied(`${secretPath(id)}/versions/1`);
    await expectDenied(latest(fresh())); // no such secret: the caller is not told
    // by project number too
    await expectDenied(`projects/${enforced.projectNumber}/secrets/${id}/versions/1`);
  });

  it('secretAccessor for the caller grants access; a role without access or another member does not', async () => {
    const id = fresh();
    enforced.addVersion(id, 'granted-value');
    await grant(id, [{ role: 'roles/secretmanager.viewer', members: [CALLER] }]);
    await expectDenied(latest(id));
    await grant(id, [{ role: ACCESSOR, members: ['user:someone-else@example.com'] }]);
    await expectDenied(latest(id));
    await grant(id, [{ role: ACCESSOR, members: [CALLER] }]);
    expect(await access(latest(id))).toBe('granted-value');
    // with access, the store answers as always: a missing version NOT_FOUND, a disabled one FAILED_PRECONDITION
    expect((await failure(access(`${secretPath(id)}/versions/9`), mode)).code).toBe(S.NOT_FOUND);
    enforced.disableVersion(id, '1');
    expect((await failure(access(`${secretPath(id)}/versions/1`), mode)).code).toBe(S.FAILED_PRECONDITION);
    enforced.enableVersion(id, '1');
    // removing the binding takes access away again
    await client.setIamPolicy({ resource: secretPath(id), policy: { bindings: [] } }, o);
    await expectDenied(latest(id));
  });

  it('a binding to one of the caller’s groups, allAuthenticatedUsers, allUsers; admin and owner grant', async () => {
    const id = fresh();
    enforced.addVersion(id, 'shared-value');
    const grants: [string, string][] = [
      [ACCESSOR, GROUP],
      [ACCESSOR, 'allAuthenticatedUsers'],
      [ACCESSOR, 'allUsers'],
      ['roles/secretmanager.admin', CALLER],
      ['roles/owner', CALLER],
    ];
    for (const [role, member] of grants) {
      await grant(id, [{ role, members: [member] }]);
      expect(await access(latest(id))).toBe('shared-value');
    }
    // `domain:` is "all the users of that domain" (Policy reference): not a service account of it
    await grant(id, [{ role: ACCESSOR, members: ['group:other@example.com', `domain:${P}.iam.gserviceaccount.com`] }]);
    await expectDenied(latest(id));
  });

  it('a user caller: a binding to its domain grants, to another domain does not', async () => {
    const emulator = await startSecretManagerEmulator({ iam: { enforce: true, caller: 'user:alice@example.com' } });
    const alice = clientFor(emulator);
    try {
      emulator.addVersion('domain', 'domain-value');
      const resource = secretPath('domain');
      const set = (member: string) =>
        alice.setIamPolicy({ resource, policy: { bindings: [{ role: ACCESSOR, members: [member] }] } }, o);
      await set('domain:example.org');
      const f = await failure(alice.accessSecretVersion({ name: latest('domain') }, o), mode);
      expect(f.code).toBe(S.PERMISSION_DENIED);
      expect(f.text).toBe(denied(latest('domain')));
      await set('domain:example.com');
      const [res] = await alice.accessSecretVersion({ name: latest('domain') }, o);
      expect(Buffer.from(res.payload?.data as Uint8Array).toString()).toBe('domain-value');
    } finally {
      await alice.close();
      await emulator.close();
    }
  });

  it('a conditional binding grants nothing (conditions are not evaluated)', async () => {
    const id = fresh();
    enforced.addVersion(id, 'conditional-value');
    const condition = { title: 'until 2100', expression: 'request.time < timestamp("2100-01-01T00:00:00Z")' };
    await grant(id, [{ role: ACCESSOR, members: [CALLER], condition }]);
    await expectDenied(latest(id));
  });

  it('a regional secret’s own policy applies to its versions', async () => {
    const id = fresh();
    enforced.addVersion(id, 'regional-value', { location: 'europe-west1' });
    const secret = `projects/${P}/locations/europe-west1/secrets/${id}`;
    await expectDenied(`${secret}/versions/latest`);
    await grant(id, [{ role: ACCESSOR, members: [CALLER] }], secret);
    expect(await access(`${secret}/versions/latest`)).toBe('regional-value');
    await expectDenied(latest(id)); // the global secret of that ID does not exist
  });

  it('only AccessSecretVersion is checked; TestIamPermissions answers what the policy grants the caller', async () => {
    const id = fresh();
    enforced.addVersion(id, 'other-rpcs');
    const [secret] = await client.getSecret({ name: secretPath(id) }, o);
    expect(secret.name).toContain(`/secrets/${id}`);
    const [version] = await client.getSecretVersion({ name: `${secretPath(id)}/versions/1` }, o);
    expect(version.state).toBe('ENABLED');
    const permissions = ['secretmanager.versions.access', 'secretmanager.secrets.get'];
    expect(
      (await client.testIamPermissions({ resource: secretPath(id), permissions }, o))[0].permissions ?? [],
    ).toEqual([]);
    await grant(id, [{ role: ACCESSOR, members: [CALLER] }]);
    expect((await client.testIamPermissions({ resource: secretPath(id), permissions }, o))[0].permissions).toEqual([
      'secretmanager.versions.access',
    ]);
    await grant(id, [{ role: 'roles/secretmanager.admin', members: [GROUP] }]);
    expect((await client.testIamPermissions({ resource: secretPath(id), permissions }, o))[0].permissions).toEqual(
      permissions,
    );
  });
});

describe.each([['grpc'], ['rest']] as const)('IAM error wording over %s', (mode: Mode) => {
  it('a stale etag on SetIamPolicy: ABORTED (HTTP 409) in IAM’s words', async () => {
    // "There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff."
    // with status ABORTED and code 409, as quoted from the service in DataBiosphere/leonardo#737.
    const emulator = await startSecretManagerEmulator();
    const client = new SecretManagerServiceClient(
      mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions,
    );
    try {
      emulator.createSecret('etag');
      const resource = `projects/${P}/secrets/etag`;
      const bindings = [{ role: ACCESSOR, members: [CALLER] }];
      const [first] = await client.setIamPolicy({ resource, policy: { bindings } }, o);
      await client.setIamPolicy({ resource, policy: { bindings, etag: first.etag as Uint8Array } }, o);
      const f = await failure(
        client.setIamPolicy({ resource, policy: { bindings: [], etag: first.etag as Uint8Array } }, o),
        mode,
      );
      expect(f.code).toBe(10);
      expect(f.text).toBe(
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      );
      if (f.httpStatusCode !== undefined) expect(f.httpStatusCode).toBe(409);
    } finally {
      await client.close();
      await emulator.close();
    }
  });
});

/**
 * The predefined roles as the roles page lists them (https://cloud.google.com/iam/docs/roles-permissions/secretmanager,
 * and the Secret Manager access-control page): secretVersionAdder `versions.add`; secretVersionManager
 * `versions.add/.destroy/.disable/.enable/.get/.list`; viewer `locations.*`, `secrets.get`, `secrets.getIamPolicy`,
 * `secrets.list`, `versions.get`, `versions.list`; admin `secretmanager.*`. A `roles/secretmanager.…` role the page
 * does not list is refused in IAM's words: "Role (roles/…) does not exist in the resource's hierarchy." (HTTP 400).
 * The emulator has no catalogue of other roles: any other role name is accepted and grants nothing on a secret.
 */
describe.each([['grpc'], ['rest']] as const)('IAM roles over %s', (mode: Mode) => {
  let emulator: SecretManagerEmulator;
  let client: SecretManagerServiceClient;
  const ALL = [
    'secretmanager.secrets.get',
    'secretmanager.secrets.getIamPolicy',
    'secretmanager.secrets.setIamPolicy',
    'secretmanager.secrets.update',
    'secretmanager.secrets.delete',
    'secretmanager.versions.access',
    'secretmanager.versions.add',
    'secretmanager.versions.destroy',
    'secretmanager.versions.disable',
    'secretmanager.versions.enable',
    'secretmanager.versions.get',
    'secretmanager.versions.list',
  ];
  const VIEWER = [
    'secretmanager.secrets.get',
    'secretmanager.secrets.getIamPolicy',
    'secretmanager.versions.get',
    'secretmanager.versions.list',
  ];
  const VERSION_MANAGER = [
    'secretmanager.versions.add',
    'secretmanager.versions.destroy',
    'secretmanager.versions.disable',
    'secretmanager.versions.enable',
    'secretmanager.versions.get',
    'secretmanager.versions.list',
  ];
  const resource = `projects/${P}/secrets/roles`;

  beforeAll(async () => {
    emulator = await startSecretManagerEmulator({ iam: { enforce: true, caller: CALLER } });
    client = new SecretManagerServiceClient(mode === 'grpc' ? emulator.clientOptions : emulator.restClientOptions);
    emulator.addVersion('roles', 'roles-value');
  });
  afterAll(async () => {
    await client?.close();
    await emulator?.close();
  });

  const held = async (role: string): Promise<string[]> => {
    await client.setIamPolicy({ resource, policy: { bindings: [{ role, members: [CALLER] }] } }, o);
    const [res] = await client.testIamPermissions({ resource, permissions: ALL }, o);
    return [...(res.permissions ?? [])].sort();
  };

  it('TestIamPermissions answers what each predefined and basic role grants', async () => {
    expect(await held('roles/secretmanager.secretVersionAdder')).toEqual(['secretmanager.versions.add']);
    expect(await held('roles/secretmanager.secretVersionManager')).toEqual(VERSION_MANAGER);
    expect(await held('roles/secretmanager.viewer')).toEqual(VIEWER);
    expect(await held('roles/secretmanager.secretAccessor')).toEqual(['secretmanager.versions.access']);
    expect(await held('roles/secretmanager.admin')).toEqual([...ALL].sort());
    expect(await held('roles/owner')).toEqual([...ALL].sort());
    expect(await held('roles/viewer')).toEqual(VIEWER);
    const editor = await held('roles/editor');
    expect(editor).toContain('secretmanager.versions.access');
    expect(editor).toContain('secretmanager.versions.add');
    expect(editor).not.toContain('secretmanager.secrets.setIamPolicy');
  });

  it('enforcement follows the role: versionManager and viewer may not access, editor may', async () => {
    const name = `${resource}/versions/latest`;
    for (const role of ['roles/secretmanager.secretVersionManager', 'roles/secretmanager.viewer', 'roles/viewer']) {
      await client.setIamPolicy({ resource, policy: { bindings: [{ role, members: [CALLER] }] } }, o);
      expect((await failure(client.accessSecretVersion({ name }, o), mode)).code, role).toBe(S.PERMISSION_DENIED);
    }
    await client.setIamPolicy({ resource, policy: { bindings: [{ role: 'roles/editor', members: [CALLER] }] } }, o);
    const [res] = await client.accessSecretVersion({ name }, o);
    expect(Buffer.from(res.payload?.data as Uint8Array).toString()).toBe('roles-value');
  });

  it('SetIamPolicy refuses a Secret Manager role the page does not list, in IAM’s words (HTTP 400)', async () => {
    for (const role of ['roles/secretmanager.secretWriter', 'roles/secretmanager.Viewer', 'roles/secretmanager.nope']) {
      const f = await failure(
        client.setIamPolicy({ resource, policy: { bindings: [{ role, members: [CALLER] }] } }, o),
        mode,
      );
      expect(f.code, role).toBe(3);
      expect(f.text).toBe(`Role (${role}) does not exist in the resource's hierarchy.`);
      if (f.httpStatusCode !== undefined) expect(f.httpStatusCode).toBe(400);
    }
    // Another service's role exists: accepted, and it grants nothing on a secret.
    expect(await held('roles/storage.admin')).toEqual([]);
  });

  it('any other role name is accepted and grants nothing: roles/browser, roles/iam.securityReviewer', async () => {
    // roles/browser is a real role with no service prefix (grantable at project level); the emulator knows no
    // catalogue beyond Secret Manager's and the basic roles, so an unknown name (roles/superuser) is taken too
    for (const role of ['roles/browser', 'roles/iam.securityReviewer', 'roles/superuser']) {
      expect(await held(role), role).toEqual([]);
      const [policy] = await client.getIamPolicy({ resource }, o);
      expect(policy.bindings?.map((b) => b.role)).toEqual([role]);
      const f = await failure(client.accessSecretVersion({ name: `${resource}/versions/latest` }, o), mode);
      expect(f.code, role).toBe(S.PERMISSION_DENIED);
    }
  });
});

describe('IAM enforcement option', () => {
  it.each([
    ['no caller', { enforce: true }],
    ['a group as the caller', { enforce: true, caller: GROUP }],
    ['a caller that is no principal', { enforce: true, caller: 'app@example.com' }],
    ['a group that is no group', { enforce: true, caller: CALLER, groups: ['user:a@example.com'] }],
    ['enforce not a boolean', { enforce: 'yes', caller: CALLER }],
  ])('refuses %s with a ConfigurationError, before anything listens', async (_, iam) => {
    await expect(startSecretManagerEmulator({ iam: iam as never })).rejects.toBeInstanceOf(ConfigurationError);
  });

  it('enforce: false needs no caller and enforces nothing', async () => {
    const emulator = await startSecretManagerEmulator({ iam: { enforce: false } });
    const client = new SecretManagerServiceClient(emulator.clientOptions);
    try {
      emulator.addVersion('plain', 'plain-value');
      const [res] = await client.accessSecretVersion({ name: `projects/${P}/secrets/plain/versions/latest` }, o);
      expect(Buffer.from(res.payload?.data as Uint8Array).toString()).toBe('plain-value');
    } finally {
      await client.close();
      await emulator.close();
    }
  });
});
