/**
 * `keyflip audit`: the schedule. Lists the live key of every secret `keyflip rotate` manages with its age
 * and exits 1 when one is older than the policy; with --byok, the end-user keys of a family older than
 * the policy. Parsing and output only; the audit is src/rotation/audit.ts. Makes no write.
 */
import { formatAge, formatDuration } from '../duration.js';
import { openSecretAdmin, type SecretAdmin } from '../rotation/admin.js';
import { audit, auditByok, type AuditResult, type ByokAuditResult } from '../rotation/audit.js';
import { clean, columns, durationArg, parseArgs, projectOf, UsageError } from './args.js';
import type { CliIo } from './main.js';

const HELP = `keyflip audit [--max-age 90d] [--environment E] [--project P] [--location L] [--json]
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
  SECRET_MANAGER_EMULATOR_HOST=host:port sends every call to an emulator.
  Exit codes: 0 every key within the policy, 1 at least one over it, 2 bad usage or Secret Manager could not answer.
`;

export async function auditCommand(args: readonly string[], io: CliIo): Promise<number> {
  const env = io.env ?? process.env;
  let parsed;
  let maxAgeMs = 90 * 86_400_000;
  let projectId: string;
  try {
    parsed = parseArgs(
      args,
      {
        '--max-age': 'value',
        '--environment': 'value',
        '--byok': 'value',
        '--project': 'value',
        '--location': 'value',
        '--json': 'flag',
      },
      0,
    );
    if (parsed.help) {
      io.stdout.write(HELP);
      return 0;
    }
    const maxAge = parsed.values.get('--max-age');
    if (maxAge !== undefined) maxAgeMs = durationArg('--max-age', maxAge);
    if (parsed.values.has('--byok') && parsed.values.has('--environment'))
      throw new UsageError('--byok and --environment do not go together');
    projectId = projectOf(parsed.values, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`keyflip audit: ${clean(error.message)}; see keyflip audit --help\n`);
    return 2;
  }
  const json = parsed.flags.has('--json');
  let admin: SecretAdmin | undefined;
  try {
    admin = await openSecretAdmin({ projectId, location: parsed.values.get('--location'), env });
    const family = parsed.values.get('--byok');
    if (family !== undefined) {
      const result = await auditByok(admin, { family, maxAgeMs });
      io.stdout.write(json ? `${JSON.stringify(result)}\n` : renderByok(result));
      return result.ok ? 0 : 1;
    }
    const result = await audit(admin, { maxAgeMs, environment: parsed.values.get('--environment') });
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
  if (r.entries.length === 0) return `OK: no secret is managed by keyflip rotate here (label keyflip-managed=true)\n`;
  const rows = r.entries.map((e) => [
    clean(e.name),
    e.layout,
    clean(e.environment ?? '-'),
    clean(e.live ?? '-'),
    e.ageMs === undefined ? '-' : formatAge(e.ageMs),
    e.overPolicy ? `OVER ${policy}` : e.live ? 'ok' : 'no live key',
    clean(e.attention ?? ''),
  ]);
  const head = r.ok
    ? `OK: every live key is within ${policy}`
    : `NOT OK: ${r.over} live key${r.over === 1 ? ' is' : 's are'} older than ${policy}`;
  return `${head}\n\n${columns(['SECRET', 'LAYOUT', 'ENV', 'LIVE KEY', 'AGE', 'POLICY', 'ATTENTION'], rows)}\n`;
}

function renderByok(r: ByokAuditResult): string {
  const policy = formatDuration(r.maxAgeMs);
  const head = r.ok
    ? `OK: none of the ${r.checked} end-user key(s) of family ${clean(r.family)} is older than ${policy}`
    : `NOT OK: ${r.over.length} of ${r.checked} end-user key(s) of family ${clean(r.family)} are older than ${policy}; remind their owners (keyflip never rotates them)`;
  if (r.over.length === 0) return `${head}\n`;
  const rows = r.over.map((e) => [
    clean(e.id),
    clean(e.secretId),
    e.ageMs === undefined ? '-' : formatAge(e.ageMs),
    clean(e.keyCreatedAt ?? '-'),
  ]);
  return `${head}\n\n${columns(['ID', 'SECRET', 'AGE', 'KEY CREATED'], rows)}\n`;
}
