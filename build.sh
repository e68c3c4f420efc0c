#!/usr/bin/env bash
# Builds libpersisting.so (and the C test program) into build/.
#   ./build.sh          the library
#   ./build.sh ctest    the library and build/test_capi
#   ./build.sh testhooks  the test build, build/testhooks/libpersisting.so: with
#                       the crash points (PERSISTING_TEST_CRASH_AT) and the
#                       boundary ledger (stats "boundary"), build tag testhooks.
#                       The default library has neither.
# The library exports only the persisting_* functions of include/persisting.h:
# capi/exports.map (a linker version script) hides the Go runtime and cgo glue
# (tests/header/exports.sh checks it).
# Environment: GO (default go), CC (default cc), GOFLAGS passes through
# (e.g. GOEXPERIMENT=cgocheck2 ./build.sh for the strict pointer checks).
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

# The external linker runs in a temporary directory, so the script's path must
# be absolute; -trimpath keeps it (like every -ldflags) out of the binary.
EXPORTS_MAP="$PWD/capi/exports.map"
"$GO" build "${TAGS[@]}" -buildmode=c-shared -trimpath -ldflags "-extldflags '-Wl,--version-script=$EXPORTS_MAP'" \
  -o "$OUT/libpersisting.so" ./capi
rm -f "$OUT/libpersisting.h" # cgo's generated header: include/persisting.h is the public one

if [[ "${1:-}" == ctest ]]; then
  "$CC" -std=c99 -Wall -Wextra -Werror -D_DEFAULT_SOURCE -Iinclude tests/c/test_capi.c \
    -L"$OUT" -lpersisting -Wl,-rpath,"\$ORIGIN" -o "$OUT/test_capi"
fi
