#!/usr/bin/env bash
# The tree-sitter grammar's own check: regenerate the parser (src/ must be up to date) and run the
# corpus tests (test/corpus). Needs tree-sitter-cli, which builds with cargo (minutes on two cores);
# it is installed into .tools/ here on first use. `.ci/run` calls this only when the grammar's inputs
# differ from those recorded in .tested, which this script updates when the tests pass.
set -euo pipefail
cd "$(dirname "$0")"
TOOLS="$PWD/.tools"
if ! command -v tree-sitter >/dev/null && [ ! -x "$TOOLS/bin/tree-sitter" ]; then
  cargo install --quiet --locked tree-sitter-cli@0.27.1 --root "$TOOLS"
fi
export PATH="$TOOLS/bin:$PATH"
tree-sitter generate
git diff --exit-code -- src || { echo "src/ was not regenerated from grammar.js: commit the new src/" >&2; exit 1; }
tree-sitter test
./stamp.sh > .tested
