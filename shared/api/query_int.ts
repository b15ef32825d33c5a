/**
 * An integer query parameter written as plain decimal digits. `z.coerce.number()`
 * took what `Number()` takes: `0x10`, `1e2` and ` 10` read as 16, 100 and 10
 * (found by a hostile-input probe); now they are a 422 at the parameter.
 */
import { z } from "zod";

export function queryInt(min: number, max: number, fallback: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z.string().regex(/^\d{1,9}$/, message).transform(Number)
    .pipe(z.number().int().min(min, message).max(max, message)).default(fallback);
}
