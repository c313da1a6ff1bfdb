/**
 * How the CLI prints a verify answer for people (`keyflip verify`, `keyflip rotate verify|revoke`): who still holds
 * the retired key, who held it earlier and rotated since, and what evidence is missing, each with what to do.
 * `--json` prints the result as it is instead.
 */
import type { MissingEvidence, VerifyOffender, VerifyResult } from '../collector/index.js';
import { formatAge } from '../duration.js';
import { clean } from './clean.js';
import { table } from './table.js';

/** The exit code of a verify answer: 0 clear, 1 in use, 4 cannot prove. */
export function verifyExitCode(result: Pick<VerifyResult, 'reason'>): 0 | 1 | 4 {
  return result.reason === 'clear' ? 0 : result.reason === 'in-use' ? 1 : 4;
}

const withoutMillis = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The offenders as a table; `seen` heads the column of their last report of the key. */
export function offenderTable(offenders: readonly VerifyOffender[], at: number, seen = 'LAST SEEN'): string {
  const rows = offenders.map((o) => [
    clean(o.service),
    clean(o.environment ?? '-'),
    clean(o.host),
    String(o.pid),
    `${withoutMillis(o.lastSeen)} (${formatAge(at - o.lastSeen)} ago)`,
    String(o.uses),
    `${o.fingerprint}${o.version === undefined ? '' : ` v${clean(o.version)}`}`,
  ]);
  return table(['SERVICE', 'ENV', 'HOST', 'PID', seen, 'USES', 'FINGERPRINT'], rows, { alignRight: ['PID', 'USES'] });
}

/** `cannot prove: WHAT` then `  → WHAT TO DO`, for each missing piece of evidence; `indent` before each line. */
export function missingLines(missing: readonly MissingEvidence[], indent = ''): string[] {
  return missing.flatMap((m) => [`${indent}cannot prove: ${clean(m.message)}`, `${indent}  → ${clean(m.action)}`]);
}

/** The sections under a verify answer's first line: the two tables, the missing evidence, what to do next. */
export function evidenceSections(result: VerifyResult): string {
  const sections: string[] = [];
  if (result.holding.length > 0)
    sections.push(`Still holding the retired key:\n${offenderTable(result.holding, result.at)}`);
  if (result.heldEarlier.length > 0) {
    sections.push(
      `Held it earlier in the window, rotated since:\n${offenderTable(result.heldEarlier, result.at, 'LAST HELD')}`,
    );
  }
  if (result.reason === 'cannot-prove' && result.offenders.length > 0)
    sections.push(`May hold it (their key's version cannot be told):\n${offenderTable(result.offenders, result.at)}`);
  if (result.reason === 'in-use') {
    const todo =
      result.holding.length > 0
        ? 'The processes still holding it will use it on their next request: wait for their next refresh (or ' +
          'restart them), then verify again.'
        : 'Every one of them has rotated since: verify again once their last hold is out of the window.';
    sections.push(todo);
  }
  if (result.missing.length > 0) {
    const head = result.reason === 'in-use' ? 'Once they have rotated, a clear answer still needs:\n' : '';
    sections.push(`${head}${missingLines(result.missing).join('\n')}`);
  }
  return sections.map((s) => `\n${s}\n`).join('');
}
