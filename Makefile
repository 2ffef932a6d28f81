# songqueue: make dev runs the system locally, make test runs every test.
GO      ?= go
FUZZTIME ?= 10s
export CGO_ENABLED ?= 1

.PHONY: dev test test-go fuzz bench soak flood lint fmt vet axe

## dev: run the whole system on this machine (embedded defaults, fake Suno)
# Ctrl-C reaches the stack, which finishes the jobs in flight and exits 0;
# the recipe waits for it and reports success, not make's "Error 1" (which
# go run gave for any interrupt). The stack runs in the background of the
# recipe's shell so that its trap can pass the interrupt on (a background
# job ignores SIGINT) and wait for it.
dev:
	@$(GO) build -o .build/devstack ./cmd/devstack
	@trap 'kill -TERM $$pid; wait $$pid; exit $$?' INT TERM; .build/devstack & pid=$$!; wait $$pid

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

# The local stack's scenarios (internal/devstack) run beside the other
# packages on a moto of their own: moto runs DynamoDB requests one at a
# time (scripts/moto_server.py), and with every package on one server its
# scenarios waited behind the others' transactions until they failed their
# timing. Each half runs one package at a time, so two test binaries run at
# once, as go test's default does on two cores. An AWS_ENDPOINT_URL you set
# is used for both.
test-go: axe
	@given=$${AWS_ENDPOINT_URL:+yes}; $(WITH_MOTO) \
	stack_endpoint=$$AWS_ENDPOINT_URL; \
	if [ -z "$$given" ] && [ -n "$$AWS_ENDPOINT_URL" ] && own=$$(MOTO_INSTANCE=moto-devstack scripts/moto.sh start); then \
	  stack_endpoint=$$own; trap 'scripts/moto.sh stop; MOTO_INSTANCE=moto-devstack scripts/moto.sh stop' EXIT; \
	fi; \
	AWS_ENDPOINT_URL=$$stack_endpoint $(GO) test -race -count=1 ./internal/devstack/ & stack=$$!; \
	status=0; $(GO) test -race -count=1 -p 1 $$($(GO) list ./... | grep -v '/internal/devstack$$') || status=$$?; \
	wait $$stack || status=$$?; exit $$status

## axe: axe-core, pinned and checksum-verified, for the browser test's accessibility check
# Without the registry the fetch fails; outside CI the check then skips,
# in CI (CI=true) the browser test fails on the missing file.
axe:
	@scripts/axe.sh || [ "$$CI" != true ]

fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzCreate -fuzztime=$(FUZZTIME) -fuzzminimizetime=1s ./internal/httpapi

## soak: the accounting test over 10,000 generations on the memory backend (not in make test)
SOAK_GENERATIONS ?= 10000
soak:
	@out=$$(mktemp); SOAK_GENERATIONS=$(SOAK_GENERATIONS) $(GO) test -count=1 -timeout 30m -v -run 'TestAccounting' ./internal/devstack >$$out 2>&1; \
	status=$$?; grep -E '^(--- |\s+accounting_test|ok|FAIL)' $$out; rm -f $$out; exit $$status

## flood: creates a second under a 64-client flood, the local stack beside the seed's route
flood:
	@scripts/flood.sh

## bench: the benchmarks (worker time per generation, ...)
bench: bench-lambda
	@$(WITH_MOTO) $(GO) test -run='^$$' -bench=. -benchmem ./...

## test-localstack: the SQS adapter's tests and the AWS end-to-end suite with SQS on LocalStack, DynamoDB and S3 on moto (not in make test)
# LocalStack's core from PyPI (scripts/localstack.sh: Python 3.13+, pinned
# by scripts/localstack-constraints.txt, into .venv-localstack) serves SQS
# through AWS_ENDPOINT_URL_SQS; moto (scripts/moto.sh, or AWS_ENDPOINT_URL
# if set) serves the rest through AWS_ENDPOINT_URL. Each emulator this
# target started is stopped at the end; one already running is reused and
# left running. LocalStack's request log must show the tests' SQS traffic,
# so a run that quietly sent SQS to moto fails. Without LocalStack (no
# Python 3.13, no PyPI) it skips, and with CI=true it fails. The
# end-to-end scenarios run four at a time: all at once they queue behind
# LocalStack's single Python process, and the timing-sensitive ones (tier
# priority) then measure the emulator rather than the service. TierPriority
# (its own test, run alone) is not run here: under LocalStack it failed
# about one run in three, measuring LocalStack; make test runs it on the
# memory queues and moto.
.PHONY: test-localstack
LOCALSTACK_E2E ?= TestEndToEnd/aws
test-localstack:
	@set -e; \
	ls_log=.venv-localstack/localstack.log; \
	up() { [ -f "$$1" ] && kill -0 "$$(cat "$$1")" 2>/dev/null; }; \
	stops=""; trap 'for s in $$stops; do $$s stop; done' EXIT; \
	if [ -z "$$AWS_ENDPOINT_URL" ]; then \
	  up .venv/moto.pid || stops="scripts/moto.sh"; \
	  if endpoint=$$(scripts/moto.sh start); then export AWS_ENDPOINT_URL=$$endpoint; \
	  elif [ "$$CI" = true ]; then echo "moto could not start: make test-localstack needs it in CI" >&2; exit 1; \
	  else echo "moto unavailable: make test-localstack skips" >&2; exit 0; fi; \
	fi; \
	up .venv-localstack/localstack.pid || stops="$$stops scripts/localstack.sh"; \
	if endpoint=$$(scripts/localstack.sh start); then export AWS_ENDPOINT_URL_SQS=$$endpoint; \
	elif [ "$$CI" = true ]; then echo "LocalStack could not start: make test-localstack requires it in CI" >&2; exit 1; \
	else echo "LocalStack unavailable: make test-localstack skips" >&2; exit 0; fi; \
	echo "SQS on LocalStack at $$AWS_ENDPOINT_URL_SQS, DynamoDB and S3 on moto at $$AWS_ENDPOINT_URL"; \
	before=$$(wc -l <"$$ls_log"); status=0; \
	$(GO) test -count=1 ./internal/sqsqueue/ || status=1; \
	$(GO) test -count=1 -parallel 4 -run '$(LOCALSTACK_E2E)' ./internal/devstack/ || status=1; \
	served=$$(tail -n +$$((before + 1)) "$$ls_log" | grep -c -E 'AWS sqs\.(SendMessage|ReceiveMessage) ' || true); \
	echo "LocalStack served $$served SendMessage and ReceiveMessage requests"; \
	if [ "$$served" -eq 0 ]; then \
	  echo "the tests' SQS requests did not reach LocalStack: the AWS clients did not follow AWS_ENDPOINT_URL_SQS" >&2; status=1; \
	fi; \
	exit $$status

## test-conformance: schemathesis against the local stack, from openapi.yaml (not in make test; .ci/run runs it)
# scripts/conformance.sh installs schemathesis (pinned) into
# .tools/schemathesis-venv, starts the stack on a free port with the
# per-caller limits and quotas off, and fails if a check fails or an
# operation or link of the document was not reached. Without Python it
# skips, and with CI=true it fails. CONFORMANCE_EXAMPLES (50) bounds the
# cases per operation and phase; CONFORMANCE_SEED repeats a run.
.PHONY: test-conformance
test-conformance:
	@GO=$(GO) scripts/conformance.sh

lint: vet fmt

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# The AWS application: sam build targets, template checks, RIE tests, deploy.
include build.mk
