#!/usr/bin/env bash
# Runs the test suite on other Node majors (default: 22 and 24), with Node taken from the npm
# registry's `node` package (its binary lands in node_modules/node/bin/node). Nothing is downloaded
# from anywhere else. Binaries are cached in $RF_MATRIX_DIR (default ~/.cache/resilient-fetch-matrix).
#   npm run test:matrix            # 22 and 24
#   npm run test:matrix -- 22      # one major
set -uo pipefail
cd "$(dirname "$0")/.."
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(22 24)
cache="${RF_MATRIX_DIR:-$HOME/.cache/resilient-fetch-matrix}"
declare -A result
status=0

for major in "${versions[@]}"; do
  dir="$cache/node$major"
  bin="$dir/node_modules/node/bin/node"
  if ! "$bin" --version 2>/dev/null | grep -q "^v$major\."; then
    echo "== installing node@$major from the npm registry into $dir"
    mkdir -p "$dir"
    [[ -f "$dir/package.json" ]] || echo '{ "private": true }' > "$dir/package.json"
    npm install --prefix "$dir" --no-audit --no-fund --no-save --silent "node@$major" || true
  fi
  if ! "$bin" --version 2>/dev/null | grep -q "^v$major\."; then
    echo "node@$major: no usable binary at $bin" >&2
    result[$major]="not installed"
    status=1
    continue
  fi
  version="$("$bin" --version)"
  echo "== node $version: vitest run"
  # vitest's workers and the tests' child processes use process.execPath, so all of it runs on $version.
  if "$bin" node_modules/vitest/vitest.mjs run 2>&1 | tee "$dir/last-run.log" | tail -n 8; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
    result[$major]="$version: passed ($(sed 's/\x1b\[[0-9;]*m//g' "$dir/last-run.log" | grep -Eo 'Tests +[0-9]+ passed[^)]*\)' | head -n 1))"
  else
    result[$major]="$version: FAILED (log: $dir/last-run.log)"
    status=1
  fi
done

echo "== test matrix"
for major in "${versions[@]}"; do echo "node $major: ${result[$major]}"; done
exit $status
