/** Render benchmark rows as the Markdown table the README includes. */
import type { BenchRow } from "./harness.ts";

const HEADER = ["benchmark", "figure", "target", "baseline in same run", "ratio", "verdict"];

/** Escape what would break a table cell. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

export function renderTable(rows: BenchRow[]): string {
  const lines = [
    `| ${HEADER.join(" | ")} |`,
    `| ${HEADER.map(() => "---").join(" | ")} |`,
  ];
  for (const r of rows) {
    const ratio = r.ratio === null ? "—" : `${r.ratio.toFixed(2)} ×`;
    const verdict = r.verdict === "FAIL" ? "**FAIL**" : r.verdict;
    lines.push(
      `| ${
        [`\`${r.bench}\``, r.figure, r.target, r.baseline, ratio, verdict].map(cell).join(" | ")
      } |`,
    );
  }
  return lines.join("\n");
}

export interface ResultsPage {
  date: string;
  machine: string;
  command: string;
  rows: BenchRow[];
  methods: { name: string; method: string }[];
}

/** The whole RESULTS.md: where it ran, how to reproduce, the table, the method. */
export function renderResults(page: ResultsPage): string {
  return [
    "# Benchmark results",
    "",
    `Measured ${page.date} on ${page.machine}.`,
    "",
    `Reproduce: \`${page.command}\` (\`DATABASE_URL\` picks the server; the bench creates and`,
    "drops a database of its own). Figures from shared machines are noisy: each is the",
    "median of several rounds, and ratios compare figures measured in the same run.",
    "",
    renderTable(page.rows),
    "",
    ...page.methods.flatMap((m) => [`**${m.name}.** ${m.method}`, ""]),
  ].join("\n");
}
