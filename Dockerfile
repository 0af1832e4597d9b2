# syntax=docker/dockerfile:1
# fusionvc syncer image.
#   docker build -t fusionvc-syncer:0.1.0 .
# Stage 1 builds the project wheel and a wheel of every runtime dependency
# (no dev extras); stage 2 installs only those wheels, from no index.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
# README.md is the project's readme in pyproject.toml: the build needs it.
COPY pyproject.toml README.md ./
COPY syncer/ syncer/
COPY scheduler/ scheduler/
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="fusionvc-syncer" \
      org.opencontainers.image.description="Virtual Kubernetes clusters for tenants, pods on many edge clusters" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# The wheels are bind-mounted from the build stage, so they never become a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels fusionvc
# Set after the install so the installed modules are byte-compiled; at run time
# the root filesystem is read-only and nothing else writes .pyc files.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    FUSIONVC_TENANT_CRD_DIR=/etc/fusionvc/crd/tenant
# Tenant-facing CRDs the syncer installs into every tenant API server (syncer/fleet/tenant_crds.py).
COPY config/crd/tenant/ /etc/fusionvc/crd/tenant/
# Non-root, numeric so that runAsNonRoot can verify it. /tmp is an emptyDir in
# the Deployment (kubernetes-asyncio writes client certificates there).
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["python", "-m", "syncer"]
