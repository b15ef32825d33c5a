/**
 * `/docs`: the OpenAPI document rendered as one self-contained HTML page
 * (inline CSS, no script, nothing loaded from elsewhere): operations grouped
 * by tag, each with its scope, parameters, request schema and responses.
 */
type Json = Record<string, unknown>;

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const pretty = (v: unknown) => `<pre>${esc(JSON.stringify(v, null, 2))}</pre>`;

const CSS = `
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}
header{background:#1f2937;color:#fff;padding:16px 24px}header h1{margin:0;font-size:20px}
header p{margin:4px 0 0;color:#d1d5db}main{max-width:1000px;margin:0 auto;padding:16px 24px}
h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px;text-transform:capitalize}
details{background:#fff;border:1px solid #e5e7eb;border-radius:6px;margin:6px 0}
summary{cursor:pointer;padding:8px 12px;display:flex;gap:12px;align-items:baseline}
.m{font:600 12px ui-monospace,monospace;padding:2px 6px;border-radius:4px;color:#fff;min-width:52px;text-align:center}
.get{background:#1d6b3a}.post{background:#1e4e8c}.put{background:#8a5a00}.delete{background:#a0262a}
code,.p{font-family:ui-monospace,monospace}.s{color:#4b5563}.scope{margin-left:auto;font-size:12px;color:#374151}
.body{padding:0 12px 12px}pre{background:#f3f4f6;padding:8px;overflow:auto;font-size:12px;max-height:360px}
table{border-collapse:collapse}td,th{border:1px solid #e5e7eb;padding:2px 8px;text-align:left}`;

function operationHtml(method: string, path: string, op: Json): string {
  const params = (op.parameters as Json[] | undefined) ?? [];
  const body = (op.requestBody as Json | undefined)?.content as Json | undefined;
  const responses = op.responses as Record<string, Json>;
  const scope = op["x-edgeflow-scope"] as string | undefined;
  return `<details><summary><span class="m ${method}">${method.toUpperCase()}</span>` +
    `<span class="p">${esc(path)}</span><span class="s">${esc(String(op.summary ?? ""))}</span>` +
    `<span class="scope">${
      scope ? `scope <code>${esc(scope)}</code>` : "no key"
    }</span></summary>` +
    `<div class="body">` +
    (params.length
      ? `<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>schema</th></tr>${
        params.map((p) =>
          `<tr><td><code>${esc(String(p.name))}</code></td><td>${esc(String(p.in))}</td><td>${
            p.required ? "yes" : "no"
          }</td><td><code>${esc(JSON.stringify(p.schema))}</code></td></tr>`
        ).join("")
      }</table>`
      : "") +
    (body ? `<h4>Request body</h4>${pretty((body["application/json"] as Json).schema)}` : "") +
    `<h4>Responses</h4>${
      Object.entries(responses).map(([status, r]) => {
        const content = r.content as Record<string, Json> | undefined;
        const [type, media] = content ? Object.entries(content)[0] : [undefined, undefined];
        return `<p><b>${esc(status)}</b> ${esc(String(r.description ?? ""))}${
          type ? ` — <code>${esc(type)}</code>` : ""
        }</p>${media?.schema ? pretty(media.schema) : ""}`;
      }).join("")
    }</div></details>`;
}

/** The page for a document built by ./document.ts. */
export function docsPage(doc: Json): string {
  const info = doc.info as Json;
  const byTag = new Map<string, string[]>();
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags as string[])[0];
      const list = byTag.get(tag) ?? [];
      list.push(operationHtml(method, path, op));
      byTag.set(tag, list);
    }
  }
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${esc(String(info.title))} API</title><style>${CSS}</style></head><body>` +
    `<header><h1>${esc(String(info.title))} API ${esc(String(info.version))}</h1><p>${
      esc(String(info.description))
    } The machine-readable document: <a style="color:#93c5fd" href="openapi.json">openapi.json</a>` +
    ` (OpenAPI ${esc(String(doc.openapi))}).</p></header><main>${
      [...byTag].map(([tag, ops]) => `<h2 id="${esc(tag)}">${esc(tag)}</h2>${ops.join("")}`).join(
        "",
      )
    }<h2>Problem document</h2>${
      pretty((doc.components as Json as { schemas: Json }).schemas.Problem)
    }</main></body></html>`;
}
