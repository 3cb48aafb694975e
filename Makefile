# The README names these targets. `make demo` and `make test` set everything up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
# SAM CLI phones home for telemetry and instance metadata unless told not to; CI has no such network.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
EMBEDDED := PYTHONPATH=local $(PY) -m embedded_aws

.PHONY: demo up register test chromium unit workflow browser screenshots lint validate build bench clean

$(VENV)/.installed: requirements-dev.txt functions/promotion/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

## Register a real model and promote it dev -> test -> uat -> prod on the embedded AWS.
demo: $(VENV)/.installed
	$(EMBEDDED) demo

## Run the embedded AWS until Ctrl-C: approval API on :3000 (outbox at /outbox), AWS endpoint on :4010.
up: $(VENV)/.installed
	$(EMBEDDED) up

## Everything CI checks: lint, template validation and build, unit, workflow and browser tests.
test: lint validate build chromium
	$(PY) -m pytest

## The browser tests drive Debian's chromium through Playwright (no browser download).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium; }

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

workflow: $(VENV)/.installed
	$(PY) -m pytest tests/workflow

browser: $(VENV)/.installed chromium
	$(PY) -m pytest tests/browser

## Refresh the README's screenshots of the review page (docs/review-page*.png).
screenshots: $(VENV)/.installed chromium
	SAVE_SCREENSHOTS=1 $(PY) -m pytest -q tests/browser

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## `sam validate --lint` runs cfn-lint only; plain `sam validate` runs the SAM transform, which catches more.
validate: $(SAM_VENV)/.installed
	$(SAM_ENV) $(SAM) validate --lint --template template.yaml
	$(SAM_ENV) $(SAM) validate --region us-east-1 --template template.yaml

build: $(SAM_VENV)/.installed
	$(SAM_ENV) $(SAM) build --parallel --cached --template template.yaml

bench: $(VENV)/.installed
	PYTHONPATH=local:functions/promotion $(PY) bench/promotion_bench.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .local .pytest_cache .ruff_cache

## With `make up` running: register a demo model version (its approval email appears in the outbox).
register: $(VENV)/.installed
	$(EMBEDDED) register
