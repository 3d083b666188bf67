"""Validates `flowc compile` on every example and valid fixture against docs/compile-output.schema.json.
Usage: FLOWC=path/to/flowc python3 tests/schema/validate_compile.py"""

import json
import os
import pathlib
import subprocess

import jsonschema

root = pathlib.Path(__file__).resolve().parents[2]
schema = json.loads((root / "docs" / "compile-output.schema.json").read_text())
flowc = os.environ.get("FLOWC", str(root / "target" / "debug" / "flowc"))
files = sorted([*(root / "examples").glob("*.flow"), *(root / "tests" / "fixtures" / "valid").glob("*.flow")])
for path in files:
    out = subprocess.run([flowc, "compile", str(path)], capture_output=True, check=True)
    jsonschema.validate(json.loads(out.stdout), schema, cls=jsonschema.Draft7Validator)
print(f"compile output valid against docs/compile-output.schema.json: {len(files)} files")
