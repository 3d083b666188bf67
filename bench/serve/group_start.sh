#!/usr/bin/env bash
# A group start for N contacts (100,000 by default) on SQLite and on PostgreSQL, everything on 127.0.0.1:
# the time to create the runs, the messages delivered a second through a fake gateway (the shared
# mock webhook, node), the server's memory, and POST /ping (a trigger that answers at once) served by
# wrk before the start and while it runs. Each store twice: as fast as the server goes
# (`--start-rate 100000`), and at the default rate (500 runs a second).
#
#   bash bench/serve/group_start.sh [contacts=100000] [wrk_seconds=10]
#
# Seeds the contacts straight into the database (one group, "Customers", on the `sms` channel), starts
# `flowc serve bench/serve/group_start.flow --start-rate 100000`, posts the start and follows it.
set -euo pipefail
N=${1:-100000}; DUR=${2:-10}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
OUT=$(mktemp -d /tmp/flowc-group-start-XXXX)
command -v wrk >/dev/null || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; }
(cd "$ROOT" && cargo build --release --quiet)
FLOWC=$ROOT/target/release/flowc
TOKEN=bench-token
PORT=18090
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)
AS=(); [ "$(id -u)" = 0 ] && { chown postgres "$OUT"; AS=(runuser -u postgres --); }
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$OUT/data" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
"${AS[@]}" "$PGBIN/initdb" -D "$OUT/data" -U flowc --auth=trust -E UTF8 >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$OUT/data" -o "-p 15433 -k $OUT -c listen_addresses=127.0.0.1" -l "$OUT/pg.log" -w start >/dev/null
PGURL="postgres://flowc@127.0.0.1:15433/bench"
node "$SHARED/mock_webhook.js" 18081 3600 > "$OUT/gateway.log" 2>&1 & GATEWAY=$!; PIDS+=($GATEWAY)
sleep 1

serve() { # db
  FLOWC_API_TOKEN=$TOKEN "$FLOWC" serve "$ROOT/bench/serve/group_start.flow" --addr "127.0.0.1:$PORT" --db "$1" \
    --allow-network 127.0.0.1/32 --no-access-log --start-rate 100000 > "$OUT/serve.log" 2>&1 &
  SERVER=$!; PIDS+=($SERVER)
  for i in $(seq 1 80); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return; sleep 0.25; done
  echo "flowc serve did not start" >&2; cat "$OUT/serve.log" >&2; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
api() { curl -s -H "Authorization: Bearer $TOKEN" "$@"; }
ping() { # label
  wrk -t1 -c16 -d"${DUR}s" --latency -s "$SHARED/nodered/post_order.lua" "http://127.0.0.1:$PORT/ping" > "$OUT/$1.txt"
  echo "$(grep Requests/sec "$OUT/$1.txt" | awk '{print $2}') $(grep ' 99%' "$OUT/$1.txt" | awk '{print $2}')"
}
now() { date +%s.%N; }

run() { # label db seed-command rate
  local label="$1 at $4" db=$2
  [ "$1" = SQLite ] && rm -f "$db" "$db"-wal "$db"-shm
  [ "$1" = PostgreSQL ] && psql -q -h 127.0.0.1 -p 15433 -U flowc -d postgres -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench"
  serve "$db"; stop                                   # the schema
  eval "$3"                                           # the contacts
  serve "$db"
  read -r base_rps base_p99 < <(ping "$label-before")
  local t0; t0=$(now)
  local id; id=$(api -X POST -d "{\"flow\": \"promo\", \"groups\": [\"Customers\"], \"rate\": $4}" "http://127.0.0.1:$PORT/starts" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  ping "$label-during" > "$OUT/$label-during.result" &
  local wrk=$!
  if [ "$4" -lt 100000 ]; then
    # At the default rate, only what serving looks like meanwhile: the start is cancelled after it.
    wait "$wrk"
    read -r load_rps load_p99 < "$OUT/$label-during.result"
    local done_json; done_json=$(api -X POST "http://127.0.0.1:$PORT/starts/$id/cancel")
    local started; started=$(echo "$done_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["started"])')
    local hwm; hwm=$(awk '/VmHWM/{print $2}' /proc/$SERVER/status)
    stop
    echo "| $label | $N | $started in the ${DUR} s of wrk, then cancelled | – | $((hwm / 1024)) MiB | $(printf '%.0f' "$base_rps") req/s, p99 $base_p99 | $(printf '%.0f' "$load_rps") req/s, p99 $load_p99 |"
    return
  fi
  local peak=0 created="" status
  while :; do
    status=$(api "http://127.0.0.1:$PORT/starts/$id" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["status"], s["started"], s["skipped"], s["failed"])')
    rss=$(awk '/VmRSS/{print $2}' /proc/$SERVER/status); [ "$rss" -gt "$peak" ] && peak=$rss
    if [ -z "$created" ] && [ "${status%% *}" != running ]; then created=$(now); echo "  $label start: $status"; fi
    pending=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^flowc_outbox_pending /{print $2}')
    [ -n "$created" ] && [ "${pending:-1}" = 0 ] && break
    sleep 0.5
  done
  local t2; t2=$(now)
  wait "$wrk"
  read -r load_rps load_p99 < "$OUT/$label-during.result"
  local hwm; hwm=$(awk '/VmHWM/{print $2}' /proc/$SERVER/status)
  stop
  python3 - "$label" "$N" "$t0" "$created" "$t2" "$base_rps" "$base_p99" "$load_rps" "$load_p99" "$hwm" <<'PY'
import sys
label, n, t0, t1, t2, brps, bp99, lrps, lp99, hwm = sys.argv[1:]
n, t0, t1, t2 = int(n), float(t0), float(t1), float(t2)
print(f"| {label} | {n:,} | {t1 - t0:.1f} s ({n / (t1 - t0):,.0f} runs/s) | {n / (t2 - t0):,.0f} msg/s ({t2 - t0:.1f} s to the last) "
      f"| {int(hwm) / 1024:.0f} MiB | {float(brps):,.0f} req/s, p99 {bp99} | {float(lrps):,.0f} req/s, p99 {lp99} |")
PY
}

echo "| store | contacts | runs created | delivered | peak RSS | /ping before | /ping during the start |"
echo "|---|---|---|---|---|---|---|"
SEED_SQLITE="sqlite3 '$OUT/flowc.db' \"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
  INSERT INTO contacts (urn, channel, name, language, fields, updated_ms, timezone, group_names)
  SELECT printf('tel:+2507%08d', i), 'sms', 'C' || i, '', '{}', 0, '', '[\\\"Customers\\\"]' FROM n;\""
run SQLite "$OUT/flowc.db" "$SEED_SQLITE" 100000
run SQLite "$OUT/flowc.db" "$SEED_SQLITE" 500
SEED_PG="psql -q -h 127.0.0.1 -p 15433 -U flowc -d bench -c \"INSERT INTO contacts (urn, channel, name, language, fields, updated_ms, timezone, group_names)
  SELECT 'tel:+2507' || lpad(i::text, 8, '0'), 'sms', 'C' || i, '', '{}', 0, '', '[\\\"Customers\\\"]' FROM generate_series(0, $N - 1) i\""
run PostgreSQL "$PGURL" "$SEED_PG" 100000
run PostgreSQL "$PGURL" "$SEED_PG" 500
kill -TERM "$GATEWAY"; sleep 0.5; tail -1 "$OUT/gateway.log"
