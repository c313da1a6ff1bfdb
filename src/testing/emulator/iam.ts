import { randomBytes } from 'node:crypto';
import { ConfigurationError } from '../../errors.js';
import { GrpcCode, parseVersionName, secretName } from '../../sources/gcp-names.js';
import { permissionDenied, RpcError } from './status.js';
import type { SecretStore } from './store.js';

/**
 * IAM on secrets: GetIamPolicy, SetIamPolicy, TestIamPermissions, with the semantics the reference gives.
 * Policies live here, keyed by the secret's canonical name (the one GetSecret answers, with the project
 * NUMBER) and tied to that secret's create_time, so that a deleted and re-created secret starts with no policy.
 * Existence is checked through the store's own GetSecret, so names, projects and expiry behave as for every RPC.
 *
 * - projects.secrets.getIamPolicy: "Returns empty policy if the secret exists and does not have a policy set."
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/getIamPolicy
 * - projects.secrets.testIamPermissions: "If the secret does not exist, this call returns an empty set of
 *   permissions, not a NOT_FOUND error." Permissions with wildcards are not allowed.
 *   https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/testIamPermissions
 * - Policy (google.iam.v1): version 0, 1 or 3, other values are rejected; conditional bindings need version 3;
 *   each binding has at least one member; the etag is for read-modify-write: a stale one fails (ABORTED, HTTP
 *   409, as IAM answers a concurrent policy change). https://cloud.google.com/iam/docs/reference/rest/v1/Policy
 *   The service's words for it: "There were concurrent policy changes. Please retry the whole read-modify-write
 *   with exponential backoff." (status ABORTED, code 409; quoted in DataBiosphere/leonardo#737).
 * - Optional enforcement ({@link IamEnforcementOptions}): AccessSecretVersion needs `secretmanager.versions.access`,
 *   which roles/secretmanager.secretAccessor ("Allows accessing the payload of secrets") and
 *   roles/secretmanager.admin (`secretmanager.*`) grant (https://cloud.google.com/iam/docs/roles-permissions/
 *   secretmanager), and the basic roles/owner. A denial is worded as the service words it: "Permission
 *   'secretmanager.versions.access' denied for resource 'projects/P/secrets/S/versions/1' (or it may not exist)."
 *   (PERMISSION_DENIED, HTTP 403; GoogleCloudPlatform/java-docs-samples#6571 over gRPC,
 *   GoogleCloudPlatform/terraform-gcp-datadog-integration#2 over REST), also for a secret that does not exist.
 */

type Obj = Record<string, unknown>;

interface Binding {
  role: string;
  members: string[];
  condition?: Obj;
}

interface StoredPolicy {
  createTime: string;
  version: number;
  bindings: Binding[];
  etag: Buffer;
}

/** The etag IAM answers for a resource without a policy ("ACAB" in JSON). */
const EMPTY_ETAG = Buffer.from('ACAB', 'base64');
const VALID_VERSIONS = new Set([0, 1, 3]);
/** Principal prefixes of a binding's members (`user:a@example.com`, …); also allUsers, allAuthenticatedUsers. */
const MEMBER_PREFIXES = [
  'user:',
  'serviceAccount:',
  'group:',
  'domain:',
  'deleted:user:',
  'deleted:serviceAccount:',
  'deleted:group:',
  'projectOwner:',
  'projectEditor:',
  'projectViewer:',
  'principal://',
  'principalSet://',
];
const isMember = (m: string): boolean =>
  m === 'allUsers' ||
  m === 'allAuthenticatedUsers' ||
  (!/\s/.test(m) && MEMBER_PREFIXES.some((prefix) => m.startsWith(prefix) && m.length > prefix.length));
const ROLE = /^(?:roles\/[A-Za-z0-9_.]+|(?:projects|organizations)\/[^/]+\/roles\/[A-Za-z0-9_.]+)$/;
/** The permissions a secret has (IAM's testable permissions on secretmanager.googleapis.com/Secret). */
const SECRET_PERMISSION = /^secretmanager\.(?:secrets|versions)\.[A-Za-z]+$/;

export const IAM_METHODS = new Set(['GetIamPolicy', 'SetIamPolicy', 'TestIamPermissions']);

/**
 * Optional IAM enforcement (`SecretManagerEmulatorOptions.iam`). Off by default: every call is allowed, whatever
 * the policies say. With `enforce: true`, AccessSecretVersion succeeds only when the secret's policy (set with
 * SetIamPolicy) grants `caller` a role holding `secretmanager.versions.access` — roles/secretmanager.secretAccessor,
 * roles/secretmanager.admin, roles/owner or roles/editor (see ROLE_PERMISSIONS), in a binding that names `caller`,
 * one of its `groups`, its domain (`domain:example.com`, for a `user:` caller), `allAuthenticatedUsers` or
 * `allUsers`. Otherwise it answers
 * PERMISSION_DENIED as the service does: `Permission 'secretmanager.versions.access' denied for resource '<the name
 * asked for>' (or it may not exist).` — also when the secret does not exist, since the service does not tell a
 * caller without access.
 * TestIamPermissions then answers the permissions the policy grants `caller` (not every permission).
 *
 * Not imitated: policies inherited from the project, folder or organization (there are none: the emulator's project
 * grants nothing), custom roles (`projects/P/roles/R` grant nothing), a catalogue of roles (any role name outside
 * `roles/secretmanager.` is accepted, real or not — `roles/browser`, `roles/iam.securityReviewer` — and grants nothing
 * unless it is roles/owner, roles/editor or roles/viewer), and conditions (a conditional binding grants
 * nothing, whatever its expression). The other RPCs and the admin helpers are never checked.
 * @example
 * const emulator = await startSecretManagerEmulator({
 *   iam: { enforce: true, caller: 'serviceAccount:app@my-project.iam.gserviceaccount.com' },
 * });
 */
export interface IamEnforcementOptions {
  /**
   * Enforce the secrets' policies on AccessSecretVersion.
   * @default false
   */
  enforce?: boolean;
  /**
   * Who calls: a principal as a binding names it, `user:…`, `serviceAccount:…` or `principal://…`. Required when
   * `enforce` is true.
   * @default none (no caller: required when `enforce` is true)
   */
  caller?: string;
  /**
   * The groups the caller belongs to (`group:ops@example.com`): a binding to one of them grants the caller too.
   * @default []
   */
  groups?: readonly string[];
}

/**
 * What each role grants of a secret's permissions; `*` is every one of them.
 * The Secret Manager predefined roles as the roles page lists them
 * (https://cloud.google.com/iam/docs/roles-permissions/secretmanager, also
 * https://cloud.google.com/secret-manager/docs/access-control): Admin `secretmanager.*`; Secret Accessor "Allows
 * accessing the payload of secrets" (`versions.access`); Secret Version Adder "Allows adding versions to existing
 * secrets" (`versions.add`); Secret Version Manager "Allows creating and managing versions of existing secrets"
 * (`versions.add`, `.destroy`, `.disable`, `.enable`, `.get`, `.list`); Viewer "Allows viewing metadata of all
 * Secret Manager resources" (`locations.*`, `secrets.get`, `secrets.getIamPolicy`, `secrets.list`, `versions.get`,
 * `versions.list`). roles/secretmanager.editor ("Editor role for secretmanager") is on the page too, but the stored
 * copy searched cuts its list after `secretmanager.locations.*`: the emulator accepts it and grants it what is
 * certain of an editor role on this page, the viewer's permissions.
 * The basic roles (https://cloud.google.com/iam/docs/roles-overview#basic): Viewer "read-only actions that don't
 * affect state", Editor "all viewer permissions, plus permissions for actions that modify state", Owner "all editor
 * permissions" plus managing roles and permissions (setIamPolicy). Which secretmanager permissions each holds is
 * not listed on a page searched: the emulator gives Viewer the Secret Manager Viewer's permissions, Editor those
 * plus every permission that changes a secret or reads a payload, but not setIamPolicy, and Owner all of them.
 */
const VIEWER: readonly string[] = [
  'secretmanager.locations.get',
  'secretmanager.locations.list',
  'secretmanager.secrets.get',
  'secretmanager.secrets.getIamPolicy',
  'secretmanager.secrets.list',
  'secretmanager.versions.get',
  'secretmanager.versions.list',
];
const VERSION_MANAGER: readonly string[] = [
  'secretmanager.versions.add',
  'secretmanager.versions.destroy',
  'secretmanager.versions.disable',
  'secretmanager.versions.enable',
  'secretmanager.versions.get',
  'secretmanager.versions.list',
];
const ROLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  'roles/owner': ['*'],
  'roles/editor': [
    ...VIEWER,
    ...VERSION_MANAGER,
    'secretmanager.secrets.create',
    'secretmanager.secrets.delete',
    'secretmanager.secrets.update',
    'secretmanager.versions.access',
  ],
  'roles/viewer': VIEWER,
  'roles/secretmanager.admin': ['*'],
  'roles/secretmanager.editor': VIEWER,
  'roles/secretmanager.secretAccessor': ['secretmanager.versions.access'],
  'roles/secretmanager.secretVersionAdder': ['secretmanager.versions.add'],
  'roles/secretmanager.secretVersionManager': VERSION_MANAGER,
  'roles/secretmanager.viewer': VIEWER,
};
/**
 * Whether SetIamPolicy refuses `role` as one that does not exist: only a `roles/secretmanager.…` role the roles
 * page does not list (https://cloud.google.com/iam/docs/roles-permissions/secretmanager), in IAM's words for it:
 * "Role (roles/…) does not exist in the resource's hierarchy." (INVALID_ARGUMENT, HTTP 400, as gcloud and
 * Terraform quote it). The emulator holds no catalogue of other roles, so any other well-formed role name is
 * accepted — another service's (`roles/storage.admin`), a basic or cross-service one (`roles/browser`,
 * `roles/iam.securityReviewer`), a custom one (`projects/P/roles/R`), and also a name no real role has — and
 * grants nothing on a secret, except the basic roles in ROLE_PERMISSIONS.
 */
const unknownRole = (role: string): boolean =>
  role.startsWith('roles/secretmanager.') && !Object.hasOwn(ROLE_PERMISSIONS, role);
const ACCESS = 'secretmanager.versions.access';

const invalid = (message: string): RpcError => new RpcError(GrpcCode.INVALID_ARGUMENT, message);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export class IamPolicies {
  private readonly policies = new Map<string, StoredPolicy>();
  /** The principals bindings may name to grant the caller; undefined when nothing is enforced. */
  private readonly principals: ReadonlySet<string> | undefined;

  constructor(
    private readonly store: SecretStore,
    options: IamEnforcementOptions = {},
  ) {
    this.principals = enforcedPrincipals(options);
  }

  handle(method: string, request: Obj): Obj | undefined {
    switch (method) {
      case 'AccessSecretVersion':
        this.checkAccess(request.name);
        return undefined; // the store answers
      case 'GetIamPolicy':
        return this.get(request);
      case 'SetIamPolicy':
        return this.set(request);
      case 'TestIamPermissions':
        return this.test(request);
      default:
        return undefined;
    }
  }

  /** The secret (as GetSecret answers it) or GetSecret's error: NOT_FOUND, PERMISSION_DENIED, INVALID_ARGUMENT. */
  private secret(resource: unknown): { name: string; createTime: string } {
    const secret = this.store.handle('GetSecret', { name: str(resource) }) as Obj;
    const created = secret.createTime as { seconds?: unknown; nanos?: unknown } | undefined;
    return { name: str(secret.name), createTime: `${String(created?.seconds)}.${String(created?.nanos)}` };
  }

  private current(secret: { name: string; createTime: string }): StoredPolicy | undefined {
    const policy = this.policies.get(secret.name);
    if (policy && policy.createTime !== secret.createTime) {
      this.policies.delete(secret.name);
      return undefined;
    }
    return policy;
  }

  private get(request: Obj): Obj {
    const secret = this.secret(request.resource);
    const options = isObj(request.options) ? request.options : {};
    const requested = Number(options.requestedPolicyVersion ?? 0);
    if (!VALID_VERSIONS.has(requested))
      throw invalid(`Invalid requested policy version ${requested}: valid values are 0, 1 and 3.`);
    const policy = this.current(secret);
    if (!policy) return { etag: EMPTY_ETAG };
    if (policy.version === 3 && requested !== 3)
      throw invalid(
        'The policy has conditional role bindings: request policy version 3 (options.requestedPolicyVersion).',
      );
    return view(policy);
  }

  private set(request: Obj): Obj {
    const secret = this.secret(request.resource);
    if (!isObj(request.policy)) throw invalid('The request must contain a policy.');
    const policy = request.policy;
    const version = Number(policy.version ?? 0);
    if (!VALID_VERSIONS.has(version)) throw invalid(`Invalid policy version ${version}: valid values are 0, 1 and 3.`);
    const bindings = Array.isArray(policy.bindings) ? (policy.bindings as Obj[]) : [];
    const merged = new Map<string, Binding>();
    let conditional = false;
    for (const b of bindings) {
      const role = str(b.role);
      if (!ROLE.test(role) || unknownRole(role))
        throw invalid(`Role (${role}) does not exist in the resource's hierarchy.`);
      const members = Array.isArray(b.members) ? (b.members as unknown[]).map(str) : [];
      if (members.length === 0) throw invalid(`The binding for role ${role} has no members.`);
      for (const member of members)
        if (!isMember(member)) throw invalid(`Invalid principal: ${member} (for role ${role}).`);
      const condition = isObj(b.condition) && Object.keys(b.condition).length > 0 ? b.condition : undefined;
      if (condition) {
        conditional = true;
        if (version !== 3)
          throw invalid('A policy with conditional role bindings must be version 3 (set policy.version to 3).');
        if (str(condition.expression) === '') throw invalid(`The condition of role ${role} has no expression.`);
      }
      const key = `${role}\n${condition ? JSON.stringify(condition) : ''}`;
      const into = merged.get(key) ?? { role, members: [], ...(condition ? { condition } : {}) };
      for (const member of members) if (!into.members.includes(member)) into.members.push(member);
      merged.set(key, into);
    }
    const existing = this.current(secret);
    const given = Buffer.isBuffer(policy.etag) ? policy.etag : Buffer.from(str(policy.etag), 'base64');
    if (given.length > 0 && !given.equals(existing?.etag ?? EMPTY_ETAG)) {
      throw new RpcError(
        GrpcCode.ABORTED,
        'There were concurrent policy changes. Please retry the whole read-modify-write with exponential backoff.',
      );
    }
    const stored: StoredPolicy = {
      createTime: secret.createTime,
      version: conditional ? 3 : 1,
      bindings: [...merged.values()],
      etag: randomBytes(8),
    };
    this.policies.set(secret.name, stored);
    return view(stored);
  }

  /** Enforcement on AccessSecretVersion: PERMISSION_DENIED unless the secret's policy grants the caller access. */
  private checkAccess(name: unknown): void {
    if (!this.principals) return;
    const ref = parseVersionName(name);
    if (!ref) return; // a malformed name: the store's INVALID_ARGUMENT
    // A missing secret, or another project: the caller may not learn which.
    const secret = this.secretOrNone(secretName(ref));
    const granted = secret === undefined ? undefined : this.granted(secret, this.principals);
    if (!granted?.has('*') && !granted?.has(ACCESS)) throw permissionDenied(ACCESS, str(name));
  }

  /** The secret, or undefined when it is missing or in another project (NOT_FOUND, PERMISSION_DENIED). */
  private secretOrNone(resource: unknown): { name: string; createTime: string } | undefined {
    try {
      return this.secret(resource);
    } catch (error) {
      if (error instanceof RpcError && (error.code === GrpcCode.NOT_FOUND || error.code === GrpcCode.PERMISSION_DENIED))
        return undefined;
      throw error;
    }
  }

  /** The permissions the secret's policy grants the caller ('*' for all of them). */
  private granted(secret: { name: string; createTime: string }, principals: ReadonlySet<string>): Set<string> {
    const out = new Set<string>();
    for (const binding of this.current(secret)?.bindings ?? []) {
      if (binding.condition) continue; // conditions are not evaluated: they grant nothing
      if (!binding.members.some((m) => principals.has(m))) continue;
      for (const p of Object.hasOwn(ROLE_PERMISSIONS, binding.role) ? (ROLE_PERMISSIONS[binding.role] ?? []) : [])
        out.add(p);
    }
    return out;
  }

  private test(request: Obj): Obj {
    const permissions = Array.isArray(request.permissions) ? (request.permissions as unknown[]).map(str) : [];
    for (const p of permissions)
      if (p.includes('*')) throw invalid(`Permissions with wildcards (${p}) are not allowed.`);
    // "If the secret does not exist, this call returns an empty set of permissions, not a NOT_FOUND error."
    const secret = this.secretOrNone(request.resource);
    if (secret === undefined) return { permissions: [] };
    const known = permissions.filter((p) => SECRET_PERMISSION.test(p));
    // Without enforcement the emulator's caller holds every permission on the secrets of its project.
    if (!this.principals) return { permissions: known };
    const granted = this.granted(secret, this.principals);
    return { permissions: known.filter((p) => granted.has('*') || granted.has(p)) };
  }
}

/** The principals a binding may name to grant the caller, or undefined when enforcement is off; checks the option. */
function enforcedPrincipals(options: IamEnforcementOptions): ReadonlySet<string> | undefined {
  if (!isObj(options)) throw new ConfigurationError('Invalid iam option: an object ({ enforce, caller, groups }).');
  if (options.enforce !== undefined && typeof options.enforce !== 'boolean')
    throw new ConfigurationError('Invalid iam.enforce: true or false.');
  if (!options.enforce) return undefined;
  const caller = options.caller;
  const isCaller = (c: unknown): c is string =>
    typeof c === 'string' && isMember(c) && !c.startsWith('group:') && !c.startsWith('domain:') && !c.startsWith('all');
  if (!isCaller(caller)) {
    throw new ConfigurationError(
      `Invalid iam.caller ${JSON.stringify(caller)}: enforcement needs the caller as a principal, e.g. ` +
        "'serviceAccount:app@my-project.iam.gserviceaccount.com' or 'user:alice@example.com'.",
    );
  }
  const groups = options.groups ?? [];
  if (!Array.isArray(groups)) throw new ConfigurationError('Invalid iam.groups: an array of group:… principals.');
  for (const group of groups as unknown[]) {
    if (typeof group !== 'string' || !group.startsWith('group:') || !isMember(group))
      throw new ConfigurationError(`Invalid iam.groups entry ${JSON.stringify(group)}: 'group:name@example.com'.`);
  }
  const principals = new Set<string>([caller, ...(groups as string[]), 'allUsers', 'allAuthenticatedUsers']);
  // `domain:D` is "all the users of that domain" (Policy reference): user accounts, not service accounts.
  const domain = /^user:[^@]+@(.+)$/.exec(caller)?.[1];
  if (domain) principals.add(`domain:${domain}`);
  return principals;
}

function view(policy: StoredPolicy): Obj {
  return {
    version: policy.version,
    bindings: policy.bindings.map((b) => ({ ...b, members: [...b.members] })),
    etag: policy.etag,
  };
}
