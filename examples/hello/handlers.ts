/**
 * Handlers of the example flow (examples/hello/flow.json). The exported
 * object `hello` gives the names the flow uses (`hello.weather`, …), so
 *   edgeflow worker start --pool default examples/hello/handlers.ts
 * serves them; `ctx.input` is `{ run, deps, args, item }`.
 */
import type { TaskContext } from "../../shared/worker/mod.ts";

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

export const hello = {
  list_cities: async (ctx: TaskContext) => {
    await pause(300, ctx.signal);
    const cities = (ctx.input.run as { cities?: string[] }).cities;
    return cities?.length ? cities : ["Berlin", "Kolkata", "New York"];
  },
  weather: async (ctx: TaskContext) => {
    await pause(400, ctx.signal);
    const city = String(ctx.input.item);
    // Deterministic "weather" so runs are reproducible without a network.
    const celsius = [...city].reduce((sum, ch) => sum + ch.charCodeAt(0), 0) % 35;
    return { city, celsius };
  },
  greet: (ctx: TaskContext) => {
    const greeting = (ctx.input.run as { greeting?: string }).greeting ?? "Hello";
    return `${greeting}${(ctx.input.args as { punctuation: string }).punctuation}`;
  },
  summary: (ctx: TaskContext) => {
    const weather = ctx.input.deps.weather as { city: string; celsius: number }[];
    const warmest = weather.reduce((a, b) => (b.celsius > a.celsius ? b : a));
    return { greeting: ctx.input.deps.greet, cities: weather.length, warmest: warmest.city };
  },
};
