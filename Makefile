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

$(VENV)/.installed: requirements.txt lambda_fn/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed ## create .venv with the pinned requirements

train: install ## train every model as a new immutable version under model/artifacts
	$(PY) -m model.train

artifacts: install ## train only the models that have no usable version yet
	$(PY) -m model.train --if-missing

serve: artifacts ## serve the API on http://127.0.0.1:3000 (gunicorn, same handler as Lambda)
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn -c lambda_fn/gunicorn_conf.py lambda_fn.server:application

submit: install ## price future_unseen_examples.csv through URL (default the local server); API_KEY=... for AWS
	$(PY) scripts/submit_examples.py --url $(URL) $(if $(API_KEY),--api-key $(API_KEY))

lint: install ## ruff
	$(VENV)/bin/ruff check .

unit: artifacts ## the fast tests (no Docker)
	$(PY) -m pytest -m "not container"

test: lint artifacts ## every test: unit, handler, HTTP, infrastructure, containers
	$(PY) -m pytest

clean:
	rm -rf $(VENV) model/artifacts cdk.out .aws-sam reports
