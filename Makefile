# Every task of the project starts here. `make test` and `make local` install what they need.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ENV        ?= dev
GOARCH     ?= arm64
BUILD_DIR  ?= build
VENV       := .venv
PY         := $(VENV)/bin/python
MODULE     := github.com/hokusai-protocol/registry-gateway
# node_modules holds Go-looking template files; name our folders instead of ./...
GO_DIRS    := shared functions infra events
# A folder with its own go.mod (events/, the contract subscribers import without the CDK) is a
# module the root's ./... stops at: it is named by import path, which the root's replace resolves.
GO_PKGS    := $(foreach d,$(GO_DIRS),$(if $(wildcard $(d)/go.mod),$(MODULE)/$(d)/...,./$(d)/...))
# functions/internal holds what the mains share (their start-up), not a function
FUNCTIONS  := $(filter-out internal,$(notdir $(wildcard functions/*)))
VERSION    := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS    := -s -w -X $(MODULE)/shared/platform/buildinfo.Version=$(VERSION)
# A count, not a duration: a duration-based -fuzztime in Go 1.26 can end in a spurious "context
# deadline exceeded" failure (golang/go#75804, fixed in 1.27). FUZZTIME=10m make fuzz still works.
FUZZTIME   ?= 20000x
GOTESTSUM  := go tool gotestsum
# jsii warns on every call that Node 20 is past its end of life; the machines have 20.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help deps chromium build synth lint-template test fuzz bench local local-assets key sam-api deploy clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# --- dependencies: each is a stamp file, redone only when its lock changes -----------------------
$(VENV)/.stamp: requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@# node_modules ships Go template files; a go.mod there keeps them out of this module.
	echo "module node_modules_ignored" > node_modules/go.mod
	touch $@

.cache/go-mod.stamp: go.mod go.sum events/go.mod events/go.sum
	go mod download
	go -C events mod download
	mkdir -p .cache && touch $@

# Debian's chromium, the browser the browser tests drive through Playwright (whose own browser
# download is never used). Looked for on every run, not stamped: a stamp outlives a removed package.
chromium:
	@command -v chromium >/dev/null || { \
	  [ "$$(id -u)" = 0 ] || { echo "the browser tests need Debian's chromium: apt-get install -y chromium, as root" >&2; exit 1; }; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

deps: $(VENV)/.stamp node_modules/.stamp .cache/go-mod.stamp chromium ## install Go modules, the Python virtualenv, Node packages and chromium

# --- build ------------------------------------------------------------------------------------------
build: .cache/go-mod.stamp ## build every function to build/<name>/bootstrap (GOARCH=arm64; GOARCH=amd64 for the harness)
	@for fn in $(FUNCTIONS); do \
	  GOOS=linux GOARCH=$(GOARCH) CGO_ENABLED=0 go build -trimpath -tags lambda.norpc \
	    -ldflags "$(LDFLAGS)" -o $(BUILD_DIR)/$$fn/bootstrap ./functions/$$fn; \
	  stat -c %s $(BUILD_DIR)/$$fn/bootstrap | awk -v fn=$$fn -v arch=$(GOARCH) '{printf "  %-12s %s  %6.2f MB\n", fn, arch, $$1/1048576}'; \
	done

# --- CDK ----------------------------------------------------------------------------------------------
synth: node_modules/.stamp build ## synthesize the ENV stack (default dev) into cdk.out/
	npx cdk synth --quiet -c env=$(ENV) -o cdk.out

# W3005 (redundant DependsOn) is CDK's own doing: a function depends on its role both through
# GetAtt and explicitly, so the role's policy exists before the first invocation. Nothing else is ignored.
CFN_LINT := $(VENV)/bin/cfn-lint --ignore-checks W3005 --
lint-template: $(VENV)/.stamp ## cfn-lint every synthesized template in cdk.out/
	$(CFN_LINT) cdk.out/*.template.json

deploy: node_modules/.stamp build ## deploy ENV (dev|staging|prod) with your AWS credentials
	npx cdk deploy -c env=$(ENV) --require-approval broadening

# --- tests --------------------------------------------------------------------------------------------
test: deps build ## everything: unit and stack tests, fuzzing briefly, synth of every environment, cfn-lint
	@# -timeout: the end-to-end package runs the whole stack; a busy machine must not fail it.
	$(GOTESTSUM) --format testname -- -count=1 -race -timeout 60m $(GO_PKGS)
	$(MAKE) --no-print-directory fuzz
	@for env in dev staging prod local; do \
	  echo "synth $$env"; npx cdk synth --quiet -c env=$$env -o cdk.out/$$env; \
	  $(CFN_LINT) cdk.out/$$env/*.template.json; \
	done
	@echo "cfn-lint: every environment's template is clean"

fuzz: .cache/go-mod.stamp ## run every fuzz target for FUZZTIME (20000 inputs each; FUZZTIME=5m for a longer run)
	@# -C: each package is fuzzed from its own folder, so in whichever module holds it
	@grep -rl --include='*_test.go' '^func Fuzz' $(GO_DIRS) | sort | while read -r f; do \
	  dir=$$(dirname $$f); \
	  for t in $$(grep -oE '^func Fuzz[A-Za-z0-9_]+' $$f | cut -d' ' -f2); do \
	    echo "fuzz ./$$dir $$t ($(FUZZTIME))"; \
	    go -C $$dir test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) . > .cache/fuzz.log 2>&1 || { cat .cache/fuzz.log; exit 1; }; \
	  done; \
	done

bench: deps ## print the benchmark figures: binary sizes, unit benchmarks, then the whole local stack
	@echo "== binary sizes (linux/arm64, as deployed)"
	@$(MAKE) --no-print-directory build
	@echo "== in-process benchmarks (authorizer paths, MLflow proxy overhead and streaming memory;"
	@echo "   a permission check served from cache: PermissionCheck's check-µs/call, CachedHit's µs/check)"
	go test -run '^$$' -bench . -benchmem ./shared/... ./functions/...
	@echo "== through the local stack (gateway + authorizer + functions + real MLflow; PermissionsSideBySide:"
	@echo "   permissions on, a second stack with them off, MLflow's basic-auth app, MLflow direct)"
	go test -run '^$$' -bench . -benchtime 20x ./infra/local/e2e/

# --- local --------------------------------------------------------------------------------------------
# The harness runs the functions for this machine's architecture, from a local synth of the
# `local` environment: the same template `cdk deploy` would get, with host binaries as assets.
# CONTEXT holds stack context settings (key=value, space-separated), each passed to the local
# synth as -c key=value, so any setting of infra/stack's configuration runs locally:
#   make local CONTEXT="authSource=external authServiceUrl=http://127.0.0.1:9000"
LOCAL_DIR  := .local
LOCAL_TMPL := $(LOCAL_DIR)/cdk.out/HokusaiRegistryGateway-local.template.json
CONTEXT    ?=
local-assets: node_modules/.stamp .cache/go-mod.stamp ## build host binaries and synthesize the local stack into .local/ (CONTEXT="k=v …")
	@$(MAKE) --no-print-directory build GOARCH=$$(go env GOARCH) BUILD_DIR=$(LOCAL_DIR)/build
	@rm -rf $(LOCAL_DIR)/cdk.out
	npx cdk synth --quiet -c env=local -c buildDir=$(LOCAL_DIR)/build $(addprefix -c ,$(CONTEXT)) -o $(LOCAL_DIR)/cdk.out

local: deps local-assets ## run the whole system on this machine: API on http://127.0.0.1:3000 (CONTEXT="k=v …"; see README)
	go build -o $(LOCAL_DIR)/bin/hokusai-local ./infra/local
	exec $(LOCAL_DIR)/bin/hokusai-local -template $(LOCAL_TMPL) -state $(LOCAL_DIR)/state

key: ## mint an admin key on the running `make local` (KEY_USER=…, KEY_EMAIL=…)
	go run ./infra/local key -user "$${KEY_USER:-local-admin}" -email "$${KEY_EMAIL:-admin@localhost}"

sam-api: local-assets ## sam local start-api on the same template (needs Docker and the SAM CLI)
	@command -v sam >/dev/null || { echo "sam-api needs the AWS SAM CLI (and Docker)"; exit 1; }
	sam local start-api --template $(LOCAL_TMPL) --port $${LOCAL_API_PORT:-3000}

clean: ## remove build output and local state (not the installed dependencies)
	rm -rf $(BUILD_DIR) cdk.out .local
