# Relay: `make run` starts everything embedded; `make test` installs what it needs and runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PACKAGES := libs/contracts libs/kit libs/stack services/ingest services/issues services/chat services/notify services/gateway bench
STAMP := $(VENV)/.installed

.PHONY: install ui run run-fresh clean-data test bench fuzz tools clean lock

$(STAMP): constraints.txt requirements-dev.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet -c constraints.txt -r requirements-dev.txt $(foreach p,$(PACKAGES),-e $(p))
	touch $(STAMP)

install: $(STAMP)

## The staff UI (TypeScript, Vue 3 + Pinia, built by Vite) from the committed lockfile with `npm ci`;
## the built files land in the gateway's package (relay_gateway/ui), which serves them.
FRONTEND := services/gateway/frontend
UI_BUILT := services/gateway/relay_gateway/ui/index.html
UI_SOURCES := $(shell find $(FRONTEND)/src -type f 2>/dev/null) $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json
$(FRONTEND)/node_modules/.package-lock.json: $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	cd $(FRONTEND) && npm ci --no-audit --no-fund --loglevel=error
	touch $@
$(UI_BUILT): $(FRONTEND)/node_modules/.package-lock.json $(UI_SOURCES)
	cd $(FRONTEND) && npm run --silent build
ui: $(UI_BUILT)

## Debian packages the tests use: headless Chromium for the UI tests, promtool for the Prometheus config.
## Installed from Debian's repositories (never downloaded by a test tool); skipped when already present.
DEBIAN_TOOLS := /usr/bin/chromium:chromium /usr/bin/promtool:prometheus
tools:
	@missing=""; for pair in $(DEBIAN_TOOLS); do [ -x "$${pair%%:*}" ] || missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	  || echo "could not install$$missing: the tests that need them will be skipped, saying why"; \
	fi

run: install ui
	$(PY) -m relay_stack run

## Embedded data (each service's store) lives in .relay/data/<service> and survives restarts;
## `make run-fresh` wipes it and starts empty, `make clean-data` only wipes it.
RELAY_DATA_ROOT ?= .relay/data
run-fresh: install ui
	$(PY) -m relay_stack run --fresh --data-dir $(RELAY_DATA_ROOT)

clean-data:
	rm -rf $(RELAY_DATA_ROOT)

test: install tools ui
	cd $(FRONTEND) && npx vitest run
	$(PY) -m pytest

bench: install
	$(PY) -m relay_bench

## The fuzz suite with a larger budget (RELAY_FUZZ_EXAMPLES, default 200; RELAY_FUZZ_SEED to replay).
fuzz: install
	$(PY) -m relay_bench.fuzz

## Re-pin every dependency after changing a pyproject.toml.
lock:
	$(PIP) freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache $(FRONTEND)/node_modules services/gateway/relay_gateway/ui
