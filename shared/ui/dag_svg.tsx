// deno-lint-ignore-file jsx-key
// (Rendered once on the server: there is no reconciliation for keys to help, and
// precompiled JSX would print `key` as an HTML attribute.)
/**
 * A flow's DAG as SVG, laid out on the server as a layered (Sugiyama-style)
 * drawing: each step sits in the column of its depth (the longest chain of
 * dependencies before it); an edge that skips columns gets a dummy node in
 * each column it crosses, so it runs through a free slot between boxes
 * instead of through them; a few barycenter sweeps order each column to
 * keep edges short and uncrossed. Between columns an edge is a curve with
 * horizontal ends, which stays inside the gap. Good for the tens of steps
 * flows have, with no layout library or client-side code to ship.
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

/** An edge's route: points from the dependency's right edge to the dependent's left. */
export interface DagEdge {
  from: string;
  to: string;
  points: [number, number][];
}

/** Where each node and edge goes. */
export interface DagLayout {
  width: number;
  height: number;
  nodes: (DagStep & { x: number; y: number; depth: number })[];
  edges: DagEdge[];
}

/** Node size and spacing (px). */
export const DAG_BOX = { W: 156, H: 44 };
const W = DAG_BOX.W;
const H = DAG_BOX.H;
const GAP_X = 56;
const GAP_Y = 16;
/** Height of the slot a passing edge takes in a column. */
const LANE = 10;
const PAD = 16;
const SWEEPS = 4;
/**
 * Most dummy nodes a layout makes. A 1,000-step flow in which every step also
 * depends on the first needs ~500,000 (one per column each edge crosses): its
 * flow and run pages took 6 s each and held the server the while (a
 * hostile-input probe). Past this bound, edges that skip columns are drawn as
 * one curve across them instead.
 */
const MAX_DUMMIES = 4_000;

type Item = { kind: "node"; step: DagStep } | { kind: "dummy"; edge: number };

/** Layers, dummies for long edges, barycenter ordering, then coordinates. */
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
  for (const s of steps) depthOf(s.slug, new Set());
  const layerCount = Math.max(1, ...steps.map((s) => depth.get(s.slug)! + 1));
  const layers: Item[][] = Array.from({ length: layerCount }, () => []);
  const nodeItem = new Map<string, Item>();
  for (const s of steps) {
    const item: Item = { kind: "node", step: s };
    nodeItem.set(s.slug, item);
    layers[depth.get(s.slug)!].push(item);
  }
  // Every edge as a chain of items in adjacent layers (dummies in the layers it
  // crosses), unless that would take more than MAX_DUMMIES of them.
  let crossings = 0;
  for (const s of steps) {
    for (const d of s.depends_on) {
      if (bySlug.has(d)) crossings += Math.max(0, depth.get(s.slug)! - depth.get(d)! - 1);
    }
  }
  const dummies = crossings <= MAX_DUMMIES;
  const chains: { from: string; to: string; items: Item[] }[] = [];
  for (const s of steps) {
    for (const d of s.depends_on.filter((x) => bySlug.has(x))) {
      const edge = chains.length;
      const items: Item[] = [nodeItem.get(d)!];
      for (let l = depth.get(d)! + 1; dummies && l < depth.get(s.slug)!; l++) {
        const dummy: Item = { kind: "dummy", edge };
        layers[l].push(dummy);
        items.push(dummy);
      }
      items.push(nodeItem.get(s.slug)!);
      chains.push({ from: d, to: s.slug, items });
    }
  }
  const preds = new Map<Item, Item[]>(), succs = new Map<Item, Item[]>();
  for (const { items } of chains) {
    for (let i = 1; i < items.length; i++) {
      (preds.get(items[i]) ?? preds.set(items[i], []).get(items[i])!).push(items[i - 1]);
      (succs.get(items[i - 1]) ?? succs.set(items[i - 1], []).get(items[i - 1])!).push(items[i]);
    }
  }
  // Barycenter sweeps, down then up: each item moves to the mean index of its neighbours.
  const index = new Map<Item, number>();
  const reindex = (layer: Item[]) => layer.forEach((it, i) => index.set(it, i));
  layers.forEach(reindex);
  const order = (layer: Item[], neighbours: Map<Item, Item[]>) => {
    const key = new Map(layer.map((it, i) => {
      const ns = neighbours.get(it) ?? [];
      return [it, ns.length ? ns.reduce((a, n) => a + index.get(n)!, 0) / ns.length : i];
    }));
    layer.sort((a, b) => key.get(a)! - key.get(b)! || index.get(a)! - index.get(b)!);
    reindex(layer);
  };
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    for (let l = 1; l < layers.length; l++) order(layers[l], preds);
    for (let l = layers.length - 2; l >= 0; l--) order(layers[l], succs);
  }
  // Coordinates: columns left to right, each column's items stacked and centred.
  const size = (it: Item) => (it.kind === "node" ? H : LANE);
  const colHeight = (layer: Item[]) =>
    layer.reduce((a, it) => a + size(it), 0) + Math.max(0, layer.length - 1) * GAP_Y;
  const tallest = Math.max(H, ...layers.map(colHeight));
  const height = PAD * 2 + tallest;
  const pos = new Map<Item, { x: number; y: number }>();
  layers.forEach((layer, l) => {
    let y = PAD + (tallest - colHeight(layer)) / 2;
    for (const it of layer) {
      pos.set(it, { x: PAD + l * (W + GAP_X), y });
      y += size(it) + GAP_Y;
    }
  });
  const nodes = layers.flatMap((layer, l) =>
    layer.flatMap((it) => it.kind === "node" ? [{ ...it.step, depth: l, ...pos.get(it)! }] : [])
  );
  // Keep declaration order for the SVG (stable output); positions come from the layout.
  const rank = new Map(steps.map((s, i) => [s.slug, i]));
  nodes.sort((a, b) => rank.get(a.slug)! - rank.get(b.slug)!);
  const edges = chains.map(({ from, to, items }) => {
    const points: [number, number][] = [];
    items.forEach((it, i) => {
      const p = pos.get(it)!;
      if (it.kind === "dummy") {
        points.push([p.x, p.y + LANE / 2], [p.x + W, p.y + LANE / 2]);
      } else if (i === 0) points.push([p.x + W, p.y + H / 2]);
      else points.push([p.x - 4, p.y + H / 2]);
    });
    return { from, to, points };
  });
  const width = PAD * 2 + layerCount * W + (layerCount - 1) * GAP_X;
  return { width, height, nodes, edges };
}

/**
 * The SVG path of an edge's points: a straight run through each column it crosses, and between
 * columns a cubic whose control points share the midpoint's x, so it never leaves the gap.
 */
export function edgePath(points: [number, number][]): string {
  let d = `M${points[0][0]},${points[0][1]}`;
  for (let i = 1; i < points.length; i++) {
    const [x1, y1] = points[i - 1], [x2, y2] = points[i];
    if (y1 === y2 && i % 2 === 0) d += ` L${x2},${y2}`;
    else {
      const mid = (x1 + x2) / 2;
      d += ` C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
    }
  }
  return d;
}

function label(text: string, max = 20): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The SVG of `steps`; `href(slug)` makes nodes links (e.g. to the step's row). */
export function DagSvg(props: { steps: DagStep[]; href?: (slug: string) => string }) {
  const { width, height, nodes, edges: routes } = layoutDag(props.steps);
  const edges = routes.map((e) => ({ key: `${e.from}->${e.to}`, d: edgePath(e.points) }));
  return (
    <div class="dag-wrap">
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
    </div>
  );
}
