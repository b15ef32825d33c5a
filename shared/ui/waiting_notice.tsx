/**
 * The run page's notice of why steps wait (issue 11, item 12): one line per
 * step whose queued work something holds back (`waiting_for`, migration
 * 0071), e.g. "no worker online for handler etl.extract in pool default".
 * Kept apart from the page's layout so the run page only places it; its
 * look is inline (amber, like the dev-server banner) to need no stylesheet.
 */
import type { WaitingFor } from "../engine/runs.ts";

const BOX = "background:#fffaeb;color:#7a2e0e;border:1px solid #fedf89;border-radius:6px;" +
  "padding:8px 12px;margin:8px 0;";

/** The notices for `steps`, or nothing when no step waits on anything known. */
export function WaitingNotice(props: {
  steps: { slug: string; waiting_for?: WaitingFor | null }[];
}) {
  const waiting = props.steps.filter((s) => s.waiting_for);
  if (!waiting.length) return null;
  return (
    <ul id="waiting" role="status" style={BOX + "list-style:none;"}>
      {waiting.map((s) => (
        <li data-waiting-step={s.slug} data-reason={s.waiting_for!.reason}>
          <b>{s.slug}</b> waits: {s.waiting_for!.message}
        </li>
      ))}
    </ul>
  );
}
