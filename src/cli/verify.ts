/**
 * `keyflip verify SECRET --retired FP|VERSION --window 60m (--collector URL | --prometheus URL)`: step 4
 * of the rotation playbook. Parsing and output only; the decision is `verifyRetired` (src/collector).
 */
import {
  collectorUsageSource,
  prometheusUsageSource,
  verifyRetired,
  type UsageSource,
  type VerifyOffender,
  type VerifyResult,
} from '../collector/index.js';
import { formatAge } from '../duration.js';
import { isFingerprint } from '../fingerprint.js';
import { findProviderKeys } from '../key-formats.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';
import { collectorToken, parseDurationArg } from './option-values.js';
import { parseCommandLine } from './parse-command-line.js';
import { table } from './table.js';
import { UsageError, usageFailure } from './usage-error.js';

const HELP = `keyflip verify SECRET --retired FP|VERSION [--window 60m] (--collector URL | --prometheus URL) [--json]
  Exits 0 only when no instance reported the retired key of SECRET within the window AND at least one
  instance reported SECRET (no beacons is not proof of zero traffic). Otherwise prints the instances still
  on it (service, host, pid, last seen, uses) and exits 1.
  --retired FP|VERSION  the retired key's fingerprint (kf_…, from keyflip fingerprint) or its provider
                        version (a number, or an alias such as current). By version, an instance whose key has \
no version (env:, file:)
                        makes the answer "unknown", not OK: verify by fingerprint then
  --window D            how far back to look (default 60m): 500ms, 30s, 60m, 1h, 7d
  --collector URL       a keyflip collector (keyflip collector); its token is read from KEYFLIP_COLLECTOR_TOKEN
  --prometheus URL      a Prometheus-compatible HTTP API holding the otelSink metrics
  --json                print the result as one JSON object (same exit codes)
  A process that holds the retired key counts even with 0 uses: it will use it on its next request.
  Exit codes: 0 verified, 1 still in use / no beacons / unknown, 2 bad usage or the backend cannot answer.
`;

const OPTIONS = {
  retired: 'string',
  window: 'string',
  collector: 'string',
  prometheus: 'string',
  json: 'boolean',
} as const;

const SECRET_NAME = /^[A-Za-z0-9_.\-/[\]]{1,256}$/;
/** A provider version: a number, or an alias (`current`, `previous`). */
const VERSION = /^(?:\d{1,20}|[A-Za-z][A-Za-z0-9_-]{0,31})$/;
/** Long and mixing letters and digits: more like a key than an alias. Refused, and not printed. */
const looksRandom = (text: string): boolean => text.length >= 16 && /\d/.test(text) && /[A-Za-z]/.test(text);

/** What verify was asked, once the arguments are checked. */
interface VerifyRequest {
  secret: string;
  retired: string;
  window: string;
  collector: string | undefined;
  prometheus: string | undefined;
  json: boolean;
}

/** Runs `keyflip verify`; returns the exit code. */
export async function verifyCommand(args: readonly string[], io: CliIo): Promise<number> {
  let request: VerifyRequest | 'help';
  try {
    request = verifyRequest(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    return usageFailure(io, 'verify', error.message);
  }
  if (request === 'help') {
    io.stdout.write(HELP);
    return 0;
  }
  const { secret, retired, collector, prometheus, json } = request;

  let windowMs: number;
  try {
    windowMs = parseDurationArg('--window', request.window);
    if (windowMs <= 0) throw new UsageError('--window: the window must be longer than 0');
  } catch (error) {
    io.stderr.write(`keyflip verify: ${(error as Error).message}\n`);
    return 2;
  }

  let source: UsageSource;
  try {
    source =
      collector !== undefined
        ? collectorUsageSource({ url: collector, token: collectorToken(io.env ?? process.env) })
        : prometheusUsageSource({ url: prometheus as string });
  } catch (error) {
    io.stderr.write(`keyflip verify: ${clean(error instanceof Error ? error.message : String(error))}\n`);
    return 2;
  }

  let result: VerifyResult;
  try {
    result = await verifyRetired({ source, secret, retired, windowMs });
  } catch (error) {
    io.stderr.write(`keyflip verify: ${clean(error instanceof Error ? error.message : String(error))}\n`);
    return 2;
  }

  io.stdout.write(json ? `${JSON.stringify(result)}\n` : render(result));
  return result.ok ? 0 : 1;
}

function verifyRequest(args: readonly string[]): VerifyRequest | 'help' {
  const { help, values, positionals } = parseCommandLine(args, OPTIONS, { max: 1, tooMany: ': one SECRET only' });
  if (help) return 'help';
  const [secret] = positionals;
  const { retired, collector, prometheus } = values;
  if (secret === undefined) throw new UsageError('SECRET is required (the logical name, OPENAI_API_KEY)');
  if (!SECRET_NAME.test(secret))
    throw new UsageError('SECRET is not a secret name (letters, digits, _ . - / [ ]; at most 256)');
  if (retired === undefined)
    throw new UsageError("--retired is required: the retired key's fingerprint (kf_…) or version");
  if (findProviderKeys(retired).length > 0 || (!retired.startsWith('kf_') && looksRandom(retired))) {
    throw new UsageError(
      '--retired looks like a key, not a fingerprint (not shown). ' +
        'Never pass a key in argv: run keyflip fingerprint < key.txt',
    );
  }
  if (retired.startsWith('kf_') ? !isFingerprint(retired) : !VERSION.test(retired)) {
    throw new UsageError(
      '--retired must be a fingerprint (kf_ + 12 lowercase hex digits) or a version (a number, or an alias of ' +
        'at most 32 characters); the argument is not shown',
    );
  }
  if ((collector === undefined) === (prometheus === undefined))
    throw new UsageError('give one backend: --collector URL or --prometheus URL');
  return { secret, retired, window: values.window ?? '60m', collector, prometheus, json: values.json === true };
}

/** The result for people. */
function render(result: VerifyResult): string {
  let out = `${result.ok ? 'OK' : 'NOT OK'}: ${clean(result.message)}\n`;
  if (result.offenders.length > 0) out += `\n${offenderTable(result.offenders, result.at)}\n`;
  if (result.reason === 'in-use') {
    out +=
      '\nThese processes still hold the retired key: wait for their next refresh (or restart them), ' +
      'then verify again.\n';
  }
  if (result.reason === 'no-beacons')
    out += 'Check that the services run with a beacon whose sink reaches this backend.\n';
  if (result.ok && result.inUse.length > 0) {
    const held = result.inUse.map((f) => {
      const version = f.version === undefined ? '' : ` (version ${clean(f.version)})`;
      return `${f.fingerprint}${version} by ${f.instances} instance${f.instances === 1 ? '' : 's'}`;
    });
    out += `In use: ${held.join(', ')}.\n`;
  }
  return out;
}

function offenderTable(offenders: readonly VerifyOffender[], at: number): string {
  const rows = offenders.map((o) => [
    clean(o.service),
    clean(o.environment ?? '-'),
    clean(o.host),
    String(o.pid),
    `${new Date(o.lastSeen).toISOString().replace(/\.\d{3}Z$/, 'Z')} (${formatAge(at - o.lastSeen)} ago)`,
    String(o.uses),
    `${o.fingerprint}${o.version === undefined ? '' : ` v${clean(o.version)}`}`,
  ]);
  return table(['SERVICE', 'ENV', 'HOST', 'PID', 'LAST SEEN', 'USES', 'FINGERPRINT'], rows, {
    alignRight: ['PID', 'USES'],
  });
}
