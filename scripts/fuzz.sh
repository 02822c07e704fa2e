#!/usr/bin/env bash
# Runs every fuzz target in the module for a bounded time each (default 4s).
#
# A duration -fuzztime races Go's fuzzing coordinator: when the deadline
# fires while a worker is mid-call it can report a bare "context deadline
# exceeded" failure with no failing input (golang/go#75804); on two busy
# cores that hits a few targets per run. Such a run is retried, up to three
# tries in all; any failure that wrote an input, panicked or failed an
# assertion fails at once.
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
  tries=1
  until run "$pkg" "$name"; do
    if ! deadline_flake || [ "$tries" -ge 3 ]; then
      exit 1
    fi
    tries=$((tries+1))
    echo "fuzz: $name hit the fuzztime coordinator race with no failing input; try $tries of 3"
  done
  n=$((n+1))
done < <(git ls-files '*_test.go' | xargs grep -H -E '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' || true)
echo "fuzz: $n targets passed"
