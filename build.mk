# build.mk: the AWS application of template.yaml. Included by Makefile.
#
#   make build-<LogicalId>   what `sam build` runs for each function (BuildMethod: makefile)
#   make lambda-check        cfn-lint and `sam validate --lint` on template.yaml, then `sam build`
#   make test-lambda         every function under the Lambda Runtime Interface Emulator, against moto
#   make bench-lambda        binary size and cold start of each function beside a hello-world
#   make deploy [ENV=prod]   sam build && sam deploy with samconfig.toml's ENV section
#   make deploy-web [ENV=prod]  web/static and its config.json to the stack's page (S3 + CloudFront)
#
# The SAM CLI and cfn-lint live in their own virtual environment,
# .tools/sam-venv: aws-sam-cli pins boto3 to an exact version, and sharing
# .venv with moto would have the two installs undo each other. The AWS CLI
# (deploy-web only) has its own, .tools/awscli-venv, for the same reason:
# awscli pins botocore too.

SAM_CLI_VERSION  ?= 1.170.0
CFN_LINT_VERSION ?= 1.58.0
AWSCLI_VERSION   ?= 1.46.3
# The emulator is built from source through the Go module proxy; the RIE
# tests (internal/lambdatest) build the same version when it is missing.
RIE_VERSION      ?= v0.0.0-20261030222936-bef5c4ba774d
PYTHON           ?= python3
ENV              ?= dev

SAM_VENV  := .tools/sam-venv
SAM_STAMP := $(SAM_VENV)/.installed-sam-$(SAM_CLI_VERSION)-cfn-lint-$(CFN_LINT_VERSION)
SAM       := $(SAM_VENV)/bin/sam
CFN_LINT  := $(SAM_VENV)/bin/cfn-lint
AWS_VENV  := .tools/awscli-venv
AWS_STAMP := $(AWS_VENV)/.installed-awscli-$(AWSCLI_VERSION)
AWS_CLI   := $(AWS_VENV)/bin/aws
RIE_DIR   := .tools/rie-$(RIE_VERSION)
RIE       := $(RIE_DIR)/aws-lambda-rie
# sam validate wants a region and credentials even though it calls nothing
# here; these never reach AWS. sam deploy uses the developer's own.
SAM_OFFLINE := env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0

# How every function is built, for Lambda (arm64) by sam build and for this
# machine by the RIE tests: static, no RPC shim, reproducible paths, stripped.
LAMBDA_GOARCH   ?= arm64
LAMBDA_GO_FLAGS := -tags lambda.norpc -trimpath -ldflags=-s\ -w

.PHONY: lambda-check cfn-lint sam-validate sam-build sam-tools aws-cli lambda-rie test-lambda bench-lambda deploy deploy-web \
	build-ApiFunction build-CallbackFunction build-WebSocketFunction build-WsAuthorizerFunction \
	build-WorkerFunction build-SweeperFunction build-PublisherFunction

# lambda_build,<dir under functions/>: the function's bootstrap in ARTIFACTS_DIR.
define lambda_build
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: sam build sets it (or: make $@ ARTIFACTS_DIR=/tmp/out)" >&2; exit 2; }
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build $(LAMBDA_GO_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" ./functions/$(1)
endef

build-ApiFunction:
	$(call lambda_build,api)
build-CallbackFunction:
	$(call lambda_build,callback)
build-WebSocketFunction:
	$(call lambda_build,websocket)
build-WsAuthorizerFunction:
	$(call lambda_build,wsauthorizer)
build-WorkerFunction:
	$(call lambda_build,worker)
build-SweeperFunction:
	$(call lambda_build,sweeper)
build-PublisherFunction:
	$(call lambda_build,publisher)

## lambda-check: template.yaml lints clean (no error, no warning), validates, and builds
lambda-check: cfn-lint sam-validate sam-build

$(SAM_STAMP):
	@echo "installing aws-sam-cli==$(SAM_CLI_VERSION) cfn-lint==$(CFN_LINT_VERSION) into $(SAM_VENV)" >&2
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check "aws-sam-cli==$(SAM_CLI_VERSION)" "cfn-lint==$(CFN_LINT_VERSION)"
	@rm -f $(SAM_VENV)/.installed-*
	@touch $@

sam-tools: $(SAM_STAMP)

cfn-lint: $(SAM_STAMP)
	$(CFN_LINT) --format parseable template.yaml

sam-validate: $(SAM_STAMP)
	$(SAM_OFFLINE) $(SAM) validate --lint --template-file template.yaml

# The first go build compiles every function's packages once, in one
# process; sam build's parallel makes then find them in the build cache
# instead of each compiling the AWS SDK on a cold cache.
sam-build: $(SAM_STAMP)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build $(LAMBDA_GO_FLAGS) ./functions/...
	$(SAM_OFFLINE) $(SAM) build --template-file template.yaml --parallel --build-in-source
	@ls -l .aws-sam/build/*/bootstrap

$(RIE):
	@mkdir -p $(RIE_DIR)
	CGO_ENABLED=0 GOBIN="$(abspath $(RIE_DIR))" $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

lambda-rie: $(RIE)

# The emulator tests run apart from test-go: they start a dozen processes,
# which would load the other packages' timing-sensitive tests. WITH_MOTO
# (Makefile) shares one moto server, as test-go does.

## test-lambda: each function's binary under the Lambda Runtime Interface Emulator, against moto
test-lambda: $(RIE)
	@$(WITH_MOTO) LAMBDA_RIE="$(abspath $(RIE))" $(GO) test -count=1 -race -v -run 'TestUnderRIE' ./internal/lambdatest/

## bench-lambda: binary sizes and cold starts beside a hello-world function
bench-lambda: $(RIE)
	@$(WITH_MOTO) LAMBDA_RIE="$(abspath $(RIE))" $(GO) test -run '^$$' -bench ColdStart -benchtime 20x ./internal/lambdatest/

## deploy: sam build and sam deploy with samconfig.toml's [$(ENV)] section (dev or prod)
deploy: $(SAM_STAMP)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_GOARCH) $(GO) build $(LAMBDA_GO_FLAGS) ./functions/...
	SAM_CLI_TELEMETRY=0 $(SAM) build --template-file template.yaml --parallel --build-in-source
	SAM_CLI_TELEMETRY=0 $(SAM) deploy --config-env $(ENV)

$(AWS_STAMP):
	@echo "installing awscli==$(AWSCLI_VERSION) into $(AWS_VENV)" >&2
	$(PYTHON) -m venv $(AWS_VENV)
	$(AWS_VENV)/bin/pip install --quiet --disable-pip-version-check "awscli==$(AWSCLI_VERSION)"
	@rm -f $(AWS_VENV)/.installed-*
	@touch $@

aws-cli: $(AWS_STAMP)

## deploy-web: web/static, with a config.json naming the stack's APIs, to its S3 bucket; CloudFront invalidated
# After make deploy (the stack must have the WebUrl output). The bucket
# ends up exactly web/static plus config.json. Optional: COGNITO_DOMAIN
# (and COGNITO_CLIENT_ID) for a hosted UI sign-in; see scripts/deploy-web.sh.
deploy-web: $(SAM_STAMP) $(AWS_STAMP)
	SAM="$(abspath $(SAM))" AWS_CLI="$(abspath $(AWS_CLI))" PYTHON="$(abspath $(SAM_VENV))/bin/python" \
	COGNITO_DOMAIN="$(COGNITO_DOMAIN)" COGNITO_CLIENT_ID="$(COGNITO_CLIENT_ID)" \
	scripts/deploy-web.sh $(ENV)
