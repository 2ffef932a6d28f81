# songqueue: make dev runs the system locally, make test runs every test.
GO      ?= go
FUZZTIME ?= 10s
export CGO_ENABLED ?= 1

.PHONY: dev test test-go fuzz bench lint fmt vet

## dev: run the whole system on this machine (embedded defaults, fake Suno)
dev:
	$(GO) run ./cmd/devstack

## test: every test: lint, unit, end-to-end, fuzz
test: lint test-go fuzz

test-go:
	$(GO) test -race -count=1 ./...

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzCreate -fuzztime=$(FUZZTIME) ./internal/httpapi

## bench: the benchmarks (worker time per generation, ...)
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...

lint: vet fmt

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
