#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each (default 4s).
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-4s}"
n=0
while IFS= read -r line; do
  file="${line%%:*}"
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  pkg="./$(dirname "$file")"
  echo "fuzz: $pkg $name ($t)"
  go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" "$pkg"
  n=$((n+1))
done < <(git ls-files '*_test.go' | xargs grep -H -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' || true)
echo "fuzz: $n targets passed"
