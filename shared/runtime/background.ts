/**
 * Background work after the response: Supabase's edge runtime keeps an
 * isolate alive for a promise handed to `EdgeRuntime.waitUntil` (and may end
 * it once the response is sent otherwise). Where that global is missing (plain
 * Deno, tests) there is no background here: the caller awaits the work.
 */
type EdgeRuntimeGlobal = { waitUntil?: (p: Promise<unknown>) => void };

export function edgeWaitUntil(): ((work: Promise<unknown>) => void) | undefined {
  const runtime = (globalThis as { EdgeRuntime?: EdgeRuntimeGlobal }).EdgeRuntime;
  const waitUntil = runtime?.waitUntil;
  return typeof waitUntil === "function" ? (work) => waitUntil.call(runtime, work) : undefined;
}
