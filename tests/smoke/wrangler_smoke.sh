#!/usr/bin/env bash
# The Cloudflare smoke test: `wrangler dev` serves functions/_worker.ts under
# workerd against the real Postgres; a Deno test drives it with the SDK and
# fires the cron handler through /__scheduled.
set -euo pipefail
cd "$(dirname "$0")/../.."

if command -v deno >/dev/null 2>&1; then DENO=(deno); else DENO=(npx -y deno@2.9.6); fi
WRANGLER=(npx -y wrangler@4.86.0)
DB="edgeflow_smoke_$$"
URL="postgres://postgres@127.0.0.1:5432/${DB}"
PORT=$((20000 + $$ % 10000))
KEY="smoke-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
LOG="$(mktemp)"
MFLOG="$(mktemp)"
pid=""
mfpid=""

cleanup() {
  # wrangler leaves esbuild and workerd children behind: end the whole group.
  [ -n "$pid" ] && { kill -- -"$pid" 2>/dev/null || kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true
  [ -n "$mfpid" ] && { kill -- -"$mfpid" 2>/dev/null || kill "$mfpid" 2>/dev/null; wait "$mfpid" 2>/dev/null; } || true
  psql -h 127.0.0.1 -U postgres -qc "drop database if exists \"${DB}\" with (force)" || true
  rm -f "$LOG" "$MFLOG"
}
trap cleanup EXIT

psql -h 127.0.0.1 -U postgres -qc "create database \"${DB}\""
DATABASE_URL="$URL" "${DENO[@]}" task migrate >/dev/null

setsid "${WRANGLER[@]}" dev --port "$PORT" --ip 127.0.0.1 --test-scheduled --log-level warn \
  --var "DATABASE_URL:${URL}" --var "EDGEFLOW_ADMIN_KEY:${KEY}" \
  --var "EDGEFLOW_HEARTBEAT_SECONDS:1" >"$LOG" 2>&1 &
pid=$!

echo "waiting for wrangler dev on :$PORT"
for i in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:${PORT}/health" >/dev/null; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$LOG"; echo "wrangler dev exited"; exit 1; fi
  if grep -q "Build failed" "$LOG"; then cat "$LOG"; echo "the worker did not build"; exit 1; fi
  [ $((i % 10)) -eq 0 ] && echo "  still starting (${i}s)"
  sleep 1
done
curl -sf "http://127.0.0.1:${PORT}/health" >/dev/null || { cat "$LOG"; exit 1; }

# Under wrangler dev every case but the client-disconnect one: wrangler's dev
# proxy hides a client's leaving from the Worker (tests/smoke/miniflare_serve.mjs).
EDGEFLOW_SMOKE_URL="http://127.0.0.1:${PORT}" EDGEFLOW_SMOKE_KEY="$KEY" EDGEFLOW_SMOKE_PROXIED=1 \
  "${DENO[@]}" test -A tests/smoke/workerd_smoke.ts || { echo "--- wrangler log"; cat "$LOG"; exit 1; }

# The same bundle under workerd with nothing in front (as Cloudflare runs it):
# a long poll whose client left must not keep the next task.
"${DENO[@]}" task cf:dry-run >/dev/null
MFPORT=$((PORT + 1))
MF_PORT="$MFPORT" DATABASE_URL="$URL" EDGEFLOW_ADMIN_KEY="$KEY" EDGEFLOW_HEARTBEAT_SECONDS=1 \
  setsid npm exec --yes --package=wrangler@4.86.0 -- node tests/smoke/miniflare_serve.mjs >"$MFLOG" 2>&1 &
mfpid=$!
for i in $(seq 1 60); do
  curl -sf "http://127.0.0.1:${MFPORT}/health" >/dev/null && break
  kill -0 "$mfpid" 2>/dev/null || { cat "$MFLOG"; echo "miniflare exited"; exit 1; }
  sleep 1
done
EDGEFLOW_SMOKE_URL="http://127.0.0.1:${MFPORT}" EDGEFLOW_SMOKE_KEY="$KEY" \
  "${DENO[@]}" test -A tests/smoke/workerd_smoke.ts --filter "long poll" ||
  { echo "--- miniflare log"; cat "$MFLOG"; exit 1; }
