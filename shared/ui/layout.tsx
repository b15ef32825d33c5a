/**
 * The page frame every dashboard page shares (navigation, who is signed in,
 * the stylesheet), the per-request view of the caller (`Ui`), and the small
 * formatting helpers pages use.
 */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { Context } from "hono";
import { type Scope, scopeAllows } from "../http/api_keys.ts";
import type { Principal } from "../http/auth.ts";
import { CSS } from "./style.ts";
import { wallTime } from "../schedule/zone.ts";

/** What a page needs to know about this request. */
export interface Ui {
  /** `/ui`, or `/trigger/ui` when served by the `trigger` function alone (Supabase). */
  base: string;
  /** The caller; null on the sign-in page. */
  who: Principal | null;
  /** Nonce of this response's inline scripts (Content-Security-Policy). */
  nonce: string;
  /** Whether the caller may do `method` on routes guarded by `scope`. */
  can(scope: Scope, method?: string): boolean;
  /**
   * The engine's clock (`edgeflow.now()`, in ms) on pages that show how long
   * something has been running; a test that moves the clock sees it here too.
   */
  now?: number;
}

/** Build the request's `Ui`. */
export function uiOf(c: Context, base: string, nonce: string): Ui {
  const who = (c.get("principal") as Principal | undefined) ?? null;
  return {
    base,
    who,
    nonce,
    can: (scope, method = "POST") => !!who && scopeAllows(who.scopes, scope, method),
  };
}

const NAV: { path: string; label: string; scope: Scope }[] = [
  { path: "/runs", label: "Runs", scope: "trigger" },
  { path: "/flows", label: "Flows", scope: "register" },
  { path: "/deployments", label: "Deployments", scope: "deploy" },
  { path: "/workers", label: "Workers", scope: "worker" },
  { path: "/concurrency", label: "Concurrency", scope: "deploy" },
  { path: "/webhooks", label: "Webhooks", scope: "deploy" },
];

/** A whole page. `active` is the navigation entry to highlight. */
export function Page(
  props: { ui: Ui; title: string; active?: string; children?: Child; authOff?: boolean },
) {
  const { ui } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{props.title} · edgeflow</title>
        <link rel="icon" href="data:," />
        <style>{raw(CSS)}</style>
      </head>
      <body>
        <header class="top">
          <a class="brand" href={`${ui.base}/runs`}>edgeflow</a>
          {ui.who &&
            NAV.filter((n) => ui.can(n.scope, "GET")).map((n) => (
              <a href={ui.base + n.path} class={props.active === n.path ? "on" : ""}>{n.label}</a>
            ))}
          {ui.who && (
            <span class="who">
              {ui.who.name} ({ui.who.scopes.join(", ")})
              {ui.who.name !== "auth-disabled" && (
                <form class="inline" method="post" action={`${ui.base}/logout`}>
                  <button type="submit">Sign out</button>
                </form>
              )}
            </span>
          )}
        </header>
        {ui.who?.name === "auth-disabled" && (
          <div class="warn">Authentication is disabled: this is the local dev server.</div>
        )}
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** A `·` between items of a line (spaced by CSS, not by JSX whitespace). */
export function Sep() {
  return <span class="sep">·</span>;
}

/** A coloured state label. */
export function Badge(props: { state: string; id?: string }) {
  return <span id={props.id} class={`badge s-${props.state}`}>{props.state}</span>;
}

/** JSON for people, cut short when huge (the API has the whole value). */
export function Json(props: { value: unknown; max?: number }) {
  if (props.value === null || props.value === undefined) return <span class="muted">—</span>;
  const text = JSON.stringify(props.value, null, 2);
  const max = props.max ?? 4000;
  return (
    <pre>{text.length > max ? `${text.slice(0, max)}\n… (${text.length} characters)` : text}</pre>
  );
}

/**
 * An error as people read it: the message as text (its line breaks kept), the stack folded in a
 * `<details>`, anything else the worker sent (type, code) beside it; a string as itself.
 */
export function ErrorText(props: { value: unknown }) {
  const v = props.value;
  if (v === null || v === undefined) return <span class="muted">—</span>;
  if (typeof v === "string") return <pre class="err-msg">{v}</pre>;
  if (typeof v !== "object" || typeof (v as { message?: unknown }).message !== "string") {
    return <Json value={v} max={1500} />;
  }
  const { message, stack, type, ...rest } = v as Record<string, unknown>;
  // A stack usually repeats the message on its first line: show only the frames.
  const firstLine = String(message).split("\n")[0];
  const frames = typeof stack === "string"
    ? stack.split("\n").filter((l, i) => i > 0 || !l.includes(firstLine)).join("\n")
    : "";
  const extra = Object.entries(rest).filter(([, x]) => x !== undefined && x !== null);
  return (
    <div class="err">
      <pre class="err-msg">{typeof type === "string" ? <b>{`${type}: `}</b> : null}{String(message)}</pre>
      {extra.length > 0 && (
        <div class="small muted">
          {extra.map(([k, x]) => `${k}: ${typeof x === "string" ? x : JSON.stringify(x)}`).join(
            " · ",
          )}
        </div>
      )}
      {frames.trim() && (
        <details>
          <summary>stack</summary>
          <pre class="err-stack">{frames}</pre>
        </details>
      )}
    </div>
  );
}

/**
 * An ISO timestamp shown with its zone: `2026-11-22 08:01:02 UTC`, or in `zone` (a schedule's
 * next fire time: `2026-11-22 13:31:02 Asia/Kolkata`), the full value on hover.
 */
export function Time(props: { at: string | null | undefined; zone?: string | null }) {
  if (!props.at) return <span class="muted">—</span>;
  return <time datetime={props.at} title={props.at}>{wallTime(props.at, props.zone)}</time>;
}

/** `1.2 s`, `3 min 4 s` between two ISO timestamps (to now when `to` is null). */
export function duration(
  from: string | null,
  to: string | null,
  now: number = Date.now(),
): string {
  if (!from) return "—";
  const ms = (to ? Date.parse(to) : now) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return m < 60
    ? `${m} min ${Math.round((ms % 60_000) / 1000)} s`
    : `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Href with query parameters, leaving out empty ones. */
export function withQuery(path: string, query: Record<string, string | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
