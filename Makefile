# The front door: `make run` starts a local cluster, `make test` runs the whole suite.
# Both set everything up first: Debian packages, a virtual environment, pinned dependencies.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEB_PACKAGES := nftables haproxy iproute2 conntrack curl nginx-light dnsmasq-base util-linux busybox-static wrk crun skopeo umoci zstd docker-registry apache2-utils
PYTEST_ARGS ?=

.PHONY: run test e2e lint typecheck deps system-deps clean

$(STAMP): pyproject.toml requirements.lock
	@echo "make: creating $(VENV) with the pinned Python packages of requirements.lock"
	@start=$$(date +%s); \
	$(PYTHON) -m venv $(VENV) && \
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock && \
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e . && \
	echo "make: $(VENV) ready ($$(( $$(date +%s) - start ))s)"
	@touch $(STAMP)

deps: system-deps $(STAMP)

system-deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  start=$$(date +%s); \
	  echo "make: installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null && \
	  echo "make: Debian packages installed ($$(( $$(date +%s) - start ))s)"; \
	fi

# `make run NAME=dev NODES=5`: options given on make's command line go to `portico up`
# (NAME, NODES, DATA_DIR, API_PORT, BIND_ADDRESS, SERVICE_CIDR, NODE_PORT_RANGE,
# VERBOSE=1, and UP_ARGS for anything else); unset ones keep portico's defaults.
up_option = $(if $(filter command line override,$(origin $(1))),$(2) '$($(1))')
UP_OPTIONS = $(call up_option,NAME,--name) $(call up_option,NODES,--nodes) \
	$(call up_option,DATA_DIR,--data-dir) $(call up_option,API_PORT,--api-port) \
	$(call up_option,BIND_ADDRESS,--bind-address) \
	$(call up_option,SERVICE_CIDR,--service-cidr) \
	$(call up_option,NODE_PORT_RANGE,--node-port-range) \
	$(if $(and $(call up_option,VERBOSE,x),$(filter-out 0,$(VERBOSE))),--verbose) $(UP_ARGS)

run: deps
	$(BIN)/portico up $(strip $(UP_OPTIONS))

# The suite runs inside a network namespace of its own (only `lo`), so even the
# in-process API tests on loopback never share the machine's namespace.
ISOLATED := unshare --net -- sh -c 'ip link set lo up && exec "$$@"' sh

test: deps
	$(BIN)/ruff check portico tests bench
	$(MAKE) --no-print-directory typecheck
	$(ISOLATED) $(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Only the end-to-end tests (real kubectl against `portico up` in private network namespaces).
e2e: deps
	$(ISOLATED) $(BIN)/python -m pytest -q tests/e2e $(PYTEST_ARGS)

lint: deps
	$(BIN)/ruff check portico tests bench

# mypy --strict over the package (settings in pyproject's [tool.mypy]) and the
# import-linter contracts of [tool.importlinter] (docs/architecture.md, "Packages and layers").
typecheck: deps
	$(BIN)/mypy --strict portico
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV)
