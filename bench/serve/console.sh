#!/usr/bin/env bash
# How fast the console's pages answer with 100,000 webhook log lines and 10,000 contacts in the store
# (SQLite, release build, everything on 127.0.0.1): each page 30 times with curl, the median and the
# slowest, after one request to warm up.
#
#   bash bench/serve/console.sh [log_lines=100000] [contacts=10000]
set -euo pipefail
LINES=${1:-100000}; CONTACTS=${2:-10000}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$(mktemp -d /tmp/flowc-console-bench-XXXX)
(cd "$ROOT" && cargo build --release --quiet)
FLOWC=$ROOT/target/release/flowc
PORT=18095
TOKEN=bench-token
serve() {
  FLOWC_API_TOKEN=$TOKEN ORDERS_TOKEN=x "$FLOWC" serve "$ROOT/examples/order_status.flow" --addr "127.0.0.1:$PORT" \
    --db "$OUT/flowc.db" --no-access-log > "$OUT/serve.log" 2>&1 &
  SERVER=$!
  for i in $(seq 1 80); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return; sleep 0.25; done
  echo "flowc serve did not start" >&2; exit 1
}
trap 'kill $SERVER 2>/dev/null || true' EXIT
serve; kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
sqlite3 "$OUT/flowc.db" <<SQL
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $LINES - 1)
INSERT INTO webhook_log (webhook, failed, entry, time)
SELECT CASE WHEN i % 3 = 0 THEN 'notify' ELSE 'lookup_webhook' END, i % 10 = 0,
  json_object('time', printf('2026-12-01T%02d:%02d:%02d.000Z', (i / 3600) % 24, (i / 60) % 60, i % 60),
    'flow', 'order_status', 'run', printf('run-%08d', i), 'webhook', CASE WHEN i % 3 = 0 THEN 'notify' ELSE 'lookup_webhook' END,
    'method', 'POST', 'url', 'https://orders.example.com/lookup', 'attempt', 1,
    'status', CASE WHEN i % 10 = 0 THEN 503 ELSE 200 END, 'error', CASE WHEN i % 10 = 0 THEN 'HTTP 503' END,
    'elapsed_ms', 12, 'mocked', json('false'),
    'request', json_object('headers', json_array(json_array('Content-Type', 'application/json')), 'body', printf('{"order": "CU%06d"}', i)),
    'response', json_object('headers', json_array(json_array('content-type', 'application/json')), 'body', '{"status": "Shipped", "number": "CU001", "ship_date": "October 9th", "delivery_date": "April 3rd"}')),
  printf('2026-12-01T%02d:%02d:%02d.000Z', (i / 3600) % 24, (i / 60) % 60, i % 60)
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $CONTACTS - 1)
INSERT INTO contacts (urn, channel, name, language, fields, updated_ms, timezone, group_names)
SELECT printf('tel:+2507%08d', i), 'sms', 'Contact ' || i, 'eng', '{"age": "34"}', 0, '', '["Customers"]' FROM n;
SQL
serve
COOKIE=$(curl -s -o /dev/null -D - -d "token=$TOKEN" "http://127.0.0.1:$PORT/ui/login" | awk -F'[ ;]' '/^[Ss]et-[Cc]ookie/{print $2}')
echo "| page | status | median | slowest of 30 |"
echo "|---|---|---|---|"
for page in "/ui/log" "/ui/log?failed=1" "/ui/log?webhook=notify" "/ui/log?flow=order_status&since=2026-12-01T12:00" \
  "/ui/contacts?q=contact+42" "/ui/contacts/tel%3A%2B250700004242" "/ui/flows" "/ui/starts" "/ui/simulate"; do
  code=$(curl -s -o "$OUT/page.html" -w '%{http_code}' -b "$COOKIE" "http://127.0.0.1:$PORT$page")
  for i in $(seq 1 30); do curl -s -o /dev/null -w '%{time_total}\n' -b "$COOKIE" "http://127.0.0.1:$PORT$page"; done \
    | sort -n | awk -v p="$page" -v c="$code" -v kb="$(($(wc -c < "$OUT/page.html") / 1024))" \
      '{t[NR]=$1} END {printf "| `%s` | %s (%s KiB) | %.1f ms | %.1f ms |\n", p, c, kb, t[int((NR+1)/2)]*1000, t[NR]*1000}'
done
