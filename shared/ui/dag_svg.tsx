// deno-lint-ignore-file jsx-key
// (Rendered once on the server: there is no reconciliation for keys to help, and
// precompiled JSX would print `key` as an HTML attribute.)
/**
 * A flow's DAG as SVG, laid out on the server: each step sits in the column
 * of its depth (the longest chain of dependencies before it), in declaration
 * order within the column, and edges are curves from a dependency's right
 * edge to its dependent's left. Good enough for the tens of steps flows have,
 * and no layout library or client-side code to ship.
 *
 * Nodes carry `data-step` and a `s-<STATE>` class, so the run page's script
 * can recolour one the moment its event arrives.
 */

/** A step as the DAG needs it. */
export interface DagStep {
  slug: string;
  depends_on: string[];
  handler?: string;
  map?: string | null;
  /** Run pages: the step's state; flow pages leave it out. */
  status?: string;
  /** Map steps in a run: how many tasks. */
  tasks?: number;
}

/** Where each node goes. */
export interface DagLayout {
  width: number;
  height: number;
  nodes: (DagStep & { x: number; y: number; depth: number })[];
}

const W = 156;
const H = 44;
const GAP_X = 56;
const GAP_Y = 16;
const PAD = 16;
/** Room above the nodes for edges arcing over a column. */
const ARC = 28;

/** Columns by depth; unknown dependencies (never in registered flows) count as roots. */
export function layoutDag(steps: DagStep[]): DagLayout {
  const bySlug = new Map(steps.map((s) => [s.slug, s]));
  const depth = new Map<string, number>();
  const depthOf = (slug: string, seen: Set<string>): number => {
    const known = depth.get(slug);
    if (known !== undefined) return known;
    if (seen.has(slug)) return 0; // a cycle cannot be registered; do not loop if one appears
    seen.add(slug);
    const deps = (bySlug.get(slug)?.depends_on ?? []).filter((d) => bySlug.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => depthOf(x, seen))) : 0;
    depth.set(slug, d);
    return d;
  };
  const columns: DagStep[][] = [];
  for (const s of steps) (columns[depthOf(s.slug, new Set())] ??= []).push(s);
  // Edges that skip a column arc over it: leave them room above the nodes.
  const skips = steps.some((s) =>
    s.depends_on.some((d) => bySlug.has(d) && depth.get(s.slug)! - depth.get(d)! > 1)
  );
  const top = PAD + (skips ? ARC : 0);
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = top + PAD + tallest * H + (tallest - 1) * GAP_Y;
  const nodes = columns.flatMap((col, d) => {
    const colHeight = col.length * H + (col.length - 1) * GAP_Y;
    const y0 = top + (height - top - PAD - colHeight) / 2;
    return col.map((s, i) => ({
      ...s,
      depth: d,
      x: PAD + d * (W + GAP_X),
      y: y0 + i * (H + GAP_Y),
    }));
  });
  const width = PAD * 2 + Math.max(1, columns.length) * W + (columns.length - 1) * GAP_X;
  return { width, height, nodes };
}

/** An edge's path: a gentle S between neighbouring columns, an arc over the columns it skips. */
function edgePath(
  from: { x: number; y: number },
  to: { x: number; y: number },
  over: number | null,
) {
  const x1 = from.x + W, y1 = from.y + H / 2, x2 = to.x - 4, y2 = to.y + H / 2;
  if (over === null) {
    const mid = (x1 + x2) / 2;
    return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
  }
  // A cubic reaches 3/4 of the way to control points level with each other.
  const lane = over - ARC / 2;
  const cy = Math.min(y1, y2) - (Math.min(y1, y2) - lane) / 0.75;
  return `M${x1},${y1} C${x1 + (x2 - x1) / 4},${cy} ${x2 - (x2 - x1) / 4},${cy} ${x2},${y2}`;
}

function label(text: string, max = 20): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The SVG of `steps`; `href(slug)` makes nodes links (e.g. to the step's row). */
export function DagSvg(props: { steps: DagStep[]; href?: (slug: string) => string }) {
  const { width, height, nodes } = layoutDag(props.steps);
  const at = new Map(nodes.map((n) => [n.slug, n]));
  const edges = nodes.flatMap((n) =>
    n.depends_on.filter((d) => at.has(d)).map((d) => {
      const from = at.get(d)!;
      const between = nodes.filter((m) => m.depth > from.depth && m.depth < n.depth);
      const over = between.length ? Math.min(...between.map((m) => m.y)) : null;
      return { key: `${d}->${n.slug}`, d: edgePath(from, n, over) };
    })
  );
  return (
    <svg
      class="dag"
      xmlns="http://www.w3.org/2000/svg"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-label="flow DAG"
    >
      <defs>
        <marker
          id="arrow"
          viewBox="0 0 8 8"
          refX="7"
          refY="4"
          markerWidth="7"
          markerHeight="7"
          orient="auto"
        >
          <path d="M0,0 L8,4 L0,8 z" fill="#98a2b3" />
        </marker>
      </defs>
      {edges.map((e) => <path class="edge" data-edge={e.key} d={e.d} marker-end="url(#arrow)" />)}
      {nodes.map((n) => {
        const state = n.status ?? "STEP";
        const sub = n.status
          ? [n.status, n.map ? (n.tasks ? `map ×${n.tasks}` : "map") : ""].filter(Boolean).join(
            " · ",
          )
          : n.map
          ? `map over ${n.map}`
          : n.handler ?? "";
        const body = (
          <g class={`node s-${state}`} data-step={n.slug} transform={`translate(${n.x},${n.y})`}>
            <title>
              {`${n.slug}${n.handler ? ` (${n.handler})` : ""}${n.status ? `: ${n.status}` : ""}`}
            </title>
            <rect width={W} height={H} rx="7" />
            <text x="10" y="18">{label(n.slug)}</text>
            <text class="sub" x="10" y="34">{label(sub, 26)}</text>
          </g>
        );
        return props.href ? <a href={props.href(n.slug)}>{body}</a> : body;
      })}
    </svg>
  );
}
