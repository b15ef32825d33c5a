/** W3C traceparent parsing and the OTel exporter settings from the environment. */
import assert from "node:assert/strict";
import { parseTraceparent, runTraceFrom } from "../../shared/otel/traceparent.ts";
import { otelFromEnv, parseHeaders } from "../../shared/otel/config.ts";

const T = "0af7651916cd43dd8448eb211c80319c";
const S = "b7ad6b7169203331";

Deno.test("traceparent: valid headers parse, invalid ones are ignored", () => {
  assert.deepEqual(parseTraceparent(`00-${T}-${S}-01`), { traceId: T, spanId: S, flags: "01" });
  // A later version may append fields; version 00 may not.
  assert.equal(parseTraceparent(`01-${T}-${S}-00-extra`)?.traceId, T);
  for (
    const bad of [
      undefined,
      "",
      `00-${T}-${S}-01-extra`,
      `ff-${T}-${S}-01`,
      `00-${"0".repeat(32)}-${S}-01`,
      `00-${T}-${"0".repeat(16)}-01`,
      `00-${T.toUpperCase()}-${S}-01`,
      `00-${T}-${S}`,
      "'; drop table edgeflow.runs; --",
    ]
  ) assert.equal(parseTraceparent(bad), null, String(bad));
});

Deno.test("a run's trace continues the caller's, or starts fresh", () => {
  const cont = runTraceFrom(`00-${T}-${S}-01`, "a=1");
  assert.equal(cont.trace_id, T);
  assert.equal(cont.parent_id, S);
  assert.match(cont.span_id, /^[0-9a-f]{16}$/);
  assert.notEqual(cont.span_id, S);
  assert.equal(cont.tracestate, "a=1");
  const fresh = runTraceFrom("garbage", "a=1");
  assert.match(fresh.trace_id, /^[0-9a-f]{32}$/);
  assert.equal(fresh.parent_id, undefined);
  assert.equal(fresh.tracestate, undefined, "a tracestate without a traceparent is dropped");
  assert.equal(runTraceFrom(`00-${T}-${S}-01`, "x".repeat(513)).tracestate, undefined);
});

Deno.test("OTEL_* variables as the specification defines them", () => {
  assert.equal(otelFromEnv({}), undefined);
  assert.equal(
    otelFromEnv({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }),
    undefined,
  );
  assert.equal(
    otelFromEnv({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }),
    undefined,
  );
  assert.deepEqual(otelFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" }), {
    url: "http://c:4318/v1/traces",
    headers: {},
    serviceName: "edgeflow",
  });
  const s = otelFromEnv({
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://api.example/otlp/traces",
    OTEL_EXPORTER_OTLP_HEADERS: "a=1,b=x%3Dy",
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: "b=2",
    OTEL_SERVICE_NAME: "flows",
  });
  assert.deepEqual(s, {
    url: "https://api.example/otlp/traces",
    headers: { a: "1", b: "2" },
    serviceName: "flows",
  });
  assert.deepEqual(parseHeaders("k=a%20b, broken ,=v,x=y"), { k: "a b", x: "y" });
  assert.throws(
    () => otelFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" }),
    /OTEL_EXPORTER_OTLP_ENDPOINT/,
  );
});
