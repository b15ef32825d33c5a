/**
 * The dashboard's stylesheet, inlined into every page: one small response
 * per page and nothing to build or serve separately. State colours are
 * shared by badges and DAG nodes (`s-<STATE>` classes).
 */
export const CSS = `
:root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f8f9fb; --card:#fff; --accent:#3056d3;
  --pending:#98a2b3; --queued:#7cb4f5; --running:#3056d3; --completed:#12a150; --failed:#d92d20;
  --cancelled:#475467; --crashed:#e8590c; --scheduled:#7a5af8; }
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
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; font-weight:600; color:#fff; background:var(--pending); }
.s-PENDING{background:var(--pending)} .s-QUEUED{background:var(--queued)} .s-RUNNING{background:var(--running)}
.s-COMPLETED{background:var(--completed)} .s-FAILED{background:var(--failed)} .s-CRASHED{background:var(--crashed)}
.s-CANCELLED,.s-CANCELLING{background:var(--cancelled)} .s-SCHEDULED{background:var(--scheduled)}
.s-ONLINE{background:var(--completed)} .s-OFFLINE,.s-INACTIVE,.s-ARCHIVED{background:var(--pending)} .s-PAUSED{background:var(--crashed)} .s-ACTIVE{background:var(--completed)}
svg.dag { background:var(--card); border:1px solid var(--line); border-radius:8px; max-width:100%; height:auto; }
svg.dag .edge { fill:none; stroke:#98a2b3; stroke-width:1.5; }
svg.dag .node rect { stroke:rgba(0,0,0,.15); stroke-width:1; transition:fill .3s; }
svg.dag .node text { fill:#fff; font-size:12px; } svg.dag .node .sub { font-size:10px; opacity:.9; }
svg.dag .node.s-PENDING rect{fill:var(--pending)} svg.dag .node.s-QUEUED rect{fill:var(--queued)}
svg.dag .node.s-RUNNING rect{fill:var(--running)} svg.dag .node.s-COMPLETED rect{fill:var(--completed)}
svg.dag .node.s-FAILED rect{fill:var(--failed)} svg.dag .node.s-CANCELLED rect{fill:var(--cancelled)}
svg.dag .node.s-STEP rect{fill:#475467}
svg.dag .node { background:none; }
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
