# Two commands matter: `make run` and `make test`. Every target sets up what it needs itself:
# the virtual environment from the pinned requirements, then the code generated from protos/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GEN := build/gen
PROTOS := $(shell find protos -name '*.proto')
INSTALLED := $(VENV)/.installed
GENERATED := $(GEN)/.generated

.PHONY: all run test test-unit test-integration test-e2e lint trace bench clean proto venv

all: $(GENERATED)

venv: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'mais.pth').write_text(str(pathlib.Path.cwd()) + '\n' + str(pathlib.Path.cwd() / '$(GEN)') + '\n')"
	touch $@

proto: $(GENERATED)

$(GENERATED): $(INSTALLED) $(PROTOS)
	rm -rf $(GEN) && mkdir -p $(GEN)
	$(PY) -m grpc_tools.protoc -Iprotos \
		--plugin=protoc-gen-mypy=$(VENV)/bin/protoc-gen-mypy \
		--plugin=protoc-gen-mypy_grpc=$(VENV)/bin/protoc-gen-mypy_grpc \
		--python_out=$(GEN) --grpc_python_out=$(GEN) \
		--mypy_out=$(GEN) --mypy_grpc_out=$(GEN) $(PROTOS)
	touch $@

# The whole platform: embedded PostgreSQL (unless DATABASE_URL), four services, gateway, Envoy,
# the local Stripe sandbox (unless STRIPE_SECRET_KEY), a demo tenant. Ctrl-C stops everything.
run: $(GENERATED)
	$(PY) -m tools.stack run

# Unit, integration and end-to-end suites; each starts its own database and processes.
test: $(GENERATED)
	$(PY) -m pytest -q -p no:cacheprovider tests

test-unit: $(GENERATED)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

lint: $(GENERATED)
	$(PY) -m ruff check .
	$(PY) -m mypy mais_runtime services gateway tools stripe_sandbox

# Prints one request's span tree across services: make trace ID=<trace id>
trace: $(GENERATED)
	$(PY) -m tools.trace $(ID)

# The platform's speed beside this machine's ceilings, in one bounded run (a few minutes, loopback only).
bench: $(GENERATED)
	$(PY) -m tools.bench

clean:
	rm -rf $(GEN) $(VENV)
