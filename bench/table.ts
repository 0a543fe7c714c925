/** One line of the table; sub-rows (phases) have no goal of their own. */
export interface Row {
  readonly figure: string;
  readonly measured: string;
  readonly goal: string;
  /** undefined: a breakdown row, or the figure could not be measured. */
  readonly met?: boolean;
}

/** What a figure hands back: its rows, how it was measured, and (when it missed) why. */
export interface FigureResult {
  readonly rows: Row[];
  readonly notes: string[];
  readonly misses: string[];
}

export function renderTable(rows: readonly Row[]): string {
  const verdict = (r: Row) => (r.met === undefined ? "" : r.met ? "✓ met" : "✗ missed");
  return [
    "| figure | measured (median) | goal | |",
    "|---|---|---|---|",
    ...rows.map((r) => `| ${r.figure} | ${r.measured} | ${r.goal} | ${verdict(r)} |`),
  ].join("\n");
}
