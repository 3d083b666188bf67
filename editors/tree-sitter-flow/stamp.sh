#!/usr/bin/env bash
# The fingerprint of what the grammar's tests depend on (see check.sh).
set -euo pipefail
cd "$(dirname "$0")"
cat grammar.js queries/*.scm test/corpus/*.txt src/parser.c | sha256sum | cut -d' ' -f1
