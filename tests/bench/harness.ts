/**
 * What a benchmark module is: a name, the figures it can measure, and a `run`
 * that measures the selected ones and returns a row per figure. `main.ts`
 * picks the modules, prints each row's JSON line and renders the table.
 */

/** Settings every module receives (from the command line). */
export interface BenchOptions {
  /** Concurrent clients, each its own connection (default 4). */
  clients: number;
  /** Measurements per figure; the median is reported (default 3). */
  rounds: number;
  /** Small sizes for a CI smoke run (< 30 s); figures are not comparable. */
  quick: boolean;
}

export interface BenchContext extends BenchOptions {
  /** A fresh, migrated database of the benchmark's own. */
  url: string;
  /** One line of progress on stderr. */
  progress(line: string): void;
}

/** One figure: a row of the table and a JSON line on stdout. */
export interface BenchRow {
  /** Figure name, `module.what.variant` (what `--only` matches). */
  bench: string;
  /** The measured figure, for people (`2,410 steps/s`). */
  figure: string;
  target: string;
  /** The baseline measured beside it in the same run, or "—". */
  baseline: string;
  /** Figure ÷ baseline, or null. */
  ratio: number | null;
  verdict: "pass" | "FAIL" | "baseline" | "info";
  /** The machine-readable line. */
  json: Record<string, unknown>;
}

export interface Benchmark {
  name: string;
  /** One paragraph on method, shown under the table. */
  method: string;
  /** Figure names this module can produce. */
  figures: string[];
  run(ctx: BenchContext, selected: Set<string>): Promise<BenchRow[]>;
}

/** Median of a non-empty list. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `12,345` */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Does `--only` name select this figure? Whole names or dotted prefixes. */
export function matches(only: string[], figure: string): boolean {
  return only.length === 0 ||
    only.some((o) => figure === o || figure.startsWith(o.endsWith(".") ? o : `${o}.`));
}
