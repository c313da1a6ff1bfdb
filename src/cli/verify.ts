/**
 * `keyflip verify SECRET --retired FP|NAME@VERSION --window 60m (--collector URL | --prometheus URL)`: step 4 of the
 * rotation playbook. Parsing and output only; the decision is `verifyRetired` (src/collector), under the evidence
 * model (docs/evidence.md).
 */
import {
  collectorUsageSource,
  parseRetired,
  prometheusUsageSource,
  verifyRetired,
  type UsageSource,
  type VerifyResult,
} from '../collector/index.js';
import { ConfigurationError } from '../errors.js';
import { findProviderKeys } from '../key-formats.js';
import { clean } from './clean.js';
import type { CliIo } from './io.js';
import { collectorToken, parseDurationArg } from './option-values.js';
import { parseCommandLine } from './parse-command-line.js';
import { httpUrlArg, refuseKey } from './shown.js';
import { UsageError, usageFailure } from './usage-error.js';
import { evidenceSections, verifyExitCode } from './verify-output.js';

const HELP = `keyflip verify SECRET --retired FP|NAME@VERSION [--window 60m] (--collector URL | --prometheus URL) \
[--json]
  Answers one of three things about the retired key of SECRET over the window:
    clear         proved: the backend observed SECRET for the whole window plus one beacon interval, dropped no
                  evidence in it, instances reported SECRET, and none of them reported the retired key
    in use        names the instances: those still holding it, and those that held it earlier and rotated since
    cannot prove  says what evidence is missing (coverage, dropped reports, a window shorter than two beacon
                  intervals, no reports, a key of unknown version, a process too new) and what to do
  --retired FP|NAME@VERSION
                        the retired key's fingerprint (kf_…, from keyflip fingerprint < old-key.txt), or its
                        version qualified by its secret: SECRET_v1@1 (suffix layout: each key is its own secret)
                        or SECRET@1 (alias layout). A bare number is refused: in the suffix layout every
                        SECRET_vN has a version 1. By version, an instance whose key has no version (env:, file:)
                        makes the answer "cannot prove": verify by fingerprint then
  --window D            how far back to look (default 60m): 500ms, 30s, 60m, 1h, 7d; at least twice the beacons'
                        interval
  --collector URL       a keyflip collector (keyflip collector); its token is read from KEYFLIP_COLLECTOR_TOKEN
  --prometheus URL      a Prometheus-compatible HTTP API holding the otelSink metrics
  --json                print the result as one JSON object (same exit codes)
  A process that holds the retired key counts even with 0 uses: it will use it on its next request.
  Exit codes: 0 clear, 1 in use, 4 cannot prove (evidence is missing: the output says what to do),
  2 bad usage or the backend cannot answer. The evidence model: docs/evidence.md.
`;

const OPTIONS = {
  retired: 'string',
  window: 'string',
  collector: 'string',
  prometheus: 'string',
  json: 'boolean',
} as const;

const SECRET_NAME = /^[A-Za-z0-9_.\-/[\]]{1,256}$/;
/** Long and mixing letters and digits: more like a key than an alias. Refused, and not printed. */
const looksRandom = (text: string): boolean => text.length >= 16 && /\d/.test(text) && /[A-Za-z]/.test(text);

/** `--prometheus URL`'s source; its messages name it "Prometheus" (never the URL, which may hold credentials). */
export function prometheusSource(url: string): UsageSource {
  const source = prometheusUsageSource({ url });
  return { usage: (secret, options) => source.usage(secret, options), description: source.description ?? 'Prometheus' };
}

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
        : prometheusSource(prometheus as string);
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
  return verifyExitCode(result);
}

function verifyRequest(args: readonly string[]): VerifyRequest | 'help' {
  const { help, values, positionals } = parseCommandLine(args, OPTIONS, { max: 1, tooMany: ': one SECRET only' });
  if (help) return 'help';
  const [secret] = positionals;
  const { retired, collector, prometheus } = values;
  if (secret === undefined) throw new UsageError('SECRET is required (the logical name, OPENAI_API_KEY)');
  refuseKey(secret, 'SECRET');
  if (!SECRET_NAME.test(secret))
    throw new UsageError('SECRET is not a secret name (letters, digits, _ . - / [ ]; at most 256)');
  if (retired === undefined)
    throw new UsageError("--retired is required: the retired key's fingerprint (kf_…) or version");
  checkRetired(secret, retired);
  if ((collector === undefined) === (prometheus === undefined))
    throw new UsageError('give one backend: --collector URL or --prometheus URL');
  if (collector !== undefined) httpUrlArg('--collector', collector);
  if (prometheus !== undefined) httpUrlArg('--prometheus', prometheus);
  return { secret, retired, window: values.window ?? '60m', collector, prometheus, json: values.json === true };
}

/** `NAME@VERSION` where NAME is SECRET or its suffix form `SECRET_vN`: a qualified version of this secret. */
function namesThisSecret(secret: string, retired: string): boolean {
  const at = retired.lastIndexOf('@');
  const name = at === -1 ? '' : retired.slice(0, at);
  return name === secret || (name.startsWith(`${secret}_v`) && /^\d{1,9}$/.test(name.slice(secret.length + 2)));
}

/**
 * Refuses a `--retired` that is not a fingerprint or a version of SECRET qualified by SECRET (or its `_vN` form),
 * never printing it: a key pasted by mistake is recognised first; a bare number says what to write instead.
 */
function checkRetired(secret: string, retired: string): void {
  const qualified = namesThisSecret(secret, retired);
  if (findProviderKeys(retired).length > 0 || (!retired.startsWith('kf_') && !qualified && looksRandom(retired))) {
    throw new UsageError(
      '--retired looks like a key, not a fingerprint (not shown). ' +
        'Never pass a key in argv: run keyflip fingerprint < key.txt',
    );
  }
  let key: ReturnType<typeof parseRetired>;
  try {
    key = parseRetired(retired, secret, '--retired');
  } catch (error) {
    if (error instanceof ConfigurationError) throw new UsageError(error.message);
    throw error;
  }
  if (key.by === 'version' && !qualified) {
    throw new UsageError(
      `--retired names a version of another secret (not shown): qualify the version by ${secret} itself, ` +
        `${secret}_v1@1 (suffix layout) or ${secret}@1 (alias layout), or give the fingerprint`,
    );
  }
}

/** The result for people: the answer, then who holds or held the key, what is missing, what to do. */
function render(result: VerifyResult): string {
  const head = result.reason === 'clear' ? 'OK' : result.reason === 'in-use' ? 'NOT OK' : 'CANNOT PROVE';
  let out = `${head}: ${clean(result.message)}\n${evidenceSections(result)}`;
  if (result.ok && result.inUse.length > 0) {
    const held = result.inUse.map((f) => {
      const version = f.version === undefined ? '' : ` (version ${clean(f.version)})`;
      return `${f.fingerprint}${version} by ${f.instances} instance${f.instances === 1 ? '' : 's'}`;
    });
    out += `In use: ${held.join(', ')}.\n`;
  }
  return out;
}
