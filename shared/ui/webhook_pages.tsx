/**
 * `/ui/webhooks`: inbound webhooks with their latest deliveries (outcome,
 * run, why one was ignored or failed) and outbound notifications with the
 * state of their latest messages. Secrets are never shown.
 */
import { Badge, Page, Time, type Ui } from "./layout.tsx";
import type { DeliveryDocument, WebhookDocument } from "../webhooks/store.ts";
import type { NotificationDeliveryDocument, NotificationDocument } from "../notifications/store.ts";

export interface HookView {
  hook: WebhookDocument;
  deliveries: DeliveryDocument[];
}

export interface NotificationView {
  notification: NotificationDocument;
  deliveries: NotificationDeliveryDocument[];
}

const OUTCOME_STATE: Record<string, string> = {
  started: "COMPLETED",
  emitted: "COMPLETED",
  ignored: "CANCELLED",
  failed: "FAILED",
  delivered: "COMPLETED",
  pending: "PENDING",
};

/** Why a delivery was ignored or failed, with the first field error (`parameters.sha: …`). */
function why(d: DeliveryDocument): string {
  const e = d.error as
    | {
      ignored?: string;
      message?: string;
      code?: string;
      errors?: { path: string; message: string }[];
    }
    | null;
  const first = e?.errors?.[0];
  const detail = first ? ` (${first.path}: ${first.message})` : "";
  return (e?.ignored ?? e?.message ?? e?.code ?? "") + detail;
}

export function WebhooksPage(
  props: { ui: Ui; hooks: HookView[]; notifications: NotificationView[] },
) {
  const { ui } = props;
  return (
    <Page ui={ui} title="Webhooks" active="/webhooks">
      <h1>Webhooks</h1>
      {props.hooks.length === 0 && (
        <p class="muted">
          No inbound webhook yet: <code>edgeflow webhooks create</code> or{" "}
          <code>POST /deploy/webhooks</code>.
        </p>
      )}
      {props.hooks.map(({ hook, deliveries }) => (
        <section>
          <h2>
            {hook.name} <span class="muted small">{hook.provider} → {hook.deployment}</span>
            {!hook.active && <span class="badge">inactive</span>}
          </h2>
          <p class="small">
            <code>POST {hook.url}</code> · {hook.secrets} secret{hook.secrets === 1 ? "" : "s"} ·
            {" "}
            {hook.rejected} refused
          </p>
          {deliveries.length === 0 ? <p class="muted small">No delivery yet.</p> : (
            <table>
              <tr>
                <th>Received</th>
                <th>Delivery</th>
                <th>Event</th>
                <th>Outcome</th>
                <th>Run</th>
                <th>Why</th>
              </tr>
              {deliveries.map((d) => (
                <tr>
                  <td>
                    <Time at={d.received_at} />
                  </td>
                  <td class="small">{d.delivery_id}</td>
                  <td>{d.event ?? ""}</td>
                  <td>
                    <span class={`badge s-${OUTCOME_STATE[d.outcome] ?? ""}`}>{d.outcome}</span>
                  </td>
                  <td class="small">
                    {d.run_id
                      ? <a href={`${ui.base}/runs/${d.run_id}`}>{d.run_id.slice(0, 8)}</a>
                      : ""}
                  </td>
                  <td class="small">{why(d)}</td>
                </tr>
              ))}
            </table>
          )}
        </section>
      ))}
      <h1>Notifications</h1>
      {props.notifications.length === 0 && (
        <p class="muted">
          No outbound notification yet: <code>POST /deploy/notifications</code>.
        </p>
      )}
      {props.notifications.map(({ notification: n, deliveries }) => (
        <section>
          <h2>
            {n.name} <span class="muted small">{n.events.join(", ")} → {n.url}</span>
          </h2>
          {deliveries.length === 0 ? <p class="muted small">Nothing sent yet.</p> : (
            <table>
              <tr>
                <th>Created</th>
                <th>Event</th>
                <th>Run</th>
                <th>Status</th>
                <th>Attempts</th>
                <th>Last answer</th>
              </tr>
              {deliveries.map((d) => (
                <tr>
                  <td>
                    <Time at={d.created_at} />
                  </td>
                  <td>{d.event}</td>
                  <td class="small">
                    <a href={`${ui.base}/runs/${d.run_id}`}>{d.run_id.slice(0, 8)}</a>
                  </td>
                  <td>
                    <Badge state={OUTCOME_STATE[d.status] ?? d.status} />
                  </td>
                  <td class="num">{d.attempts}</td>
                  <td class="small">
                    {d.last_error ?? (d.last_status ? `HTTP ${d.last_status}` : "")}
                  </td>
                </tr>
              ))}
            </table>
          )}
        </section>
      ))}
    </Page>
  );
}
