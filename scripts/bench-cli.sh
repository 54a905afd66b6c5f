#!/usr/bin/env bash
# Wall time of one GET per process against a local 127.0.0.1 server: curl, a plain `node` fetch, and
# the built CLI (with and without -v). Prints the median and p90 of N runs (default 20) per command.
#   bash scripts/bench-cli.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-20}"
[[ -f dist/esm/cli.js ]] || npm run --silent build
portfile="$(mktemp)"
node -e "
  const s = require('node:http').createServer((q, r) => r.end('ok'));
  s.listen(0, '127.0.0.1', () => require('node:fs').writeFileSync(process.argv[1], String(s.address().port)));
  process.on('SIGTERM', () => process.exit(0));
" "$portfile" &
server=$!
trap 'kill $server 2>/dev/null; rm -f "$portfile"' EXIT
for _ in $(seq 1 100); do [[ -s "$portfile" ]] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$portfile")/"

measure() {
  local label="$1"; shift
  local times=()
  for _ in $(seq 1 "$runs"); do
    local t0 t1
    t0=$(date +%s%N); "$@" > /dev/null 2>&1; t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000000 )))
  done
  local sorted; sorted=($(printf '%s\n' "${times[@]}" | sort -n))
  local median=${sorted[$(( runs / 2 ))]} p90=${sorted[$(( runs * 9 / 10 ))]}
  printf '| %-34s | %6s | %6s |\n' "$label" "$median" "$p90"
}

echo "node $(node --version), $runs runs each, load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-34s | %6s | %6s |\n' 'command' 'median' 'p90'
printf '|%s|%s|%s|\n' '------------------------------------' '--------' '--------'
measure 'curl -s URL' curl -s "$url"
measure 'node -e "fetch(URL)" (global fetch)' node -e "fetch(process.argv[1]).then((r) => r.text())" "$url"
measure 'node dist/esm/cli.js URL' node dist/esm/cli.js "$url"
measure 'node dist/esm/cli.js -v URL' node dist/esm/cli.js -v "$url"
