#!/usr/bin/env bash
# Two flowc binaries side by side on bench/serve/peer.flow (SQLite), alternating, on 127.0.0.1 only:
# POST /order (answered on the front end's thread) and POST /lookup (a webhook to the shared mock).
#
#   bash bench/serve/compare.sh BEFORE_BINARY AFTER_BINARY [duration_s=10] [connections=16] [reps=3]
#
# Needs wrk (installed from Debian when missing) and node (the shared mock webhook).
set -euo pipefail
A=$1; B=$2; DUR=${3:-10}; CONNS=${4:-16}; REPS=${5:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
OUT=$(mktemp -d /tmp/flowc-compare-XXXX)
command -v wrk >/dev/null || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
node "$SHARED/mock_webhook.js" 18081 900 > "$OUT/mock.log" 2>&1 & PIDS+=($!)
for i in $(seq 1 60); do curl -s -o /dev/null "http://127.0.0.1:18081/order?id=warm" && break; sleep 0.25; done
round() { # label binary endpoint rep
  local db="$OUT/$1-$4.db"; rm -f "$db"*
  "$2" serve "$ROOT/bench/serve/peer.flow" --addr 127.0.0.1:18090 --db "$db" --allow-network 127.0.0.1/32 \
    --no-access-log > "$OUT/$1.log" 2>&1 & local pid=$!
  for i in $(seq 1 60); do curl -s -o /dev/null http://127.0.0.1:18090/healthz && break; sleep 0.25; done
  wrk -t1 -c"$CONNS" -d3s -s "$SHARED/nodered/post_order.lua" "http://127.0.0.1:18090/$3" > /dev/null
  wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$SHARED/nodered/post_order.lua" "http://127.0.0.1:18090/$3" \
    | awk '/Requests\/sec/{print $2}'
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
printf "%-8s %-8s %s\n" endpoint rep "before req/s  after req/s"
for ep in order lookup; do
  for r in $(seq 1 "$REPS"); do
    a=$(round before "$A" "$ep" "$r"); b=$(round after "$B" "$ep" "$r")
    printf "%-8s %-8s %12s %12s\n" "$ep" "$r" "$a" "$b"
  done
done
