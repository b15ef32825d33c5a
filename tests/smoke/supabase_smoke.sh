#!/usr/bin/env bash
# The Supabase smoke test: four function processes behind a local
# /functions/v1 gateway, through pgbouncer in transaction mode
# (EDGEFLOW_SMOKE_DIRECT=1: straight to Postgres). Needs DATABASE_URL.
set -euo pipefail
cd "$(dirname "$0")/../.."
if command -v deno >/dev/null 2>&1; then DENO=(deno); else DENO=(npx -y deno@2.9.6); fi
: "${DATABASE_URL:=postgres://postgres@127.0.0.1:5432/postgres}"
export DATABASE_URL
"${DENO[@]}" test -A tests/smoke/supabase_smoke.ts
