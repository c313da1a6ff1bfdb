/**
 * The management API that `startMockProvider` serves beside the inference API when given `management` (OpenAI and
 * Anthropic only): keys minted, listed, described and revoked; a revoked key refused on inference; `last_used_at`
 * and usage buckets built from the requests the mock really served, shown after the configured reporting lag.
 * `mock-provider.ts` wires it in: it checks the path, then calls {@link MockManagement.handle}, and reports every
 * served inference request through {@link MockManagement.served}.
 */
import type { IncomingMessage } from 'node:http';
import { isRecord } from '../../check.js';
import { ConfigurationError } from '../../errors.js';
import { refuseNonAdmin } from './admin-auth.js';
import { anthropicManagement, isAnthropicManagementPath } from './anthropic-routes.js';
import type { ManagementFamily, MockAnswer } from './answer.js';
import type { ManagementContext } from './context.js';
import { randomToken } from './ids.js';
import { createKeyStore, type StoredKey } from './key-store.js';
import { isOpenaiManagementPath, openaiManagement } from './openai-routes.js';
import { createUsageLog } from './usage-log.js';
import type { MockManagedKey, MockManagementOptions, MockMintedKey, MockMintOptions } from './types.js';

export type { MockManagedKey, MockManagementOptions, MockMintedKey, MockMintOptions } from './types.js';

/** What the inference side of the mock gives the management API. */
export interface InferenceSide {
  /** The HMAC digest the mock holds keys by. */
  digest(key: string): string;
  /** Whether the inference routes accept this digest now. */
  isLive(digest: string): boolean;
  /** Accept this digest on inference (`alive`). */
  enable(digest: string): void;
  /** Refuse this digest on inference. */
  disable(digest: string): void;
}

/** The management API of one mock. */
export interface MockManagement {
  /** Whether `path` (the request path below the preset's base path) is a management path. */
  handles(path: string): boolean;
  /** The answer to one management request (`path` below the preset's base path). */
  handle(req: IncomingMessage, path: string, url: URL, body: unknown, requestId: string): MockAnswer;
  /** Registers a key the inference side accepts (from `keys` or `accept`) as a console key; reactivates it. */
  register(key: string): void;
  /** Whether the management API switched this key off (deleted, inactive, archived or expired). */
  refuses(digest: string): boolean;
  /** An inference request with this key succeeded: `chat` counts as a model request with its tokens. */
  served(digest: string, route: 'probe' | 'chat', model: string, tokens: { input: number; output: number }): void;
  mint(options?: string | MockMintOptions): MockMintedKey;
  keys(): MockManagedKey[];
  keyId(key: string): string | undefined;
}

/** Checks the `management` option and builds the management API of a mock of `family`. */
export function createMockManagement(
  family: string,
  options: MockManagementOptions,
  inference: InferenceSide,
): MockManagement {
  if (family !== 'openai' && family !== 'anthropic')
    throw new ConfigurationError('startMockProvider: `management` is served for the openai and anthropic presets only');
  const checked = checkOptions(options);
  const store = createKeyStore(family);
  const admins = new Set(checked.adminKeys.map((key) => inference.digest(key)));
  const ctx: ManagementContext = {
    store,
    usage: createUsageLog(),
    now: checked.now,
    lagMs: checked.lagMs,
    pageSize: checked.pageSize,
    project: checked.project,
    workspace: checked.workspace,
    userId: family === 'openai' ? 'user_keyflipmock' : 'user_01KeyflipMockUser00000',
    digest: inference.digest,
    enable: (key: StoredKey) => inference.enable(key.digest),
    disable: (key: StoredKey) => inference.disable(key.digest),
  };
  const fam: ManagementFamily = family;

  const mint = (options?: string | MockMintOptions): MockMintedKey => {
    const opts: MockMintOptions = typeof options === 'string' ? { name: options } : (options ?? {});
    const { name, createdAtMs, expiresAtMs } = isRecord(opts) ? opts : { name: 0 };
    const badTime = (t: unknown): boolean => t !== undefined && (typeof t !== 'number' || !Number.isFinite(t));
    if (
      (name !== undefined && (typeof name !== 'string' || name === '')) ||
      badTime(createdAtMs) ||
      badTime(expiresAtMs)
    )
      throw new ConfigurationError('mock.mint: give a name or { name?, createdAtMs?, expiresAtMs? } (ms)');
    const value =
      fam === 'openai' ? `sk-proj-${randomToken(64)}` : `sk-ant-api03-${randomToken(86)}-${randomToken(6)}AA`;
    const key = store.add({
      digest: inference.digest(value),
      value,
      name: (name as string | undefined) ?? (fam === 'openai' ? 'Secret key' : 'Mock key'),
      createdAtMs: (createdAtMs as number | undefined) ?? ctx.now(),
      expiresAtMs: expiresAtMs as number | undefined,
    });
    inference.enable(key.digest);
    return { id: key.id, value };
  };

  return {
    handles: (path) => (fam === 'openai' ? isOpenaiManagementPath(path) : isAnthropicManagementPath(path)),
    handle(req, path, url, body, requestId) {
      const refused = refuseNonAdmin(
        fam,
        req,
        {
          digest: inference.digest,
          isAdmin: (digest) => admins.has(digest),
          isInferenceKey: (digest) => inference.isLive(digest) || store.byDigest(digest) !== undefined,
        },
        requestId,
      );
      if (refused !== undefined) return refused;
      return fam === 'openai'
        ? openaiManagement(ctx, req.method ?? 'GET', path, url, body)
        : anthropicManagement(ctx, req, path, url, body, requestId);
    },
    register(value) {
      const digest = inference.digest(value);
      const known = store.byDigest(digest);
      if (known === undefined) {
        store.add({ digest, value, name: fam === 'openai' ? 'Secret key' : 'Mock key', createdAtMs: ctx.now() });
      } else if (known.state !== 'active') known.state = 'active';
    },
    refuses(digest) {
      const key = store.byDigest(digest);
      return key !== undefined && store.statusOf(key, ctx.now()) !== 'active';
    },
    served(digest, route, model, tokens) {
      const key = store.byDigest(digest);
      if (key === undefined) return;
      const atMs = ctx.now();
      key.lastUsedAtMs = atMs;
      if (route !== 'chat') return;
      key.requests++;
      ctx.usage.record({ keyId: key.id, atMs, model, inputTokens: tokens.input, outputTokens: tokens.output });
    },
    mint,
    keys: () => store.all().map((key) => store.describe(key, ctx.now())),
    keyId: (value) => store.byDigest(inference.digest(value))?.id,
  };
}

interface CheckedOptions {
  adminKeys: readonly string[];
  project: string;
  workspace: string;
  lagMs: number;
  pageSize: number;
  now: () => number;
}

function checkOptions(options: MockManagementOptions): CheckedOptions {
  const fail = (what: string): never => {
    throw new ConfigurationError(`startMockProvider: management.${what}`);
  };
  if (!isRecord(options)) fail('… must be { adminKeys, project?, workspace?, lagMs?, pageSize?, now? }');
  const { adminKeys, project, workspace, lagMs, pageSize, now } = options;
  if (!Array.isArray(adminKeys) || adminKeys.length === 0 || adminKeys.some((k) => typeof k !== 'string' || k === ''))
    fail('adminKeys must be a non-empty list of non-empty strings');
  if (project !== undefined && (typeof project !== 'string' || !/^[\w-]+$/.test(project)))
    fail('project must be a project id (letters, digits, _ and -)');
  if (workspace !== undefined && (typeof workspace !== 'string' || !/^[\w-]+$/.test(workspace)))
    fail('workspace must be a workspace id (letters, digits, _ and -)');
  if (lagMs !== undefined && (typeof lagMs !== 'number' || !Number.isFinite(lagMs) || lagMs < 0))
    fail('lagMs must be a number of milliseconds ≥ 0');
  if (pageSize !== undefined && (!Number.isInteger(pageSize) || pageSize < 1))
    fail('pageSize must be a positive integer');
  if (now !== undefined && typeof now !== 'function') fail('now must be a function returning ms since the epoch');
  return {
    adminKeys,
    project: project ?? 'proj_keyflip',
    workspace: workspace ?? 'wrkspc_keyflip',
    lagMs: lagMs ?? 0,
    pageSize: pageSize ?? Number.POSITIVE_INFINITY,
    now: now ?? Date.now,
  };
}
