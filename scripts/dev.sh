#!/usr/bin/env bash
# Runs Rollcall locally: installs what is missing, builds, applies the
# migrations to local D1 and starts `wrangler dev` (local D1, local Queue,
# cron reachable at /__scheduled) with an admin key from .dev.vars.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
PORT="${PORT:-8787}"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/build-worker.sh"

if [ ! -f .dev.vars ]; then
  {
    echo "ADMIN_API_KEY=rc_admin_$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    echo "ENCRYPTION_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  } > .dev.vars
  echo "Wrote .dev.vars with a new local admin key." >&2
fi
# Dev-only settings: cost headers for the benchmarks, http webhooks to
# loopback receivers for the tour. Added to an older .dev.vars too.
for setting in EXPOSE_COST=1 ALLOW_HTTP_LOOPBACK_WEBHOOKS=1; do
  grep -q "^${setting%%=*}=" .dev.vars || echo "$setting" >> .dev.vars
done
ADMIN_API_KEY=$(sed -n 's/^ADMIN_API_KEY=//p' .dev.vars)

CI=1 wrangler d1 migrations apply rollcall --local >/dev/null
cat <<MSG

  Rollcall is starting on http://127.0.0.1:$PORT
  Admin key:  $ADMIN_API_KEY
  Try:        curl -H "Authorization: Bearer $ADMIN_API_KEY" http://127.0.0.1:$PORT/v1/organizations
  Cron:       curl "http://127.0.0.1:$PORT/__scheduled?cron=*+*+*+*+*"

MSG
exec wrangler dev --local --ip 127.0.0.1 --port "$PORT" --test-scheduled
