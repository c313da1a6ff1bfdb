/** `keyflip verify … --json` as a real CLI process against a collector process, and what it answered. */
import { runCli } from '../../support/cli.js';
import { TOKEN } from './collector-process.js';

/** What one `keyflip verify --json` run said. */
export interface VerifyRun {
  /** 0 clear, 1 in use, 4 cannot prove, 2 bad usage or the backend cannot answer. */
  readonly code: number | null;
  /** Its `--json` result (`reason`, `missing`, `holding`, `offenders`, …); undefined when it printed none. */
  // biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON, read field by field by the tests
  readonly json: Record<string, any> | undefined;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `keyflip verify SECRET --retired RETIRED --window WINDOW --collector URL --json`. */
export async function verify(url: string, secret: string, retired: string, window: string): Promise<VerifyRun> {
  const run = await runCli(['verify', secret, '--retired', retired, '--window', window, '--collector', url, '--json'], {
    env: { KEYFLIP_COLLECTOR_TOKEN: TOKEN },
  });
  let json: VerifyRun['json'];
  try {
    json = JSON.parse(run.stdout.trim().split('\n').pop() ?? '') as VerifyRun['json'];
  } catch {
    json = undefined;
  }
  return { code: run.code, json, stdout: run.stdout, stderr: run.stderr };
}

/** The `missing[].code`s of a cannot-prove answer. */
export const missingCodes = (run: VerifyRun): string[] =>
  ((run.json?.missing ?? []) as { code: string }[]).map((m) => m.code);

/** The instance ids a verify answer named as holding (or having held) the retired key. */
export const offenderIds = (run: VerifyRun): string[] =>
  ((run.json?.offenders ?? []) as { id: string }[]).map((o) => o.id);

/** A line for a failed expectation: the exit code, reason and what was missing. */
export const said = (run: VerifyRun): string =>
  `exit ${run.code} ${run.json?.reason ?? ''} ${JSON.stringify(missingCodes(run))} ${run.stderr.trim()}`.trim();
