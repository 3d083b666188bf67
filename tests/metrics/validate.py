"""`GET /metrics` read by the Prometheus project's own Python parser (prometheus-client from PyPI).

Starts `flowc serve` on the bundled examples (127.0.0.1, a free port), starts a conversation (which
sends and waits: no webhook, no network) so that counters and histograms have samples, and parses the
answer strictly: a malformed line raises.
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

flowc = os.environ.get("FLOWC", "target/debug/flowc")
with tempfile.TemporaryDirectory() as tmp:
    server = subprocess.Popen(
        [flowc, "serve", "examples", "--addr", "127.0.0.1:0", "--db", os.path.join(tmp, "m.db"), "--no-access-log"],
        stdout=subprocess.PIPE,
        text=True,
        # Every secret the examples name must be set before serve starts; placeholders do here (no
        # request in this test reaches a service that checks them).
        env={
            **os.environ,
            "FLOWC_API_TOKEN": "metrics-test-token",
            **{name: "placeholder" for name in [
                "APPOINTMENT_FORM_KEY", "CDP_PASSWORD", "CDP_USER", "CLINIC_TOKEN", "CRM_TOKEN", "GATEWAY_TOKEN", "INBOUND_KEY",
                "LEGACY_CRM_KEY", "ORDERS_TOKEN", "PROMO_TOKEN", "SHOP_INBOUND_KEY", "TELEGRAM_SECRET",
                "TELEGRAM_TOKEN", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN",
            ]},
        },
    )
    try:
        base = server.stdout.readline().split()[-1]

        def call(method, path, body=None):
            data = None if body is None else json.dumps(body).encode()
            req = urllib.request.Request(base + path, data=data, method=method)
            req.add_header("Content-Type", "application/json")
            req.add_header("Authorization", "Bearer metrics-test-token")
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        assert call("POST", "/flows/order_status/runs", {"contact": {"id": "m1", "name": "Ann"}})[0] == 201
        status, text = call("GET", "/metrics")
        assert status == 200, status
        families = {f.name: f for f in text_string_to_metric_families(text)}
        for name, kind in [
            ("flowc_runs_started", "counter"),
            ("flowc_steps", "counter"),
            ("flowc_step_duration_seconds", "histogram"),
            ("flowc_waiting_runs", "gauge"),
            ("flowc_http_requests", "counter"),
        ]:
            assert name in families, (name, sorted(families))
            assert families[name].type == kind, (name, families[name].type)
        started = [s for s in families["flowc_runs_started"].samples if s.name == "flowc_runs_started_total"]
        assert [(s.labels, s.value) for s in started] == [({"flow": "order_status"}, 1.0)], started
        print(f"metrics: {len(families)} families parse")
    finally:
        server.terminate()
        server.wait(timeout=30)
