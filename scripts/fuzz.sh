#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each (default 4s).
#
# A duration -fuzztime races Go's fuzzing coordinator: when the deadline
# fires while a worker is mid-call it can report a bare "context deadline
# exceeded" failure with no failing input (golang/go#75804). Such a run is
# retried once; any failure that wrote an input, panicked or failed an
# assertion fails at once, and a second bare deadline fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${1:-4s}"
n=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() { go test -run '^$' -fuzz "^$2\$" -fuzztime "$t" "$1" 2>&1 | tee "$log"; return "${PIPESTATUS[0]}"; }

deadline_flake() {
  grep -q 'context deadline exceeded' "$log" &&
    ! grep -q -E 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

while IFS= read -r line; do
  file="${line%%:*}"
  name=$(sed -E 's/^.*func (Fuzz[A-Za-z0-9_]*)\(.*/\1/' <<<"$line")
  pkg="./$(dirname "$file")"
  echo "fuzz: $pkg $name ($t)"
  if ! run "$pkg" "$name"; then
    if deadline_flake; then
      echo "fuzz: $name hit the fuzztime coordinator race with no failing input; retrying once"
      run "$pkg" "$name"
    else
      exit 1
    fi
  fi
  n=$((n+1))
done < <(git ls-files '*_test.go' | xargs grep -H -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' || true)
echo "fuzz: $n targets passed"
