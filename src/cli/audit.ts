/**
 * `keyflip audit`: the schedule. Lists the live key of every secret `keyflip rotate` manages with its age
 * and exits 1 when one is older than the policy; with --byok, the end-user keys of a family older than
 * the policy. Parsing and output only; the audit is in src/rotation. Makes no write.
 */
import { formatAge, formatDuration } from '../duration.js';
import {
  audit,
  auditByok,
  openSecretAdmin,
  type AuditEntry,
  type AuditResult,
  type ByokAuditResult,
  type SecretAdmin,
} from '../rotation/index.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';
import { durationArg, projectOf } from './option-values.js';
import { parseCommandLine, type OptionValues } from './parse-command-line.js';
import {
  openManagedProvider,
  PROVIDER_HELP,
  PROVIDER_OPTIONS,
  providerRequest,
  refuseAdminKeyArg,
  type ProviderRequest,
} from './provider-options.js';
import { table } from './table.js';
import { UsageError, usageFailure } from './usage-error.js';

const HELP = `keyflip audit [--max-age 90d] [--environment E] [--project P] [--location L] [--json]
keyflip audit --provider openai|anthropic [--expiry-warning 30d] [--max-age 90d] [--environment E] …
keyflip audit --byok FAMILY [--max-age 90d] [--project P] [--location L] [--json]
  Lists every secret keyflip rotate manages (label keyflip-managed=true) with the age of its live key, and
  any rotation in flight; exits 1 when a live key is older than --max-age. For a scheduled job (CI).
  --max-age D        the policy (default 90d): 12h, 30d, 90d
  --environment E    only secrets labelled keyflip-environment=E (set by rotate provision --environment)
  --byok FAMILY      instead: end-user keys, secrets labelled keyflip-family=FAMILY, whose newest enabled
                     version is older than the policy, with their owner's id (annotation keyflip-id, else
                     the secret id) so the app can remind them. keyflip never rotates them
  --project P        default KEYFLIP_PROJECT, then GOOGLE_CLOUD_PROJECT
  --json             one JSON object (same exit codes)
  --provider P       read the provider's management API too (an admin key: KEYFLIP_PROVIDER_ADMIN_KEY or
                     --admin-key-file): a live key's age from its creation at the provider; keys expiring
                     within --expiry-warning (default 30d) are reported, expired or revoked ones fail; keys
                     keyflip minted (named keyflip-…, or under a mint's mark) that no secret holds are listed as
                     orphans; a mint whose key was not stored (a crash) is reported with how to revoke it
  --expiry-warning D with --provider: how long before its expiry a live key is reported (default 30d)
  SECRET_MANAGER_EMULATOR_HOST=host:port sends every call to an emulator.
  Exit codes: 0 every key within the policy, 1 at least one over it (or, with --provider, expired or no longer
  active there), 2 bad usage, or Secret Manager or the provider could not answer (or refused the admin key).

${PROVIDER_HELP}
`;

const OPTIONS = {
  'max-age': 'string',
  environment: 'string',
  byok: 'string',
  project: 'string',
  location: 'string',
  json: 'boolean',
  provider: 'string',
  'expiry-warning': 'string',
  ...PROVIDER_OPTIONS,
} as const;

/** Runs `keyflip audit`; returns the exit code. */
export async function auditCommand(args: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  let values: OptionValues<typeof OPTIONS>;
  let maxAgeMs = 90 * 86_400_000;
  let projectId: string;
  let expiryWarningMs: number | undefined;
  let request: ProviderRequest | undefined;
  try {
    refuseAdminKeyArg(args);
    const line = parseCommandLine(args, OPTIONS, { max: 0 });
    if (line.help) {
      io.stdout.write(HELP);
      return 0;
    }
    values = line.values;
    if (values['max-age'] !== undefined) maxAgeMs = durationArg('--max-age', values['max-age']);
    if (values.byok !== undefined && values.environment !== undefined)
      throw new UsageError('--byok and --environment do not go together');
    projectId = projectOf(values.project, env);
    request = providerRequest(values, env, 'with-provider');
    if (values['expiry-warning'] !== undefined) {
      if (request === undefined) throw new UsageError('--expiry-warning needs --provider (the provider says when)');
      expiryWarningMs = durationArg('--expiry-warning', values['expiry-warning']);
    }
    if (request !== undefined && values.byok !== undefined)
      throw new UsageError('--byok and --provider do not go together: end-user keys are not at your provider account');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageFailure(io, 'audit', error.message);
  }
  const json = values.json === true;
  let admin: SecretAdmin | undefined;
  try {
    const provider = request === undefined ? undefined : await openManagedProvider(request, env);
    admin = await openSecretAdmin({ projectId, location: values.location, env });
    if (values.byok !== undefined) {
      const result = await auditByok(admin, { family: values.byok, maxAgeMs });
      io.stdout.write(json ? `${JSON.stringify(result)}\n` : renderByok(result));
      return result.ok ? 0 : 1;
    }
    const result = await audit(admin, { maxAgeMs, environment: values.environment, provider, expiryWarningMs });
    io.stdout.write(json ? `${JSON.stringify(result)}\n` : renderAudit(result));
    return result.ok ? 0 : 1;
  } catch (error) {
    io.stderr.write(`keyflip audit: ${clean(error instanceof Error ? error.message : String(error))}\n`);
    return 2;
  } finally {
    await admin?.close();
  }
}

function renderAudit(r: AuditResult): string {
  const policy = formatDuration(r.maxAgeMs);
  const orphans = `${mintLines(r)}${orphanLines(r)}`;
  if (r.entries.length === 0)
    return `OK: no secret is managed by keyflip rotate here (label keyflip-managed=true)\n${orphans}`;
  const withProvider = r.entries.some((e) => e.provider !== undefined);
  const rows = r.entries.map((e) => [
    clean(e.name),
    e.layout,
    clean(e.environment ?? '-'),
    clean(e.live ?? '-'),
    e.ageMs === undefined ? '-' : `${formatAge(e.ageMs)}${e.ageFrom === 'provider' ? ' (provider)' : ''}`,
    e.overPolicy ? `OVER ${policy}` : e.live ? 'ok' : 'no live key',
    ...(withProvider ? [providerCell(e)] : []),
    clean(e.attention ?? ''),
  ]);
  const problems = [
    r.over > 0 ? `${r.over} live key${r.over === 1 ? ' is' : 's are'} older than ${policy}` : '',
    r.failing > 0
      ? `${r.failing} live key${r.failing === 1 ? ' has' : 's have'} expired or been revoked at the provider`
      : '',
  ].filter((p) => p !== '');
  const unstored = r.unstoredMints;
  const warning =
    (r.expiring > 0 ? `; ${r.expiring} expire${r.expiring === 1 ? 's' : ''} soon at the provider` : '') +
    (unstored > 0 ? `; ${unstored} minted key${unstored === 1 ? ' was' : 's were'} not stored (below)` : '');
  const head = r.ok ? `OK: every live key is within ${policy}${warning}` : `NOT OK: ${problems.join('; ')}${warning}`;
  const header = [
    'SECRET',
    'LAYOUT',
    'ENV',
    'LIVE KEY',
    'AGE',
    'POLICY',
    ...(withProvider ? ['PROVIDER'] : []),
    'ATTENTION',
  ];
  return `${head}\n\n${table(header, rows)}\n${orphans}`;
}

/** The live key at the provider: its id and state, `EXPIRES SOON …`, `EXPIRED` or `REVOKED (status)`. */
function providerCell(e: AuditEntry): string {
  const p = e.provider;
  if (p === undefined) return '-';
  const expires = p.expiresAt === undefined ? '' : ` expires ${clean(p.expiresAt)}`;
  const state = p.failing
    ? p.status === 'expired'
      ? 'EXPIRED'
      : `NOT ACTIVE (${p.status})`
    : p.expiring
      ? `EXPIRES SOON${expires}`
      : `${p.status}${expires}`;
  return `${clean(p.provider)} ${clean(p.keyId)} ${state}`;
}

/** Mints whose key was not stored (a minting mark left by a crash): the secret, and what revokes the key. */
function mintLines(r: AuditResult): string {
  const marked = r.entries.filter((e) => e.minting !== undefined);
  if (marked.length === 0) return '';
  const lines = ['', `${marked.length} mint${marked.length === 1 ? '' : 's'} whose key was not stored:`];
  for (const e of marked) {
    const m = e.minting as NonNullable<AuditEntry['minting']>;
    lines.push(
      `  ${clean(e.name)}: a key minted at ${clean(m.at)} (${clean(m.provider)}, named ${clean(m.name)}) was not ` +
        `stored: rotate discard ${clean(e.name)} --provider ${clean(m.provider)} revokes it`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** Keys at the provider keyflip minted that no secret holds (a mint that crashed before its store). */
function orphanLines(r: AuditResult): string {
  if (r.orphans.length === 0) return '';
  const lines = [
    '',
    `${r.orphans.length} key${r.orphans.length === 1 ? '' : 's'} at the provider that no secret holds:`,
  ];
  for (const o of r.orphans) lines.push(`  ${clean(o.message)} (created ${clean(o.createdAt ?? '-')}, ${o.status})`);
  return `${lines.join('\n')}\n`;
}

function renderByok(r: ByokAuditResult): string {
  const policy = formatDuration(r.maxAgeMs);
  const family = clean(r.family);
  const head = r.ok
    ? `OK: none of the ${r.checked} end-user key(s) of family ${family} is older than ${policy}`
    : `NOT OK: ${r.over.length} of ${r.checked} end-user key(s) of family ${family} are older than ${policy}; ` +
      'remind their owners (keyflip never rotates them)';
  if (r.over.length === 0) return `${head}\n`;
  const rows = r.over.map((e) => [
    clean(e.id),
    clean(e.secretId),
    e.ageMs === undefined ? '-' : formatAge(e.ageMs),
    clean(e.keyCreatedAt ?? '-'),
  ]);
  return `${head}\n\n${table(['ID', 'SECRET', 'AGE', 'KEY CREATED'], rows)}\n`;
}
