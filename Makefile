# fusionvc developer entry points. `make up` and `make test` are the README's two commands.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: up down status venv bins prometheus lint typecheck unit test bench clean

up: venv bins ## sandbox clusters + the syncer, in the background
	hack/sandbox up --with-syncer

down: ## stop the syncer and every sandbox process
	hack/sandbox down

status:
	hack/sandbox status

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f .venv/.installed-*; touch $@

bins: ## kube-apiserver, kube-controller-manager, etcd, kwok, metrics-server from Go modules (cached)
	hack/build-bins

prometheus: ## Prometheus server (Debian package): the remote-write receiver of the delivery tests
	command -v prometheus >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q --no-install-recommends prometheus; }

lint: venv
	$(PY) -m ruff check .

typecheck: venv
	$(PY) -m mypy

unit: venv
	$(PY) -m pytest tests/unit -q

test: venv bins prometheus lint typecheck ## everything CI runs
	$(PY) -m pytest -q -ra

bench: venv bins
	PYTHONPATH=. $(PY) hack/bench/edge_pod_create.py

clean: down
	rm -rf .sandbox .sandbox-test
