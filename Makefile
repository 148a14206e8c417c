# hubcap — make help lists the targets.
SHELL := /bin/bash
GO ?= go
TEST_TIMEOUT ?= 25m

.PHONY: help setup build test test-unit vet fmt demo bench-peer storm clean-runs

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## install pinned JupyterHub 5.3.0/5.5.1, configurable-http-proxy and echarts into .hubcap/ (idempotent)
	bash scripts/setup.sh

build: ## build bin/hubcap
	$(GO) build -o bin/hubcap ./cmd/hubcap

vet: ## gofmt check, go mod tidy check and go vet
	@bad=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$bad" ]; then echo "gofmt needed: $$bad"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...

test: ## set up what is missing, then every test (unit, fuzz seeds, real-hub integration) with -race; lists skipped tests at the end (expect none)
	HUBCAP_SETUP_BROWSER=1 HUBCAP_SETUP_POSTGRES=1 HUBCAP_SETUP_PROMETHEUS=1 bash scripts/setup.sh
	$(MAKE) vet
	$(GO) build -o bin/testfilter ./internal/testenv/testfilter
	set -o pipefail; HUBCAP_REQUIRE_HUBS=1 HUBCAP_REQUIRE_BROWSER=1 $(GO) test -json -race -p 1 -timeout $(TEST_TIMEOUT) ./... 2>&1 | bin/testfilter

test-unit: ## tests that need no installed hub (real-hub tests skip)
	$(GO) test -race ./...

demo: ## a 700-attendee workshop on a local JupyterHub 5.3.0, then out/report.html (sets up what is missing; ~7 min on 2 cores)
	bash scripts/demo.sh

bench-peer: ## CPU per execute of hubtraf (HUBTRAF=path/to/hubtraf-simulate) and hubcap run on hubtraf's journey, 300 attendees, fleet-backed JupyterHub 5.5.1 (~8 min)
	bash scripts/bench-peer.sh

STORM ?= 700
storm: ## the 429 storm at the issue's size: STORM=700 attendees at once, local JupyterHub 5.5.1, concurrent_spawn_limit 5 (long: see docs/reliability.md)
	HUBCAP_REQUIRE_HUBS=1 HUBCAP_STORM_ATTENDEES=$(STORM) nice -n 19 $(GO) test -count=1 -p 1 -timeout 150m -run 'TestFault429Storm$$' -v ./internal/acceptance

clean-runs: ## remove local hub run directories under out/
	rm -rf out/runs
