# lambda-promoter: every target installs what it needs first.
PYTHON      ?= python3
VENV        := .venv
PY          := $(VENV)/bin/python
TOOLS       := .tools
SAM         := $(TOOLS)/sam/bin/sam
CHECKOV     := $(TOOLS)/checkov/bin/checkov
REGION      ?= us-east-1
export SAM_CLI_TELEMETRY := 0
PIP_QUIET   := --quiet --disable-pip-version-check
SAM_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
# A tool virtualenv is (re)built when its pinned version changes.
SAM_STAMP   := $(TOOLS)/sam/.installed-$(SAM_VERSION)
CHECKOV_STAMP := $(TOOLS)/checkov/.installed-$(CHECKOV_VERSION)

.PHONY: help install tools demo test test-unit test-statemachine test-e2e test-localaws test-integration \
        lint lint-python lint-asl bandit validate checkov build deploy bench serve clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml functions/requirements.txt
	@echo "Installing the project's pinned dependencies into $(VENV) (first run only, about a minute)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP_QUIET) -e '.[dev]'
	touch $@

install: $(VENV)/.installed ## create .venv with the project's pinned dev dependencies

# AWS SAM CLI pins exact boto3/click versions, so it lives in its own tool virtualenv.
$(SAM_STAMP):
	@echo "Installing AWS SAM CLI $(SAM_VERSION) into $(TOOLS)/sam (first run only)..."
	rm -f $(TOOLS)/sam/.installed-*
	$(PYTHON) -m venv $(TOOLS)/sam
	$(TOOLS)/sam/bin/pip install $(PIP_QUIET) aws-sam-cli==$(SAM_VERSION)
	touch $@

$(CHECKOV_STAMP):
	@echo "Installing checkov $(CHECKOV_VERSION) into $(TOOLS)/checkov (first run only)..."
	rm -f $(TOOLS)/checkov/.installed-*
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install $(PIP_QUIET) checkov==$(CHECKOV_VERSION)
	touch $@

tools: $(SAM_STAMP) $(CHECKOV_STAMP) ## install AWS SAM CLI and checkov in their own tool virtualenvs

demo: install ## run the promotion scenarios on the embedded local AWS (no account, no Docker)
	$(PY) -m demo

serve: install ## keep the local AWS running with the orchestrator and the examples deployed (port 4566)
	$(PY) -m demo serve $(SERVE_ARGS)

# The moto-based unit tests run in their own processes (starting moto's mock resets the process-global
# backends that the embedded local AWS also uses), alongside the local-AWS levels, which mostly wait on
# simulated clocks. Two pytest-xdist workers each; the local-AWS levels are split by file (each worker
# starts its own local AWS, and a file's tests run in order on one worker). See devtools/run_tests.py.
test: install ## run the whole test suite offline
	$(PY) -m devtools.run_tests

test-unit: install ## task and domain tests with moto
	$(PY) -m pytest -m unit

test-statemachine: install ## the real ASL with the real handlers on the local AWS
	$(PY) -m pytest -m statemachine

test-e2e: install ## demo scenarios end to end
	$(PY) -m pytest -m e2e

test-localaws: install ## tests of the embedded local AWS itself
	$(PY) -m pytest -m localaws

test-integration: install ## against a deployed stack: PROMOTER_STACK_NAME=... (skipped without credentials)
	$(PY) -m pytest -m integration tests/integration

lint: lint-python bandit lint-asl validate checkov ## every static check CI runs

# ruff checks every Python path; mypy --strict checks the code that ships or runs the product.
PY_SRC      ?= functions devtools localaws examples demo tests $(wildcard bench)
MYPY_SRC    ?= functions devtools localaws examples demo $(wildcard bench)

lint-python: install ## ruff (lint and format check) on everything, mypy --strict on the shipped code
	$(VENV)/bin/ruff check $(PY_SRC)
	$(VENV)/bin/ruff format --check $(PY_SRC)
	$(VENV)/bin/mypy $(MYPY_SRC)

lint-asl: install ## the ASL file: statelint, then this project's rules (error names, Roll Back, substitutions)
	$(PY) -m devtools.asl_lint statemachine/promotion.asl.json --template template.yaml
	$(PY) -m devtools.asl_diagram statemachine/promotion.asl.json --readme README.md --check

# Medium and high severity findings fail (-ll); a finding accepted on purpose takes `# nosec BXXX` and a reason.
bandit: install ## bandit on the shipped task code (functions/), failing on medium or high severity
	$(VENV)/bin/bandit --recursive --quiet -ll functions

validate: $(SAM_STAMP) ## sam validate --lint (cfn-lint) on template.yaml
	$(SAM) validate --lint --region $(REGION) --template template.yaml

# What checkov scans, and the findings accepted per resource with their reasons, are in .checkov.yaml.
checkov: $(CHECKOV_STAMP) ## checkov on template.yaml (settings and accepted findings: .checkov.yaml)
	$(CHECKOV) --config-file .checkov.yaml

build: $(SAM_STAMP) ## sam build (no container needed)
	$(SAM) build --template template.yaml

deploy: build ## sam deploy --guided into your own account
	$(SAM) deploy --guided

bench: install ## benchmark a promotion against the direct boto3 sequence on the local AWS
	$(PY) -m bench

clean: ## remove build output and virtualenvs
	rm -rf .aws-sam $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
