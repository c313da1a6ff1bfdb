/**
 * `keyflip verify SECRET --retired FP|VERSION --window 60m (--collector URL | --prometheus URL)`: step 4
 * of the rotation playbook. Parsing and output only; the decision is `verifyRetired` (src/collector).
 */
import { findProviderKeys } from '../key-formats.js';
import type { UsageSource } from '../collector/types.js';
import { collectorUsageSource, verifyRetired, type VerifyOffender, type VerifyResult } from '../collector/verify.js';
import { formatAge, parseDuration } from '../duration.js';
import { isFingerprint } from '../fingerprint.js';
import { clean, UsageError } from './args.js';
import type { CliIo } from './main.js';

const HELP = `keyflip verify SECRET --retired FP|VERSION [--window 60m] (--collector URL | --prometheus URL) [--json]
  Exits 0 only when no instance reported the retired key of SECRET within the window AND at least one
  instance reported SECRET (no beacons is not proof of zero traffic). Otherwise prints the instances still
  on it (service, host, pid, last seen, uses) and exits 1.
  --retired FP|VERSION  the retired key's fingerprint (kf_…, from keyflip fingerprint) or its provider
                        version (a number, or an alias such as current). By version, an instance whose key has no version (env:, file:)
                        makes the answer "unknown", not OK: verify by fingerprint then
  --window D            how far back to look (default 60m): 500ms, 30s, 60m, 1h, 7d
  --collector URL       a keyflip collector (keyflip collector); its token is read from KEYFLIP_COLLECTOR_TOKEN
  --prometheus URL      a Prometheus-compatible HTTP API holding the otelSink metrics
  --json                print the result as one JSON object (same exit codes)
  A process that holds the retired key counts even with 0 uses: it will use it on its next request.
  Exit codes: 0 verified, 1 still in use / no beacons / unknown, 2 bad usage or the backend cannot answer.
`;

const SECRET_NAME = /^[A-Za-z0-9_.\-/[\]]{1,256}$/;
/** A provider version: a number, or an alias (`current`, `previous`). */
const VERSION = /^(?:\d{1,20}|[A-Za-z][A-Za-z0-9_-]{0,31})$/;
/** Long and mixing letters and digits: more like a key than an alias. Refused, and not printed. */
const looksRandom = (text: string): boolean => text.length >= 16 && /\d/.test(text) && /[A-Za-z]/.test(text);

/** Runs `keyflip verify`; returns the exit code. */
export async function verifyCommand(args: readonly string[], io: CliIo): Promise<number> {
  let secret: string | undefined;
  let retired: string | undefined;
  let window = '60m';
  let collector: string | undefined;
  let prometheus: string | undefined;
  let json = false;
  try {
    for (let i = 0; i < args.length; i++) {
      const arg = args[i] as string;
      const value = (): string => {
        const v = args[++i];
        if (v === undefined) throw new UsageError(`${arg} needs a value`);
        return v;
      };
      if (arg === '--help' || arg === '-h') {
        io.stdout.write(HELP);
        return 0;
      } else if (arg === '--json') json = true;
      else if (arg === '--retired') retired = value();
      else if (arg === '--window') window = value();
      else if (arg === '--collector') collector = value();
      else if (arg === '--prometheus') prometheus = value();
      else if (arg.startsWith('-')) throw new UsageError(`unknown option #${i + 1} (not shown)`);
      else if (secret === undefined) secret = arg;
      else throw new UsageError(`unexpected argument #${i + 1} (not shown): one SECRET only`);
    }
    if (secret === undefined) throw new UsageError('SECRET is required (the logical name, OPENAI_API_KEY)');
    if (!SECRET_NAME.test(secret))
      throw new UsageError('SECRET is not a secret name (letters, digits, _ . - / [ ]; at most 256)');
    if (retired === undefined)
      throw new UsageError("--retired is required: the retired key's fingerprint (kf_…) or version");
    if (findProviderKeys(retired).length > 0 || (!retired.startsWith('kf_') && looksRandom(retired))) {
      throw new UsageError(
        '--retired looks like a key, not a fingerprint (not shown). Never pass a key in argv: run keyflip fingerprint < key.txt',
      );
    }
    if (retired.startsWith('kf_') ? !isFingerprint(retired) : !VERSION.test(retired)) {
      throw new UsageError(
        '--retired must be a fingerprint (kf_ + 12 lowercase hex digits) or a version (a number, or an alias of at most 32 characters); the argument is not shown',
      );
    }
    if ((collector === undefined) === (prometheus === undefined))
      throw new UsageError('give one backend: --collector URL or --prometheus URL');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`keyflip verify: ${error.message}; see keyflip verify --help\n`);
    return 2;
  }

  let windowMs: number;
  try {
    windowMs = parseDuration(window);
    if (windowMs <= 0) throw new RangeError('the window must be longer than 0');
  } catch (error) {
    io.stderr.write(`keyflip verify: --window: ${(error as Error).message}\n`);
    return 2;
  }

  let source: UsageSource;
  try {
    if (collector !== undefined) {
      const env = io.env ?? process.env;
      const token = env.KEYFLIP_COLLECTOR_TOKEN?.trim();
      source = collectorUsageSource({ url: collector, token: token === '' ? undefined : token });
    } else {
      const { prometheusUsageSource } = await import('../collector/prometheus.js');
      source = prometheusUsageSource({ url: prometheus as string });
    }
  } catch (error) {
    io.stderr.write(`keyflip verify: ${clean((error as Error).message)}\n`);
    return 2;
  }

  let result: VerifyResult;
  try {
    result = await verifyRetired({ source, secret, retired, windowMs });
  } catch (error) {
    io.stderr.write(`keyflip verify: ${clean(error instanceof Error ? error.message : String(error))}\n`);
    return 2;
  }

  if (json) {
    io.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    io.stdout.write(`${result.ok ? 'OK' : 'NOT OK'}: ${clean(result.message)}\n`);
    if (result.offenders.length > 0) io.stdout.write(`\n${table(result.offenders, result.at)}\n`);
    if (result.reason === 'in-use')
      io.stdout.write(
        '\nThese processes still hold the retired key: wait for their next refresh (or restart them), then verify again.\n',
      );
    if (result.reason === 'no-beacons')
      io.stdout.write('Check that the services run with a beacon whose sink reaches this backend.\n');
    if (result.ok && result.inUse.length > 0) {
      const now = result.inUse
        .map(
          (f) =>
            `${f.fingerprint}${f.version === undefined ? '' : ` (version ${clean(f.version)})`} by ${f.instances} instance${f.instances === 1 ? '' : 's'}`,
        )
        .join(', ');
      io.stdout.write(`In use: ${now}.\n`);
    }
  }
  return result.ok ? 0 : 1;
}

function table(offenders: readonly VerifyOffender[], at: number): string {
  const header = ['SERVICE', 'ENV', 'HOST', 'PID', 'LAST SEEN', 'USES', 'FINGERPRINT'];
  const rows = offenders.map((o) => [
    clean(o.service),
    clean(o.environment ?? '-'),
    clean(o.host),
    String(o.pid),
    `${new Date(o.lastSeen).toISOString().replace(/\.\d{3}Z$/, 'Z')} (${formatAge(at - o.lastSeen)} ago)`,
    String(o.uses),
    `${o.fingerprint}${o.version === undefined ? '' : ` v${clean(o.version)}`}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string =>
    `  ${cells
      .map((c, i) => (i === 3 || i === 5 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd()}`;
  return [line(header), ...rows.map(line)].join('\n');
}
