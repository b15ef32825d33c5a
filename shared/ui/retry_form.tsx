// deno-lint-ignore-file jsx-key
/**
 * The run page's retry form: shown on a FAILED, CRASHED or CANCELLED run to
 * a key that may trigger. It posts to `…/runs/:id/retry` (actions.tsx), a
 * same-origin form like the page's cancel button; "from step" re-runs that
 * step and everything downstream, the default re-runs only what did not
 * complete.
 */
import type { RunDocument } from "../engine/runs.ts";
import type { Ui } from "./layout.tsx";

/** Run states a retry accepts. */
export const RETRYABLE_STATES = new Set(["FAILED", "CRASHED", "CANCELLED"]);

/** The form, or nothing when the run cannot be retried by this visitor. */
export function RetryForm(props: { ui: Ui; run: RunDocument }) {
  const { ui, run } = props;
  if (!RETRYABLE_STATES.has(run.status) || !ui.can("trigger")) return null;
  if (run.parent) return null; // a subflow's child: its parent is what gets retried
  return (
    <form class="inline gap" id="retry" method="post" action={`${ui.base}/runs/${run.id}/retry`}>
      <label class="inline">
        from step{" "}
        <select name="from_step">
          <option value="">failed and cancelled steps</option>
          {run.steps.map((s) => <option value={s.slug}>{s.slug}</option>)}
        </select>
      </label>{" "}
      <button class="primary" type="submit">Retry run</button>
    </form>
  );
}
