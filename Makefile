# Relay: `make run` starts everything embedded; `make test` installs what it needs and runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PACKAGES := libs/contracts libs/kit libs/stack services/ingest services/issues services/chat services/notify services/gateway
STAMP := $(VENV)/.installed

.PHONY: install run test bench browser clean lock

$(STAMP): constraints.txt requirements-dev.txt $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"
	$(PIP) install --quiet -c constraints.txt -r requirements-dev.txt $(foreach p,$(PACKAGES),-e $(p))
	touch $(STAMP)

install: $(STAMP)

## Headless Chromium and its driver from Debian, for the browser tests (never downloaded by a test tool).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: browser tests will be skipped"; \
	fi

run: install
	$(PY) -m relay_stack run

test: install browser
	$(PY) -m pytest

bench: install
	$(PY) -m relay_bench

## Re-pin every dependency after changing a pyproject.toml.
lock:
	$(PIP) freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) .pytest_cache
