# Two commands on a fresh machine: `make demo` and `make test`.
VENV     ?= .venv
PYTHON   ?= python3
BIN      := $(VENV)/bin
STAMP    := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
DYNALITE := .tools/node_modules/.bin/dynalite

.PHONY: test demo lint bench package clean

# A fresh clone's `make test` installs the Python packages and dynalite side by side (3 s).
ifneq ($(filter test,$(MAKECMDGOALS)),)
MAKEFLAGS += --jobs=2
endif

# ruff, then mypy (configured in pyproject.toml) beside the suite, whose four workers spend a
# third of their time waiting on servers and timers: mypy's report follows the suite's. The
# suite starts the product in a hundred subprocesses: with PYTHONDONTWRITEBYTECODE set (as some
# images do) each would compile sensorbot's source anew, a sixth of the suite's CPU. After an
# install, one collection (beside mypy) first writes the bytecode of what the workers import,
# which the four of them would otherwise each compile at once.
# The slowest dozen tests are listed, so a run that stalls (one in a few here) shows where.
SUITE_ENV := PYTHONDONTWRITEBYTECODE= NO_PROXY=127.0.0.1,localhost \
	DYNALITE_BIN=$(abspath $(DYNALITE))
BYTECODE := $(VENV)/.compiled

test: $(STAMP) $(DYNALITE)
	$(BIN)/ruff check .
	@$(BIN)/mypy > $(VENV)/mypy.log 2>&1 & typing=$$!; \
	[ -e $(BYTECODE) -a $(BYTECODE) -nt $(STAMP) ] || { $(SUITE_ENV) $(BIN)/pytest -q \
		--collect-only -p no:cacheprovider >/dev/null 2>&1; touch $(BYTECODE); }; \
	$(SUITE_ENV) $(BIN)/pytest -q -n 4 --dist worksteal --durations=12; tests=$$?; \
	wait $$typing; typed=$$?; echo "mypy:"; cat $(VENV)/mypy.log; \
	exit $$(( tests || typed ))

# The demo needs only the product and amqtt (its MQTT broker): no dev toolchain, no node.
demo: $(DEMO_STAMP)
	$(BIN)/sensorbot demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP) $(DYNALITE)
	DYNALITE_BIN=$(abspath $(DYNALITE)) $(BIN)/python benchmarks/storage.py
	$(BIN)/python benchmarks/api.py
	$(BIN)/python benchmarks/bot.py
	DYNALITE_BIN=$(abspath $(DYNALITE)) $(BIN)/python benchmarks/alerts.py
	DYNALITE_BIN=$(abspath $(DYNALITE)) $(BIN)/python benchmarks/migrate.py
	$(BIN)/python benchmarks/mqtt.py
	$(BIN)/python benchmarks/export.py

# dist/{api,alerts,bot}.zip for deploy/template.yaml (python3.12, arm64); docs/aws.md.
package: $(STAMP)
	$(BIN)/python -m deploy.package

# The project and an extra, by uv (from PyPI; it fetches in parallel: 20 s where pip takes 90 s),
# which the interpreter's own pip puts into the .venv (made without pip: 4 s less), and pip
# beside them for `make package`; or by pip where uv cannot be had. No bytecode for all 10,000
# modules (17 s of CPU): `make test` compiles the ones the suite imports (see test).
install = { $(PYTHON) -m pip --python $(BIN)/python install --quiet 'uv>=0.5,<1' \
		&& $(BIN)/python -m uv pip install --quiet --python $(BIN)/python pip -e '.[$(1)]'; } \
	|| { $(BIN)/python -m ensurepip --upgrade >/dev/null \
		&& $(BIN)/python -m pip install --quiet --upgrade pip \
		&& $(BIN)/python -m pip install --quiet -e '.[$(1)]'; }

# sensorbot needs Python 3.11+: say so before making a .venv that cannot install it.
NEEDS_311 := import sys; sys.exit(sys.version_info < (3, 11))
# The advice names the command that was typed, and the Pythons that would do: a pyenv shim for
# a version that is not active does not run, so `PYTHON=python3.12` alone may not be the cure.
GOAL := make $(or $(MAKECMDGOALS),test)
FOUND := found=; for p in python3.11 python3.12 python3.13 python3.14 \
	$$(pyenv root 2>/dev/null)/versions/3.*/bin/python3; do p=$$(command -v "$$p") && \
	"$$p" -c '$(NEEDS_311)' >/dev/null 2>&1 && found="$$found $$p"; done; \
	printf %s "$${found:- none found, install one first}"
SUGGEST = "$(GOAL) PYTHON=/path/to/python3.12 (3.11 or newer here:$$($(FOUND)))"

$(BIN)/python:
	@$(PYTHON) -c 'import sys' >/dev/null 2>&1 || { echo "make cannot run $(PYTHON): not" \
		"installed, or a pyenv shim for a version that is not active. Name one that" \
		"runs:" $(SUGGEST) >&2; exit 2; }
	@$(PYTHON) -c '$(NEEDS_311)' || { echo "sensorbot needs Python 3.11 or newer; $(PYTHON)" \
		"is $$($(PYTHON) --version 2>&1). Name a newer one:" $(SUGGEST) >&2; exit 2; }
	$(PYTHON) -m venv --without-pip $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c '$(NEEDS_311)' || { echo "$(VENV) was made with an older Python:" \
		"make clean, then" $(SUGGEST) >&2; exit 2; }
	$(call install,dev)
	touch $@ $(DEMO_STAMP)

# The dev extra holds the demo's too: after `make test`, `make demo` installs nothing.
$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	@$(BIN)/python -c '$(NEEDS_311)' || { echo "$(VENV) was made with an older Python:" \
		"make clean, then" $(SUGGEST) >&2; exit 2; }
	$(call install,demo)
	touch $@

# dynalite: an independent DynamoDB implementation, for the DynamoDB contract suite.
$(DYNALITE):
	mkdir -p .tools
	npm install --prefix .tools --no-audit --no-fund --loglevel=error dynalite@4.0.0

clean:
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache build dist
