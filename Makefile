# okeanos: the two set-up commands are `make demo` and `make test`.
# Each installs what it needs: the virtualenv at .venv (Python packages from
# requirements.txt plus okeanos itself, editable), the CDK toolkit from npm,
# and the OpenSearch distribution from Maven Central.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
OKEANOS := $(VENV)/bin/okeanos
VENV_STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: demo test bench bench-quick synth opensearch-install clean

$(VENV_STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

opensearch-install: $(VENV_STAMP)
	$(OKEANOS) local opensearch install

demo: $(VENV_STAMP) opensearch-install
	bash scripts/demo.sh

test: $(VENV_STAMP) $(NODE_STAMP) opensearch-install
	$(PY) -m pytest

synth: $(VENV_STAMP) $(NODE_STAMP)
	npx cdk synth -c env=dev --quiet

# Three runs of each engine per size, the median reported: single runs of
# the same input varied by up to a quarter on a two-core machine.
BENCH_REPEAT ?= 3

bench: $(VENV_STAMP) $(NODE_STAMP) opensearch-install
	$(PY) -m bench.run --size full --repeat $(BENCH_REPEAT)

bench-quick: $(VENV_STAMP) $(NODE_STAMP) opensearch-install
	$(PY) -m bench.run --size quick

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache
