# medtrust: `make demo`, `make test`, `make bench`. Each creates .venv when missing and installs
# the package (Rust extension in release mode) with everything its tests need.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := .make-stamps
EXTRAS := all,test,dev
SOURCES := $(shell find rust python -name '*.rs' -o -name '*.py' -o -name '*.pyi' -o -name 'Cargo.toml' 2>/dev/null) Cargo.toml pyproject.toml

.PHONY: all install docs demo test test-rust test-py lint typecheck bench bench-rust stubtest clean

all: test

$(PY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip uv

# Dependencies: reinstalled when pyproject.toml changes.
$(STAMP)/deps: pyproject.toml | $(PY)
	@mkdir -p $(STAMP)
	$(UV) pip install --python $(PY) -r pyproject.toml --extra torch --extra nnunet --extra vqa --extra distributed --extra test --extra dev
	@touch $@

# The package itself (maturin develop builds the extension in release mode into the venv).
$(STAMP)/build: $(STAMP)/deps $(SOURCES)
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/maturin develop --release --uv -q
	@touch $@

install: $(STAMP)/build

# API reference site (mkdocs-material + mkdocstrings, numpy docstrings) in site/; strict: a
# docstring griffe cannot read or a broken reference fails the build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict -q

demo: install
	$(VENV)/bin/medtrust demo --out demo_output

test-rust:
	cargo fmt --all -- --check
	cargo test -p medtrust-core -q
	cargo clippy --workspace --all-targets -q -- -D warnings

lint: install
	$(VENV)/bin/ruff check python tests benches
	$(VENV)/bin/ruff format --check python tests benches

typecheck: install
	$(PY) -m mypy python/medtrust

stubtest: install
	$(PY) -m mypy.stubtest medtrust._native --allowlist tools/stubtest-allowlist.txt

test-py: install
	$(PY) -m pytest -q tests

test: test-rust lint typecheck stubtest test-py

bench: install
	$(PY) -m pytest -q benches -o python_files='test_*.py bench_*.py' --benchmark-columns=min,median,mean,rounds

bench-rust:
	cargo bench -p medtrust-core

clean:
	rm -rf $(STAMP) target
