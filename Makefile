# The verbs a newcomer needs. Everything installs into .venv from the pinned requirements.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 3000
URL ?= http://$(HOST):$(PORT)
export DATA_DIR ?= $(abspath ../shared/data)

.PHONY: help install train artifacts serve submit test lint unit bench clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# Two layers: what serving and training need (model/requirements.txt: the function's runtime plus
# pandas), enough for `make serve` on a fresh machine; then the rest for tests, plots and the CDK app.
$(VENV)/.serving: model/requirements.txt lambda_fn/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r model/requirements.txt
	touch $@

$(VENV)/.installed: $(VENV)/.serving requirements.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv with every pinned requirement (development, tests, CDK)

train: $(VENV)/.serving ## train every model as a new immutable version under model/artifacts
	$(PY) -m model.train

artifacts: $(VENV)/.serving ## train only the models that have no usable version yet
	$(PY) -m model.train --if-missing

serve: artifacts ## serve the API on http://127.0.0.1:3000 (uvicorn, same handler as Lambda)
	HOST=$(HOST) PORT=$(PORT) $(PY) -m lambda_fn.api.serve

submit: $(VENV)/.serving ## price future_unseen_examples.csv through URL (default the local server); API_KEY=... for AWS
	$(PY) scripts/submit_examples.py --url $(URL) $(if $(API_KEY),--api-key $(API_KEY))

lint: install ## ruff, and the import contracts of the layout (import-linter, pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

unit: install artifacts browser ## the fast tests (no Docker)
	$(PY) -m pytest -m "not container"

# The container tests synthesize through the pinned CDK CLI (node_modules, below).
test: lint artifacts browser node_modules/.package-lock.json ## every test: unit, handler, HTTP, model, registry, infrastructure, browser, containers
	$(PY) -m pytest

# The browser tests (tests/browser/, marker `browser`) drive headless Chromium through chromedriver, both
# from Debian's packages: Selenium is given the driver's path and never downloads a browser itself.
CHROMIUM := /usr/bin/chromium
CHROMEDRIVER := /usr/bin/chromedriver
.PHONY: browser
browser: ## install Debian's chromium and chromium-driver (apt-get, as root) when missing
	@if [ -x $(CHROMIUM) ] && [ -x $(CHROMEDRIVER) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "The browser tests need $(CHROMIUM) and $(CHROMEDRIVER). As root: apt-get update &&" \
		     "apt-get install -y --no-install-recommends chromium chromium-driver" >&2; exit 1; fi; \
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver

clean:
	rm -rf $(VENV) model/artifacts cdk.out .aws-sam reports

# ---- AWS CDK (infra/, cdk.json, package.json) -----------------------------------------------------
# The CDK CLI is pinned in package.json (npm ci installs it); the app runs on .venv's Python.
# Synth needs no AWS credentials and no Docker; deploy needs both. Settings: config/<stage>.json;
# the AWS profile gives account and region. CDK_ARGS passes context, e.g.
#   make deploy CDK_ARGS="-c stage=prod"      make synth CDK_ARGS="-c ecs=true -c memoryMb=3008"
CDK := npx --no-install cdk
CDK_ARGS ?=
.PHONY: synth cfn-lint preflight deploy diff destroy

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund

synth: install node_modules/.package-lock.json ## CloudFormation for the stage's stacks into cdk.out (runs cdk-nag; no AWS, no Docker)
	$(CDK) synth --quiet $(CDK_ARGS)

cfn-lint: synth ## cfn-lint every synthesized template (W3005: CDK's explicit DependsOn beside a Ref)
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- cdk.out/*.template.json

# Before a deploy: the same CDK_ARGS (-c key=value, --profile) as the deploy; exits 1 on any problem.
preflight: install node_modules/.package-lock.json ## check credentials, bootstrap, Docker, Node and the stage config before a deploy
	$(PY) -m scripts.preflight $(CDK_ARGS)

diff: install artifacts node_modules/.package-lock.json ## what a deploy would change (AWS credentials)
	$(CDK) diff --all $(CDK_ARGS)

# A single-platform image manifest: Lambda refuses BuildKit's provenance attestation index.
deploy: install artifacts node_modules/.package-lock.json ## build the image and deploy the stage's stacks (AWS credentials, Docker)
	BUILDX_NO_DEFAULT_ATTESTATIONS=1 $(CDK) deploy --all --require-approval broadening $(CDK_ARGS)

destroy: node_modules/.package-lock.json ## delete the stacks (log groups, log buckets and the model registry bucket are retained)
	$(CDK) destroy --all $(CDK_ARGS)
# ---- end AWS CDK ---------------------------------------------------------------------------------

# ---- Containers (Dockerfile, image/, scripts/container/, tests/container/) -----------------------
# The same targets serve a user with plain docker + sam and a machine without an image registry:
# there ../shared/tools/container-env.sh (CONTAINER_ENV overrides the path) starts Docker, builds
# the stand-in base image, downloads wheels into .wheels/ and installs SAM, only when missing.
# Read from the environment: LAMBDA_BASE_IMAGE (default public.ecr.aws/lambda/python:3.13),
# SAM_CLI (default sam), IMAGE (default sound-realty-price-service:local). Host network and
# 127.0.0.1 only. `make test` runs tests/container (pytest marker `container`) with the rest.
ECS_PORT ?= 8080
EVENTS ?=
BENCH_ARGS ?=
.PHONY: image sam-invoke sam-api ecs-local bench-container

image: install artifacts ## build the service image (linux/amd64, one manifest; never trains) and print its size
	$(PY) -m scripts.container.image

sam-invoke: install artifacts node_modules/.package-lock.json ## cdk synth --no-staging, sam build the function, sam local invoke it with each events/*.json (or EVENTS=...)
	$(PY) -m scripts.container.sam_local invoke $(EVENTS)

sam-api: install artifacts node_modules/.package-lock.json ## sam local start-api on http://127.0.0.1:3000 (PORT=...), warm container; then make submit
	$(PY) -m scripts.container.sam_local api --port $(PORT)

ecs-local: install artifacts node_modules/.package-lock.json ## the image as the ECS task runs it (uvicorn, non-root) on http://127.0.0.1:8080 (ECS_PORT=...)
	$(PY) -m scripts.container.ecs_local --port $(ECS_PORT)

bench-container: install artifacts ## cold start (RIE: docker run -> first answer) and warm latency; BENCH_ARGS="--cpus 0.58" or "--memory-sizes 1024 1769 3008"
	$(PY) -m scripts.container.bench $(BENCH_ARGS)
# ---- end Containers ------------------------------------------------------------------------------

# ---- Model registry (lambda_fn/registry/, model/registry.py; docs/registry.md) --------------------
# A new model version without a new image: publish (signed with the registry's KMS key), promote
# (signature verified, smoke-tested first), roll back. Reads MODEL_REGISTRY_BUCKET,
# MODEL_POINTER_PREFIX and MODEL_SIGNING_KEY_ARN (the stack's outputs) and runs with AWS
# credentials of the registry's deploy role; README "Releasing a new model".
# The served default model; REGISTRY_MODEL=basic releases the client's model.
REGISTRY_MODEL ?= gbm
REGISTRY_VERSION ?=
.PHONY: registry-list registry-publish registry-promote registry-rollback

registry-list: install ## model versions in the registry, the active one and the rollback history
	$(PY) -m model.registry list

registry-publish: install artifacts ## sign and upload model/artifacts/REGISTRY_MODEL/(REGISTRY_VERSION or LATEST); never overwrites
	$(PY) -m model.registry publish --name $(REGISTRY_MODEL) $(if $(REGISTRY_VERSION),--version $(REGISTRY_VERSION))

registry-promote: install ## check REGISTRY_VERSION (signature, checksums, libraries, smoke test, future examples), make it active
	$(PY) -m model.registry promote --name $(REGISTRY_MODEL) --version $(REGISTRY_VERSION)

registry-rollback: install ## point REGISTRY_MODEL back at the version active before the last promotion
	$(PY) -m model.registry rollback --name $(REGISTRY_MODEL)
# ---- end Model registry --------------------------------------------------------------------------

# ---- Evaluation and speed (model/evaluate.py, lambda_fn/api/bench.py) ----------------------------
# evaluate: metrics on the training part, the held-out part and 5-fold CV, the over/under-fitting
# verdict, PNG plots and reports/README.md (git-ignored) for the latest version of every model;
# EVALUATE_ARGS="--model gbm" or "--folder model/artifacts/gbm/<version>" for one version.
# bench: warm in-process p50/p99 through lambda_handler, one house and 1,000, per model.
EVALUATE_ARGS ?=
.PHONY: evaluate bench bench-http bench-instructions loadtest first-answer
LOADTEST_SECONDS ?= 20

evaluate: install artifacts ## evaluate every model: metrics, verdict, plots, reports/README.md
	$(PY) -m model.evaluate $(EVALUATE_ARGS)

bench: artifacts ## in-process speed per model (one house, 1,000 houses; model vs framework) and the cold start
	$(PY) -m lambda_fn.api.bench

bench-http: artifacts ## the real server on loopback (needs wrk): req/s, p50/p99, sequential, beside batches, slow clients
	$(PY) -m scripts.bench_http $(BENCH_HTTP_ARGS)

bench-instructions: artifacts ## instructions per request by part, under callgrind (needs valgrind; steady where seconds are not)
	$(PY) -m scripts.instructions $(PARTS)

loadtest: install artifacts ## keep-alive load on the real server with a registry promotion halfway (moto server, 127.0.0.1 only); fails on any error or mixed answer
	$(PY) -m scripts.loadtest --seconds $(LOADTEST_SECONDS)

first-answer: $(VENV)/.serving ## seconds from a fresh clone of HEAD and an empty pip cache to make serve's first answer
	$(PY) -m scripts.first_answer
# ---- end Evaluation and speed --------------------------------------------------------------------
