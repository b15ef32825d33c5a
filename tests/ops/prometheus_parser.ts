/**
 * A small strict parser of the Prometheus text format (0.0.4), for tests: it
 * throws on anything a scraper would reject or that breaks the format's
 * rules — a sample before its family's TYPE, a TYPE given twice, a bad name,
 * label or value, duplicate series, histogram buckets that are not
 * cumulative or whose `+Inf` bucket differs from `_count`.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Family {
  name: string;
  type: string;
  help?: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

function parseValue(text: string, line: number): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) {
    throw new Error(`line ${line}: bad value ${JSON.stringify(text)}`);
  }
  return Number(text);
}

function parseLabels(text: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf("=", i);
    if (eq < 0) throw new Error(`line ${line}: label without =`);
    const name = text.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name ${name}`);
    if (name in out) throw new Error(`line ${line}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label value not quoted`);
    let j = eq + 2;
    let value = "";
    for (;;) {
      if (j >= text.length) throw new Error(`line ${line}: unterminated label value`);
      const ch = text[j];
      if (ch === "\\") {
        const next = text[j + 1];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`line ${line}: bad escape \\${next}`);
        j += 2;
      } else if (ch === '"') {
        j++;
        break;
      } else {
        value += ch;
        j++;
      }
    }
    out[name] = value;
    if (j < text.length) {
      if (text[j] !== ",") throw new Error(`line ${line}: expected , after label ${name}`);
      j++;
    }
    i = j;
  }
  return out;
}

/** The families of a document, by name. */
export function parsePrometheus(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the document must end with a newline");
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((raw, idx) => {
    const line = idx + 1;
    if (raw === "") throw new Error(`line ${line}: empty line`);
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      const fam = families.get(name) ?? { name, type: "untyped", samples: [] };
      if (kind === "TYPE") {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: bad type ${rest}`);
        if (families.has(name) && fam.type !== "untyped") {
          throw new Error(`line ${line}: TYPE of ${name} given twice`);
        }
        if (fam.samples.length) throw new Error(`line ${line}: TYPE of ${name} after samples`);
        fam.type = rest;
      } else {
        if (fam.help !== undefined) throw new Error(`line ${line}: HELP of ${name} twice`);
        fam.help = rest;
      }
      families.set(name, fam);
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)( -?\d+)?$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name, labelText, valueText] = m;
    const labels = labelText ? parseLabels(labelText, line) : {};
    const value = parseValue(valueText, line);
    const base = [...families.keys()].find((f) =>
      name === f ||
      (families.get(f)!.type === "histogram" &&
        [`${f}_bucket`, `${f}_sum`, `${f}_count`].includes(name))
    );
    if (!base) throw new Error(`line ${line}: sample ${name} has no TYPE before it`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`line ${line}: series ${key} twice`);
    series.add(key);
    families.get(base)!.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === "histogram") checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const buckets = f.samples.filter((s) => s.name === `${f.name}_bucket`);
  const count = f.samples.find((s) => s.name === `${f.name}_count`);
  if (!buckets.length || !count || !f.samples.some((s) => s.name === `${f.name}_sum`)) {
    throw new Error(`histogram ${f.name} lacks _bucket, _sum or _count`);
  }
  let le = -Infinity;
  let n = 0;
  for (const b of buckets) {
    if (b.labels.le === undefined) throw new Error(`histogram ${f.name}: bucket without le`);
    const bound = parseValue(b.labels.le, 0);
    if (bound <= le) throw new Error(`histogram ${f.name}: le not increasing`);
    if (b.value < n) throw new Error(`histogram ${f.name}: buckets not cumulative`);
    le = bound;
    n = b.value;
  }
  if (le !== Infinity) throw new Error(`histogram ${f.name}: no +Inf bucket`);
  if (n !== count.value) throw new Error(`histogram ${f.name}: +Inf bucket ≠ _count`);
}

/** The value of one series (labels must match exactly), or undefined. */
export function valueOf(
  families: Map<string, Family>,
  family: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return families.get(family)?.samples.find((s) =>
    s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want
  )?.value;
}
