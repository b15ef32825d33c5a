/** WCAG AA for every state's text on its colour (badges and DAG nodes share them). */
import assert from "node:assert/strict";
import { CSS, STATE_COLORS } from "../../shared/ui/style.ts";

/** WCAG 2.x relative luminance of `#rrggbb`. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** The contrast ratio of two colours, 1 to 21. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

Deno.test("contrast: the WCAG formula gives the known figures", () => {
  assert.equal(contrast("#000000", "#ffffff").toFixed(0), "21");
  assert.equal(contrast("#777777", "#ffffff").toFixed(2), "4.48");
});

Deno.test("every state's text has WCAG AA contrast (≥ 4.5:1) on its background", () => {
  for (const state of ["PENDING", "QUEUED", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]) {
    assert.ok(STATE_COLORS[state], `${state} has colours`);
  }
  for (const [state, { bg, fg }] of Object.entries(STATE_COLORS)) {
    const ratio = contrast(bg, fg);
    assert.ok(ratio >= 4.5, `${state}: ${fg} on ${bg} is ${ratio.toFixed(2)}:1`);
    // And the stylesheet really draws them: the node's box and its text.
    assert.ok(CSS.includes(`svg.dag .node.s-${state} rect{fill:${bg}}`), state);
    assert.ok(CSS.includes(`svg.dag .node.s-${state} text{fill:${fg}}`), state);
  }
});
