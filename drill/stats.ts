/** Small statistics and formatting helpers of the drill. */

export interface Spread {
  readonly n: number;
  readonly p50: number | null;
  readonly max: number | null;
}

/** Median (nearest rank) and maximum, rounded to whole ms; `null` when there is no value. */
export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { n: 0, p50: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = sorted[Math.ceil(sorted.length / 2) - 1] as number;
  return { n: values.length, p50: Math.round(p50), max: Math.round(sorted[sorted.length - 1] as number) };
}

export function seconds(ms: number | null | undefined, digits = 2): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return `${(ms / 1000).toFixed(digits)} s`;
}

export function spreadText(s: Spread): string {
  return s.n === 0 ? '—' : `${seconds(s.p50)} / ${seconds(s.max)}`;
}

export function int(n: number): string {
  return n.toLocaleString('en-US');
}

export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  align?: readonly ('l' | 'r')[],
): string {
  const esc = (c: string): string => c.replace(/\|/g, '\\|');
  const lines = [
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'l' ? '---' : '---:')).join(' | ')} |`,
  ];
  for (const row of rows) lines.push(`| ${row.map(esc).join(' | ')} |`);
  return lines.join('\n');
}
