#!/usr/bin/env bash
# Runs the property tests again and again with fresh random seeds (npm test pins one seed).
# A failure prints its seed: replay it with FC_SEED=<seed> npx vitest run --project unit <file>.
#   npm run test:fuzz          # 20 rounds
#   npm run test:fuzz -- 100   # 100 rounds
set -uo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-20}"
failed=0
for ((i = 1; i <= rounds; i++)); do
  if ! out="$(FC_SEED=random npx vitest run --project unit test/unit/properties.test.ts test/unit/budget.test.ts 2>&1)"; then
    failed=$((failed + 1))
    echo "== round $i failed"
    printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' | grep -E "FAIL|Counterexample|seed:" || printf '%s\n' "$out" | tail -30
  fi
done
echo "fuzz: $rounds rounds, $failed failed"
[[ $failed -eq 0 ]]
