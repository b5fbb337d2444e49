# Everything a fresh machine needs, starting from python3 >= 3.11 alone:
# a private uv (pinned) installs the locked environment into .venv.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
STAMP := $(VENV)/.synced
HOST ?= 127.0.0.1
PORT ?= 8000

# Linted YAML: the deployment files, and the example configurations when there are any.
YAML_FILES := .yamllint deploy $(wildcard config/*.yaml config/*.yml)

IMAGE ?= failwatch:local
# Python outside the package: the image's health check.
SCRIPTS := deploy/healthcheck.py

.PHONY: run test quick lint typecheck unit bench mutate docs image image-test clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/failwatch serve --host $(HOST) --port $(PORT) --log-format text $(if $(FAILWATCH_WEBHOOK_SECRET),,--insecure-no-auth)

lint: $(STAMP)
	$(VENV)/bin/ruff check receiver tests $(SCRIPTS)
	$(VENV)/bin/ruff format --check receiver tests $(SCRIPTS)
	$(VENV)/bin/hadolint deploy/Dockerfile
	$(VENV)/bin/yamllint --strict $(YAML_FILES)
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

# The pure decisions (intake and engine): no database, no network, a few seconds.
quick: $(STAMP)
	$(VENV)/bin/pytest -q tests/intake tests/engine $(PYTEST_ARGS)

# The README's configuration reference, regenerated from the settings model.
docs: $(STAMP)
	$(VENV)/bin/python -m receiver.cli.docs

# The container image, built by podman or Docker (the first that answers), on the
# Dockerfile's base image or BASE_IMAGE; where the base can't be pulled, on one made from
# Debian's packages. Needs no venv: the builder is standard-library Python.
image:
	$(PYTHON) -m tests.deploy.container --tag $(IMAGE) $(if $(BASE_IMAGE),--base $(BASE_IMAGE))

# Builds the image and runs it hardened, with SQLite and with PostgreSQL state.
image-test: $(STAMP)
	$(VENV)/bin/pytest -q tests/deploy/test_container.py $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python -m tests.bench.run $(BENCH_ARGS)

# Mutation testing of the pure decision modules against their own tests (TESTING.md);
# not part of `test`. MODULES=matchers,routing for a subset; JOBS=2 on a machine of your own.
JOBS ?= 1
mutate: $(STAMP)
	$(VENV)/bin/python -m tests.mutation --jobs $(JOBS) $(if $(MODULES),--modules $(MODULES))

clean:
	rm -rf $(TOOLS) $(VENV) .mypy_cache .ruff_cache .pytest_cache
