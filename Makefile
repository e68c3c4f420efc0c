# make demo   - a pulsing queue on the Lance backend, read back, opened by pylance
# make test   - every test: Go (race detector, cgocheck2), C, Python (pylance, pulsing)
# make lib    - build/libpersisting.so
# make crash  - 200 SIGKILL/restart rounds against PersistingBackend's WAL (CRASHES=n SEED=s)
# make random   - 1000 randomized Lance round trips through pylance (ROUNDS=n; LANCE_RANDOM_SEED=s)
# make bench    - issue #6 ratio table vs pylance and pulsing (~2 min); BENCH_FLAGS=--quick checks it in ~15 s
# make bench-go - Go benchmarks of engine, wal, lance and bench (~2 min)
PYTHON ?= python3
GO ?= go
export GOFLAGS ?= -mod=mod
# Go's stricter pointer check stays on in every test run (see docs/notes on cgo).
export GODEBUG ?= cgocheck=1

.PHONY: all lib ctest crash random bench bench-go test-header examples deps pyreqs pydeps gotest gotest-cgocheck2 test-c pytest test demo clean

all: lib

lib:
	./build.sh

deps:
	$(GO) mod download

# Installs the Python side from the project's own files: test requirements and
# the persisting package itself (whose build compiles libpersisting.so with Go).
pyreqs:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt

pydeps: pyreqs
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./python

gotest: deps pyreqs
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

# The exported-data paths again with Go's strictest cgo pointer checks compiled in.
gotest-cgocheck2: deps pyreqs
	GOEXPERIMENT=cgocheck2 $(GO) test -count=1 ./engine/... ./lance/...

ctest: deps
	GOEXPERIMENT=cgocheck2 OUT=build/cgocheck2 ./build.sh ctest
	build/cgocheck2/test_capi
	./build.sh ctest
	build/test_capi

# The public header compiles as C99..C17 and C++11..20 with warnings as errors;
# the library exports exactly the header's functions (capi/exports.map).
test-header: lib
	tests/header/check.sh
	tests/header/exports.sh

# Issue #7's C and Rust clients; each checks every value it reads back.
examples: lib
	examples/c/run.sh
	cargo run --locked --manifest-path examples/rust/Cargo.toml

# tests/python, tests/crash, tests/cluster and tests/docs each have their own pytest.ini: run them apart.
pytest: pydeps
	$(PYTHON) -m pytest -q tests/python
	$(PYTHON) -m pytest -q tests/crash -k short
	$(PYTHON) -m pytest -q tests/cluster
	$(PYTHON) -m pytest -q tests/docs

ROUNDS ?= 1000
random: deps pyreqs
	LANCE_RANDOM_ROUNDS=$(ROUNDS) $(GO) test ./lance -run TestInteropRandomRoundTrip -count=1 -timeout 60m

bench: lib pyreqs
	PERSISTING_LIB=$(CURDIR)/build/libpersisting.so $(PYTHON) bench/bench.py $(BENCH_FLAGS)

sizes: deps pyreqs
	$(GO) run ./bench/sizes

bench-go: deps
	$(GO) test -run XXX -bench . -benchtime 1s -benchmem ./engine ./wal ./lance/... ./bench

CRASHES ?= 200
crash: lib pyreqs
	PERSISTING_LIB=$(CURDIR)/build/libpersisting.so $(PYTHON) tests/crash/run.py --crashes $(CRASHES) $(if $(SEED),--seed $(SEED))

test: gotest gotest-cgocheck2 ctest test-header examples pytest

demo: pydeps
	$(PYTHON) examples/quickstart.py

clean:
	rm -rf build examples/rust/target
