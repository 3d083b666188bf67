#!/usr/bin/env python3
"""The language server as an editor meets it, timed from outside over stdio (docs/performance.md).

Usage: bench/lsp/measure.py [path/to/flowc]   (default: target/release/flowc; build it first)

Measures, against a running `flowc lsp`:
  * a keystroke in a 100 KiB and a 1 MiB document: from the change to its diagnostics;
  * a burst of 200 changes sent at once to the 1 MiB document: publishes seen, and the time from the
    last change to the diagnostics of the last version;
  * a hover after 50 keystrokes on the 1 MiB document (answered from the last analysis);
  * the ten-level half-typed file of issue 19: open to diagnostics, and a hover on it.
Only the standard library; the numbers are wall-clock milliseconds on this machine.
"""

import json
import subprocess
import sys
import threading
import time
import queue

FLOWC = sys.argv[1] if len(sys.argv) > 1 else "target/release/flowc"


def flow(i):
    return (
        f'flow order_{i} "Order {i}" {{\n'
        f"  step ask {{\n"
        f'    send "Hi @contact.name! What is your order number?"\n'
        f"    wait answer timeout 10m {{\n"
        f'      on timeout {{ send "No answer, goodbye."; stop }}\n'
        f"    }}\n"
        f"  }}\n"
        f'  webhook lookup POST "https://orders.example.com/lookup" {{\n'
        f'    body json {{ "order": @flow.answer, "n": {i} }}\n'
        f"    expect json {{ status: text, number: text }}\n"
        f'    on failure {{ send "Sorry."; stop }}\n'
        f"  }}\n"
        f"  split @extra.status {{\n"
        f'    case has_any_word "shipped" as Shipped {{ send "Order @extra.number shipped." }}\n'
        f"    other {{ goto ask }}\n"
        f"  }}\n"
        f"}}\n\n"
    )


def document(size):
    out, i = [], 0
    while sum(map(len, out)) < size:
        out.append(flow(i))
        i += 1
    return "".join(out)


class Server:
    def __init__(self):
        self.proc = subprocess.Popen([FLOWC, "lsp", "--stdio"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.inbox = queue.Queue()
        threading.Thread(target=self.read, daemon=True).start()
        self.next_id = 0

    def read(self):
        out = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                c = out.read(1)
                if not c:
                    return
                header += c
            length = int([l for l in header.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
            self.inbox.put((time.perf_counter(), json.loads(out.read(length))))

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.next_id

    def wait(self, pred, timeout=60):
        deadline = time.perf_counter() + timeout
        while True:
            at, msg = self.inbox.get(timeout=max(0.01, deadline - time.perf_counter()))
            if pred(msg):
                return at, msg

    def publishes(self, uri, version, timeout=60):
        """Publishes for `uri` until the one for `version`: (time of that one, how many were seen)."""
        seen = 0
        deadline = time.perf_counter() + timeout
        while True:
            at, msg = self.inbox.get(timeout=max(0.01, deadline - time.perf_counter()))
            if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == uri:
                seen += 1
                if msg["params"].get("version") == version:
                    return at, seen, msg["params"]["diagnostics"]

    def close(self):
        self.request("shutdown", None)
        self.notify("exit", None)
        self.proc.wait(timeout=10)


def keystroke(server, uri, text, version):
    at = {"line": 2, "character": 4}
    t0 = time.perf_counter()
    server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                             "contentChanges": [{"range": {"start": at, "end": at}, "text": "x"}]})
    t1, _, _ = server.publishes(uri, version)
    return (t1 - t0) * 1000


def main():
    s = Server()
    s.request("initialize", {"capabilities": {}, "processId": None, "rootUri": None})
    s.wait(lambda m: m.get("id") == 1)
    s.notify("initialized", {})
    results = {}
    for name, size in [("100k", 100 * 1024), ("1m", 1024 * 1024)]:
        uri = f"file:///nonexistent-flowc-bench/{name}.flow"
        text = document(size)
        t0 = time.perf_counter()
        s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}})
        t1, _, diags = s.publishes(uri, 1)
        results[f"open_{name}_ms"] = round((t1 - t0) * 1000, 1)
        times = [keystroke(s, uri, text, v) for v in range(2, 12)]
        results[f"keystroke_{name}_ms_median"] = round(sorted(times)[len(times) // 2], 1)
    # A burst of 200 changes at once on 1 MiB, then the diagnostics of the last one.
    uri = "file:///nonexistent-flowc-bench/1m.flow"
    at = {"line": 2, "character": 4}
    for v in range(12, 212):
        s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v},
                                           "contentChanges": [{"range": {"start": at, "end": at}, "text": "x"}]})
    t_last = time.perf_counter()
    t1, seen, _ = s.publishes(uri, 211)
    results["burst_200_on_1m_last_diagnostics_after_last_change_ms"] = round((t1 - t_last) * 1000, 1)
    results["burst_200_on_1m_publishes"] = seen
    # 50 keystrokes, then a hover at once.
    for v in range(212, 262):
        s.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": v},
                                           "contentChanges": [{"range": {"start": at, "end": at}, "text": "y"}]})
    t0 = time.perf_counter()
    hid = s.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 7}})
    t1, _ = s.wait(lambda m: m.get("id") == hid)
    results["hover_after_50_keystrokes_on_1m_ms"] = round((t1 - t0) * 1000, 1)
    # The ten-level half-typed file.
    lines = ["flow f {"]
    for i in range(10):
        pad = "  " * (i + 1)
        lines += [pad + "wait a timeout 1s {", pad + '  on timeout { hin a second"']
    lines.append("}")
    text = "\n".join(lines) + "\n"
    uri = "file:///nonexistent-flowc-bench/ten.flow"
    t0 = time.perf_counter()
    s.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "flow", "version": 1, "text": text}})
    t1, _, diags = s.publishes(uri, 1)
    results["ten_levels_open_to_diagnostics_ms"] = round((t1 - t0) * 1000, 1)
    results["ten_levels_diagnostics"] = len(diags)
    t0 = time.perf_counter()
    hid = s.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}})
    t1, _ = s.wait(lambda m: m.get("id") == hid)
    results["ten_levels_hover_ms"] = round((t1 - t0) * 1000, 1)
    s.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
