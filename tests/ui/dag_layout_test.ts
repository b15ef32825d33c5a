/**
 * The DAG drawing as a reader sees it: the SVG's own paths, sampled, never enter a box other than
 * their two ends' — for hand-made flows with long edges and for many seeded random DAGs.
 */
import assert from "node:assert/strict";
import { DAG_BOX, type DagStep, DagSvg } from "../../shared/ui/dag_svg.tsx";

type Pt = [number, number];

/** Points along an SVG path made of M, L and C commands. */
function sample(d: string): Pt[] {
  const tokens = d.match(/[MLC]|-?\d+(?:\.\d+)?/g)!;
  const out: Pt[] = [];
  let cur: Pt = [0, 0];
  let i = 0;
  const num = () => Number(tokens[i++]);
  while (i < tokens.length) {
    const cmd = tokens[i++];
    if (cmd === "M") {
      cur = [num(), num()];
      out.push(cur);
    } else if (cmd === "L") {
      const to: Pt = [num(), num()];
      for (let t = 0; t <= 1; t += 0.02) {
        out.push([cur[0] + (to[0] - cur[0]) * t, cur[1] + (to[1] - cur[1]) * t]);
      }
      cur = to;
    } else if (cmd === "C") {
      const [c1, c2, to]: Pt[] = [[num(), num()], [num(), num()], [num(), num()]];
      for (let t = 0; t <= 1; t += 0.01) {
        const u = 1 - t;
        out.push([
          u ** 3 * cur[0] + 3 * u * u * t * c1[0] + 3 * u * t * t * c2[0] + t ** 3 * to[0],
          u ** 3 * cur[1] + 3 * u * u * t * c1[1] + 3 * u * t * t * c2[1] + t ** 3 * to[1],
        ]);
      }
      cur = to;
    } else throw new Error(`unexpected ${cmd} in ${d}`);
  }
  return out;
}

/** Edges that pass through a box that is neither their start nor their end. */
function crossings(steps: DagStep[]): string[] {
  const svg = String(DagSvg({ steps }));
  const boxes = [...svg.matchAll(/data-step="([^"]+)" transform="translate\(([\d.]+),([\d.]+)\)"/g)]
    .map((m) => ({ slug: m[1], x: Number(m[2]), y: Number(m[3]) }));
  assert.equal(boxes.length, steps.length);
  const bad: string[] = [];
  for (const m of svg.matchAll(/data-edge="([^"]+)" d="([^"]+)"/g)) {
    const [from, to] = m[1].replaceAll("&gt;", ">").split("->");
    for (const b of boxes) {
      if (b.slug === from || b.slug === to) continue;
      const inside = sample(m[2]).some(([x, y]) =>
        x > b.x + 0.5 && x < b.x + DAG_BOX.W - 0.5 && y > b.y + 0.5 && y < b.y + DAG_BOX.H - 0.5
      );
      if (inside) bad.push(`${from}->${to} through ${b.slug}`);
    }
  }
  return bad;
}

const step = (slug: string, ...depends_on: string[]): DagStep => ({ slug, depends_on });

Deno.test("a long edge goes around the steps of the columns it skips", () => {
  const steps = [
    step("extract"),
    step("clean", "extract"),
    step("validate", "extract"),
    step("enrich", "clean"),
    step("score", "validate"),
    step("join", "enrich", "score"),
    step("report", "extract", "join"), // skips three columns
    step("notify", "clean", "report"),
  ];
  assert.deepEqual(crossings(steps), []);
});

Deno.test("seeded random DAGs: no edge passes through another step's box", () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 0; n < 60; n++) {
    const size = 4 + Math.floor(rand() * 12);
    const steps: DagStep[] = [];
    for (let i = 0; i < size; i++) {
      const deps = steps.filter(() => rand() < 0.25).map((s) => s.slug).slice(0, 3);
      steps.push(step(`s${i}`, ...deps));
    }
    assert.deepEqual(crossings(steps), [], JSON.stringify(steps));
  }
});

Deno.test("a 1,000-step flow whose steps all depend on the first is laid out with a bounded drawing", async () => {
  // ~500,000 dummy nodes before the bound: the page took 6 s and held the server.
  const { layoutDag } = await import("../../shared/ui/dag_svg.tsx");
  const steps: DagStep[] = Array.from({ length: 1000 }, (_, i) => ({
    slug: `s${i}`,
    depends_on: i === 0 ? [] : i === 1 ? ["s0"] : [`s${i - 1}`, "s0"],
  }));
  const layout = layoutDag(steps);
  assert.equal(layout.nodes.length, 1000);
  assert.equal(layout.edges.length, 1 + 2 * 998);
  const points = layout.edges.reduce((a, e) => a + e.points.length, 0);
  assert.ok(points < 10_000, `${points} points`);
  // Every edge still joins its two steps, and each step has its own column.
  const x = new Map(layout.nodes.map((n) => [n.slug, n.x]));
  for (const e of layout.edges) {
    assert.equal(e.points[0][0], x.get(e.from)! + DAG_BOX.W);
    assert.ok(e.points[e.points.length - 1][0] < x.get(e.to)!);
  }
  assert.equal(new Set(layout.nodes.map((n) => n.depth)).size, 1000);
  // A small flow keeps its dummies: an edge that skips a column bends through it.
  const small = layoutDag([
    { slug: "a", depends_on: [] },
    { slug: "b", depends_on: ["a"] },
    { slug: "c", depends_on: ["b", "a"] },
  ]);
  const skip = small.edges.find((e) => e.from === "a" && e.to === "c")!;
  assert.equal(skip.points.length, 4);
});
