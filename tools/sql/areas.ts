/**
 * Which file of `sql/schema/` a table (with its indexes and constraints) or a
 * type lives in. The first rule whose pattern matches the object's name wins;
 * an object no rule matches lands in the default area. The number orders the
 * files: a foreign key to a table of a later area is added with `alter table`
 * in that later file, so any order applies, but dependency order reads best.
 */
export interface Area {
  file: string;
  about: string;
  match: RegExp;
}

export const AREAS: Area[] = [
  {
    file: "10_pools.sql",
    about: "Pools, their queues, the pgmq queue of each handler, and the workers that poll them.",
    match: /^(pool|handler_queue|worker)/,
  },
  {
    file: "20_flows.sql",
    about: "Registered flows, their immutable versions and the steps of each version.",
    match: /^flow/,
  },
  {
    file: "30_deployments.sql",
    about: "Deployments (a flow version bound to a pool with parameters) and variables.",
    match: /^(deployment|variable)/,
  },
  {
    file: "40_schedules.sql",
    about: "Schedules of deployments and the deduplication of their push deliveries.",
    match: /^(schedule|qstash)/,
  },
  {
    file: "50_runs.sql",
    about: "Runs, the state of each step of a run, and the tasks (attempts) of a step.",
    match: /^(run|step|task)/,
  },
  {
    file: "60_limits.sql",
    about: "Concurrency limits and the slots that hold them; rate-limit windows; duplicate keys.",
    match: /^(concurrency|slot|limit|rate_limit|duplicate)/,
  },
  {
    file: "70_keys.sql",
    about: "API keys and dashboard sessions.",
    match: /^(api_key|key|session|ui_session)/,
  },
  {
    file: "80_events.sql",
    about: "The event log of runs, steps and tasks.",
    match: /^event/,
  },
  {
    file: "85_webhooks.sql",
    about: "Inbound webhooks and their delivery log; outbound notifications and their outbox.",
    match: /^(webhook|notification)/,
  },
  {
    file: "85_waits.sql",
    about:
      "Events sent to POST /trigger/events, the steps waiting on them, pending debounced triggers.",
    match: /^(inbound_event|wait|trigger_debounce)/,
  },
  {
    file: "90_maintenance.sql",
    about: "State of the maintenance pass (the sweep) and the engine's clock.",
    match: /^(sweep|prune|maintenance|clock)/,
  },
];

export const DEFAULT_AREA: Area = {
  file: "99_other.sql",
  about: "Objects no area rule in tools/sql/areas.ts matches yet.",
  match: /$^/,
};

/** The area of an `edgeflow` table or type. */
export function areaOf(name: string): Area {
  return AREAS.find((a) => a.match.test(name)) ?? DEFAULT_AREA;
}
