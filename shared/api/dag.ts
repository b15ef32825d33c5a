/**
 * Graph checks for step DAGs, on indices: node `i` depends on `deps[i]`.
 *
 * Cycles are found as strongly connected components (Tarjan) rather than by
 * what Kahn's algorithm leaves over, because the leftovers include innocent
 * steps downstream of a cycle; the user should see only the steps that are
 * actually on one. At most 1,000 steps, so recursion depth is bounded.
 */

/** For each node, the id of its strongly connected component. */
export function components(deps: readonly (readonly number[])[]): number[] {
  const n = deps.length;
  const index = new Array<number>(n).fill(-1);
  const low = new Array<number>(n).fill(0);
  const onStack = new Array<boolean>(n).fill(false);
  const component = new Array<number>(n).fill(-1);
  const stack: number[] = [];
  let counter = 0;
  let count = 0;

  const visit = (v: number) => {
    index[v] = low[v] = counter++;
    stack.push(v);
    onStack[v] = true;
    for (const w of deps[v]) {
      if (index[w] === -1) {
        visit(w);
        low[v] = Math.min(low[v], low[w]);
      } else if (onStack[w]) {
        low[v] = Math.min(low[v], index[w]);
      }
    }
    if (low[v] === index[v]) {
      let w: number;
      do {
        w = stack.pop()!;
        onStack[w] = false;
        component[w] = count;
      } while (w !== v);
      count++;
    }
  };
  for (let v = 0; v < n; v++) if (index[v] === -1) visit(v);
  return component;
}

/**
 * A cycle through `from` that starts with the edge `from → first`, as node
 * indices ending back at `from` (shortest such, by breadth-first search
 * inside the component).
 */
export function cycleThrough(
  deps: readonly (readonly number[])[],
  component: readonly number[],
  from: number,
  first: number,
): number[] {
  // previous[w] = the node whose edge reached w; `first` is reached from `from` itself.
  const previous = new Map<number, number>([[first, from]]);
  const queue = [first];
  search: while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of deps[v]) {
      if (component[w] !== component[from] || previous.has(w)) continue;
      previous.set(w, v);
      if (w === from) break search;
      queue.push(w);
    }
  }
  const backwards = [from];
  let v = from;
  do {
    v = previous.get(v)!;
    backwards.push(v);
  } while (v !== from);
  return backwards.reverse();
}

/**
 * A topological order (dependencies first) of an acyclic graph, breaking
 * ties by index so the declaration order survives wherever the DAG allows.
 */
export function topologicalOrder(deps: readonly (readonly number[])[]): number[] {
  const n = deps.length;
  const waiting = deps.map((d) => new Set(d).size);
  const dependents: number[][] = Array.from({ length: n }, () => []);
  deps.forEach((d, v) => new Set(d).forEach((w) => dependents[w].push(v)));
  const placed = new Array<boolean>(n).fill(false);
  const order: number[] = [];
  while (order.length < n) {
    // Smallest ready index first; O(n²) over at most 1,000 steps is well under a millisecond.
    const next = waiting.findIndex((count, v) => count === 0 && !placed[v]);
    if (next === -1) throw new Error("topologicalOrder: graph has a cycle");
    placed[next] = true;
    order.push(next);
    for (const v of dependents[next]) waiting[v]--;
  }
  return order;
}
