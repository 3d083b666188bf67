"""Validates `flowc check --format sarif` against the SARIF 2.1.0 JSON schema (the copy that the
serde-sarif crate ships, found through `cargo metadata`), on every invalid fixture at once.
Usage: FLOWC=path/to/flowc python3 tests/sarif/validate.py"""

import json
import os
import pathlib
import subprocess
import sys

import jsonschema

root = pathlib.Path(__file__).resolve().parents[2]
metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked"], cwd=root, check=True, capture_output=True
    ).stdout
)
crate = next(p for p in metadata["packages"] if p["name"] == "serde-sarif")
schema = json.loads((pathlib.Path(crate["manifest_path"]).parent / "src" / "schema.json").read_text())

flowc = os.environ.get("FLOWC", str(root / "target" / "debug" / "flowc"))
out = subprocess.run(
    [flowc, "check", "--format", "sarif", "tests/fixtures/check", "examples"], cwd=root, capture_output=True
)
assert out.returncode == 1, out.stderr
log = json.loads(out.stdout)
jsonschema.validate(log, schema, cls=jsonschema.Draft7Validator)
results = log["runs"][0]["results"]
assert len(results) > 60, len(results)
assert all(not r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].startswith("/") for r in results)
print(f"SARIF valid against the 2.1.0 schema: {len(results)} results, {len(log['runs'][0]['tool']['driver']['rules'])} rules")
