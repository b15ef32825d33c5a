/**
 * The dashboard's stylesheet, inlined into every page: one small response
 * per page and nothing to build or serve separately. State colours are
 * shared by badges and DAG nodes (`s-<STATE>` classes); each state has its
 * background and the text colour drawn on it, chosen for WCAG AA (contrast
 * ≥ 4.5:1, checked by tests/ui/contrast_test.ts). States not yet started
 * (pending, queued) are light with dark text, so a DAG reads at a glance.
 */

/** Background and text colour of each state's badge and DAG node. */
export const STATE_COLORS: Record<string, { bg: string; fg: string }> = {
  PENDING: { bg: "#eaecf0", fg: "#344054" },
  QUEUED: { bg: "#d1e9ff", fg: "#1849a9" },
  SCHEDULED: { bg: "#6938ef", fg: "#ffffff" },
  RUNNING: { bg: "#3056d3", fg: "#ffffff" },
  /** A step waiting for an event or sleeping (issue 16), and a run with only those left. */
  WAITING: { bg: "#fef0c7", fg: "#93370d" },
  COMPLETED: { bg: "#067647", fg: "#ffffff" },
  FAILED: { bg: "#b42318", fg: "#ffffff" },
  CRASHED: { bg: "#b93815", fg: "#ffffff" },
  CANCELLING: { bg: "#475467", fg: "#ffffff" },
  CANCELLED: { bg: "#475467", fg: "#ffffff" },
  STEP: { bg: "#475467", fg: "#ffffff" },
  ONLINE: { bg: "#067647", fg: "#ffffff" },
  ACTIVE: { bg: "#067647", fg: "#ffffff" },
  PAUSED: { bg: "#b93815", fg: "#ffffff" },
  OFFLINE: { bg: "#eaecf0", fg: "#344054" },
  INACTIVE: { bg: "#eaecf0", fg: "#344054" },
  ARCHIVED: { bg: "#eaecf0", fg: "#344054" },
};

const stateRules = Object.entries(STATE_COLORS).map(([state, { bg, fg }]) =>
  `.s-${state}{background:${bg};color:${fg}} ` +
  `svg.dag .node.s-${state} rect{fill:${bg}} svg.dag .node.s-${state} text{fill:${fg}}`
).join("\n");

export const CSS = `
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f8f9fb; --card:#fff; --accent:#3056d3;
  --failed:${STATE_COLORS.FAILED.bg}; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; gap:18px; align-items:center; padding:10px 24px; background:#101828; color:#fff; }
header.top a { color:#d0d5dd; text-decoration:none; } header.top a:hover, header.top a.on { color:#fff; }
header.top .brand { font-weight:700; color:#fff; margin-right:12px; }
header.top .who { margin-left:auto; color:#98a2b3; font-size:12px; display:flex; gap:8px; align-items:center; }
main { padding:20px 24px; max-width:1280px; }
h1 { font-size:20px; margin:0 0 14px; } h2 { font-size:16px; margin:22px 0 8px; }
a { color:var(--accent); }
table { border-collapse:collapse; width:100%; background:var(--card); border:1px solid var(--line); }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-size:12px; color:var(--muted); font-weight:600; background:#fcfcfd; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
code, pre { font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace; }
pre { margin:0; white-space:pre-wrap; word-break:break-word; max-height:220px; overflow:auto; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px; margin-bottom:14px; }
.muted { color:var(--muted); } .sep { margin:0 .45em; color:var(--muted); } .small { font-size:12px; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#344054; background:#eaecf0; }
${stateRules}
svg.dag { background:var(--card); border:1px solid var(--line); border-radius:8px; max-width:100%; height:auto; }
svg.dag .edge { fill:none; stroke:#98a2b3; stroke-width:1.5; }
svg.dag .node rect { stroke:rgba(0,0,0,.15); stroke-width:1; transition:fill .3s; }
svg.dag .node text { font-size:12px; } svg.dag .node .sub { font-size:10px; }
svg.dag .node.s-PENDING rect, svg.dag .node.s-QUEUED rect { stroke:#98a2b3; }
.err-msg { color:#7a271a; } .err details summary { cursor:pointer; color:var(--muted); font-size:12px; }
.err-stack { color:var(--muted); font-size:11px; }
.table-wrap { overflow-x:auto; -webkit-overflow-scrolling:touch; }
.dag-wrap { overflow-x:auto; }
@media (max-width: 640px) {
  header.top { flex-wrap:wrap; gap:10px 14px; padding:10px 12px; }
  header.top .who { margin-left:0; width:100%; flex-wrap:wrap; }
  main { padding:14px 12px; }
  th, td { padding:5px 6px; }
  .filters > div, .filters select { width:100%; }
  h1 { font-size:17px; word-break:break-all; }
  h1 code, p code { word-break:break-all; } td code, td time { white-space:nowrap; }
  table { display:block; overflow-x:auto; }
  svg.dag { max-width:none; }
}
form.inline { display:inline; margin:0; } .gap { margin-left:8px; }
button, .button { font:inherit; padding:4px 12px; border-radius:6px; border:1px solid var(--line); background:#fff; cursor:pointer; color:var(--fg); text-decoration:none; }
button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
button.danger { color:var(--failed); border-color:#fda29b; }
.filters { display:flex; gap:10px; align-items:end; margin-bottom:12px; flex-wrap:wrap; }
label { display:block; font-size:12px; color:var(--muted); }
input, select, textarea { font:inherit; padding:4px 8px; border:1px solid #d0d5dd; border-radius:6px; background:#fff; }
.field { margin-bottom:10px; } .field input, .field textarea, .field select { width:100%; max-width:480px; display:block; }
.error { color:var(--failed); font-size:12px; }
.flash { padding:8px 12px; border-radius:6px; margin-bottom:12px; background:#fef3f2; color:#b42318; border:1px solid #fecdca; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(260px,1fr)); gap:14px; }
.pager { margin-top:10px; display:flex; gap:12px; }
.warn { background:#fffaeb; color:#b54708; padding:6px 24px; font-size:12px; }
`;
