/**
 * The OTLP exporter's settings from the environment variables the
 * OpenTelemetry specification defines (sdk-environment-variables,
 * exporter.md): none of them set, nothing is exported.
 *
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full URL spans are posted to;
 *   else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`.
 * - `OTEL_EXPORTER_OTLP_HEADERS` (and `..._TRACES_HEADERS`, which wins per
 *   key): `key=value,key2=value2`, values URL-encoded.
 * - `OTEL_SERVICE_NAME`: the resource's `service.name` (default "edgeflow").
 * - `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`: off.
 */

/** Where and how spans are exported. */
export interface OtelSettings {
  /** The OTLP/HTTP JSON traces URL. */
  url: string;
  headers: Record<string, string>;
  serviceName: string;
}

/** The exporter's settings, or undefined when tracing is off. */
export function otelFromEnv(env: Record<string, string | undefined>): OtelSettings | undefined {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === "none") return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const url = traces || (base ? `${base.replace(/\/+$/, "")}/v1/traces` : "");
  if (!url) return undefined;
  try {
    new URL(url);
  } catch {
    throw new Error(
      `OTEL_EXPORTER_OTLP_ENDPOINT is ${JSON.stringify(url)}: give a URL such as ` +
        "http://localhost:4318",
    );
  }
  return {
    url,
    headers: {
      ...parseHeaders(env.OTEL_EXPORTER_OTLP_HEADERS),
      ...parseHeaders(env.OTEL_EXPORTER_OTLP_TRACES_HEADERS),
    },
    serviceName: env.OTEL_SERVICE_NAME?.trim() || "edgeflow",
  };
}

/** `k=v,k2=v2` (W3C baggage-like, values percent-encoded); malformed entries are skipped. */
export function parseHeaders(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of (value ?? "").split(",")) {
    const at = entry.indexOf("=");
    if (at <= 0) continue;
    const key = entry.slice(0, at).trim();
    let v = entry.slice(at + 1).trim();
    try {
      v = decodeURIComponent(v);
    } catch { /* kept as given */ }
    if (key) out[key] = v;
  }
  return out;
}
