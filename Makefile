# medtrust: `make demo`, `make test`, `make bench`. Each creates .venv when missing and installs
# the package (Rust extension in release mode) with everything its tests need.
# `make wheel` builds the abi3 manylinux2014 wheel into dist/; `make wheel-check` installs it in a
# clean venv with only the core dependencies and runs tools/wheel_smoke.py (part of `make test`);
# `make wheel-check-all` does that on every CPython >= 3.10 found on the machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := .make-stamps
EXTRAS := all,test,dev
SOURCES := $(shell find rust python -name '*.rs' -o -name '*.py' -o -name '*.pyi' -o -name 'Cargo.toml' 2>/dev/null) Cargo.toml pyproject.toml

DIST := dist
# Every CPython >= 3.10 on the machine: Debian's /usr/bin ones and pyenv's (wheel-check-all).
PYTHONS ?= $(wildcard /usr/bin/python3.1[0-9] $(HOME)/.pyenv/versions/3.1[0-9]*/bin/python3)
# The abi3 floor, when the machine has it: wheel-check (in `make test`) also runs there.
PY310 ?= $(firstword $(wildcard /usr/bin/python3.10 $(HOME)/.pyenv/versions/3.10*/bin/python3))

.PHONY: all install wheel wheel-check wheel-check-all docs demo test test-rust test-py lint typecheck \
	bench bench-rust stubtest clean

all: test

$(PY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip uv

# Dependencies: reinstalled when pyproject.toml changes.
$(STAMP)/deps: pyproject.toml | $(PY)
	@mkdir -p $(STAMP)
	$(UV) pip install --python $(PY) -r pyproject.toml --extra plot --extra io --extra progress --extra torch --extra nnunet --extra vqa --extra distributed --extra test --extra dev
	@touch $@

# The package itself, from ONE release build (issue 16): maturin builds the abi3 wheel for
# manylinux2014 (zig links against glibc 2.17; the .so is stripped) into dist/, then
# tools/dev_install.py copies its extension into python/medtrust and installs the package
# editable (a .pth to python/, the `medtrust` script), as `maturin develop` would, without
# compiling a second time. The same wheel is what wheel-check installs into a clean venv.
$(STAMP)/build: $(STAMP)/deps $(SOURCES)
	rm -f $(DIST)/medtrust-*.whl
	VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/maturin build \
		--release --zig --compatibility manylinux2014 --strip --out $(DIST) -q
	$(PY) tools/dev_install.py $(DIST)/medtrust-*.whl --python $(PY)
	@touch $@

install: $(STAMP)/build

wheel: $(STAMP)/build
	@ls -l $(DIST)/medtrust-*.whl

wheel-check: install
	$(PY) tools/wheel_check.py $(DIST)/medtrust-*.whl --base $(if $(PY310),--python $(PY310))

wheel-check-all: install
	$(PY) tools/wheel_check.py $(DIST)/medtrust-*.whl $(foreach p,$(PYTHONS),--python $(p))

# API reference site (mkdocs-material + mkdocstrings, numpy docstrings) in site/; strict: a
# docstring griffe cannot read or a broken reference fails the build.
docs: install
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict -q

demo: install
	$(VENV)/bin/medtrust demo --out demo_output

test-rust:
	cargo fmt --all -- --check
	cargo test -p medtrust-core -q
	cargo test -p medtrust-python --lib -q
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

test: test-rust lint typecheck stubtest test-py wheel-check

bench: install
	$(PY) -m pytest -q benches -o python_files='test_*.py bench_*.py' --benchmark-columns=min,median,mean,rounds

bench-rust:
	cargo bench -p medtrust-core

clean:
	rm -rf $(STAMP) target $(DIST) .whl
