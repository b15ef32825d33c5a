/**
 * The environment settings the trex flow plugin reads when it deploys
 * (seed 000, "Environment Variables"), parsed from a plain object so this
 * stays pure. Unlike trex, which swallows a malformed PREFECT_DOCKER_VOLUMES
 * or PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG and deploys without volumes or
 * with the wrong registry, we refuse: a container that silently loses its
 * mounts is worse than an import that says which variable is wrong.
 * An empty variable counts as unset (trex uses `||`, and `FOO=` is common).
 */
import { type ImportIssue } from "./plan.ts";
import { NAME_PATTERN, NAME_RULE } from "./names.ts";

/** Environment as a plain object (never read from the runtime): tests and callers pass what they mean. */
export type Env = Record<string, string | undefined>;

/** Deployment settings taken from the environment, with trex's defaults. */
export interface TrexSettings {
  /** PREFECT_POOL, default `default`. */
  pool: string;
  /** PLUGINS_IMAGE_TAG, default `latest`. */
  imageTag: string;
  /** PLUGINS_PULL_POLICY, default `IfNotPresent`. */
  pullPolicy: string;
  /** PREFECT_DOCKER_VOLUMES (JSON array of strings), default `[]`. */
  volumes: string[];
  /** PREFECT_DOCKER_NETWORK, "" for none. */
  network: string;
  /** PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG, when it names both registries. */
  rewrite?: { current: string; new: string };
}

// The values Prefect's docker worker accepts (its ImagePullPolicy enum).
const PULL_POLICIES = ["IfNotPresent", "Always", "Never"];
// Docker's tag grammar.
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === "" ? undefined : value;
}

function parseJson(text: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    return { error: `is not valid JSON (${(e as Error).message})` };
  }
}

/** Read and validate every trex deployment setting; all problems at once. */
export function readTrexSettings(
  env: Env,
): { ok: true; settings: TrexSettings } | { ok: false; errors: ImportIssue[] } {
  const errors: ImportIssue[] = [];
  const fail = (name: string, message: string) => errors.push({ path: `env.${name}`, message });

  const pool = read(env, "PREFECT_POOL") ?? "default";
  if (!NAME_PATTERN.test(pool)) fail("PREFECT_POOL", `pool name ${NAME_RULE}`);

  const imageTag = read(env, "PLUGINS_IMAGE_TAG") ?? "latest";
  if (!TAG_PATTERN.test(imageTag)) fail("PLUGINS_IMAGE_TAG", `"${imageTag}" is not a Docker tag`);

  const pullPolicy = read(env, "PLUGINS_PULL_POLICY") ?? "IfNotPresent";
  if (!PULL_POLICIES.includes(pullPolicy)) {
    fail("PLUGINS_PULL_POLICY", `must be one of ${PULL_POLICIES.join(", ")}`);
  }

  let volumes: string[] = [];
  const volumesText = read(env, "PREFECT_DOCKER_VOLUMES");
  if (volumesText !== undefined) {
    const parsed = parseJson(volumesText);
    if ("error" in parsed) fail("PREFECT_DOCKER_VOLUMES", parsed.error);
    else if (!Array.isArray(parsed.value) || !parsed.value.every((v) => typeof v === "string")) {
      fail("PREFECT_DOCKER_VOLUMES", 'must be a JSON array of strings, e.g. ["/data:/data:ro"]');
    } else volumes = parsed.value;
  }

  const network = read(env, "PREFECT_DOCKER_NETWORK") ?? "";

  let rewrite: TrexSettings["rewrite"];
  const rewriteText = read(env, "PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG");
  if (rewriteText !== undefined) {
    const name = "PLUGINS_FLOW_CUSTOM_REPO_IMAGE_CONFIG";
    const parsed = parseJson(rewriteText);
    if ("error" in parsed) fail(name, parsed.error);
    else {
      const v = parsed.value as Record<string, unknown> | null;
      const shape = 'must be {} or {"current": "<registry>", "new": "<registry>"}';
      if (typeof v !== "object" || v === null || Array.isArray(v)) fail(name, shape);
      else if (v.current === undefined && v.new === undefined) rewrite = undefined;
      else if (typeof v.current !== "string" || !v.current || typeof v.new !== "string") {
        fail(name, shape);
      } else rewrite = { current: v.current, new: v.new };
    }
  }

  if (errors.length) return { ok: false, errors };
  return { ok: true, settings: { pool, imageTag, pullPolicy, volumes, network, rewrite } };
}

/**
 * A tag limit as trex writes it: a number, a numeric string ("3", as in the
 * seed's complete example) or the name of an environment variable holding
 * the number. A name that is unset or not a whole number is an error naming
 * the variable — trex would fall back to 1, which hides the mistake.
 */
export function resolveLimit(
  value: number | string,
  env: Env,
  path: string,
): { limit: number } | { error: ImportIssue } {
  const whole = (s: string) => /^\d+$/.test(s.trim());
  if (typeof value === "number") {
    return Number.isInteger(value) && value >= 0
      ? { limit: value }
      : { error: { path, message: `limit must be a whole number ≥ 0, got ${value}` } };
  }
  if (whole(value)) return { limit: Number(value.trim()) };
  const raw = read(env, value);
  if (raw === undefined) {
    return { error: { path, message: `environment variable ${value} is not set` } };
  }
  if (!whole(raw)) {
    return {
      error: {
        path,
        message: `environment variable ${value} must be a whole number, got "${raw}"`,
      },
    };
  }
  return { limit: Number(raw.trim()) };
}

/** True when a reference already pins a tag or digest (`repo:1.2`, `repo@sha256:…`). */
export function isPinned(image: string): boolean {
  // Only the last path segment can carry a tag: `localhost:5000/app` is a port.
  const last = image.slice(image.lastIndexOf("/") + 1);
  return image.includes("@") || last.includes(":");
}

/**
 * The image a deployment runs: the registry prefix rewritten, then
 * `:PLUGINS_IMAGE_TAG` appended — unless the reference already pins a tag or
 * digest, which we keep (appending would make an invalid reference) and
 * report as a warning.
 */
export function finalImage(image: string, s: TrexSettings): { image: string; warning?: string } {
  const moved = s.rewrite && image.startsWith(s.rewrite.current)
    ? s.rewrite.new + image.slice(s.rewrite.current.length)
    : image;
  if (isPinned(moved)) {
    return { image: moved, warning: `image ${moved} is already pinned; PLUGINS_IMAGE_TAG ignored` };
  }
  return { image: `${moved}:${s.imageTag}` };
}
