/** The one table printer of the CLI: rows under a header, for a terminal. */

/** Options of {@link table}. */
export interface TableOptions {
  /** Header names of the columns aligned right (numbers). @default [] */
  readonly alignRight?: readonly string[] | undefined;
}

/**
 * Rows under a header, each column as wide as its widest cell, two spaces between columns, each line indented
 * two spaces and with no trailing white space. Cells are printed as given: pass them through `clean` first.
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  options: TableOptions = {},
): string {
  const right = new Set(options.alignRight ?? []);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => {
    const padded = header.map((h, i) => {
      const cell = cells[i] ?? '';
      const width = widths[i] ?? 0;
      return right.has(h) ? cell.padStart(width) : cell.padEnd(width);
    });
    return `  ${padded.join('  ').trimEnd()}`;
  };
  return [line(header), ...rows.map(line)].join('\n');
}
