#!/usr/bin/env bash
# Load flowc serve and Node-RED with the same two jobs, in one run, on 127.0.0.1 only.
#
#   bash bench/serve/run.sh [duration_s=10] [connections=16] [reps=3]
#
# Installs wrk from Debian if missing, builds flowc in release, starts the shared mock webhook
# (../shared/bench/mock_webhook.js, node) and `flowc serve bench/serve/peer.flow`, loads POST /order and
# POST /lookup with wrk -t1 (bounded by the duration), samples RSS, then runs the shared Node-RED script
# with the same parameters. Every process it starts is stopped by its PID.
set -euo pipefail
DUR=${1:-10}; CONNS=${2:-16}; REPS=${3:-3}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED_BENCH:-$ROOT/../shared/bench}
OUT=${OUTDIR:-/tmp/flowc-bench-$(date +%Y%m%d-%H%M%S)}
PORT=18080
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; }
(cd "$ROOT" && cargo build --release --quiet)
FLOWC=$ROOT/target/release/flowc

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
node "$SHARED/mock_webhook.js" 18081 900 > "$OUT/mock.log" 2>&1 & PIDS+=($!)
for i in $(seq 1 60); do curl -s -o /dev/null "http://127.0.0.1:18081/order?id=warm" && break; sleep 0.25; done
rm -f "$OUT/flowc.db"*
"$FLOWC" serve "$ROOT/bench/serve/peer.flow" --addr 127.0.0.1:$PORT --db "$OUT/flowc.db" --allow-network 127.0.0.1/32 > "$OUT/flowc.log" 2>&1 & PIDS+=($!)
FPID=$!
( sleep 900; kill "$FPID" 2>/dev/null ) & PIDS+=($!)   # bounded lifetime, like the mock
for i in $(seq 1 60); do
  curl -s -o /dev/null -XPOST -H 'Content-Type: application/json' -d '{"order":"A1","status":"Shipped","name":"Joe"}' \
    "http://127.0.0.1:$PORT/order" && break; sleep 0.5; done
rss() { awk '/VmRSS/{print $2}' /proc/$FPID/status; }
echo "sample /order : $(curl -s -XPOST -H 'Content-Type: application/json' -d '{"order":"A1234","status":"Shipped","name":"Joe"}' http://127.0.0.1:$PORT/order)" | tee "$OUT/samples.txt"
echo "sample /lookup: $(curl -s -XPOST -H 'Content-Type: application/json' -d '{"order":"A1234","name":"Joe"}' http://127.0.0.1:$PORT/lookup)" | tee -a "$OUT/samples.txt"
sleep 1; echo "idle_rss_kb $(rss)" | tee "$OUT/rss_idle.txt"
for ep in order lookup; do
  URL=http://127.0.0.1:$PORT/$ep
  wrk -t1 -c"$CONNS" -d3s -s "$SHARED/nodered/post_order.lua" "$URL" > "$OUT/warmup_$ep.txt"
  for r in $(seq 1 "$REPS"); do
    ( maxr=0; end=$((SECONDS+DUR+1)); while [ $SECONDS -lt $end ]; do v=$(rss); [ "$v" -gt "$maxr" ] && maxr=$v; sleep 0.5; done; echo $maxr > "$OUT/rss_${ep}_$r.txt" ) &
    SAMPLER=$!
    wrk -t1 -c"$CONNS" -d"${DUR}s" --latency -s "$SHARED/nodered/post_order.lua" "$URL" > "$OUT/wrk_${ep}_$r.txt"
    wait $SAMPLER
    echo "flowc $ep rep $r: $(grep Requests/sec "$OUT/wrk_${ep}_$r.txt") peak_rss_kb=$(cat "$OUT/rss_${ep}_$r.txt")"
  done
done
echo "== flowc" | tee "$OUT/summary.txt"
python3 "$SHARED/nodered/summarize_wrk.py" "$OUT" | tee -a "$OUT/summary.txt"
cleanup; PIDS=()
echo "== node-red (same session)"
OUTDIR="$OUT/nodered" bash "$SHARED/nodered/run.sh" "$DUR" "$CONNS" "$REPS"
