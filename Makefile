# songqueue: make dev runs the system locally, make test runs every test.
GO      ?= go
FUZZTIME ?= 10s
export CGO_ENABLED ?= 1

.PHONY: dev test test-go fuzz bench soak lint fmt vet

## dev: run the whole system on this machine (embedded defaults, fake Suno)
dev:
	$(GO) run ./cmd/devstack

## test: every test: lint, unit, end-to-end, fuzz
test: lint test-go fuzz lambda-check test-lambda

# One moto server for the whole run (scripts/moto.sh installs it into .venv
# on first use), shared by every package's AWS tests through
# AWS_ENDPOINT_URL. Set AWS_ENDPOINT_URL yourself to use LocalStack instead.
WITH_MOTO = set -e; \
	if [ -z "$$AWS_ENDPOINT_URL" ]; then \
	  if endpoint=$$(scripts/moto.sh start); then export AWS_ENDPOINT_URL=$$endpoint; trap 'scripts/moto.sh stop' EXIT; \
	  elif [ "$$CI" = true ]; then echo "moto could not start: the AWS tests are required in CI" >&2; exit 1; \
	  else echo "moto unavailable: the AWS tests will skip" >&2; fi; \
	fi;

test-go:
	@$(WITH_MOTO) $(GO) test -race -count=1 ./...

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzCreate -fuzztime=$(FUZZTIME) -fuzzminimizetime=1s ./internal/httpapi

## soak: the accounting test over 10,000 generations on the memory backend (not in make test)
SOAK_GENERATIONS ?= 10000
soak:
	@out=$$(mktemp); SOAK_GENERATIONS=$(SOAK_GENERATIONS) $(GO) test -count=1 -timeout 30m -v -run 'TestAccounting' ./internal/localstack >$$out 2>&1; \
	status=$$?; grep -E '^(--- |\s+accounting_test|ok|FAIL)' $$out; rm -f $$out; exit $$status

## bench: the benchmarks (worker time per generation, ...)
bench: bench-lambda
	@$(WITH_MOTO) $(GO) test -run='^$$' -bench=. -benchmem ./...

lint: vet fmt

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The AWS application: sam build targets, template checks, RIE tests, deploy.
include build.mk
