#!/usr/bin/env bash
# Builds libpersisting.so (and the C test program) into build/.
#   ./build.sh          the library
#   ./build.sh ctest    the library and build/test_capi
# Environment: GO (default go), CC (default cc), GOFLAGS passes through
# (e.g. GOEXPERIMENT=cgocheck2 ./build.sh for the strict pointer checks).
set -euo pipefail
cd "$(dirname "$0")"
GO=${GO:-go}
CC=${CC:-cc}
OUT=${OUT:-build}
mkdir -p "$OUT"

"$GO" build -buildmode=c-shared -trimpath -o "$OUT/libpersisting.so" ./capi
rm -f "$OUT/libpersisting.h" # cgo's generated header: include/persisting.h is the public one

if [[ "${1:-}" == ctest ]]; then
  "$CC" -std=c99 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Iinclude tests/c/test_capi.c \
    -L"$OUT" -lpersisting -Wl,-rpath,"\$ORIGIN" -o "$OUT/test_capi"
fi
