#!/usr/bin/env bash
# Builds examples/c/example.c against build/libpersisting.so and runs it.
#   examples/c/run.sh [bucket directory]
# Builds the library first when it is missing. Environment: CC (default cc),
# OUT (default build).
set -euo pipefail
cd "$(dirname "$0")/../.."
CC=${CC:-cc}
OUT=${OUT:-build}
[[ -f "$OUT/libpersisting.so" ]] || OUT="$OUT" ./build.sh
"$CC" -std=c99 -Wall -Wextra -Werror -pedantic -Iinclude examples/c/example.c \
  -L"$OUT" -lpersisting -Wl,-rpath,"$(cd "$OUT" && pwd)" -o "$OUT/example_c"
"$OUT/example_c" "$@"
