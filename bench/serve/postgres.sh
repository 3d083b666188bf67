#!/usr/bin/env bash
# One flowc serve on SQLite, one on PostgreSQL, two on one PostgreSQL: POST /order and POST /lookup of
# bench/serve/peer.flow with wrk, in one session, everything on 127.0.0.1.
#
#   bash bench/serve/postgres.sh [duration_s=10] [connections=16]
#
# Starts its own PostgreSQL (Debian's package; initdb in a temporary directory, as the postgres user
# when run as root, default settings: every commit is flushed to disk) and the shared mock webhook.
# With two servers, each gets half the connections from its own wrk (a client-side balancer); the
# table adds their rates.
set -euo pipefail
DUR=${1:-10}; CONNS=${2:-16}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
OUT=$(mktemp -d /tmp/flowc-pgbench-XXXX)
command -v wrk >/dev/null || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; }
(cd "$ROOT" && cargo build --release --quiet)
FLOWC=$ROOT/target/release/flowc
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort | tail -1)
AS=(); [ "$(id -u)" = 0 ] && { chown postgres "$OUT"; AS=(runuser -u postgres --); }
"${AS[@]}" "$PGBIN/initdb" -D "$OUT/data" -U flowc --auth=trust -E UTF8 >/dev/null
"${AS[@]}" "$PGBIN/pg_ctl" -D "$OUT/data" -o "-p 15432 -k $OUT -c listen_addresses=127.0.0.1" -l "$OUT/pg.log" -w start >/dev/null
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  "${AS[@]}" "$PGBIN/pg_ctl" -D "$OUT/data" -m fast stop >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql -q -h 127.0.0.1 -p 15432 -U flowc -d postgres -c "CREATE DATABASE one" -c "CREATE DATABASE two"
node "$SHARED/mock_webhook.js" 18081 900 > "$OUT/mock.log" 2>&1 & PIDS+=($!)
sleep 1
serve() { # port db
  "$FLOWC" serve "$ROOT/bench/serve/peer.flow" --addr "127.0.0.1:$1" --db "$2" --allow-network 127.0.0.1/32 \
    --no-access-log > "$OUT/serve-$1.log" 2>&1 & PIDS+=($!)
  for i in $(seq 1 40); do curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return; sleep 0.25; done
}
rate() { grep Requests/sec "$1" | awk '{print $2}'; }
load() { # label ports...
  local label=$1; shift
  local n=$#; local c=$((CONNS / n))
  for ep in order lookup; do
    local files=()
    for port in "$@"; do
      wrk -t1 -c"$c" -d3s -s "$SHARED/nodered/post_order.lua" "http://127.0.0.1:$port/$ep" > /dev/null
    done
    for port in "$@"; do
      wrk -t1 -c"$c" -d"${DUR}s" --latency -s "$SHARED/nodered/post_order.lua" "http://127.0.0.1:$port/$ep" > "$OUT/$label-$ep-$port.txt" &
      files+=("$OUT/$label-$ep-$port.txt")
    done
    wait $(jobs -p | tail -n "$n")
    local sum=0
    for f in "${files[@]}"; do sum=$(python3 -c "print($sum + float('$(rate "$f")'))"); done
    local p99=$(grep ' 99%' "${files[0]}" | awk '{print $2}')
    printf '%-28s %-7s %10.0f req/s  p99 %s\n' "$label" "$ep" "$sum" "$p99"
  done
}
serve 18090 "$OUT/flowc.db";                                   load "1 server, SQLite" 18090
serve 18091 "postgres://flowc@127.0.0.1:15432/one";             load "1 server, PostgreSQL" 18091
serve 18092 "postgres://flowc@127.0.0.1:15432/two"; serve 18093 "postgres://flowc@127.0.0.1:15432/two"
load "2 servers, one PostgreSQL" 18092 18093
