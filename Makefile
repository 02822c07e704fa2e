# The test command the README gives and CI runs: `make test`.
# PostgreSQL and Redis URLs default to the local servers; tests that need
# them fail (not skip) when CI=true and they are unreachable.
export SWITCHYARD_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test?sslmode=disable
export SWITCHYARD_TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

# Packages whose concurrency the race detector checks.
RACE_PKGS = ./internal/gateway/... ./internal/route/... ./internal/budget/... ./internal/ratelimit/... \
            ./internal/usage/... ./internal/audit/... ./internal/auth/... ./internal/sse/... \
            ./internal/server/... ./internal/app/... ./internal/sim/... ./internal/govern/... \
            ./internal/approval/... ./internal/mcpgw/... ./internal/telemetry/... ./internal/guard/... ./internal/redisbatch/...

FUZZTIME ?= 4s

.PHONY: test lint unit race fuzz bench build
test: lint unit race fuzz

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

unit:
	go test -count=1 ./...

race:
	go test -count=1 -race $(RACE_PKGS)

# Every fuzz target, each for a bounded time.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

bench:
	go test -run '^$$' -bench . -benchmem ./internal/...

build:
	go build -o switchyard ./cmd/switchyard
