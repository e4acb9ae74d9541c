# Two commands matter: `make run` and `make test`. Every target sets up what it needs itself:
# the virtual environment from the pinned requirements, then the code generated from protos/.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GEN := build/gen
PROTOS := $(shell find protos -name '*.proto')
INSTALLED := $(VENV)/.installed
GENERATED := $(GEN)/.generated
# The front end (web/): npm ci from the committed lock, then a build into build/web when a source changed.
WEB_MODULES := web/node_modules/.installed
WEB_BUILT := build/web/.built
WEB_SOURCES := $(shell find web/src web/scripts -type f 2>/dev/null) web/index.html web/admin.html web/vite.config.ts web/vite.loader.config.ts web/tsconfig.json
# Browser tests drive Debian's Chromium (never a browser downloaded by a test tool).
CHROMIUM := /usr/bin/chromium
# make bench's read load generator: Debian's wrk.
WRK := /usr/bin/wrk
# The connection pooler the stack starts with MAIS_PGBOUNCER=1 (and the e2e suite and bench use): Debian's.
PGBOUNCER := /usr/sbin/pgbouncer

.PHONY: all run test test-unit test-integration test-e2e test-web lint trace bench clean proto venv web k8s-check

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

web: $(WEB_BUILT)

$(WEB_MODULES): web/package.json web/package-lock.json web/.npmrc
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUILT): $(WEB_MODULES) $(WEB_SOURCES)
	cd web && npm run --silent build
	touch $@

$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium \
	|| { $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium; }

$(WRK):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends wrk \
	|| { $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends wrk; }

$(PGBOUNCER):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends pgbouncer \
	|| { $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends pgbouncer; }

# The whole platform: embedded PostgreSQL (unless DATABASE_URL), four services, gateway, Envoy,
# the local Stripe sandbox (unless STRIPE_SECRET_KEY), a demo tenant. Ctrl-C stops everything.
run: $(GENERATED) $(WEB_BUILT) $(if $(filter 1 true yes,$(MAIS_PGBOUNCER)),$(PGBOUNCER))
	$(PY) -m tools.stack run

# Unit, integration and end-to-end suites; each starts its own database and processes.
# The front end's unit tests (Vitest) and type check first, then every Python suite, browser tests included.
test: $(GENERATED) $(WEB_BUILT) $(CHROMIUM) $(PGBOUNCER)
	cd web && npm run --silent typecheck && npm test --silent
	$(PY) -m pytest -q -p no:cacheprovider tests

test-web: $(WEB_BUILT)
	cd web && npm run --silent typecheck && npm test --silent

test-unit: $(GENERATED) $(WEB_BUILT)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

lint: $(GENERATED)
	$(PY) -m ruff check .
	$(PY) -m mypy mais_runtime services gateway tools stripe_sandbox

# Renders every Kubernetes overlay (deploy/kubernetes) and checks it offline: the Kubernetes schemas, the
# policy of tools/k8s/checks.py and `envoy --mode validate` of the rendered Envoy configuration (also part
# of `make test`: tests/unit/test_kubernetes.py).
k8s-check: $(INSTALLED)
	$(PY) -m tools.k8s

# Prints one request's span tree across services: make trace ID=<trace id>
trace: $(GENERATED)
	$(PY) -m tools.trace $(ID)

# The platform's speed beside this machine's ceilings, in one bounded run (about 8 minutes, loopback only),
# with 1 and 2 replicas of every part and PgBouncer on/off. Options: make bench BENCH="--help".
bench: $(GENERATED) $(WEB_BUILT) $(CHROMIUM) $(WRK) $(PGBOUNCER)
	$(PY) -m tools.bench $(BENCH)

clean:
	rm -rf $(GEN) $(VENV) build/web web/node_modules
