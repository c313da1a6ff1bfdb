/** What `keyflip rotate` prints for people (`--json` prints the result as it is). */
import { formatAge, formatDuration } from '../duration.js';
import type { VerifyOffender } from '../collector/index.js';
import type { ProviderUsageBucket } from '../providers/index.js';
import type { KeyVerification, KeyView, RotationContext, RotationOutcome, RotationResult } from '../rotation/index.js';
import type { LeakReport, ProviderEvidence, ProviderRevocation } from '../rotation/types.js';
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
export function renderRotation(r: RotationResult, ctx: Pick<RotationContext, 'name' | 'provider'>): string {
  const head = r.outcome === 'refused' ? `${HEADS.refused} (${r.refusal})` : headOf(r);
  const lines: string[] = [`${head}: ${clean(r.message)}`];
  if (r.keys.length > 0) lines.push('', keyTable(r.keys));
  if (r.probe) {
    const detail = r.probe.detail ? `, ${clean(r.probe.detail)}` : '';
    lines.push('', `probe: ${r.probe.provider} answered ${r.probe.reason} (HTTP ${r.probe.status}${detail})`);
  }
  for (const v of r.verifications ?? []) lines.push('', ...verificationLines(v));
  if (r.providerRevocations && r.providerRevocations.length > 0)
    lines.push('', ...revocationLines(r.providerRevocations));
  if (r.leak) lines.push('', ...leakLines(r.leak));
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
    const next = `keyflip rotate ${r.next.command} ${ctx.name}${nextArgs(r.next.command, ctx.provider?.id)}`;
    lines.push('', `Next: ${next} — ${clean(r.next.why)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** auto: `WAITING` for a run that waits for time to pass, `OK` for nothing to do; the outcome's head otherwise. */
function headOf(r: RotationResult): string {
  if (r.command !== 'auto' || r.outcome !== 'already-done') return HEADS[r.outcome];
  return r.message.startsWith('waiting for') ? 'WAITING' : 'OK';
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
  const head = `verify ${v.key} (${v.fingerprint}) over ${formatDuration(result.windowMs)}`;
  const lines = v.provider
    ? [`${head}: ${verdict(result.reason, v.provider.reason)}`, `  beacons: ${answer}`, ...evidenceLines(v.provider)]
    : [`${head}: ${answer}`];
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

type Reason = KeyVerification['result']['reason'];
const RANK: Record<Reason, number> = { clear: 0, 'cannot-prove': 1, 'in-use': 2 };
const SAID: Record<Reason, string> = { clear: 'unused', 'cannot-prove': 'cannot prove', 'in-use': 'in use' };

/** The old key's verdict with a provider: the worse of the beacons' and the provider's, and whose it is. */
function verdict(beacons: Reason, provider: Reason): string {
  if (beacons === provider) return `${SAID[beacons]} (the beacons and the provider)`;
  return RANK[provider] > RANK[beacons] ? `${SAID[provider]} (the provider)` : `${SAID[beacons]} (the beacons)`;
}

const count = (n: number): string => n.toLocaleString('en-US');
const second = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const minute = (ms: number): string => new Date(ms).toISOString().replace(/:\d{2}\.\d{3}Z$/, 'Z');

/** `312 requests, 9,840 tokens` (tokens only where the provider reports no requests: Anthropic). */
function usageText(requests: number | undefined, tokens: number): string {
  const t = `${count(tokens)} token${tokens === 1 ? '' : 's'}`;
  return requests === undefined ? t : `${count(requests)} request${requests === 1 ? '' : 's'}, ${t}`;
}

/** The provider's evidence on one old key: its answer, the buckets with use, until when its data is complete. */
function evidenceLines(e: ProviderEvidence): string[] {
  const id = e.keyId === undefined ? 'id unknown' : clean(e.keyId);
  const lines = [`  provider ${e.provider} (${id}): ${SAID[e.reason]}: ${clean(e.message)}`];
  for (const b of e.buckets.slice(-12)) lines.push(`    ${bucketText(b)}`);
  if (e.buckets.length > 12) lines.push(`    (${e.buckets.length - 12} earlier buckets with use not shown)`);
  // A cannot-prove message says until when the data is complete, and when to verify again.
  if (e.keyId !== undefined && e.reason !== 'cannot-prove')
    lines.push(`    its data is complete until ${second(e.coveredUntilMs)}`);
  return lines;
}

function bucketText(b: ProviderUsageBucket): string {
  return `${minute(b.startMs)} to ${minute(b.endMs)}  ${usageText(b.requests, b.tokens)}`;
}

/** What revoke and emergency did at the provider. */
function revocationLines(revocations: readonly ProviderRevocation[]): string[] {
  const lines = ['At the provider:'];
  for (const p of revocations) {
    const what =
      p.outcome === 'kept'
        ? 'kept (--keep-provider-key): it still works at the provider'
        : `${p.outcome === 'already' ? 'already revoked' : 'revoked'}${p.status ? ` (${p.status})` : ''}`;
    const fingerprint = p.fingerprint === '' ? '' : ` (${p.fingerprint})`;
    lines.push(`  ${clean(p.key)}${fingerprint} ${clean(p.keyId)}: ${what}`);
  }
  return lines;
}

/** emergency's leak report: per leaked key, its use per hour at the provider and the instances that held it. */
function leakLines(leak: LeakReport): string[] {
  const lines = [`Leak report, ${second(leak.sinceMs)} to ${second(leak.untilMs)}:`];
  for (const k of leak.keys) {
    const id = k.keyId === undefined ? 'id unknown' : clean(k.keyId);
    const total = k.keyId === undefined ? 'no provider data' : `${usageText(k.requests, k.tokens)} at the provider`;
    lines.push(`  ${clean(k.key)} (${k.fingerprint}) ${id}: ${total}`);
    for (const h of k.hourly) {
      const per = h.requests === undefined ? `${count(h.tokens)} tokens` : `${count(h.requests)} requests`;
      const tokens = h.requests === undefined ? '' : `, ${count(h.tokens)} tokens`;
      lines.push(`    ${minute(h.startMs)}  ${per} per hour${tokens}`);
    }
    if (k.coveredUntilMs !== undefined && k.coveredUntilMs < leak.untilMs)
      lines.push(`    the provider's data is complete until ${second(k.coveredUntilMs)}: later use is not shown yet`);
    if (k.instances.length === 0) lines.push('    held by no beaconing instance');
    else {
      lines.push(`    held by ${k.instances.length} beaconing instance${k.instances.length === 1 ? '' : 's'}:`);
      for (const i of k.instances.slice(0, 20)) lines.push(`      ${clean(i)}`);
      if (k.instances.length > 20) lines.push(`      … and ${k.instances.length - 20} more`);
    }
  }
  for (const g of leak.gaps) lines.push(`  missing: ${clean(g)}`);
  return lines;
}

/** The arguments the next command needs; with a provider, its `--provider` too (its other options as given). */
function nextArgs(command: string, provider: string | undefined): string {
  const withProvider = provider === undefined ? '' : ` --provider ${provider}`;
  if (command === 'provision' || command === 'emergency') return `${withProvider} < new-key.txt`;
  if (command === 'probe') return ` --provider ${provider ?? '<id>'}${provider === undefined ? ' < new-key.txt' : ''}`;
  if (command === 'verify' || command === 'revoke') return `${withProvider} --window 60m --collector <url>`;
  if (command === 'auto') return ` --provider ${provider ?? '<id>'} --window 60m --collector <url>`;
  if (command === 'discard') return withProvider;
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
  const withProvider = keys.some((k) => k.records.provider !== undefined);
  const header = [
    'KEY',
    'VERSION',
    'STATE',
    'ROLE',
    'CREATED',
    'FINGERPRINT',
    ...(withInstances ? ['INSTANCES'] : []),
    ...(withProvider ? ['PROVIDER KEY'] : []),
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
      ...(withProvider ? [providerCell(k)] : []),
      last ? `${last[0]} ${withoutMillis(clean(last[1].at))}` : '-',
    ];
  });
  return table(header, rows);
}

/** `openai key_abc (minted)`, `… revoked`; `-` when keyflip has no provider identity for the key. */
function providerCell(k: KeyView): string {
  const p = k.records.provider;
  if (p === undefined) return '-';
  const revoked = k.records['provider-revoked'];
  const state = revoked ? ` ${clean(revoked.status)}` : p.minted ? ' (minted)' : '';
  return `${clean(p.provider)} ${clean(p.keyId)}${state}`;
}
