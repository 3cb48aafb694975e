# The README names these targets. `make demo` and `make test` set everything up on a fresh machine.
# The tooling runs on python3.11 to python3.13 (pyproject.toml); the Lambda runtime is python3.13. New venvs
# take the newest of them that runs here (a pyenv shim may name a version it will not run), or PYTHON=...
# PYTHON makes new venvs only: an existing .venv keeps its interpreter (`make clean` to switch).
PYTHON ?= $(firstword $(foreach p,python3.13 python3.12 python3.11,$(shell $(p) -c "" 2>/dev/null && echo $(p))))
# sam build runs the build-%Function rule from a scratch copy of the code, so paths there start from here.
PROJECT_ROOT := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
# SAM CLI phones home for telemetry and instance metadata unless told not to; CI has no such network.
SAM_ENV := SAM_CLI_TELEMETRY=0 AWS_EC2_METADATA_DISABLED=true
EMBEDDED := PYTHONPATH=local $(PY) -m embedded_aws

.PHONY: demo up register test chromium unit workflow browser screenshots lint validate build cfn-check bench clean

# The project itself is installed editable (pyproject.toml): `.venv/bin/model-promotion` runs this checkout's code.
$(VENV)/.installed: requirements-dev.txt functions/promotion/requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(SAM_VENV)/.installed:
	test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

## Register a real model and promote it dev -> test -> uat -> prod on the embedded AWS.
demo: $(VENV)/.installed
	$(EMBEDDED) demo

## Run the embedded AWS until Ctrl-C: approval API on :3000 (outbox at /outbox), AWS endpoint on :4010.
up: $(VENV)/.installed
	$(EMBEDDED) up

## Everything CI checks: lint, template validation and build, unit (the CloudFormation-level checks of
## `make cfn-check` included), workflow and browser tests.
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
	@if ls -d .aws-sam/build/*/botocore .aws-sam/build/*/boto3 2>/dev/null | grep .; then \
	  echo "these artifacts package the AWS SDK, which would shadow the Lambda runtime's" >&2; exit 1; fi
	@if ls $(foreach f,$(OPERATOR_ONLY),.aws-sam/build/*/model_promotion/$(f)) 2>/dev/null | grep .; then \
	  echo "these artifacts hold the operators' code, which no function runs" >&2; exit 1; fi

## The template as SAM would deploy it (transformed offline), linted: cfn-lint with the serverless rules, and
## parliament on every IAM policy. Part of `make test`; this runs only these checks.
cfn-check: $(VENV)/.installed
	$(PY) -m pytest tests/unit/test_cloudformation_checks.py

# `sam build` runs this rule for each function (Metadata: BuildMethod makefile, ContextPath .), in a copy of
# its CodeUri and with ARTIFACTS_DIR set. It installs requirements.txt for Lambda's platform and Python as
# SAM's pip builder would, then drops the AWS SDK that a dependency pulls in (aws-xray-sdk requires
# botocore): the runtime has its own boto3 and botocore, and a packaged copy would shadow them.
LAMBDA_PYTHON_VERSION := 3.13
# Any pip will do: it installs wheels for the platform and Python named below, not its own. It is the SAM venv's,
# which `build` has made, and never a pyenv shim's: pyenv rehashes after `-m pip install`, and fails the build
# where its shims directory is read-only.
LAMBDA_PIP ?= $(PROJECT_ROOT)$(SAM_VENV)/bin/python -m pip
LAMBDA_PLATFORMS := manylinux_2_34_x86_64 manylinux_2_28_x86_64 manylinux2014_x86_64 manylinux1_x86_64
# What only the `model-promotion` distribution runs (pyproject.toml), never a function: kept out of the artifacts.
OPERATOR_ONLY := cli.py client.py services/smoke.py adapters/smoke_aws.py
RUNTIME_SDK := boto3 botocore s3transfer jmespath dateutil six urllib3
RUNTIME_SDK_DISTRIBUTIONS := boto3 botocore s3transfer jmespath python_dateutil six urllib3
build-%Function:
	$(LAMBDA_PIP) install --quiet --disable-pip-version-check --no-compile --target "$(ARTIFACTS_DIR)" \
	  $(addprefix --platform ,$(LAMBDA_PLATFORMS)) --implementation cp --python-version $(LAMBDA_PYTHON_VERSION) \
	  --only-binary=:all: -r requirements.txt
	cd "$(ARTIFACTS_DIR)" && rm -rf bin $(RUNTIME_SDK) six.py \
	  $(foreach d,$(RUNTIME_SDK_DISTRIBUTIONS),$(d)-*.dist-info $(d)-*.data)
	cp -R model_promotion "$(ARTIFACTS_DIR)/"
	cd "$(ARTIFACTS_DIR)/model_promotion" && rm -f $(OPERATOR_ONLY)
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

bench: $(VENV)/.installed
	PYTHONPATH=local:functions/promotion $(PY) bench/promotion_bench.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .local .pytest_cache .ruff_cache

## With `make up` running: register a demo model version (its approval email appears in the outbox).
register: $(VENV)/.installed
	$(EMBEDDED) register
