#!/usr/bin/env bash
# Builds libpersisting.so, the command line program `persisting` and a copy of
# include/persisting.h (and the C test program) into build/.
#   ./build.sh          the library and build/persisting
#   ./build.sh ctest    the library and build/test_capi
#   ./build.sh release  the library and the program stripped (-s -w, then strip):
#                       what wheels ship
#   ./build.sh testhooks  the test build, build/testhooks/libpersisting.so (and
#                       build/testhooks/persisting beside it): with
#                       the crash points (PERSISTING_TEST_CRASH_AT) and the
#                       boundary ledger (stats "boundary"), build tag testhooks.
#                       The default library (and the release one) has neither.
# The library exports only the persisting_* functions of include/persisting.h:
# capi/exports.map (a linker version script) hides the Go runtime and cgo glue
# (tests/header/exports.sh checks it).
# Environment: GO (default go), CC (default cc), GOFLAGS passes through
# (e.g. GOEXPERIMENT=cgocheck2 ./build.sh for the strict pointer checks).
# The version persisting_version() returns is python/persisting/_version.py's
# (the one source of it); PERSISTING_VERSION overrides where that file is not
# beside this script (an sdist's build hook passes it).
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
CC=${CC:-cc}
OUT=${OUT:-build}
TAGS=()
if [[ "${1:-}" == testhooks ]]; then
  OUT=$OUT/testhooks
  TAGS=(-tags testhooks)
fi
mkdir -p "$OUT"

VERSION=${PERSISTING_VERSION:-$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' python/persisting/_version.py 2>/dev/null)}
if [[ ! "$VERSION" =~ ^[0-9A-Za-z.+-]+$ ]]; then
  echo "build.sh: no version: python/persisting/_version.py is missing or unreadable and PERSISTING_VERSION is unset" >&2
  exit 1
fi
# Single quotes keep the C string's double quotes through Go's flag splitting.
export CGO_CFLAGS="${CGO_CFLAGS:--O2 -g} '-DPERSISTING_VERSION_STRING=\"$VERSION\"'"
LDFLAGS=""
[[ "${1:-}" == release ]] && LDFLAGS="-s -w"

# The external linker runs in a temporary directory, so the script's path must
# be absolute; -trimpath keeps it (like every -ldflags) out of the binary.
EXPORTS_MAP="$PWD/capi/exports.map"
"$GO" build "${TAGS[@]}" -buildmode=c-shared -trimpath -ldflags "$LDFLAGS -extldflags '-Wl,--version-script=$EXPORTS_MAP'" \
  -o "$OUT/libpersisting.so" ./capi
rm -f "$OUT/libpersisting.h" # cgo's generated header: include/persisting.h is the public one
# The public header beside the library, as an installed wheel has it
# (persisting/include/persisting.h): C programs use -I"$libdir/include" either way.
mkdir -p "$OUT/include" && cp include/persisting.h "$OUT/include/"

if [[ "${1:-}" == release ]]; then
  # -s -w drop Go's symbol table and DWARF; strip drops what the C toolchain
  # left. The dynamic symbols (the C API) stay.
  STRIP=${STRIP:-strip}
  if command -v "$STRIP" >/dev/null; then
    "$STRIP" --strip-unneeded "$OUT/libpersisting.so"
  else
    echo "build.sh: no $STRIP (binutils): the library keeps the C toolchain's symbols" >&2
  fi
fi

# The command line (cmd/persisting) goes beside the library, where
# python/persisting/cli.py looks for it. It is plain Go (no cgo): a static
# program that needs no C library, with the same version as the library.
CLI_LDFLAGS="-X main.version=$VERSION"
[[ "${1:-}" == release ]] && CLI_LDFLAGS="-s -w $CLI_LDFLAGS"
CGO_ENABLED=0 "$GO" build "${TAGS[@]}" -trimpath -ldflags "$CLI_LDFLAGS" -o "$OUT/persisting" ./cmd/persisting

# The package's compiled put call (python/persisting/_put.c) in place, beside
# the .py files, so the package runs from the checkout (PYTHONPATH=python, the
# tests): one abi3 build for every CPython >= 3.10 (a free-threaded one gets its
# own). Wheels and `pip install ./python` build it with setuptools instead.
if [[ "${1:-}" != release ]]; then
  PY=${PYTHON:-python3}
  command -v "$PY" >/dev/null || PY=python3
  read -r PYINC PYSUFFIX < <("$PY" -c 'import sysconfig as s; t = s.get_config_var("Py_GIL_DISABLED")
print(s.get_paths()["include"], s.get_config_var("EXT_SUFFIX") if t else ".abi3.so")')
  if [[ -f "$PYINC/Python.h" ]]; then
    "$CC" -shared -fPIC -O2 -Wall -Wextra -Werror -I"$PYINC" python/persisting/_put.c -o "python/persisting/_put$PYSUFFIX"
  else
    echo "build.sh: $PY has no C headers ($PYINC/Python.h): python/persisting/_put.c is not built, and the" \
      "package in this checkout cannot put until it is (Debian: apt-get install python3-dev)" >&2
  fi
fi

if [[ "${1:-}" == ctest ]]; then
  "$CC" -std=c99 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Iinclude tests/c/test_capi.c \
    -L"$OUT" -lpersisting -Wl,-rpath,"\$ORIGIN" -o "$OUT/test_capi"
fi
