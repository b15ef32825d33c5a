/** `Connect` on Deno (shared/celery/resp.ts): a plain TCP connection. */
import type { Connect } from "../celery/resp.ts";

/** Opens a TCP connection with `Deno.connect`. */
export const denoConnect: Connect = async (host, port) => {
  const conn = await Deno.connect({ hostname: host, port });
  return { readable: conn.readable, writable: conn.writable, close: () => conn.close() };
};
