/**
 * Spans as OTLP/HTTP JSON (opentelemetry-proto's `ExportTraceServiceRequest`
 * in its JSON mapping: ids in hex, times as decimal strings of nanoseconds,
 * enums as numbers), and the exporter that posts them in batches.
 *
 * Batching: spans wait in memory up to `delayMs` (default 200) or until
 * `maxBatch` (512, the OTel SDK's default batch size) are queued, then go in
 * one POST. The queue is bounded (`maxQueue`, 2,048, the SDK's default): a
 * span over it is dropped and counted, as is a batch the collector refused or
 * never answered (10 s timeout). Nothing here throws to a caller: a collector
 * that is down costs its spans, never a request.
 */
import type { Logger } from "../http/logger.ts";
import type { OtelSettings } from "./config.ts";

/** SpanKind (opentelemetry-proto trace.proto). */
export const SpanKind = { INTERNAL: 1, SERVER: 2, CLIENT: 3, PRODUCER: 4, CONSUMER: 5 } as const;

/** One finished span, before encoding. */
export interface SpanData {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind: number;
  /** Epoch milliseconds. */
  startMs: number;
  endMs: number;
  attributes?: Record<string, string | number | boolean | null | undefined>;
  /** Set: the span's status is ERROR with this message. */
  error?: string;
}

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | {
  boolValue: boolean;
};

function anyValue(v: string | number | boolean): AnyValue {
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "number") {
    return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  }
  return { stringValue: v };
}

function attributes(attrs: SpanData["attributes"]) {
  return Object.entries(attrs ?? {})
    .filter((e): e is [string, string | number | boolean] => e[1] !== null && e[1] !== undefined)
    .map(([key, value]) => ({ key, value: anyValue(value) }));
}

/** Epoch milliseconds as OTLP's nanoseconds string (microsecond precision). */
function nanos(ms: number): string {
  return (BigInt(Math.round(ms * 1000)) * 1000n).toString();
}

/** The request body of `POST /v1/traces` for `spans` of one service. */
export function encodeSpans(serviceName: string, spans: SpanData[]) {
  return {
    resourceSpans: [{
      resource: { attributes: attributes({ "service.name": serviceName }) },
      scopeSpans: [{
        scope: { name: "edgeflow" },
        spans: spans.map((s) => ({
          traceId: s.traceId,
          spanId: s.spanId,
          ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
          ...(s.traceState ? { traceState: s.traceState } : {}),
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: nanos(s.startMs),
          endTimeUnixNano: nanos(Math.max(s.endMs, s.startMs)),
          attributes: attributes(s.attributes),
          status: s.error ? { code: 2, message: s.error } : { code: 1 },
        })),
      }],
    }],
  };
}

/** Tuning of the exporter (defaults in the module header). */
export interface ExporterOptions {
  maxBatch?: number;
  maxQueue?: number;
  delayMs?: number;
  timeoutMs?: number;
}

/** Queues spans and posts them to the collector in batches. */
export class OtlpExporter {
  #queue: SpanData[] = [];
  #pending?: Promise<void>;
  #timer?: ReturnType<typeof setTimeout>;
  #wake?: () => void;
  /** Spans lost: over the queue's bound, or in a batch the collector did not take. */
  dropped = 0;
  /** Spans the collector accepted. */
  exported = 0;
  readonly #o: Required<ExporterOptions>;

  constructor(
    readonly settings: OtelSettings,
    private readonly fetcher: typeof fetch,
    private readonly log: Logger,
    options: ExporterOptions = {},
  ) {
    this.#o = { maxBatch: 512, maxQueue: 2048, delayMs: 200, timeoutMs: 10_000, ...options };
  }

  /**
   * Queue spans; returns the promise of the batch they will leave in, for the
   * runtime's `waitUntil` (it never rejects).
   */
  add(spans: SpanData[]): Promise<void> {
    const room = this.#o.maxQueue - this.#queue.length;
    if (spans.length > room) this.dropped += spans.length - Math.max(room, 0);
    this.#queue.push(...spans.slice(0, Math.max(room, 0)));
    if (this.#queue.length >= this.#o.maxBatch) this.#wake?.();
    return this.#pending ??= this.#drainAfterDelay();
  }

  /** Post everything queued now (tests, shutdown); resolves when the collector answered. */
  async flush(): Promise<void> {
    this.#wake?.();
    await this.#pending;
    while (this.#queue.length) await this.#post(this.#queue.splice(0, this.#o.maxBatch));
  }

  async #drainAfterDelay(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, this.#o.delayMs);
    });
    clearTimeout(this.#timer);
    this.#wake = undefined;
    try {
      while (this.#queue.length) await this.#post(this.#queue.splice(0, this.#o.maxBatch));
    } finally {
      this.#pending = undefined;
    }
  }

  async #post(batch: SpanData[]): Promise<void> {
    try {
      const res = await this.fetcher(this.settings.url, {
        method: "POST",
        headers: { ...this.settings.headers, "content-type": "application/json" },
        body: JSON.stringify(encodeSpans(this.settings.serviceName, batch)),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`the collector answered ${res.status}`);
      this.exported += batch.length;
    } catch (err) {
      this.dropped += batch.length;
      this.log("warn", "OTLP export failed; spans dropped", {
        spans: batch.length,
        url: this.settings.url,
        error: String(err),
      });
    }
  }
}
