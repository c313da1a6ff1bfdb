/**
 * The provider's management API from the command line: `--provider openai|anthropic` with an admin key from
 * `--admin-key-file F` or `KEYFLIP_PROVIDER_ADMIN_KEY` (never argv: `--admin-key` is refused without showing its
 * value), `--provider-project` (else `KEYFLIP_PROVIDER_PROJECT`), `--provider-workspace`, `--provider-base-url` and
 * `--provider-lag`. Checks first, opens after: a bad option costs no file read and no request.
 */
import {
  ADMIN_KEY_ENV,
  MANAGED_PROVIDERS,
  openProvider,
  readAdminKey,
  type ManagedProviderId,
  type ProviderAdmin,
} from '../providers/index.js';
import { readOptionFile } from './read-input.js';
import { parseDurationArg } from './option-values.js';
import { httpUrlArg, refuseKey } from './shown.js';
import { UsageError } from './usage-error.js';

type Env = NodeJS.ProcessEnv | Record<string, string | undefined>;

/** The options of the management API, as {@link parseCommandLine} takes them (`--provider` is each command's). */
export const PROVIDER_OPTIONS = {
  'admin-key-file': 'string',
  'provider-project': 'string',
  'provider-workspace': 'string',
  'provider-base-url': 'string',
  'provider-lag': 'string',
} as const;

/** The help lines of the management options (shared by `rotate` and `audit`). */
export const PROVIDER_HELP = `Provider options (its management API: find, watch, revoke and mint keys at the provider):
  --provider openai|anthropic  with an admin key, the commands use the provider's management API
  --admin-key-file F      the admin key, from a file (default: KEYFLIP_PROVIDER_ADMIN_KEY; not both). Never in
                          argv: --admin-key is refused. OpenAI: an admin key (sk-admin-…) of the organization;
                          Anthropic: an admin key (sk-ant-admin01-…)
  --provider-project P    OpenAI: the project (proj_…) the key lives in (default: KEYFLIP_PROVIDER_PROJECT)
  --provider-workspace W  Anthropic: only keys of this workspace (wrkspc_…)
  --provider-base-url URL the management API (a proxy, a mock); default the provider's. --base-url stays the probe's
  --provider-lag D        how far behind the provider's usage data may be (default openai 15m, anthropic 1h)`;

/** The management options given, checked (no file read yet). */
export interface ProviderRequest {
  /** The provider. */
  readonly provider: ManagedProviderId;
  /** `--admin-key-file`, when given. */
  readonly adminKeyFile: string | undefined;
  /** OpenAI: the project id. */
  readonly project: string | undefined;
  /** Anthropic: the workspace id. */
  readonly workspace: string | undefined;
  /** The management API's base URL. */
  readonly baseUrl: string | undefined;
  /** The provider's reporting lag, ms. */
  readonly lagMs: number | undefined;
}

/** The values {@link providerRequest} reads: `--provider` and the {@link PROVIDER_OPTIONS}. */
export interface ProviderValues {
  readonly provider?: string | undefined;
  readonly 'admin-key-file'?: string | undefined;
  readonly 'provider-project'?: string | undefined;
  readonly 'provider-workspace'?: string | undefined;
  readonly 'provider-base-url'?: string | undefined;
  readonly 'provider-lag'?: string | undefined;
}

/**
 * Refuses an admin key given in argv (`--admin-key VALUE`, `--admin-key=VALUE`, `--provider-admin-key …`) before
 * anything else reads argv, with a message that shows neither the value nor the argument.
 */
export function refuseAdminKeyArg(args: readonly string[]): void {
  for (const arg of args) {
    if (arg === '--') return;
    if (/^--(?:provider-)?admin-key(?:=|$)/.test(arg))
      throw new UsageError(
        'an admin key is never given in argv (the shell history and the process list would keep it): ' +
          'set KEYFLIP_PROVIDER_ADMIN_KEY or pass --admin-key-file FILE. Revoke that admin key if it was real',
      );
  }
}

/** Whether an admin key is at hand: `--admin-key-file`, or a non-blank `KEYFLIP_PROVIDER_ADMIN_KEY`. */
export function hasAdminKey(values: ProviderValues, env: Env): boolean {
  return values['admin-key-file'] !== undefined || (env.KEYFLIP_PROVIDER_ADMIN_KEY ?? '').trim() !== '';
}

const isManaged = (id: string): id is ManagedProviderId => (MANAGED_PROVIDERS as readonly string[]).includes(id);

/**
 * Checks the management options. `use`: `required` (the command needs the management API: `--provider` and an
 * admin key must be given), `with-provider` (it uses it whenever `--provider` is given: then the admin key must be
 * at hand), `optional` (it uses it when `--provider` names a managed provider and an admin key is at hand:
 * `emergency`, whose `--provider` is also the probe's). Returns `undefined` when the API is not used.
 */
export function providerRequest(
  values: ProviderValues,
  env: Env,
  use: 'required' | 'with-provider' | 'optional',
): ProviderRequest | undefined {
  const { provider } = values;
  const managementOption = (['admin-key-file', ...Object.keys(PROVIDER_OPTIONS)] as const).find(
    (o) => values[o as keyof ProviderValues] !== undefined,
  );
  if (provider === undefined) {
    if (use === 'required') throw new UsageError(`--provider is required (${MANAGED_PROVIDERS.join(', ')})`);
    if (managementOption !== undefined) throw new UsageError(`--${managementOption} needs --provider`);
    return undefined;
  }
  const keyAtHand = hasAdminKey(values, env);
  if (use === 'optional' && !keyAtHand) {
    if (managementOption !== undefined)
      throw new UsageError(`--${managementOption} needs an admin key (KEYFLIP_PROVIDER_ADMIN_KEY or --admin-key-file)`);
    return undefined;
  }
  if (!isManaged(provider)) {
    if (use === 'optional' && values['admin-key-file'] === undefined && managementOption === undefined)
      return undefined; // KEYFLIP_PROVIDER_ADMIN_KEY set for another provider: this one is only probed
    throw new UsageError(
      `--provider: keyflip speaks the management API of ${MANAGED_PROVIDERS.join(' and ')} only (not shown)`,
    );
  }
  if (values['admin-key-file'] !== undefined) refuseKey(values['admin-key-file'], '--admin-key-file');
  if (values['admin-key-file'] !== undefined && blankless(env.KEYFLIP_PROVIDER_ADMIN_KEY) !== undefined)
    throw new UsageError('give the admin key once: KEYFLIP_PROVIDER_ADMIN_KEY or --admin-key-file, not both');
  if (!keyAtHand)
    throw new UsageError(
      `--provider ${provider} needs an admin key: set KEYFLIP_PROVIDER_ADMIN_KEY or pass --admin-key-file FILE`,
    );
  const project = values['provider-project'] ?? blankless(env.KEYFLIP_PROVIDER_PROJECT);
  if (project !== undefined) refuseKey(project, '--provider-project');
  const workspace = values['provider-workspace'];
  if (workspace !== undefined) refuseKey(workspace, '--provider-workspace');
  if (provider === 'openai' && project === undefined)
    throw new UsageError('--provider openai needs --provider-project proj_… (or KEYFLIP_PROVIDER_PROJECT)');
  if (provider === 'openai' && workspace !== undefined)
    throw new UsageError('--provider-workspace is for anthropic; openai keys live in a project (--provider-project)');
  if (provider === 'anthropic' && values['provider-project'] !== undefined)
    throw new UsageError('--provider-project is for openai; anthropic keys live in a workspace (--provider-workspace)');
  const baseUrl = values['provider-base-url'];
  if (baseUrl !== undefined) httpUrlArg('--provider-base-url', baseUrl);
  const lag = values['provider-lag'];
  return {
    provider,
    adminKeyFile: values['admin-key-file'],
    project: provider === 'openai' ? project : undefined,
    workspace,
    baseUrl,
    lagMs: lag === undefined ? undefined : parseDurationArg('--provider-lag', lag),
  };
}

const blankless = (text: string | undefined): string | undefined =>
  text === undefined || text.trim() === '' ? undefined : text.trim();

/**
 * The admin key: `--admin-key-file` (read here, so that no message names the path: a key pasted where the path
 * goes must not be printed), else `KEYFLIP_PROVIDER_ADMIN_KEY` (`readAdminKey`).
 */
async function adminKeyOf(request: ProviderRequest, env: Env): Promise<string> {
  if (request.adminKeyFile === undefined) return readAdminKey({ env: { [ADMIN_KEY_ENV]: env[ADMIN_KEY_ENV] } });
  const key = (await readOptionFile('--admin-key-file', request.adminKeyFile)).trim();
  if (key === '') throw new UsageError('--admin-key-file: the file is empty');
  if (/[\s\0]/.test(key))
    throw new UsageError('--admin-key-file: the file holds more than the key (whitespace or a line break inside)');
  return key;
}

/**
 * Opens the management API: reads the admin key, then `openProvider`. Makes no request: the first call does.
 */
export async function openManagedProvider(request: ProviderRequest, env: Env): Promise<ProviderAdmin> {
  const adminKey = await adminKeyOf(request, env);
  return openProvider({
    provider: request.provider,
    adminKey,
    baseUrl: request.baseUrl,
    project: request.project,
    workspace: request.workspace,
    lagMs: request.lagMs,
  });
}
