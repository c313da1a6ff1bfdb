/** What `keyflip rotate` prints for people (`--json` prints the result as it is). */
import { formatAge, formatDuration } from '../duration.js';
import type { VerifyOffender } from '../collector/index.js';
import type { KeyVerification, KeyView, RotationContext, RotationOutcome, RotationResult } from '../rotation/index.js';
import { clean } from './clean.js';
import { table } from './table.js';
import { missingLines } from './verify-output.js';

const HEADS: Record<RotationOutcome, string> = {
  done: 'OK',
  refused: 'REFUSED',
  failed: 'NOT OK',
  planned: 'DRY RUN',
  'already-done': 'ALREADY DONE',
};

/** A rotation result as text: the outcome, the keys, the probe, the verifications, the writes, notes, next step. */
export function renderRotation(r: RotationResult, ctx: Pick<RotationContext, 'name'>): string {
  const head = r.outcome === 'refused' ? `${HEADS.refused} (${r.refusal})` : HEADS[r.outcome];
  const lines: string[] = [`${head}: ${clean(r.message)}`];
  if (r.keys.length > 0) lines.push('', keyTable(r.keys));
  if (r.probe) {
    const detail = r.probe.detail ? `, ${clean(r.probe.detail)}` : '';
    lines.push('', `probe: ${r.probe.provider} answered ${r.probe.reason} (HTTP ${r.probe.status}${detail})`);
  }
  for (const v of r.verifications ?? []) lines.push('', ...verificationLines(v));
  // The rollback, while its key is the live one (no flip since).
  const rollback = r.keys.some((k) => k.role === 'live' && k.records.flipped?.rollback) && lastRollback(r.keys);
  if (rollback) {
    const { key, record } = rollback;
    const why = record.reason === undefined ? '' : `: ${clean(record.reason)}`;
    lines.push('', `rolled back: ${clean(key.label)} (${record.fingerprint}) at ${record.at}, to ${record.to}${why}`);
  }
  if (r.steps.length > 0) {
    lines.push('', r.outcome === 'planned' ? 'Would write:' : 'Writes:');
    for (const s of r.steps)
      lines.push(`  ${s.done ? '✓' : r.outcome === 'planned' ? '·' : '✗'} ${clean(s.description)}`);
  }
  if (r.notes.length > 0) {
    lines.push('', 'Notes:');
    for (const n of r.notes) lines.push(`  - ${clean(n)}`);
  }
  if (r.next.command !== 'none') {
    const next = `keyflip rotate ${r.next.command} ${ctx.name}${nextArgs(r.next.command)}`;
    lines.push('', `Next: ${next} — ${clean(r.next.why)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * One old key's verification: its answer, then the instances still holding it, those that held it earlier and
 * rotated since (with when), and each piece of missing evidence with what to do.
 */
function verificationLines(v: KeyVerification): string[] {
  const { result } = v;
  const answer =
    result.ok && v.windowElapsed
      ? 'unused'
      : result.ok
        ? 'unused so far, window not elapsed'
        : `${result.reason === 'in-use' ? 'in use' : 'cannot prove'}: ${clean(result.message)}`;
  const lines = [`verify ${v.key} (${v.fingerprint}) over ${formatDuration(result.windowMs)}: ${answer}`];
  const group = (title: string, offenders: readonly VerifyOffender[], seen: string): void => {
    if (offenders.length === 0) return;
    lines.push(`  ${title}:`);
    for (const o of offenders.slice(0, 20)) {
      const service = `${clean(o.service)}${o.environment ? `/${clean(o.environment)}` : ''}`;
      const when = `${seen} ${formatAge(result.at - o.lastSeen)} ago`;
      lines.push(`    ${service}  ${clean(o.host)}  pid ${o.pid}  instance ${clean(o.id)}  ${when}  uses ${o.uses}`);
    }
    if (offenders.length > 20) lines.push(`    … and ${offenders.length - 20} more`);
  };
  if (result.reason === 'in-use') {
    group('still holding it', result.holding, 'last seen');
    group('held it earlier, rotated since', result.heldEarlier, 'last held');
  } else {
    group('may hold it (a key of unknown version)', result.offenders, 'last seen');
  }
  if (result.reason === 'in-use' && result.missing.length > 0) {
    lines.push('  once they have rotated, a clear answer still needs:', ...missingLines(result.missing, '    '));
  } else if (!result.ok) {
    lines.push(...missingLines(result.missing, '  '));
  }
  return lines;
}

function nextArgs(command: string): string {
  if (command === 'provision' || command === 'emergency') return ' < new-key.txt';
  if (command === 'probe') return ' --provider <id> < new-key.txt';
  if (command === 'verify' || command === 'revoke') return ' --window 60m --collector <url>';
  return '';
}

/** The newest rollback recorded on the keys (`status` and `rollback` show it, with its reason). */
function lastRollback(
  keys: readonly KeyView[],
): { key: KeyView; record: NonNullable<KeyView['records']['rolled-back']> } | undefined {
  let last: { key: KeyView; record: NonNullable<KeyView['records']['rolled-back']> } | undefined;
  for (const key of keys) {
    const record = key.records['rolled-back'];
    if (record && (last === undefined || record.at > last.record.at)) last = { key, record };
  }
  return last;
}

const withoutMillis = (iso: string): string => iso.replace(/\.\d{3}Z$/, 'Z');

function keyTable(keys: readonly KeyView[]): string {
  const withInstances = keys.some((k) => k.instances !== undefined);
  const header = [
    'KEY',
    'VERSION',
    'STATE',
    'ROLE',
    'CREATED',
    'FINGERPRINT',
    ...(withInstances ? ['INSTANCES'] : []),
    'LAST STEP',
  ];
  const rows = keys.map((k) => {
    const steps = Object.entries(k.records) as [string, { at: string }][];
    const last = steps.sort((a, b) => (a[1].at < b[1].at ? 1 : a[1].at > b[1].at ? -1 : 0))[0];
    return [
      clean(k.label),
      String(k.version),
      k.state,
      k.role,
      withoutMillis(k.createdAt),
      k.fingerprint ?? '-',
      ...(withInstances ? [k.instances === undefined ? '-' : String(k.instances)] : []),
      last ? `${last[0]} ${withoutMillis(clean(last[1].at))}` : '-',
    ];
  });
  return table(header, rows);
}
