# The front door: `make run` starts a local cluster, `make test` runs the whole suite.
# Both set everything up first: Debian packages, a virtual environment, pinned dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := nftables haproxy iproute2 conntrack curl nginx-light dnsmasq-base util-linux wrk
PYTEST_ARGS ?=

.PHONY: run test e2e lint deps system-deps clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

deps: system-deps $(STAMP)

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

run: deps
	$(BIN)/portico up

# The suite runs inside a network namespace of its own (only `lo`), so even the
# in-process API tests on loopback never share the machine's namespace.
ISOLATED := unshare --net -- sh -c 'ip link set lo up && exec "$$@"' sh

test: deps
	$(BIN)/ruff check portico tests bench
	$(ISOLATED) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Only the end-to-end tests (real kubectl against `portico up` in private network namespaces).
e2e: deps
	$(ISOLATED) $(BIN)/python -m pytest -q tests/e2e $(PYTEST_ARGS)

lint: deps
	$(BIN)/ruff check portico tests bench

clean:
	rm -rf $(VENV)
